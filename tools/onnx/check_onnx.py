"""Checks an ONNX file with the reference checker (python3-onnx: onnx.checker.check_model with
full_check=True, which also runs strict shape inference), and optionally prints what the file
declares or runs it in OpenCV's dnn module (python3-opencv), a second independent runtime.
Not a runtime of its own: numbers come from cv2.dnn or from tools/onnx/ort_run.js.

  /usr/bin/python3 tools/onnx/check_onnx.py MODEL.onnx [--print-meta] [--opencv IN.npy OUT.npy]

--print-meta prints one JSON line {"opset", "ir_version", "inputs": [{name, shape}],
"outputs": [...], "metadata": {metadata_props}, "ops": sorted op types (subgraphs included)};
a dynamic dimension is its dim_param string, an unnamed unknown one null.
"""
import argparse
import json
import os
import sys


def fail(msg, code=1):
    print(f"check_onnx: {msg}", file=sys.stderr)
    sys.exit(code)


def value_info(v):
    t = v.type.tensor_type
    shape = None
    if t.HasField("shape"):
        shape = []
        for d in t.shape.dim:
            if d.HasField("dim_value"):
                shape.append(d.dim_value)
            elif d.HasField("dim_param"):
                shape.append(d.dim_param)
            else:
                shape.append(None)
    return {"name": v.name, "elem_type": t.elem_type, "shape": shape}


def op_types(graph, acc):
    import onnx
    for node in graph.node:
        acc.add(node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}")
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                op_types(a.g, acc)
            for g in a.graphs:
                op_types(g, acc)
    return acc


def meta(model):
    g = model.graph
    inits = {i.name for i in g.initializer}
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    return {
        "opset": opset,
        "ir_version": model.ir_version,
        "inputs": [value_info(v) for v in g.input if v.name not in inits],
        "outputs": [value_info(v) for v in g.output],
        "metadata": {p.key: p.value for p in model.metadata_props},
        "ops": sorted(op_types(g, set())),
    }


def run_opencv(path, in_npy, out_npy):
    import cv2
    import numpy as np
    x = np.load(in_npy)
    if x.dtype != np.float32:
        fail(f"{in_npy}: dtype {x.dtype}, expected float32")
    try:
        net = cv2.dnn.readNetFromONNX(path)
        net.setInput(np.ascontiguousarray(x))
        y = net.forward()
    except cv2.error as e:
        fail(f"{path}: OpenCV {cv2.__version__} cannot run it: {' '.join(str(e).split())}")
    tmp = out_npy + ".tmp.npy"
    np.save(tmp, np.ascontiguousarray(y, dtype=np.float32))
    os.replace(tmp, out_npy)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--print-meta", action="store_true")
    ap.add_argument("--opencv", nargs=2, metavar=("IN.npy", "OUT.npy"))
    args = ap.parse_args()

    try:
        import onnx
    except ImportError as e:
        fail(f"python3-onnx is missing (scripts/install-deps): {e}")
    if not os.path.isfile(args.model):
        fail(f"{args.model}: no such file")
    try:
        model = onnx.load(args.model)
    except Exception as e:  # DecodeError and friends: the message is what matters
        fail(f"{args.model}: cannot parse as ONNX: {e}")
    try:
        # The ModelProto, not the path: check_model(path, full_check=True) runs
        # infer_shapes_path, which writes the inferred model back over the file.
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        fail(f"{args.model}: onnx.checker (onnx {onnx.__version__}) rejects it: {e}")
    if args.print_meta:
        print(json.dumps(meta(model), separators=(",", ":")))
    if args.opencv:
        run_opencv(args.model, *args.opencv)


if __name__ == "__main__":
    main()
