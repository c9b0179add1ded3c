// Per-layer forward / backward timing (models/profile.h): the children of a Sequential run one
// at a time on detached inputs so that each backward can be timed alone, medians over the
// timed steps, and the table beside the summary's columns. It does not profile inside a
// child (a BasicBlock is one row) nor time the loss or the optimiser.
#include "cnnkit/models/profile.h"

#include <algorithm>
#include <chrono>
#include <sstream>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/error.h"
#include "cnnkit/core/rng.h"
#include "cnnkit/core/threads.h"
#include "cnnkit/models/summary.h"
#include "cnnkit/nn/modules/container/sequential.h"
#include "cnnkit/ops/factory.h"
#include "models/table_text.h"

namespace cnnkit::models {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// What the sweep changes in the model, put back afterwards (the contract in profile.h).
class Restore {
 public:
  explicit Restore(nn::Module& m) : model_(m), rng_(default_generator().state()) {
    for (const Tensor& p : m.parameters()) grads_.push_back(p.grad().defined() ? p.grad().clone() : Tensor());
    for (const auto& item : m.named_buffers()) buffers_.push_back(item.value().clone());
    m.apply([&](nn::Module& sub) { training_.push_back(sub.is_training()); });
  }
  ~Restore() {
    size_t i = 0;
    for (Tensor p : model_.parameters()) p.mutable_grad() = grads_[i++];
    NoGradGuard no_grad;
    i = 0;
    for (const auto& item : model_.named_buffers()) Tensor(item.value()).copy_(buffers_[i++]);
    i = 0;
    model_.apply([&](nn::Module& sub) { sub.train(training_[i++]); });
    default_generator().set_state(rng_);
  }
  Restore(const Restore&) = delete;
  Restore& operator=(const Restore&) = delete;

 private:
  nn::Module& model_;
  std::string rng_;
  std::vector<Tensor> grads_, buffers_;
  std::vector<bool> training_;
};

using detail::shape_text;
using detail::with_commas;

std::string fixed(double v, int digits) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(digits);
  os << v;
  return os.str();
}

}  // namespace

LayerProfile profile_layers(nn::Module& model, const Tensor& example_input, int64_t steps, int64_t warmup) {
  auto* seq = model.as<nn::SequentialImpl>();
  CNNKIT_CHECK(seq != nullptr, "profile_layers: the model is a ", model.name(),
               "; pass an nn::Sequential (its children are the rows)");
  CNNKIT_CHECK(steps >= 1, "profile_layers: steps must be at least 1, got ", steps);
  CNNKIT_CHECK(warmup >= 0, "profile_layers: warmup must be >= 0, got ", warmup);
  CNNKIT_CHECK(example_input.defined(), "profile_layers: the example input is undefined");

  // The summary's columns for the same input (it runs in eval mode without gradients and
  // restores the flags); its depth-0 rows are the Sequential's children.
  const ModelSummary summary = models::summary(model, example_input.sizes());
  LayerProfile p;
  p.input_shape = example_input.sizes().vec();
  p.steps = steps;
  p.warmup = warmup;
  p.threads = get_num_threads();
  for (const SummaryRow& r : summary.rows) {
    if (r.depth != 0) continue;
    LayerTiming t;
    t.name = r.name;
    t.type = r.type;
    t.output_shape = r.output_shape;
    t.params = r.params;
    t.flops = r.flops;
    t.flops_known = r.flops_known;
    p.layers.push_back(std::move(t));
  }
  const size_t n = seq->size();
  CNNKIT_ASSERT(p.layers.size() == n, "profile_layers: the summary has ", p.layers.size(), " top-level rows for ", n,
                " children");

  Restore restore(model);
  const std::vector<Tensor> params = model.parameters();
  AutoGradMode grad_on(true);
  model.train();
  std::vector<std::vector<double>> fwd(n), bwd(n);
  std::vector<Tensor> inputs(n), outputs(n);
  for (int64_t s = 0; s < warmup + steps; ++s) {
    const bool timed = s >= warmup;
    for (Tensor q : params) q.mutable_grad() = Tensor();  // zero_grad(set_to_none), as a training step
    Tensor h = example_input;
    size_t i = 0;
    for (auto& child : *seq) {
      // Child 0 gets the input as training does (no gradient wanted); the others a detached
      // copy of the previous output, so that its gradient stops there.
      Tensor x = i == 0 ? h : h.detach().requires_grad_(true);
      const auto t0 = Clock::now();
      Tensor y;
      try {
        y = child.forward(x);
      } catch (const Error& e) {
        throw ShapeError("profile_layers: " + p.layers[i].name + " (" + p.layers[i].type + ") fails: " + e.what());
      }
      if (timed) fwd[i].push_back(ms_since(t0));
      inputs[i] = x;
      outputs[i] = y;
      h = y;
      ++i;
    }
    Tensor g = ones_like(outputs[n - 1]);
    for (size_t k = n; k-- > 0;) {
      double ms = 0;
      if (g.defined() && outputs[k].requires_grad()) {
        const auto t0 = Clock::now();
        outputs[k].backward(g);
        ms = ms_since(t0);
      }
      if (timed) bwd[k].push_back(ms);
      g = k > 0 && inputs[k].requires_grad() ? inputs[k].grad() : Tensor();
    }
    for (size_t k = 0; k < n; ++k) inputs[k] = outputs[k] = Tensor();  // free the graph before the next step
  }

  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    p.layers[i].forward_ms = median(fwd[i]);
    p.layers[i].backward_ms = median(bwd[i]);
    p.forward_ms += p.layers[i].forward_ms;
    p.backward_ms += p.layers[i].backward_ms;
    total += p.layers[i].forward_ms + p.layers[i].backward_ms;
  }
  for (LayerTiming& t : p.layers) t.share = total > 0 ? 100 * (t.forward_ms + t.backward_ms) / total : 0;
  return p;
}

std::string LayerProfile::table() const {
  using Line = std::vector<std::string>;
  std::vector<Line> lines;
  for (const LayerTiming& t : layers)
    lines.push_back({(t.name.empty() ? "" : t.name + " ") + "(" + t.type + ")", shape_text(t.output_shape),
                     with_commas(t.params), with_commas(t.flops) + (t.flops_known ? "" : "+?"), fixed(t.forward_ms, 3),
                     fixed(t.backward_ms, 3), fixed(t.share, 1) + "%"});
  int64_t params = 0, flops = 0;
  for (const LayerTiming& t : layers) params += t.params, flops += t.flops;
  const Line total{"Total", "", with_commas(params), with_commas(flops), fixed(forward_ms, 3), fixed(backward_ms, 3),
                   "100.0%"};
  const Line head{"Layer (type)", "Output shape", "Params", "FLOPs", "Forward ms", "Backward ms", "Share"};
  std::vector<size_t> w(head.size());
  for (const Line* l : {&head, &total})
    for (size_t c = 0; c < l->size(); ++c) w[c] = std::max(w[c], (*l)[c].size());
  for (const Line& l : lines)
    for (size_t c = 0; c < l.size(); ++c) w[c] = std::max(w[c], l[c].size());
  auto format = [&](const Line& l) {
    std::string out;
    for (size_t c = 0; c < l.size(); ++c) {
      const std::string pad(w[c] - l[c].size(), ' ');
      out += (c ? "  " : "") + (c < 2 ? l[c] + pad : pad + l[c]);  // text left, numbers right
    }
    return out + "\n";
  };
  size_t width = 2 * (w.size() - 1);
  for (size_t x : w) width += x;
  const std::string rule(width, '=');
  std::string out = format(head) + rule + "\n";
  for (const Line& l : lines) out += format(l);
  out += rule + "\n" + format(total);
  out += "Timed on an input of shape " + shape_text(input_shape) + " in training mode, " + std::to_string(threads) +
         (threads == 1 ? " thread" : " threads") + ": medians of " + std::to_string(steps) + " steps after " +
         std::to_string(warmup) + " warm-up steps.\nBackward of the last layer from a gradient of ones; the loss " +
         "and the optimiser step are not timed.\n";
  return out;
}

}  // namespace cnnkit::models
