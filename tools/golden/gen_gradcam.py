"""Golden Grad-CAM (Selvaraju et al. 2017) for report::grad_cam: a small Sequential CNN
(Conv2d(2, 4, 3, padding=1), ReLU, Conv2d(4, 6, 3, padding=1), ReLU, AdaptiveAvgPool2d(1),
Flatten, Linear(6, 3)) on a (3, 2, 8, 8) input. The explained activation A is the output of
child 3 (the last ReLU, the last output larger than 1x1), taken with a forward hook:
  w[n, k] = mean_{h,w} d(sum_n logit[n, t_n]) / dA[n, k],  cam[n] = ReLU(sum_k w[n, k] A[n, k]).
Writes tests/golden/data/report/gradcam.safetensors: "model/<state_dict key>", "input",
"target" (given classes), "cam_target" (cam for them), "pred" and "cam_pred" (for the
predicted classes), "logits". Metadata: generator, torch_version.
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from golden_common import DATA_DIR, seed_for  # noqa: E402


def grad_cam(model, x, target):
    acts = {}
    handle = model[3].register_forward_hook(lambda m, i, o: acts.__setitem__("a", o))
    logits = model(x)
    handle.remove()
    a = acts["a"]
    t = logits.argmax(1) if target is None else target
    g, = torch.autograd.grad(logits.gather(1, t[:, None]).sum(), a)
    w = g.mean(dim=(2, 3), keepdim=True)
    return torch.relu((w * a).sum(1)).detach(), logits.detach(), t


def main():
    seed_for("gradcam")
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3)).eval()
    x = torch.randn(3, 2, 8, 8)
    target = torch.tensor([2, 0, 1])
    cam_t, logits, _ = grad_cam(model, x, target)
    cam_p, _, pred = grad_cam(model, x, None)
    out = {f"model/{k}": v for k, v in model.state_dict().items()}
    out.update({"input": x, "target": target, "cam_target": cam_t, "pred": pred, "cam_pred": cam_p, "logits": logits})
    os.makedirs(os.path.join(DATA_DIR, "report"), exist_ok=True)
    path = os.path.join(DATA_DIR, "report", "gradcam.safetensors")
    safetensors_io.save(path, {k: v.contiguous() for k, v in out.items()},
                        {"generator": "tools/golden/gen_gradcam.py", "torch_version": torch.__version__})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
