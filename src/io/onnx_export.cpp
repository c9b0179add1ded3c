// ONNX export: a module tree walked child by child, each module type's exporter writing its
// nodes (the table of built-in exporters is at the bottom), the example input run through
// the same modules so that every exporter knows its sizes. Also the TensorProto and file
// helpers that import shares. Not here: running a graph (onnx_import.cpp).
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <set>
#include <sstream>
#include <unordered_map>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/error.h"
#include "cnnkit/io/file.h"
#include "cnnkit/io/onnx.h"
#include "cnnkit/nn/modules/activation.h"
#include "cnnkit/nn/modules/container/ensemble.h"
#include "cnnkit/nn/modules/container/sequential.h"
#include "cnnkit/nn/modules/conv.h"
#include "cnnkit/nn/modules/dropout.h"
#include "cnnkit/nn/modules/linear.h"
#include "cnnkit/nn/modules/normalization.h"
#include "cnnkit/nn/modules/padding.h"
#include "cnnkit/nn/modules/pooling.h"
#include "cnnkit/nn/modules/upsampling.h"
#include "cnnkit/ops/factory.h"
#include "cnnkit/ops/shape.h"
#include "io/onnx_proto.h"

namespace cnnkit::io {

// ---------------------------------------------------------------------------------------
// TensorProto and files
// ---------------------------------------------------------------------------------------
namespace detail {

void to_proto(const Tensor& t, const std::string& name, onnx::TensorProto* out) {
  out->set_name(name);
  for (int64_t s : t.sizes()) out->add_dims(s);
  Tensor c = t.detach().contiguous();
  if (c.scalar_type() == kFloat) {
    out->set_data_type(onnx::TensorProto::FLOAT);
    out->set_raw_data(c.data_ptr<float>(), static_cast<size_t>(c.numel()) * sizeof(float));
  } else if (c.scalar_type() == kLong) {
    out->set_data_type(onnx::TensorProto::INT64);
    out->set_raw_data(c.data_ptr<int64_t>(), static_cast<size_t>(c.numel()) * sizeof(int64_t));
  } else {
    CNNKIT_CHECK_T(TypeError, false, "ONNX export: tensor '", name, "' has dtype ", c.scalar_type(),
                   "; only float32 and int64 tensors are written");
  }
}

namespace {
template <typename T>
Tensor tensor_from_bytes(const std::string& raw, const std::vector<int64_t>& sizes, int64_t n,
                         ScalarType dtype, const std::string& where) {
  CNNKIT_CHECK_T(IOError, raw.size() == static_cast<size_t>(n) * sizeof(T), where, ": raw_data holds ",
                 raw.size(), " bytes, the dims ", IntArrayRef(sizes), " need ", static_cast<size_t>(n) * sizeof(T));
  Tensor out = cnnkit::empty(sizes, TensorOptions().dtype(dtype));
  if (n > 0) std::memcpy(out.data_ptr<T>(), raw.data(), raw.size());
  return out;
}
}  // namespace

Tensor from_proto(const onnx::TensorProto& p, const std::string& where) {
  CNNKIT_CHECK_T(IOError, p.data_location() != onnx::TensorProto::EXTERNAL, where,
                 ": the tensor's data lies in an external file, which this reader does not load "
                 "(save the model with its weights inside: onnx.save(model, path, save_as_external_data=False))");
  std::vector<int64_t> sizes(p.dims().begin(), p.dims().end());
  int64_t n = 1;
  for (int64_t s : sizes) {
    CNNKIT_CHECK_T(IOError, s >= 0 && s < (int64_t{1} << 40), where, ": invalid dimension ", s);
    n *= s;
    CNNKIT_CHECK_T(IOError, n < (int64_t{1} << 40), where, ": the tensor is too large");
  }
  const bool raw = p.has_raw_data();
  auto count_check = [&](int64_t have) {
    CNNKIT_CHECK_T(IOError, have == n, where, ": holds ", have, " values, its dims ", IntArrayRef(sizes),
                   " need ", n);
  };
  switch (p.data_type()) {
    case onnx::TensorProto::FLOAT: {
      if (raw) return tensor_from_bytes<float>(p.raw_data(), sizes, n, kFloat, where);
      count_check(p.float_data_size());
      Tensor out = cnnkit::empty(sizes);
      std::copy(p.float_data().begin(), p.float_data().end(), out.data_ptr<float>());
      return out;
    }
    case onnx::TensorProto::INT64: {
      if (raw) return tensor_from_bytes<int64_t>(p.raw_data(), sizes, n, kLong, where);
      count_check(p.int64_data_size());
      Tensor out = cnnkit::empty(sizes, TensorOptions().dtype(kLong));
      std::copy(p.int64_data().begin(), p.int64_data().end(), out.data_ptr<int64_t>());
      return out;
    }
    case onnx::TensorProto::INT32: {  // shapes and indices some exporters write as int32
      Tensor out = cnnkit::empty(sizes, TensorOptions().dtype(kLong));
      int64_t* o = out.data_ptr<int64_t>();
      if (raw) {
        CNNKIT_CHECK_T(IOError, p.raw_data().size() == static_cast<size_t>(n) * 4, where, ": raw_data holds ",
                       p.raw_data().size(), " bytes, ", n, " int32 values need ", n * 4);
        for (int64_t i = 0; i < n; ++i) {
          int32_t v;
          std::memcpy(&v, p.raw_data().data() + 4 * i, 4);
          o[i] = v;
        }
      } else {
        count_check(p.int32_data_size());
        for (int64_t i = 0; i < n; ++i) o[i] = p.int32_data(static_cast<int>(i));
      }
      return out;
    }
    case onnx::TensorProto::BOOL: {
      Tensor out = cnnkit::empty(sizes, TensorOptions().dtype(kBool));
      uint8_t* o = out.data_ptr<uint8_t>();
      if (raw) {
        CNNKIT_CHECK_T(IOError, p.raw_data().size() == static_cast<size_t>(n), where, ": raw_data holds ",
                       p.raw_data().size(), " bytes, ", n, " bools need ", n);
        for (int64_t i = 0; i < n; ++i) o[i] = p.raw_data()[static_cast<size_t>(i)] != 0;
      } else {
        count_check(p.int32_data_size());
        for (int64_t i = 0; i < n; ++i) o[i] = p.int32_data(static_cast<int>(i)) != 0;
      }
      return out;
    }
    default:
      CNNKIT_CHECK_T(TypeError, false, where, ": data type ",
                     onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(p.data_type())),
                     " is not supported (cnnkit computes in float32; int64, int32 and bool are read for "
                     "shapes and indices)");
  }
  return {};
}

onnx::ModelProto read_model_proto(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  CNNKIT_CHECK_T(IOError, in.good(), "cannot open ONNX file '", path, "'");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CNNKIT_CHECK_T(IOError, !in.bad(), "cannot read ONNX file '", path, "'");
  CNNKIT_CHECK_T(IOError, !bytes.empty(), "ONNX file '", path, "' is empty");
  onnx::ModelProto model;
  CNNKIT_CHECK_T(IOError, model.ParseFromString(bytes), "'", path,
                 "' is not an ONNX model: its bytes do not parse as an onnx.ModelProto (truncated or corrupt?)");
  CNNKIT_CHECK_T(IOError, model.has_graph(), "'", path, "' is not an ONNX model: it has no graph");
  CNNKIT_CHECK_T(IOError, model.ir_version() > 0, "'", path, "' is not an ONNX model: no ir_version");
  return model;
}

void write_model_proto(const std::string& path, const onnx::ModelProto& model) {
  std::string bytes;
  CNNKIT_CHECK_T(IOError, model.SerializeToString(&bytes), "export_onnx: cannot serialize the model for '",
                 path, "' (over protobuf's 2 GiB limit?)");
  write_file_atomic(path, bytes, "export_onnx");
}

int64_t default_opset(const onnx::ModelProto& model) {
  for (const auto& o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") return o.version();
  return 0;
}

}  // namespace detail

std::map<std::string, std::string> load_onnx_metadata(const std::string& path) {
  onnx::ModelProto model = detail::read_model_proto(path);
  std::map<std::string, std::string> out;
  for (const auto& p : model.metadata_props()) out[p.key()] = p.value();
  return out;
}

// ---------------------------------------------------------------------------------------
// The exporter registry
// ---------------------------------------------------------------------------------------
namespace {

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::unordered_map<std::type_index, OnnxExporter>& registry();  // with the built-ins, below

OnnxExporter find_exporter(std::type_index type) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  auto& r = registry();
  auto it = r.find(type);
  return it == r.end() ? OnnxExporter{} : it->second;
}

// ---------------------------------------------------------------------------------------
// The graph builder
// ---------------------------------------------------------------------------------------

class Builder final : public detail::ProtoBuilder {
 public:
  Builder(onnx::GraphProto* graph, int64_t opset) : graph_(graph), opset_(opset) {}
  int64_t opset() const override { return opset_; }

  OnnxValue module(nn::Module& m, const std::string& scope, const OnnxValue& x) override {
    OnnxExporter exporter = find_exporter(typeid(m));
    CNNKIT_CHECK_T(NotImplementedError, exporter != nullptr, "export_onnx: module '",
                   scope.empty() ? std::string("(the model)") : scope, "' of type ", m.name(),
                   " has no ONNX exporter; register one with io::register_onnx_exporter<", m.name(),
                   ">(...) (io/onnx.h)");
    return exporter(m, scope, x, *this);
  }

  std::string node(const std::string& op_type, const std::vector<std::string>& inputs,
                   const std::vector<OnnxAttribute>& attributes, const std::string& scope) override {
    onnx::NodeProto* n = graph_->add_node();
    const std::string base = scope.empty() ? op_type : scope + "/" + op_type;
    n->set_name(unique_node(base));
    n->set_op_type(op_type);
    for (const auto& in : inputs) n->add_input(in);
    n->add_output(unique_name(base + "_output"));
    for (const auto& a : attributes) set_attribute(n->add_attribute(), a);
    return n->output(0);
  }

  std::string initializer(const std::string& name, const Tensor& value) override {
    std::string unique = unique_name(name.empty() ? std::string("const") : name);
    detail::to_proto(value, unique, graph_->add_initializer());
    return unique;
  }

  std::string ints(const std::vector<int64_t>& values, const std::string& name) override {
    Tensor t = cnnkit::empty({static_cast<int64_t>(values.size())}, TensorOptions().dtype(kLong));
    std::copy(values.begin(), values.end(), t.data_ptr<int64_t>());
    return initializer(name.empty() ? "ints" : name, t);
  }

  std::string scalar(double value, const std::string& name) override {
    return initializer(name.empty() ? "scalar" : name, full({}, value));
  }

  onnx::NodeProto* add_raw_node() override { return graph_->add_node(); }

  std::string unique_name(const std::string& base) override {
    std::string name = base;
    for (int i = 1; !names_.insert(name).second; ++i) name = base + "_" + std::to_string(i);
    return name;
  }
  void reserve_name(const std::string& name) { names_.insert(name); }

 private:
  std::string unique_node(const std::string& base) {
    std::string name = base;
    for (int i = 1; !node_names_.insert(name).second; ++i) name = base + "_" + std::to_string(i);
    return name;
  }

  static void set_attribute(onnx::AttributeProto* a, const OnnxAttribute& attr) {
    a->set_name(attr.name);
    std::visit(
        [a](const auto& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, int64_t>) {
            a->set_type(onnx::AttributeProto::INT);
            a->set_i(v);
          } else if constexpr (std::is_same_v<V, double>) {
            a->set_type(onnx::AttributeProto::FLOAT);
            a->set_f(static_cast<float>(v));
          } else if constexpr (std::is_same_v<V, std::string>) {
            a->set_type(onnx::AttributeProto::STRING);
            a->set_s(v);
          } else if constexpr (std::is_same_v<V, std::vector<int64_t>>) {
            a->set_type(onnx::AttributeProto::INTS);
            for (int64_t i : v) a->add_ints(i);
          } else {
            a->set_type(onnx::AttributeProto::FLOATS);
            for (double f : v) a->add_floats(static_cast<float>(f));
          }
        },
        attr.value);
  }

  onnx::GraphProto* graph_;
  int64_t opset_;
  std::set<std::string> names_, node_names_;
};

std::string child_scope(const std::string& scope, const std::string& name) {
  return scope.empty() ? name : scope + "." + name;
}

void set_shape(onnx::ValueInfoProto* v, const std::string& name, IntArrayRef sizes, bool dynamic_batch) {
  v->set_name(name);
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = t->mutable_shape();
  for (size_t d = 0; d < sizes.size(); ++d) {
    auto* dim = shape->add_dim();
    if (d == 0 && dynamic_batch)
      dim->set_dim_param("batch");
    else
      dim->set_dim_value(sizes[d]);
  }
}

}  // namespace

void register_onnx_exporter(std::type_index type, OnnxExporter exporter) {
  CNNKIT_CHECK(exporter != nullptr, "register_onnx_exporter: the exporter is empty");
  std::lock_guard<std::mutex> lock(registry_mutex());
  registry()[type] = std::move(exporter);
}

bool has_onnx_exporter(std::type_index type) { return find_exporter(type) != nullptr; }

// ---------------------------------------------------------------------------------------
// export_onnx
// ---------------------------------------------------------------------------------------

void export_onnx(nn::Module& module, const Tensor& example_input, const std::string& path,
                 const OnnxExportOptions& options) {
  const int64_t opset = options.opset_version();
  CNNKIT_CHECK(opset >= kOnnxDefaultOpset && opset <= kOnnxMaxOpset, "export_onnx: opset_version ",
                     opset, " is not supported; cnnkit writes opsets ", kOnnxDefaultOpset, " to ", kOnnxMaxOpset);
  CNNKIT_CHECK(example_input.defined(), "export_onnx: the example input is undefined");
  CNNKIT_CHECK_T(TypeError, example_input.scalar_type() == kFloat, "export_onnx: the example input must be float32, got ",
                 example_input.scalar_type());
  CNNKIT_CHECK_SHAPE(example_input.dim() >= 1, "export_onnx: the example input needs a batch dimension, got sizes ",
                     example_input.sizes());
  CNNKIT_CHECK(!options.input_name().empty() && !options.output_name().empty() &&
                         options.input_name() != options.output_name(),
                     "export_onnx: input_name and output_name must be two different non-empty names");

  // Eval mode for the walk, the caller's mode afterwards (also when an exporter throws).
  struct ModeRestore {
    nn::Module& m;
    bool training;
    ~ModeRestore() { m.train(training); }
  } restore{module, module.is_training()};
  module.eval();
  NoGradGuard no_grad;

  onnx::ModelProto model;
  model.set_ir_version(opset <= 13 ? 7 : 8);  // the IR version each opset came with
  model.set_producer_name("cnnkit");
  model.set_producer_version(CNNKIT_VERSION);
  auto* op = model.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  for (const auto& [k, v] : options.metadata()) {
    auto* p = model.add_metadata_props();
    p->set_key(k);
    p->set_value(v);
  }
  onnx::GraphProto* graph = model.mutable_graph();
  graph->set_name(options.graph_name());
  set_shape(graph->add_input(), options.input_name(), example_input.sizes(), options.dynamic_batch());

  Builder builder(graph, opset);
  builder.reserve_name(options.input_name());
  builder.reserve_name(options.output_name());
  OnnxValue out = builder.module(module, "", OnnxValue{options.input_name(), example_input.detach()});
  CNNKIT_CHECK_T(TypeError, out.value.defined() && out.value.scalar_type() == kFloat,
                 "export_onnx: the model's output must be one float32 tensor");

  // Name the output: rename the node output that holds it, or add an Identity (a model
  // that returns its input, or an initializer).
  bool renamed = false;
  for (int i = graph->node_size() - 1; i >= 0 && !renamed; --i) {
    auto* n = graph->mutable_node(i);
    for (int j = 0; j < n->output_size(); ++j)
      if (n->output(j) == out.name) {
        n->set_output(j, options.output_name());
        renamed = true;
      }
  }
  if (renamed) {  // later readers of the old name (none in a chain, but exporters may branch)
    for (auto& n : *graph->mutable_node())
      for (int j = 0; j < n.input_size(); ++j)
        if (n.input(j) == out.name) n.set_input(j, options.output_name());
  } else {
    auto* n = graph->add_node();
    n->set_name("Identity_output");
    n->set_op_type("Identity");
    n->add_input(out.name);
    n->add_output(options.output_name());
  }
  set_shape(graph->add_output(), options.output_name(), out.value.sizes(),
            options.dynamic_batch() && out.value.dim() >= 1);
  detail::write_model_proto(path, model);
}

// ---------------------------------------------------------------------------------------
// Built-in exporters, one per module type of nn
// ---------------------------------------------------------------------------------------
namespace {

using A = OnnxAttribute;
using Ints = std::vector<int64_t>;

template <typename M>
OnnxValue run(M& m, const std::string& name, const OnnxValue& x) {
  return OnnxValue{name, m.forward(x.value)};
}

// Values of y = op(x) with one node.
template <typename M>
OnnxValue unary(M& m, const std::string& op_type, const std::string& scope, const OnnxValue& x,
                OnnxGraphBuilder& g, const std::vector<A>& attrs = {}) {
  return run(m, g.node(op_type, {x.name}, attrs, scope), x);
}

OnnxValue export_sequential(nn::Module& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
  OnnxValue v = x;
  for (const auto& item : m.named_children()) v = g.module(*item.value(), child_scope(scope, item.key()), v);
  return v;
}

OnnxValue export_conv2d(nn::Conv2dImpl& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
  CNNKIT_CHECK_SHAPE(x.value.dim() == 4, "export_onnx: Conv2d '", scope, "' needs a batched (N, C, H, W) input, got sizes ",
                     x.value.sizes());
  const auto& o = m.options;
  const Ints k = {o.kernel_size()[0], o.kernel_size()[1]};
  const Ints d = {o.dilation()[0], o.dilation()[1]};
  // Padding per side: {top, left} and {bottom, right}.
  Ints lo(2, 0), hi(2, 0);
  if (const auto* p = std::get_if<ExpandingArray<2>>(&o.padding())) {
    lo = {(*p)[0], (*p)[1]};
    hi = lo;
  } else if (std::holds_alternative<enumtype::kSame>(o.padding())) {
    for (size_t i = 0; i < 2; ++i) {
      const int64_t total = d[i] * (k[i] - 1);
      lo[i] = total / 2;
      hi[i] = total - lo[i];
    }
  }
  std::string in = x.name;
  if (!std::holds_alternative<enumtype::kZeros>(o.padding_mode()) && (lo[0] || lo[1] || hi[0] || hi[1])) {
    std::string mode;
    if (std::holds_alternative<enumtype::kReflect>(o.padding_mode())) mode = "reflect";
    if (std::holds_alternative<enumtype::kReplicate>(o.padding_mode())) mode = "edge";
    CNNKIT_CHECK_T(NotImplementedError, !mode.empty(), "export_onnx: Conv2d '", scope,
                   "' has padding_mode 'circular', which ONNX Pad has only from opset 19 ('wrap')");
    in = g.node("Pad", {in, g.ints({0, 0, lo[0], lo[1], 0, 0, hi[0], hi[1]}, scope + ".pads")}, {A{"mode", mode}},
                scope);
    lo = hi = {0, 0};
  }
  std::vector<std::string> inputs = {in, g.initializer(scope + ".weight", m.weight)};
  if (m.bias.defined()) inputs.push_back(g.initializer(scope + ".bias", m.bias));
  const std::string y = g.node("Conv", inputs,
                               {A{"kernel_shape", k}, A{"strides", Ints{o.stride()[0], o.stride()[1]}},
                                A{"pads", Ints{lo[0], lo[1], hi[0], hi[1]}}, A{"dilations", d},
                                A{"group", o.groups()}},
                               scope);
  return run(m, y, x);
}

// Conv1d: ONNX Conv over one spatial axis; reflect/replicate padding as a Pad of the last axis.
OnnxValue export_conv1d(nn::Conv1dImpl& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
  CNNKIT_CHECK_SHAPE(x.value.dim() == 3, "export_onnx: Conv1d '", scope, "' needs a batched (N, C, L) input, got sizes ",
                     x.value.sizes());
  const auto& o = m.options;
  int64_t lo = m._reversed_padding_repeated_twice[0], hi = m._reversed_padding_repeated_twice[1];
  std::string in = x.name;
  if (!std::holds_alternative<enumtype::kZeros>(o.padding_mode()) && (lo || hi)) {
    std::string mode;
    if (std::holds_alternative<enumtype::kReflect>(o.padding_mode())) mode = "reflect";
    if (std::holds_alternative<enumtype::kReplicate>(o.padding_mode())) mode = "edge";
    CNNKIT_CHECK_T(NotImplementedError, !mode.empty(), "export_onnx: Conv1d '", scope,
                   "' has padding_mode 'circular', which ONNX Pad has only from opset 19 ('wrap')");
    in = g.node("Pad", {in, g.ints({0, 0, lo, 0, 0, hi}, scope + ".pads")}, {A{"mode", mode}}, scope);
    lo = hi = 0;
  }
  std::vector<std::string> inputs = {in, g.initializer(scope + ".weight", m.weight)};
  if (m.bias.defined()) inputs.push_back(g.initializer(scope + ".bias", m.bias));
  const std::string y = g.node("Conv", inputs,
                               {A{"kernel_shape", Ints{o.kernel_size()[0]}}, A{"strides", Ints{o.stride()[0]}},
                                A{"pads", Ints{lo, hi}}, A{"dilations", Ints{o.dilation()[0]}}, A{"group", o.groups()}},
                               scope);
  return run(m, y, x);
}

OnnxValue export_linear(nn::LinearImpl& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
  const std::string w = g.initializer(scope + ".weight", m.weight);
  if (x.value.dim() == 2) {
    std::vector<std::string> in = {x.name, w};
    if (m.bias.defined()) in.push_back(g.initializer(scope + ".bias", m.bias));
    return run(m, g.node("Gemm", in, {A{"transB", int64_t{1}}}, scope), x);
  }
  std::string y = g.node("MatMul", {x.name, g.node("Transpose", {w}, {A{"perm", Ints{1, 0}}}, scope)}, {}, scope);
  if (m.bias.defined()) y = g.node("Add", {y, g.initializer(scope + ".bias", m.bias)}, {}, scope);
  return run(m, y, x);
}

template <typename BN>
OnnxValue export_batch_norm(BN& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
  CNNKIT_CHECK_T(NotImplementedError, m.running_mean.defined() && m.running_var.defined(), "export_onnx: ",
                 m.name(), " '", scope,
                 "' has no running statistics (track_running_stats=false): in eval mode it normalises with "
                 "each batch's own statistics, which ONNX BatchNormalization (inference) does not do");
  CNNKIT_CHECK_SHAPE(x.value.dim() >= 2, "export_onnx: ", m.name(), " '", scope, "' needs a batched input, got sizes ",
                     x.value.sizes());
  const int64_t C = m.options.num_features();
  Tensor w = m.weight.defined() ? m.weight : ones({C});
  Tensor b = m.bias.defined() ? m.bias : zeros({C});
  const std::string y = g.node(
      "BatchNormalization",
      {x.name, g.initializer(scope + ".weight", w), g.initializer(scope + ".bias", b),
       g.initializer(scope + ".running_mean", m.running_mean), g.initializer(scope + ".running_var", m.running_var)},
      {A{"epsilon", m.options.eps()}, A{"momentum", 1.0 - m.options.momentum().value_or(0.1)}}, scope);
  return run(m, y, x);
}

OnnxValue export_instance_norm(nn::InstanceNorm2dImpl& m, const std::string& scope, const OnnxValue& x,
                               OnnxGraphBuilder& g) {
  CNNKIT_CHECK_T(NotImplementedError, !m.options.track_running_stats(), "export_onnx: InstanceNorm2d '", scope,
                 "' tracks running statistics, which ONNX InstanceNormalization has no place for");
  CNNKIT_CHECK_SHAPE(x.value.dim() == 4, "export_onnx: InstanceNorm2d '", scope,
                     "' needs a batched (N, C, H, W) input, got sizes ", x.value.sizes());
  const int64_t C = x.value.size(1);
  Tensor w = m.weight.defined() ? m.weight : ones({C});
  Tensor b = m.bias.defined() ? m.bias : zeros({C});
  return run(m,
             g.node("InstanceNormalization",
                    {x.name, g.initializer(scope + ".weight", w), g.initializer(scope + ".bias", b)},
                    {A{"epsilon", m.options.eps()}}, scope),
             x);
}

OnnxValue export_layer_norm(nn::LayerNormImpl& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
  const auto& shape = m.options.normalized_shape();
  const auto k = static_cast<int64_t>(shape.size());
  const bool affine = m.weight.defined();
  if (g.opset() >= 17) {
    Tensor w = affine ? m.weight : ones(shape);
    Tensor b = m.bias.defined() ? m.bias : zeros(shape);
    return run(m,
               g.node("LayerNormalization",
                      {x.name, g.initializer(scope + ".weight", w), g.initializer(scope + ".bias", b)},
                      {A{"axis", -k}, A{"epsilon", m.options.eps()}}, scope),
               x);
  }
  // Before opset 17, as torch.onnx writes it: (x - mean) / sqrt(var + eps) * weight + bias.
  Ints axes;
  for (int64_t i = -k; i < 0; ++i) axes.push_back(i);
  const std::string mean = g.node("ReduceMean", {x.name}, {A{"axes", axes}, A{"keepdims", int64_t{1}}}, scope);
  const std::string centred = g.node("Sub", {x.name, mean}, {}, scope);
  const std::string sq = g.node("Pow", {centred, g.scalar(2.0, scope + ".two")}, {}, scope);
  const std::string var = g.node("ReduceMean", {sq}, {A{"axes", axes}, A{"keepdims", int64_t{1}}}, scope);
  const std::string std_ = g.node("Sqrt", {g.node("Add", {var, g.scalar(m.options.eps(), scope + ".eps")}, {}, scope)},
                                  {}, scope);
  std::string y = g.node("Div", {centred, std_}, {}, scope);
  if (affine) y = g.node("Mul", {y, g.initializer(scope + ".weight", m.weight)}, {}, scope);
  if (m.bias.defined()) y = g.node("Add", {y, g.initializer(scope + ".bias", m.bias)}, {}, scope);
  return run(m, y, x);
}

OnnxValue export_group_norm(nn::GroupNormImpl& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
  CNNKIT_CHECK_SHAPE(x.value.dim() >= 3, "export_onnx: GroupNorm '", scope, "' needs an (N, C, *) input, got sizes ",
                     x.value.sizes());
  // torch.onnx's pattern: reshape to (N, G, -1), InstanceNormalization without affine, reshape
  // back, then the per-channel affine.
  const int64_t G = m.options.num_groups();
  const std::string grouped = g.node("Reshape", {x.name, g.ints({0, G, -1}, scope + ".group_shape")}, {}, scope);
  const std::string normed =
      g.node("InstanceNormalization",
             {grouped, g.initializer(scope + ".group_scale", ones({G})), g.initializer(scope + ".group_bias", zeros({G}))},
             {A{"epsilon", m.options.eps()}}, scope);
  std::string y = g.node("Reshape", {normed, g.node("Shape", {x.name}, {}, scope)}, {}, scope);
  Ints affine_shape = {m.options.num_channels()};
  for (int64_t i = 2; i < x.value.dim(); ++i) affine_shape.push_back(1);
  if (m.weight.defined())
    y = g.node("Mul", {y, g.initializer(scope + ".weight", m.weight.reshape(affine_shape))}, {}, scope);
  if (m.bias.defined()) y = g.node("Add", {y, g.initializer(scope + ".bias", m.bias.reshape(affine_shape))}, {}, scope);
  return run(m, y, x);
}

OnnxValue export_prelu(nn::PReLUImpl& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
  // PRelu's slope broadcasts from the right: (C) becomes (C, 1, 1) for (N, C, H, W).
  Ints shape = {m.weight.numel()};
  if (m.weight.numel() > 1)
    for (int64_t i = 2; i < x.value.dim(); ++i) shape.push_back(1);
  return run(m, g.node("PRelu", {x.name, g.initializer(scope + ".weight", m.weight.reshape(shape))}, {}, scope), x);
}

OnnxValue export_gelu(nn::GELUImpl& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
  std::string inner;
  if (m.options.approximate() == "tanh") {  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    const std::string cube = g.node("Pow", {x.name, g.scalar(3.0, scope + ".three")}, {}, scope);
    const std::string poly = g.node(
        "Add", {x.name, g.node("Mul", {cube, g.scalar(0.044715, scope + ".c")}, {}, scope)}, {}, scope);
    inner = g.node("Tanh", {g.node("Mul", {poly, g.scalar(std::sqrt(2.0 / M_PI), scope + ".k")}, {}, scope)}, {}, scope);
  } else {  // 0.5 x (1 + erf(x / sqrt(2))), torch.onnx's pattern
    inner = g.node("Erf", {g.node("Div", {x.name, g.scalar(std::sqrt(2.0), scope + ".sqrt2")}, {}, scope)}, {}, scope);
  }
  const std::string one_plus = g.node("Add", {inner, g.scalar(1.0, scope + ".one")}, {}, scope);
  const std::string y =
      g.node("Mul", {g.node("Mul", {x.name, one_plus}, {}, scope), g.scalar(0.5, scope + ".half")}, {}, scope);
  return run(m, y, x);
}

OnnxValue export_softplus(nn::SoftplusImpl& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
  // ONNX Softplus is log(1 + exp(x)); PyTorch's beta scales inside and out. Its threshold
  // (x itself above threshold / beta) agrees with log1p(exp(x)) to float precision at 20.
  const double beta = m.options.beta();
  if (beta == 1.0) return unary(m, "Softplus", scope, x, g);
  const std::string b = g.scalar(beta, scope + ".beta");
  const std::string y =
      g.node("Div", {g.node("Softplus", {g.node("Mul", {x.name, b}, {}, scope)}, {}, scope), b}, {}, scope);
  return run(m, y, x);
}

OnnxValue export_clip(nn::Module& m, double lo, double hi, const std::string& scope, const OnnxValue& x,
                      OnnxGraphBuilder& g, const std::function<Tensor(const Tensor&)>& f) {
  const std::string y =
      g.node("Clip", {x.name, g.scalar(lo, scope + ".min"), g.scalar(hi, scope + ".max")}, {}, scope);
  (void)m;
  return OnnxValue{y, f(x.value)};
}

OnnxValue export_max_pool(nn::MaxPool2dImpl& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
  const auto& o = m.options;
  return unary(m, "MaxPool", scope, x, g,
               {A{"kernel_shape", Ints{o.kernel_size()[0], o.kernel_size()[1]}},
                A{"strides", Ints{o.stride()[0], o.stride()[1]}},
                A{"pads", Ints{o.padding()[0], o.padding()[1], o.padding()[0], o.padding()[1]}},
                A{"dilations", Ints{o.dilation()[0], o.dilation()[1]}}, A{"ceil_mode", int64_t{o.ceil_mode()}}});
}

OnnxValue export_max_pool1d(nn::MaxPool1dImpl& m, const std::string& scope, const OnnxValue& x,
                            OnnxGraphBuilder& g) {
  const auto& o = m.options;
  return unary(m, "MaxPool", scope, x, g,
               {A{"kernel_shape", Ints{o.kernel_size()[0]}}, A{"strides", Ints{o.stride()[0]}},
                A{"pads", Ints{o.padding()[0], o.padding()[0]}}, A{"dilations", Ints{o.dilation()[0]}},
                A{"ceil_mode", int64_t{o.ceil_mode()}}});
}

OnnxValue export_avg_pool1d(nn::AvgPool1dImpl& m, const std::string& scope, const OnnxValue& x,
                            OnnxGraphBuilder& g) {
  const auto& o = m.options;
  return unary(m, "AveragePool", scope, x, g,
               {A{"kernel_shape", Ints{o.kernel_size()[0]}}, A{"strides", Ints{o.stride()[0]}},
                A{"pads", Ints{o.padding()[0], o.padding()[0]}}, A{"ceil_mode", int64_t{o.ceil_mode()}},
                A{"count_include_pad", int64_t{o.count_include_pad()}}});
}

// Adaptive 1-d pooling: global for output 1, a fixed pooling where the output divides the input.
template <typename M>
OnnxValue export_adaptive_pool1d(M& m, bool is_max, const std::string& scope, const OnnxValue& x,
                                 OnnxGraphBuilder& g) {
  CNNKIT_CHECK_SHAPE(x.value.dim() == 3, "export_onnx: ", m.name(), " '", scope,
                     "' needs a batched (N, C, L) input, got sizes ", x.value.sizes());
  const int64_t L = x.value.size(2), out = m.options.output_size()[0];
  if (out == 1) return unary(m, is_max ? "GlobalMaxPool" : "GlobalAveragePool", scope, x, g);
  CNNKIT_CHECK_T(NotImplementedError, out > 0 && L % out == 0, "export_onnx: ", m.name(), " '", scope, "' pools ", L,
                 " to ", out,
                 ": windows of unequal sizes, which no fixed ONNX pooling expresses (an output that divides the "
                 "input, or 1, exports)");
  const Ints k = {L / out};
  return unary(m, is_max ? "MaxPool" : "AveragePool", scope, x, g, {A{"kernel_shape", k}, A{"strides", k}});
}

OnnxValue export_avg_pool(nn::AvgPool2dImpl& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
  const auto& o = m.options;
  CNNKIT_CHECK_T(NotImplementedError, !o.divisor_override().has_value(), "export_onnx: AvgPool2d '", scope,
                 "' has a divisor_override, which ONNX AveragePool cannot express");
  return unary(m, "AveragePool", scope, x, g,
               {A{"kernel_shape", Ints{o.kernel_size()[0], o.kernel_size()[1]}},
                A{"strides", Ints{o.stride()[0], o.stride()[1]}},
                A{"pads", Ints{o.padding()[0], o.padding()[1], o.padding()[0], o.padding()[1]}},
                A{"ceil_mode", int64_t{o.ceil_mode()}}, A{"count_include_pad", int64_t{o.count_include_pad()}}});
}

// Adaptive pooling: global pooling for output 1, a fixed pooling where the output divides
// the input (then every adaptive window has the same size), refused otherwise.
template <typename M>
OnnxValue export_adaptive_pool(M& m, bool is_max, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
  CNNKIT_CHECK_SHAPE(x.value.dim() == 4, "export_onnx: ", m.name(), " '", scope,
                     "' needs a batched (N, C, H, W) input, got sizes ", x.value.sizes());
  const int64_t H = x.value.size(2), W = x.value.size(3);
  const int64_t oh = m.options.output_size()[0].value_or(H), ow = m.options.output_size()[1].value_or(W);
  if (oh == 1 && ow == 1) return unary(m, is_max ? "GlobalMaxPool" : "GlobalAveragePool", scope, x, g);
  CNNKIT_CHECK_T(NotImplementedError, H % oh == 0 && W % ow == 0, "export_onnx: ", m.name(), " '", scope,
                 "' pools ", H, "x", W, " to ", oh, "x", ow,
                 ": windows of unequal sizes, which no fixed ONNX pooling expresses (an output that divides the "
                 "input, or 1x1, exports)");
  const Ints k = {H / oh, W / ow};
  return unary(m, is_max ? "MaxPool" : "AveragePool", scope, x, g, {A{"kernel_shape", k}, A{"strides", k}});
}

OnnxValue export_flatten(nn::FlattenImpl& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
  Tensor y = m.forward(x.value);
  const int64_t D = x.value.dim();
  const int64_t start = m.options.start_dim() < 0 ? m.options.start_dim() + D : m.options.start_dim();
  const int64_t end = m.options.end_dim() < 0 ? m.options.end_dim() + D : m.options.end_dim();
  if (start == 1 && end == D - 1) return OnnxValue{g.node("Flatten", {x.name}, {A{"axis", int64_t{1}}}, scope), y};
  // Any other range: a Reshape that copies the (dynamic) batch dimension when it is kept.
  Ints shape(y.sizes().begin(), y.sizes().end());
  if (start > 0) shape[0] = 0;
  else shape[0] = -1;
  return OnnxValue{g.node("Reshape", {x.name, g.ints(shape, scope + ".shape")}, {}, scope), y};
}

// ZeroPad2d & co.: ONNX Pad over the last two dims (pads per dim: all begins, then all ends).
// ConstantPad2d's value is Pad's third input; reflect and replicate are 'reflect' and 'edge'.
template <typename M>
OnnxValue export_pad2d(M& m, const std::string& mode, double value, const std::string& scope, const OnnxValue& x,
                       OnnxGraphBuilder& g) {
  const auto& p = m.options.padding();  // left, right, top, bottom
  const int64_t D = x.value.dim();
  Ints pads(static_cast<size_t>(2 * D), 0);
  pads[static_cast<size_t>(D - 2)] = p[2];
  pads[static_cast<size_t>(D - 1)] = p[0];
  pads[static_cast<size_t>(2 * D - 2)] = p[3];
  pads[static_cast<size_t>(2 * D - 1)] = p[1];
  std::vector<std::string> in = {x.name, g.ints(pads, scope + ".pads")};
  if (mode == "constant") in.push_back(g.scalar(value, scope + ".value"));
  return run(m, g.node("Pad", in, {A{"mode", mode}}, scope), x);
}

// Reshape to `shape`, copying (0) the leading `keep` dims, which holds the dynamic batch.
std::string reshape_keeping(const std::string& in, const Tensor& like, size_t keep, const std::string& name,
                            OnnxGraphBuilder& g) {
  Ints shape(like.sizes().begin(), like.sizes().end());
  for (size_t i = 0; i < keep && i < shape.size(); ++i) shape[i] = 0;
  return g.node("Reshape", {in, g.ints(shape, name + ".shape")}, {}, name);
}

// PixelShuffle is DepthToSpace in CRD order; PixelUnshuffle, whose channel order SpaceToDepth
// (DCR) does not have, is PyTorch's own export: Reshape, Transpose, Reshape.
OnnxValue export_pixel_shuffle(nn::PixelShuffleImpl& m, const std::string& scope, const OnnxValue& x,
                               OnnxGraphBuilder& g) {
  CNNKIT_CHECK_T(NotImplementedError, x.value.dim() == 4, "export_onnx: PixelShuffle '", scope,
                 "' exports for (N, C, H, W) inputs, got ", x.value.sizes());
  return run(m,
             g.node("DepthToSpace", {x.name}, {A{"blocksize", m.options.upscale_factor()}, A{"mode", std::string("CRD")}},
                    scope),
             x);
}

OnnxValue export_pixel_unshuffle(nn::PixelUnshuffleImpl& m, const std::string& scope, const OnnxValue& x,
                                 OnnxGraphBuilder& g) {
  CNNKIT_CHECK_T(NotImplementedError, x.value.dim() == 4, "export_onnx: PixelUnshuffle '", scope,
                 "' exports for (N, C, H, W) inputs, got ", x.value.sizes());
  const int64_t r = m.options.downscale_factor(), C = x.value.size(1), H = x.value.size(2), W = x.value.size(3);
  const std::string split = g.node("Reshape", {x.name, g.ints({0, C, H / r, r, W / r, r}, scope + ".split")}, {}, scope);
  const std::string moved = g.node("Transpose", {split}, {A{"perm", Ints{0, 1, 3, 5, 2, 4}}}, scope);
  return run(m, g.node("Reshape", {moved, g.ints({0, C * r * r, H / r, W / r}, scope + ".merge")}, {}, scope), x);
}

OnnxValue export_unflatten(nn::UnflattenImpl& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
  Tensor y = m.forward(x.value);
  const int64_t D = x.value.dim();
  const int64_t dim = m.options.dim() < 0 ? m.options.dim() + D : m.options.dim();
  return OnnxValue{reshape_keeping(x.name, y, static_cast<size_t>(dim), scope, g), y};
}

// Upsample as Resize: nearest is 'asymmetric' sampling with 'floor' (PyTorch's nearest),
// linear 'pytorch_half_pixel' or 'align_corners'. A scale_factor goes in as Resize's scales
// (ONNX, like PyTorch, then samples at 1 / scale); a size as its sizes, the batch and channel
// counts taken from the input's shape at run time (the batch is dynamic).
OnnxValue export_upsample(nn::UpsampleImpl& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
  Tensor y = m.forward(x.value);
  const bool nearest = std::holds_alternative<enumtype::kNearest>(m.options.mode());
  std::vector<A> attrs = {A{"mode", std::string(nearest ? "nearest" : "linear")}};
  if (nearest) {
    attrs.push_back(A{"coordinate_transformation_mode", std::string("asymmetric")});
    attrs.push_back(A{"nearest_mode", std::string("floor")});
  } else {
    const bool ac = m.options.align_corners().value_or(false);
    attrs.push_back(A{"coordinate_transformation_mode", std::string(ac ? "align_corners" : "pytorch_half_pixel")});
  }
  std::vector<std::string> in = {x.name, ""};
  if (m.options.scale_factor()) {
    std::vector<float> scales = {1.0f, 1.0f};
    const std::vector<double>& sf = *m.options.scale_factor();  // one value: every spatial dim
    for (int64_t d = 2; d < x.value.dim(); ++d)
      scales.push_back(static_cast<float>(sf.size() == 1 ? sf[0] : sf[static_cast<size_t>(d - 2)]));
    in.push_back(g.initializer(scope + ".scales", tensor(scales)));
  } else {
    const std::string shape = g.node("Shape", {x.name}, {}, scope);
    const std::string nc = g.node("Slice", {shape, g.ints({0}, scope + ".starts"), g.ints({2}, scope + ".ends")}, {},
                                  scope);
    Ints spatial(y.sizes().begin() + 2, y.sizes().end());
    in.push_back("");
    in.push_back(g.node("Concat", {nc, g.ints(spatial, scope + ".size")}, {A{"axis", int64_t{0}}}, scope));
  }
  return OnnxValue{g.node("Resize", in, attrs, scope), y};
}

OnnxValue export_conv_transpose2d(nn::ConvTranspose2dImpl& m, const std::string& scope, const OnnxValue& x,
                                  OnnxGraphBuilder& g) {
  const auto& o = m.options;
  std::vector<std::string> inputs = {x.name, g.initializer(scope + ".weight", m.weight)};
  if (m.bias.defined()) inputs.push_back(g.initializer(scope + ".bias", m.bias));
  const Ints k = {o.kernel_size()[0], o.kernel_size()[1]};
  const std::string y = g.node(
      "ConvTranspose", inputs,
      {A{"kernel_shape", k}, A{"strides", Ints{o.stride()[0], o.stride()[1]}},
       A{"pads", Ints{o.padding()[0], o.padding()[1], o.padding()[0], o.padding()[1]}},
       A{"output_padding", Ints{o.output_padding()[0], o.output_padding()[1]}},
       A{"dilations", Ints{o.dilation()[0], o.dilation()[1]}}, A{"group", o.groups()}},
      scope);
  return run(m, y, x);
}

OnnxValue export_ensemble(nn::EnsembleImpl& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
  const std::string& method = m.options.method();
  CNNKIT_CHECK_T(NotImplementedError, method == "mean" || method == "stacking", "export_onnx: Ensemble '",
                 scope.empty() ? std::string("(the model)") : scope, "' combines its members by '", method,
                 "' (a vote of argmaxes with tie-breaking), which is not exported; mean and stacking ensembles are");
  std::vector<std::string> probs;
  for (size_t i = 0; i < m.size(); ++i) {
    OnnxValue out = g.module(*m.member(i).ptr(), child_scope(scope, "member" + std::to_string(i)), x);
    probs.push_back(g.node("Softmax", {out.name}, {A{"axis", int64_t{1}}}, scope));
  }
  std::string y;
  if (method == "mean") {
    y = g.node("Log", {g.node("Mean", probs, {}, scope)}, {}, scope);
  } else {
    const std::string features = g.node("Concat", probs, {A{"axis", int64_t{1}}}, scope);
    std::vector<std::string> in = {features, g.initializer(child_scope(scope, "meta.weight"), m.meta->weight)};
    if (m.meta->bias.defined()) in.push_back(g.initializer(child_scope(scope, "meta.bias"), m.meta->bias));
    y = g.node("LogSoftmax", {g.node("Gemm", in, {A{"transB", int64_t{1}}}, scope)}, {A{"axis", int64_t{1}}}, scope);
  }
  return OnnxValue{y, m.forward(x.value)};
}

template <typename M>
OnnxValue pass_through(M& m, const std::string&, const OnnxValue& x, OnnxGraphBuilder&) {
  return OnnxValue{x.name, m.forward(x.value)};
}

template <typename M>
void add(std::unordered_map<std::type_index, OnnxExporter>& r,
         std::function<OnnxValue(M&, const std::string&, const OnnxValue&, OnnxGraphBuilder&)> f) {
  r[typeid(M)] = [f](nn::Module& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
    return f(static_cast<M&>(m), scope, x, g);
  };
}

template <typename M>
void add_unary(std::unordered_map<std::type_index, OnnxExporter>& r, const std::string& op_type,
               std::vector<A> attrs = {}) {
  add<M>(r, [op_type, attrs](M& m, const std::string& scope, const OnnxValue& x, OnnxGraphBuilder& g) {
    return unary(m, op_type, scope, x, g, attrs);
  });
}

std::unordered_map<std::type_index, OnnxExporter>& registry() {
  static std::unordered_map<std::type_index, OnnxExporter> r = [] {
    std::unordered_map<std::type_index, OnnxExporter> t;
    t[typeid(nn::SequentialImpl)] = export_sequential;
    add<nn::Conv1dImpl>(t, export_conv1d);
    add<nn::Conv2dImpl>(t, export_conv2d);
    add<nn::LinearImpl>(t, export_linear);
    add<nn::BatchNorm1dImpl>(t, export_batch_norm<nn::BatchNorm1dImpl>);
    add<nn::BatchNorm2dImpl>(t, export_batch_norm<nn::BatchNorm2dImpl>);
    add<nn::InstanceNorm2dImpl>(t, export_instance_norm);
    add<nn::LayerNormImpl>(t, export_layer_norm);
    add<nn::GroupNormImpl>(t, export_group_norm);
    add<nn::PReLUImpl>(t, export_prelu);
    add<nn::GELUImpl>(t, export_gelu);
    add<nn::SoftplusImpl>(t, export_softplus);
    add<nn::FlattenImpl>(t, export_flatten);
    add<nn::MaxPool1dImpl>(t, export_max_pool1d);
    add<nn::AvgPool1dImpl>(t, export_avg_pool1d);
    add<nn::AdaptiveAvgPool1dImpl>(t, [](nn::AdaptiveAvgPool1dImpl& m, const std::string& s, const OnnxValue& x,
                                         OnnxGraphBuilder& g) { return export_adaptive_pool1d(m, false, s, x, g); });
    add<nn::AdaptiveMaxPool1dImpl>(t, [](nn::AdaptiveMaxPool1dImpl& m, const std::string& s, const OnnxValue& x,
                                         OnnxGraphBuilder& g) { return export_adaptive_pool1d(m, true, s, x, g); });
    add<nn::MaxPool2dImpl>(t, export_max_pool);
    add<nn::AvgPool2dImpl>(t, export_avg_pool);
    add<nn::AdaptiveAvgPool2dImpl>(t, [](nn::AdaptiveAvgPool2dImpl& m, const std::string& s, const OnnxValue& x,
                                         OnnxGraphBuilder& g) { return export_adaptive_pool(m, false, s, x, g); });
    add<nn::AdaptiveMaxPool2dImpl>(t, [](nn::AdaptiveMaxPool2dImpl& m, const std::string& s, const OnnxValue& x,
                                         OnnxGraphBuilder& g) { return export_adaptive_pool(m, true, s, x, g); });
    add<nn::ZeroPad2dImpl>(t, [](nn::ZeroPad2dImpl& m, const std::string& s, const OnnxValue& x, OnnxGraphBuilder& g) {
      return export_pad2d(m, "constant", 0.0, s, x, g);
    });
    add<nn::ConstantPad2dImpl>(t, [](nn::ConstantPad2dImpl& m, const std::string& s, const OnnxValue& x,
                                     OnnxGraphBuilder& g) {
      return export_pad2d(m, "constant", m.options.value(), s, x, g);
    });
    add<nn::ReflectionPad2dImpl>(t, [](nn::ReflectionPad2dImpl& m, const std::string& s, const OnnxValue& x,
                                       OnnxGraphBuilder& g) { return export_pad2d(m, "reflect", 0.0, s, x, g); });
    add<nn::ReplicationPad2dImpl>(t, [](nn::ReplicationPad2dImpl& m, const std::string& s, const OnnxValue& x,
                                        OnnxGraphBuilder& g) { return export_pad2d(m, "edge", 0.0, s, x, g); });
    add<nn::PixelShuffleImpl>(t, export_pixel_shuffle);
    add<nn::PixelUnshuffleImpl>(t, export_pixel_unshuffle);
    add<nn::UnflattenImpl>(t, export_unflatten);
    add<nn::UpsampleImpl>(t, export_upsample);
    add<nn::ConvTranspose2dImpl>(t, export_conv_transpose2d);
    add<nn::EnsembleImpl>(t, export_ensemble);
    add<nn::DropoutImpl>(t, pass_through<nn::DropoutImpl>);
    add<nn::Dropout2dImpl>(t, pass_through<nn::Dropout2dImpl>);
    add<nn::IdentityImpl>(t, pass_through<nn::IdentityImpl>);
    // Activations.
    add_unary<nn::ReLUImpl>(t, "Relu");
    add_unary<nn::SigmoidImpl>(t, "Sigmoid");
    add_unary<nn::TanhImpl>(t, "Tanh");
    add_unary<nn::SELUImpl>(t, "Selu");  // ONNX's default alpha and gamma are PyTorch's constants
    add<nn::LeakyReLUImpl>(t, [](nn::LeakyReLUImpl& m, const std::string& s, const OnnxValue& x, OnnxGraphBuilder& g) {
      return unary(m, "LeakyRelu", s, x, g, {A{"alpha", m.options.negative_slope()}});
    });
    add<nn::ELUImpl>(t, [](nn::ELUImpl& m, const std::string& s, const OnnxValue& x, OnnxGraphBuilder& g) {
      return unary(m, "Elu", s, x, g, {A{"alpha", m.options.alpha()}});
    });
    add<nn::ReLU6Impl>(t, [](nn::ReLU6Impl& m, const std::string& s, const OnnxValue& x, OnnxGraphBuilder& g) {
      return export_clip(m, 0.0, 6.0, s, x, g, [&m](const Tensor& v) { return m.forward(v); });
    });
    add<nn::HardtanhImpl>(t, [](nn::HardtanhImpl& m, const std::string& s, const OnnxValue& x, OnnxGraphBuilder& g) {
      return export_clip(m, m.options.min_val(), m.options.max_val(), s, x, g,
                         [&m](const Tensor& v) { return m.forward(v); });
    });
    add<nn::SiLUImpl>(t, [](nn::SiLUImpl& m, const std::string& s, const OnnxValue& x, OnnxGraphBuilder& g) {
      return run(m, g.node("Mul", {x.name, g.node("Sigmoid", {x.name}, {}, s)}, {}, s), x);
    });
    add<nn::MishImpl>(t, [](nn::MishImpl& m, const std::string& s, const OnnxValue& x, OnnxGraphBuilder& g) {
      return run(m, g.node("Mul", {x.name, g.node("Tanh", {g.node("Softplus", {x.name}, {}, s)}, {}, s)}, {}, s), x);
    });
    add<nn::LogSigmoidImpl>(t, [](nn::LogSigmoidImpl& m, const std::string& s, const OnnxValue& x,
                                  OnnxGraphBuilder& g) {  // -softplus(-x)
      return run(m, g.node("Neg", {g.node("Softplus", {g.node("Neg", {x.name}, {}, s)}, {}, s)}, {}, s), x);
    });
    add<nn::HardsigmoidImpl>(t, [](nn::HardsigmoidImpl& m, const std::string& s, const OnnxValue& x,
                                   OnnxGraphBuilder& g) {
      return unary(m, "HardSigmoid", s, x, g, {A{"alpha", 1.0 / 6.0}, A{"beta", 0.5}});
    });
    add<nn::HardswishImpl>(t, [](nn::HardswishImpl& m, const std::string& s, const OnnxValue& x, OnnxGraphBuilder& g) {
      if (g.opset() >= 14) return unary(m, "HardSwish", s, x, g);
      const std::string hs = g.node("HardSigmoid", {x.name}, {A{"alpha", 1.0 / 6.0}, A{"beta", 0.5}}, s);
      return run(m, g.node("Mul", {x.name, hs}, {}, s), x);
    });
    add<nn::SoftmaxImpl>(t, [](nn::SoftmaxImpl& m, const std::string& s, const OnnxValue& x, OnnxGraphBuilder& g) {
      return unary(m, "Softmax", s, x, g, {A{"axis", m.options.dim()}});
    });
    add<nn::LogSoftmaxImpl>(t, [](nn::LogSoftmaxImpl& m, const std::string& s, const OnnxValue& x,
                                  OnnxGraphBuilder& g) {
      return unary(m, "LogSoftmax", s, x, g, {A{"axis", m.options.dim()}});
    });
    t[typeid(OnnxModelImpl)] = detail::export_onnx_model;
    return t;
  }();
  return r;
}

}  // namespace
}  // namespace cnnkit::io
