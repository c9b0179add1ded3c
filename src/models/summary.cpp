// Model summaries: one forward on zeros, walking Sequential / BasicBlock / Residual / Ensemble children
// in forward order, or observing the layer calls of any other module's forward, and recording
// each layer's output shape, parameters and FLOPs (formulas in models/summary.h), then an
// aligned text table. It does not time layers.
#include "cnnkit/models/summary.h"

#include <algorithm>
#include <functional>
#include <sstream>
#include <unordered_map>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/error.h"
#include "cnnkit/models/layers.h"
#include "cnnkit/models/zoo.h"
#include "cnnkit/nn/modules/container/ensemble.h"
#include "cnnkit/nn/modules/container/sequential.h"
#include "cnnkit/ops/factory.h"
#include "models/table_text.h"

namespace cnnkit::models {

namespace {

int64_t count_params(const nn::Module& m) {
  int64_t n = 0;
  for (const Tensor& p : m.parameters()) n += p.numel();
  return n;
}

// Forward FLOPs of one leaf layer from its input x and output y, by its row of the layer
// table; -1 (shown as "+?", and said under the table) for a module with no row: a user's
// own, or an nn::Functional. Every layer of nn has a row (tests/models/layers_test.cpp).
int64_t leaf_flops(const nn::Module& m, const Tensor& x, const Tensor& y) {
  const LayerSpec* spec = find_layer(m);
  return spec ? spec->flops(m, x, y) : -1;
}

class Walker {
 public:
  std::vector<SummaryRow> rows;

  // A module held in a Sequential slot: a known container is walked, anything else is a leaf.
  Tensor any(nn::AnyModule& m, const std::string& name, int depth, const Tensor& x) {
    const std::shared_ptr<nn::Module> p = m.ptr();
    if (auto* s = p->as<nn::SequentialImpl>()) return sequential(*s, name, depth, x);
    if (auto* b = p->as<BasicBlockImpl>()) return block(*b, name, depth, x);
    if (auto* r = p->as<ResidualImpl>()) return residual(*r, name, depth, x);
    if (auto* e = p->as<nn::EnsembleImpl>()) return ensemble(*e, name, depth, x);
    return leaf(*p, name, depth, x, [&] { return m.forward(x); });
  }

  // Every member on the same input, then the combination: its own FLOPs are the stacking
  // meta-learner's multiply-adds (2 N M K K); the softmax and vote arithmetic is not counted,
  // as the table counts no softmax.
  Tensor ensemble(nn::EnsembleImpl& e, const std::string& name, int depth, const Tensor& x) {
    const size_t row = open(e, name, depth);
    for (size_t i = 0; i < e.size(); ++i) any(e.member(i), join(name, "member" + std::to_string(i)), depth + 1, x);
    const Tensor y = e.forward(x);
    const int64_t meta = e.meta.is_empty() ? 0 : 2 * y.size(0) * e.meta->weight.size(1) * e.meta->weight.size(0);
    return close(row, y, meta);
  }

  Tensor sequential(nn::SequentialImpl& s, const std::string& name, int depth, const Tensor& x) {
    const size_t row = open(s, name, depth);
    const auto names = s.named_children();
    Tensor h = x;
    size_t i = 0;
    for (auto& m : s) h = any(m, join(name, names[i++].key()), depth + 1, h);
    return close(row, h, 0);
  }

  // The steps of BasicBlockImpl::forward (zoo.cpp), each child as a row.
  Tensor block(BasicBlockImpl& b, const std::string& name, int depth, const Tensor& x) {
    const size_t row = open(b, name, depth);
    Tensor h = leaf(*b.conv1, join(name, "conv1"), depth + 1, x, [&] { return b.conv1(x); });
    h = leaf(*b.bn1, join(name, "bn1"), depth + 1, h, [&] { return b.bn1(h); });
    h = leaf(*b.relu, join(name, "relu"), depth + 1, h, [&] { return b.relu(h); });
    h = leaf(*b.conv2, join(name, "conv2"), depth + 1, h, [&] { return b.conv2(h); });
    h = leaf(*b.bn2, join(name, "bn2"), depth + 1, h, [&] { return b.bn2(h); });
    Tensor shortcut = b.downsample.is_empty() ? x : sequential(*b.downsample, join(name, "downsample"), depth + 1, x);
    Tensor y = b.relu(h + shortcut);
    return close(row, y, find_layer(b)->flops(b, x, y));  // the add and the second ReLU
  }

  // The steps of ResidualImpl::forward (zoo.cpp).
  Tensor residual(ResidualImpl& r, const std::string& name, int depth, const Tensor& x) {
    const size_t row = open(r, name, depth);
    Tensor y = sequential(*r.body, join(name, "body"), depth + 1, x);
    Tensor s = r.shortcut.is_empty() ? x : sequential(*r.shortcut, join(name, "shortcut"), depth + 1, x);
    y = y + s;
    const int64_t add = y.numel();
    if (!r.activation.is_empty()) y = any(r.activation, join(name, "activation"), depth + 1, y);
    return close(row, y, add);
  }

 private:
  static std::string join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "." + b; }

  template <class F>
  Tensor leaf(const nn::Module& m, const std::string& name, int depth, const Tensor& x, F forward) {
    Tensor y;
    try {
      y = forward();
    } catch (const Error& e) {
      throw ShapeError("summary: " + name + " (" + nn::type_name(m) + ") fails on input " + shape(x) + ": " + e.what());
    }
    SummaryRow r;
    r.name = name;
    r.type = nn::type_name(m);
    r.depth = depth;
    r.output_shape = y.sizes().vec();
    r.params = count_params(m);
    const int64_t f = leaf_flops(m, x, y);
    r.flops = std::max<int64_t>(f, 0);
    r.flops_known = f >= 0;
    rows.push_back(std::move(r));
    return y;
  }

  size_t open(const nn::Module& m, const std::string& name, int depth) {
    SummaryRow r;
    r.name = name;
    r.type = nn::type_name(m);
    r.depth = depth;
    r.params = count_params(m);
    r.container = true;
    rows.push_back(std::move(r));
    return rows.size() - 1;
  }

  // Fills a container row: its output, and FLOPs = its children's plus its own.
  Tensor close(size_t row, const Tensor& y, int64_t own_flops) {
    SummaryRow& r = rows[row];
    r.output_shape = y.sizes().vec();
    r.flops = own_flops;
    for (size_t i = row + 1; i < rows.size(); ++i) {
      if (rows[i].depth != r.depth + 1) continue;  // only direct children: they hold their own totals
      r.flops += rows[i].flops;
      r.flops_known = r.flops_known && rows[i].flops_known;
    }
    return y;
  }

  static std::string shape(const Tensor& t) {
    std::ostringstream os;
    os << t.sizes();
    return os.str();
  }
};

// The rows of a custom module's forward: each layer call seen through a holder or an
// AnyModule (nn::detail::ForwardObserver) opens a row at the depth of the calls around it and
// closes it with the output's shape and the layer's FLOPs. A call with calls inside is a
// container row holding its children's totals; its own arithmetic is known only for the
// walked types (Sequential: none; BasicBlock and Residual: the add).
class Recorder final : public nn::detail::ForwardObserver {
 public:
  explicit Recorder(const nn::Module& model) {
    for (const auto& item : model.named_modules("", /*include_self=*/false)) names_[item.value().get()] = item.key();
  }
  std::vector<SummaryRow> rows;

  void enter(const nn::Module& m, const Tensor* input) override {
    if (!stack_.empty()) stack_.back().has_children = true;
    SummaryRow r;
    const auto it = names_.find(&m);
    r.name = it != names_.end() ? it->second : "(unregistered)";
    r.type = nn::type_name(m);
    r.depth = static_cast<int>(stack_.size());
    r.params = count_params(m);
    rows.push_back(std::move(r));
    stack_.push_back({rows.size() - 1, input ? *input : Tensor(), false});
  }

  void leave(const nn::Module& m, const Tensor* output) override {
    const Frame f = stack_.back();
    stack_.pop_back();
    SummaryRow& r = rows[f.row];
    if (output) r.output_shape = output->sizes().vec();
    if (f.has_children) {
      r.container = true;
      const bool walked = m.as<nn::SequentialImpl>() || m.as<BasicBlockImpl>() || m.as<ResidualImpl>();
      r.flops = output && (m.as<BasicBlockImpl>() || m.as<ResidualImpl>()) ? output->numel() : 0;
      r.flops_known = walked;
      for (size_t i = f.row + 1; i < rows.size(); ++i) {
        if (rows[i].depth != r.depth + 1) continue;
        r.flops += rows[i].flops;
        r.flops_known = r.flops_known && rows[i].flops_known;
      }
      return;
    }
    const int64_t flops = output && f.input.defined() ? leaf_flops(m, f.input, *output) : -1;
    r.flops = std::max<int64_t>(flops, 0);
    r.flops_known = flops >= 0;
  }

 private:
  struct Frame {
    size_t row;
    Tensor input;
    bool has_children;
  };
  std::unordered_map<const nn::Module*, std::string> names_;
  std::vector<Frame> stack_;
};

// Installs a recorder as this thread's observer for one forward.
class Observing {
 public:
  explicit Observing(Recorder& r) : previous_(nn::detail::forward_observer()) { nn::detail::forward_observer() = &r; }
  ~Observing() { nn::detail::forward_observer() = previous_; }
  Observing(const Observing&) = delete;
  Observing& operator=(const Observing&) = delete;

 private:
  nn::detail::ForwardObserver* previous_;
};

using detail::shape_text;
using detail::with_commas;

// 845852 -> "845.85 K"
std::string scaled(double v) {
  const char* units[] = {" ", " K", " M", " G", " T"};
  int u = 0;
  while (v >= 1000 && u < 4) v /= 1000, ++u;
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(u ? 2 : 0);
  os << v << units[u];
  return os.str();
}

}  // namespace

ModelSummary summary(nn::Module& model, IntArrayRef input_shape) { return summary(model, input_shape, nullptr); }

ModelSummary summary(nn::Module& model, IntArrayRef input_shape, const std::function<Tensor(const Tensor&)>& forward) {
  ModelSummary s;
  s.input_shape = input_shape.vec();
  for (const auto& item : model.named_parameters()) {
    s.total_params += item.value().numel();
    if (item.value().requires_grad()) s.trainable_params += item.value().numel();
  }
  for (const auto& item : model.named_buffers())
    if (item.value().is_floating_point()) s.buffer_elements += item.value().numel();

  // Eval mode for the walk (batch norm must not update its running statistics, dropout must
  // not drop); every module's own flag comes back afterwards.
  std::vector<bool> training;
  model.apply([&](nn::Module& m) { training.push_back(m.is_training()); });
  model.eval();
  Walker w;
  Recorder recorder(model);
  Tensor y;
  try {
    NoGradGuard no_grad;
    Tensor x = zeros(input_shape);
    if (auto* seq = model.as<nn::SequentialImpl>()) {
      const auto names = seq->named_children();
      Tensor h = x;
      size_t i = 0;
      for (auto& m : *seq) h = w.any(m, names[i++].key(), 0, h);
      y = h;
    } else if (auto* b = model.as<BasicBlockImpl>()) {
      y = w.block(*b, "", 0, x);
    } else if (auto* r = model.as<ResidualImpl>()) {
      y = w.residual(*r, "", 0, x);
    } else {
      CNNKIT_CHECK(static_cast<bool>(forward), "summary: cannot run a ", model.name(),
                   " given as an nn::Module& (its forward is not virtual); pass the module itself or its holder "
                   "(models::summary(net, shape)), an nn::Sequential, a models::BasicBlock or a models::Residual");
      Observing observing(recorder);
      try {
        y = forward(x);
      } catch (const Error& e) {
        throw ShapeError("summary: " + nn::type_name(model) + " fails on input " + shape_text(input_shape.vec()) +
                         ": " + e.what());
      }
      w.rows = std::move(recorder.rows);
      s.traced = true;
    }
  } catch (...) {
    size_t i = 0;
    model.apply([&](nn::Module& m) { m.train(training[i++]); });
    throw;
  }
  size_t i = 0;
  model.apply([&](nn::Module& m) { m.train(training[i++]); });

  s.output_shape = y.sizes().vec();
  s.rows = std::move(w.rows);
  const int top = s.rows.empty() ? 0 : s.rows.front().depth;
  for (const auto& r : s.rows) {
    if (r.depth != top) continue;  // top-level rows hold their children's totals
    s.total_flops += r.flops;
    s.flops_complete = s.flops_complete && r.flops_known;
  }
  return s;
}

std::string ModelSummary::table(int max_depth) const {
  struct Line { std::string name, shape, params, flops; };
  std::vector<Line> lines;
  for (const auto& r : rows) {
    if (max_depth >= 0 && r.depth > max_depth) continue;
    lines.push_back({std::string(2 * r.depth, ' ') + (r.name.empty() ? "" : r.name + " ") + "(" + r.type + ")",
                     shape_text(r.output_shape), with_commas(r.params),
                     r.flops_known ? with_commas(r.flops) : with_commas(r.flops) + "+?"});
  }
  Line head{"Layer (type)", "Output shape", "Params", "FLOPs"};
  size_t w0 = head.name.size(), w1 = head.shape.size(), w2 = head.params.size(), w3 = head.flops.size();
  for (const auto& l : lines) {
    w0 = std::max(w0, l.name.size());
    w1 = std::max(w1, l.shape.size());
    w2 = std::max(w2, l.params.size());
    w3 = std::max(w3, l.flops.size());
  }
  auto pad_right = [](const std::string& s, size_t w) { return s + std::string(w - s.size(), ' '); };
  auto pad_left = [](const std::string& s, size_t w) { return std::string(w - s.size(), ' ') + s; };
  auto format = [&](const Line& l) {
    return pad_right(l.name, w0) + "  " + pad_right(l.shape, w1) + "  " + pad_left(l.params, w2) + "  " +
           pad_left(l.flops, w3) + "\n";
  };
  const std::string rule(w0 + w1 + w2 + w3 + 6, '=');
  std::string out = format(head) + rule + "\n";
  for (const auto& l : lines) out += format(l);
  out += rule + "\n";
  out += "Input shape: " + shape_text(input_shape) + "\n";
  out += "Output shape: " + shape_text(output_shape) + "\n";
  out += "Total params: " + with_commas(total_params) + "\n";
  out += "Trainable params: " + with_commas(trainable_params) + "\n";
  out += "Non-trainable params: " + with_commas(total_params - trainable_params) + "\n";
  if (buffer_elements) out += "Buffers (running statistics): " + with_commas(buffer_elements) + "\n";
  out += "Forward FLOPs: " + with_commas(total_flops) + " (" + scaled(static_cast<double>(total_flops)) + "FLOPs" +
         (flops_complete ? "" : "; some layers of unknown cost counted as 0") + ")\n";
  if (traced)
    out += "(the rows are the layers the model's forward calls as layer(x); its own arithmetic and calls written "
           "layer->forward(x) are not counted)\n";
  std::ostringstream mb;
  mb.setf(std::ios::fixed);
  mb.precision(2);
  mb << static_cast<double>(total_params + buffer_elements) * 4 / (1024.0 * 1024.0);
  out += "Params + buffers size (MB): " + mb.str() + "\n";
  return out;
}

}  // namespace cnnkit::models
