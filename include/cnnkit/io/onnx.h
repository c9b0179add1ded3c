// ONNX (https://onnx.ai) out and in, written and read with the ONNX project's own protobuf
// schema (Debian's libonnx-dev): export a trained cnnkit module for ONNX Runtime, OpenCV or
// any other runtime; import a graph that torch.onnx.export wrote as a module that runs and
// trains in cnnkit.
//
//   io::export_onnx(*net, randn({1, 1, 28, 28}), "lenet.onnx");    // opset 13
//   io::export_onnx(*net, x, "net.onnx", io::OnnxExportOptions().opset_version(17)
//                                            .metadata({{"classes", "cat,dog"}}));
//   io::OnnxModel m = io::import_onnx("resnet.onnx");   // an nn::Module
//   Tensor y = m->forward(x);                            // runs, and backward trains it
//   optim::SGD opt(m->parameters(), optim::SGDOptions(0.01));
//
// Intended usage:
//   - deployment: `cnnkit export RUN_DIR --onnx model.onnx` calls export_onnx with the run's
//     class names and input normalisation as metadata_props;
//   - PyTorch models into C++: import, run, fine-tune, save with io::save (docs/interop.md);
//   - custom layers (MISSION L7): register_onnx_exporter<MyLayerImpl>(...) writes their nodes.
//
// Export is module by module, in eval mode and without gradients (the module's mode is
// restored afterwards): BatchNorm becomes BatchNormalization with its running statistics,
// Dropout disappears. The example input fixes every size except the batch dimension, which
// stays dynamic ("batch"), as torch.onnx.export(..., dynamic_axes={"input": {0: "batch"}}).
// Import keeps the graph: initializers that feed weights (Conv, Gemm, MatMul, PRelu, the
// normalisations, the arithmetic of GroupNorm's and LayerNorm's export patterns) become
// parameters named after the initializer (a PyTorch export's "features.0.weight" stays
// "features.0.weight" in named_parameters()), BatchNormalization's mean and variance become
// the running statistics of an nn::BatchNorm that train() switches to batch statistics.
// Errors: IOError for a file that cannot be read or parsed, NotImplementedError naming the
// op type, the node and the opset for an op this importer does not run, or the module and
// its type for a layer without an exporter; ValueError for a graph that breaks ONNX's rules.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <typeindex>
#include <utility>
#include <variant>
#include <vector>

#include "cnnkit/core/arg.h"
#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/module.h"
#include "cnnkit/nn/pimpl.h"

namespace cnnkit::io {

// The opsets this exporter writes and this importer reads (default_onnx_opset: 13, torch's
// default in 1.13; LayerNorm becomes one LayerNormalization node from 17, a decomposition
// before).
inline constexpr int64_t kOnnxMinOpset = 11;
inline constexpr int64_t kOnnxMaxOpset = 17;
inline constexpr int64_t kOnnxDefaultOpset = 13;

using OnnxMetadata = std::map<std::string, std::string>;

struct OnnxExportOptions {
  CNNKIT_ARG(int64_t, opset_version) = kOnnxDefaultOpset;  // 13 to 17 for export
  CNNKIT_ARG(std::string, input_name) = "input";
  CNNKIT_ARG(std::string, output_name) = "output";
  CNNKIT_ARG(bool, dynamic_batch) = true;   // dim 0 of the input and the output is "batch"
  // The model's metadata_props (ONNX Runtime: session.getModelMetadata().customMetadataMap).
  CNNKIT_ARG(OnnxMetadata, metadata) = {};
  CNNKIT_ARG(std::string, graph_name) = "cnnkit";
};

// Writes `module` applied to `example_input` (N, ...) as an ONNX model at `path` (atomically:
// temporary file, fsync, rename). The module runs once on the example input, in eval mode
// and without gradients. Throws NotImplementedError naming the first module that has no
// exporter (and its type), ValueError for an opset outside 13..17.
void export_onnx(nn::Module& module, const Tensor& example_input, const std::string& path,
                 const OnnxExportOptions& options = {});

// The metadata_props of an ONNX file (export's `metadata`, or another producer's).
std::map<std::string, std::string> load_onnx_metadata(const std::string& path);

// ---------------------------------------------------------------------------------------
// Exporters: how a module type becomes nodes. Every layer of nn, nn::Sequential,
// nn::Ensemble (mean and stacking) and imported OnnxModels are built in; models registers
// BasicBlock and Residual; users register their own layers.
// ---------------------------------------------------------------------------------------

// A value of the graph: its name in the ONNX file and the tensor it holds for the example
// input (so exporters know every size).
struct OnnxValue {
  std::string name;
  Tensor value;
};

// A node attribute (ONNX's AttributeProto): int, float, string, ints or floats.
struct OnnxAttribute {
  std::string name;
  std::variant<int64_t, double, std::string, std::vector<int64_t>, std::vector<double>> value;
};

// What an exporter writes into. Names given to node() and initializer() are made unique.
class OnnxGraphBuilder {
 public:
  virtual ~OnnxGraphBuilder() = default;
  virtual int64_t opset() const = 0;
  // Exports child module `m` (its state-dict prefix `scope`, e.g. "features.3") applied to x:
  // runs its exporter, or throws NotImplementedError naming scope and type.
  virtual OnnxValue module(nn::Module& m, const std::string& scope, const OnnxValue& x) = 0;
  // Adds a node with one output and returns the output's name; `scope` names the node.
  virtual std::string node(const std::string& op_type, const std::vector<std::string>& inputs,
                           const std::vector<OnnxAttribute>& attributes = {},
                           const std::string& scope = "") = 0;
  // Adds a float32 or int64 initializer (the tensor's current values) and returns its name.
  virtual std::string initializer(const std::string& name, const Tensor& value) = 0;
  // An int64 vector initializer (shapes, axes, pads).
  virtual std::string ints(const std::vector<int64_t>& values, const std::string& name = "") = 0;
  // A float32 scalar initializer.
  virtual std::string scalar(double value, const std::string& name = "") = 0;
};

// Returns the module's output value: its name in the graph and module.forward(x.value).
using OnnxExporter =
    std::function<OnnxValue(nn::Module& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g)>;

// Registers (or replaces) the exporter of modules whose dynamic type is `type`.
void register_onnx_exporter(std::type_index type, OnnxExporter exporter);
template <typename ModuleImpl, typename F>
void register_onnx_exporter(F exporter) {
  register_onnx_exporter(typeid(ModuleImpl),
                         [exporter](nn::Module& m, const std::string& scope, const OnnxValue& x,
                                    OnnxGraphBuilder& g) {
                           return exporter(static_cast<ModuleImpl&>(m), scope, x, g);
                         });
}
bool has_onnx_exporter(std::type_index type);

// ---------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------

namespace detail {
struct OnnxGraph;
}
class OnnxModel;
OnnxModel import_onnx(const std::string& path);

// An imported ONNX graph as a module. forward() runs the nodes in order with cnnkit's
// differentiable ops; parameters() are the weight initializers, so an optimiser trains it;
// train()/eval() switch BatchNormalization and Dropout between training and inference.
class OnnxModelImpl : public nn::Module {
 public:
  explicit OnnxModelImpl(std::shared_ptr<const detail::OnnxGraph> graph);
  // The first graph input -> the first graph output. ShapeError when x does not fit the
  // input's declared sizes (the batch dimension excepted).
  Tensor forward(const Tensor& x);
  // Every graph input (in order) -> every graph output (in order).
  std::vector<Tensor> forward_all(const std::vector<Tensor>& inputs);

  void pretty_print(std::ostream& stream) const override;

  const std::vector<std::string>& input_names() const;
  const std::vector<std::string>& output_names() const;
  // The declared input sizes; -1 for a dynamic dimension.
  std::vector<int64_t> input_shape(size_t i = 0) const;
  int64_t opset() const;
  const std::map<std::string, std::string>& metadata() const;
  // Each initializer that became a parameter or running statistic: its ONNX name -> its
  // name in named_parameters() / named_buffers() (the same dotted name when the ONNX name
  // is a valid one, as in PyTorch's exports; other characters become '_').
  const std::map<std::string, std::string>& state_names() const { return state_names_; }
  const detail::OnnxGraph& graph() const { return *graph_; }

 private:
  friend OnnxModel import_onnx(const std::string& path);
  std::shared_ptr<const detail::OnnxGraph> graph_;
  std::map<std::string, std::string> state_names_;
};
CNNKIT_MODULE(OnnxModel);

// Reads an ONNX model, in eval mode (train() for fine-tuning). IOError for a missing, truncated or corrupt file (naming it),
// NotImplementedError for an op it does not run (op type, node name, opset) or an opset
// outside 11..17, TypeError for a non-float32 graph input or weight.
OnnxModel import_onnx(const std::string& path);

}  // namespace cnnkit::io
