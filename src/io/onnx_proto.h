// Private to io: the ONNX protobuf messages (onnx-ml.pb.h from Debian's libonnx-dev) behind
// io/onnx.h. Tensor <-> TensorProto, reading and writing ModelProto files, the parsed graph
// an OnnxModel runs, and the proto-level access that the OnnxModel exporter needs.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cnnkit/core/tensor.h"
#include "cnnkit/io/onnx.h"

namespace cnnkit::io::detail {

// float32 and int64 tensors (any strides) into `out`, raw little-endian data.
void to_proto(const Tensor& t, const std::string& name, onnx::TensorProto* out);
// FLOAT, DOUBLE (to float32? no: TypeError for data), INT64, INT32 -> int64, BOOL -> bool.
// `where` names the file and the tensor in messages. Data that lies outside the file
// (external data) is an IOError.
Tensor from_proto(const onnx::TensorProto& p, const std::string& where);

onnx::ModelProto read_model_proto(const std::string& path);
void write_model_proto(const std::string& path, const onnx::ModelProto& model);
// The opset of the default domain ("" or "ai.onnx"); 0 when the model imports none.
int64_t default_opset(const onnx::ModelProto& model);

// What import_onnx parsed: the model, and per value what forward() needs.
struct OnnxGraph {
  std::string path;                  // for messages
  onnx::ModelProto model;
  int64_t opset = 0;
  std::vector<std::string> inputs;   // graph inputs that are not initializers
  std::vector<std::vector<int64_t>> input_shapes;  // -1: dynamic
  std::vector<std::string> outputs;
  std::map<std::string, std::string> metadata;
  // Initializers and Constant outputs that are not parameters or running statistics: their
  // values, fixed at import.
  std::map<std::string, Tensor> constants;
  // Per node, the values whose last reader it is (freed after it runs under NoGrad).
  std::vector<std::vector<std::string>> last_use;
};

// The OnnxGraphBuilder that export_onnx uses, with the proto-level calls that replaying an
// imported graph needs.
class ProtoBuilder : public OnnxGraphBuilder {
 public:
  virtual onnx::NodeProto* add_raw_node() = 0;
  virtual std::string unique_name(const std::string& base) = 0;
};

// The exporter of OnnxModelImpl (onnx_import.cpp), registered with the built-in ones.
OnnxValue export_onnx_model(nn::Module& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g);

}  // namespace cnnkit::io::detail
