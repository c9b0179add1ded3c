// write_report: a run directory's metrics.csv, config, summary and model turned into one
// HTML page and its figures. Each section is built on its own and says why when it cannot
// be (no metrics, no model file, no convolution, no image data); nothing here trains.
#include "cnnkit/report/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/error.h"
#include "cnnkit/core/threads.h"
#include "cnnkit/data/dataloader.h"
#include "cnnkit/data/image.h"
#include "cnnkit/io/file.h"
#include "cnnkit/nn/modules/conv.h"
#include "cnnkit/ops/ops.h"
#include "cnnkit/train/metrics.h"
#include "cnnkit/train/ranking.h"
#include "cnnkit/train/run.h"
#include "report/figure.h"
#include "report/page.h"

namespace cnnkit::report {

namespace fs = std::filesystem;
using detail::html_escape;
using detail::Page;
using detail::read_csv;
using detail::read_text;
using detail::Table;

// ---------------------------------------------------------------------------------------
// Grad-CAM
// ---------------------------------------------------------------------------------------

GradCam grad_cam(nn::Sequential& model, const Tensor& x, const Tensor& target, int64_t layer) {
  CNNKIT_CHECK_SHAPE(x.dim() == 4, "grad_cam: x must be (N, C, H, W), got sizes ", x.sizes());
  const bool was_training = model->is_training();
  model->eval();
  struct Restore {
    nn::Sequential& m;
    bool training;
    ~Restore() { m->train(training); }
  } restore{model, was_training};
  std::vector<nn::AnyModule*> children;
  for (nn::AnyModule& m : *model) children.push_back(&m);
  const auto n_children = static_cast<int64_t>(children.size());
  CNNKIT_CHECK(n_children > 0, "grad_cam: the model is an empty Sequential");
  if (layer < 0) {  // the last child with a 4-D output, found by a dry run
    NoGradGuard no_grad;
    Tensor a = x.narrow(0, 0, 1);
    for (int64_t i = 0; i < n_children; ++i) {
      a = children[static_cast<size_t>(i)]->forward(a);
      if (a.dim() == 4 && a.size(2) * a.size(3) > 1) layer = i;  // not a global pool's 1x1
    }
    CNNKIT_CHECK(layer >= 0, "grad_cam: no child of the model gives a 4-D (N, C, h, w) output larger than 1x1: no conv "
                             "stage to explain");
  }
  CNNKIT_CHECK(layer < n_children, "grad_cam: layer ", layer, " is out of range for a Sequential of ", n_children);
  // The activations as a leaf of their own: the gradient stops there, and the parameters'
  // .grad stay as they were.
  Tensor a;
  {
    NoGradGuard no_grad;
    a = x;
    for (int64_t i = 0; i <= layer; ++i) a = children[static_cast<size_t>(i)]->forward(a);
  }
  CNNKIT_CHECK_SHAPE(a.dim() == 4, "grad_cam: child ", layer, " gives sizes ", a.sizes(), ", not (N, C, h, w)");
  Tensor A = a.detach().contiguous().requires_grad_(true);
  std::vector<Tensor> saved_grads;
  std::vector<Tensor> params = model->parameters();
  for (auto& p : params) saved_grads.push_back(p.grad());
  Tensor y = A;
  for (int64_t i = layer + 1; i < n_children; ++i) y = children[static_cast<size_t>(i)]->forward(y);
  CNNKIT_CHECK_SHAPE(y.dim() == 2, "grad_cam: the model must give (N, K) scores, got sizes ", y.sizes());
  Tensor t = target.defined() ? target.to(kLong) : y.detach().argmax(1);
  CNNKIT_CHECK_SHAPE(t.dim() == 1 && t.size(0) == x.size(0), "grad_cam: target must hold one class per example");
  y.gather(1, t.unsqueeze(1)).sum().backward();
  for (size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = saved_grads[i];  // untouched
  NoGradGuard no_grad;
  Tensor w = A.grad().mean({2, 3}, true);  // (N, C, 1, 1)
  return GradCam{relu((w * A.detach()).sum({1})), y.detach(), t, layer};
}

namespace {

// ---------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------

void curves(Page& page, const std::string& run_dir, const Table& t, std::vector<std::string>& notes) {
  page.section("Learning curves");
  if (t.rows == 0) {
    notes.push_back("learning curves: metrics.csv is missing or has no epoch (the run stopped before its first epoch ended)");
    page.note(notes.back());
    return;
  }
  const std::vector<double>& epoch = *t.column("epoch");
  // The best epoch: highest validation accuracy, else lowest validation loss.
  std::optional<double> best;
  std::string best_label;
  auto pick = [&](const char* name, bool higher) {
    const auto* c = t.column(name);
    if (!c || best) return;
    double v = higher ? -INFINITY : INFINITY;
    for (size_t i = 0; i < c->size(); ++i)
      if (std::isfinite((*c)[i]) && (higher ? (*c)[i] > v : (*c)[i] < v)) {
        v = (*c)[i];
        best = epoch[i];
      }
    if (best) best_label = fmt::format("best epoch {} ({} {})", *best, name, higher ? fmt::format("{:.2f}%", 100 * v) : fmt::format("{:.4f}", v));
  };
  pick("val_accuracy", true);
  pick("val_loss", false);
  auto series = [&](const char* col, const char* name, const char* color, bool dashed, double scale = 1) {
    detail::Series s{name, epoch, {}, color, dashed};
    if (const auto* c = t.column(col))
      for (double v : *c) s.y.push_back(v * scale);
    else
      s.y.assign(epoch.size(), std::nan(""));
    return s;
  };
  detail::ChartOptions o;
  o.x_label = "epoch";
  o.marker_x = best;
  o.marker_label = best ? fmt::format("best {}", *best) : "";
  o.title = "Loss";
  o.y_label = "loss";
  page.chart("curves_loss", detail::line_chart({series("train_loss", "train", "#1f77b4", false), series("val_loss", "validation", "#ff7f0e", true)}, o),
           "Training and validation loss per epoch" + (best ? "; " + best_label : std::string()) + ".");
  if (t.column("train_accuracy") || t.column("val_accuracy")) {
    o.title = "Accuracy";
    o.y_label = "accuracy (%)";
    page.chart("curves_accuracy",
             detail::line_chart({series("train_accuracy", "train", "#1f77b4", false, 100),
                                 series("val_accuracy", "validation", "#ff7f0e", true, 100)},
                                o),
             "Training and validation accuracy per epoch.");
  }
  // The learning rate per step (steps.csv), else per epoch (metrics.csv, runs from before steps.csv).
  const Table steps = read_csv(run_dir + "/steps.csv");
  o.title = "Learning rate";
  o.y_label = "lr";
  o.marker_x.reset();
  if (steps.rows > 0 && steps.column("lr") && steps.column("step")) {
    o.x_label = "step";
    page.chart("curves_lr", detail::line_chart({{"lr", *steps.column("step"), *steps.column("lr"), "#2ca02c"}}, o),
               fmt::format("The learning rate of each of the {} optimisation steps (the first parameter group's), "
                           "warm-up and scheduler included.",
                           steps.rows));
    o.x_label = "epoch";
  } else if (t.column("lr")) {
    page.chart("curves_lr", detail::line_chart({series("lr", "lr", "#2ca02c", false)}, o),
               "The learning rate of each epoch (the scheduler's value when the epoch ended; this run has no steps.csv).");
  }
  if (t.column("images_per_second")) {
    o.title = "Throughput";
    o.y_label = "images / s";
    o.marker_x.reset();
    page.chart("curves_throughput", detail::line_chart({series("images_per_second", "training", "#9467bd", false)}, o),
             "Training images per second in each epoch.");
  }
}

// One (C, H, W) example as it was fed, mapped back to displayable pixels.
Tensor display_image(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& stdv, bool pixels) {
  Tensor v = x.to(kFloat).contiguous();
  if (!mean.empty()) {
    std::vector<int64_t> shape = {static_cast<int64_t>(mean.size()), 1, 1};
    Tensor m = tensor(std::vector<float>(mean.begin(), mean.end())).reshape(shape);
    Tensor s = tensor(std::vector<float>(stdv.begin(), stdv.end())).reshape(shape);
    v = v * s + m;
  }
  if (!pixels) v = v * 255.0;
  v = v.round().clamp(0, 255).to(kByte);
  return v.size(0) == 1 || v.size(0) == 3 ? v : v.narrow(0, 0, 1).contiguous();
}

// The first convolution's filters, one cell each (RGB for 3 input channels, else the mean over them).
void filters(Page& page, nn::Module& model, std::vector<std::string>& notes) {
  page.section("First-layer filters");
  nn::Conv2dImpl* conv = nullptr;
  for (const auto& m : model.modules())
    if ((conv = m->as<nn::Conv2dImpl>())) break;
  if (!conv) {
    notes.push_back("filters, feature maps and Grad-CAM: the model has no Conv2d layer");
    page.note(notes.back());
    return;
  }
  NoGradGuard no_grad;
  Tensor w = conv->weight.detach();  // (O, I, kh, kw)
  const int64_t O = std::min<int64_t>(w.size(0), 64), kh = w.size(2), kw = w.size(3);
  const int64_t factor = std::max<int64_t>(1, 40 / std::max(kh, kw));
  std::vector<Tensor> cells;
  for (int64_t o = 0; o < O; ++o) {
    Tensor f = w[o];
    Tensor img = f.size(0) == 3 ? f : f.mean({0}, true);
    cells.push_back(detail::upscale(detail::to_uint8(img), factor));
  }
  page.png("filters", detail::grid(cells, 16),
           fmt::format("The {} filters of the first Conv2d ({}x{}, {} input channel{}), each scaled to its own min..max{}.",
                       w.size(0), kh, kw, w.size(1), w.size(1) == 1 ? "" : "s",
                       w.size(1) == 3 ? " (RGB)" : w.size(1) > 1 ? ", averaged over the input channels" : ""));
}

struct TestPass {
  Tensor logits;   // (N, K)
  Tensor targets;  // (N)
  train::Metrics metrics;
};

TestPass run_test(train::Run& run, nn::Sequential& net) {
  const auto& d = run.data();
  CNNKIT_CHECK(d.test != nullptr, "the run has no test split");
  data::DataLoader loader(d.test, data::DataLoaderOptions(static_cast<size_t>(run.config().data.eval_batch_size))
                                      .workers(static_cast<size_t>(run.config().data.workers)));
  NoGradGuard no_grad;
  net->eval();
  std::vector<Tensor> logits, targets;
  train::ClassificationMetrics cm(static_cast<int64_t>(run.classes().size()), 5);
  for (data::Example<>& batch : loader) {
    Tensor y = net->forward(batch.data);
    cm.update(y, batch.target);
    logits.push_back(y);
    targets.push_back(batch.target);
  }
  return TestPass{cat(logits, 0), cat(targets, 0), cm.compute()};
}

void confusion(Page& page, const TestPass& pass, const std::vector<std::string>& classes) {
  page.section("Test split: confusion matrix and per-class metrics");
  const auto& m = pass.metrics;
  page.para(fmt::format("{} test examples: accuracy <b>{:.2f}%</b>, top-5 {:.2f}%, macro F1 {:.4f}.",
                        pass.targets.size(0), 100 * m.accuracy, 100 * m.top_k_accuracy, m.macro_f1));
  page.chart("confusion_matrix", detail::confusion_heatmap(m.confusion, m.num_classes, classes),
           "Counts of (true, predicted) pairs; a row's colour is its share of that true class.");
  std::string table = "<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>\n";
  for (int64_t k = 0; k < m.num_classes; ++k)
    table += fmt::format("<tr><td>{}</td><td>{:.4f}</td><td>{:.4f}</td><td>{:.4f}</td><td>{}</td></tr>\n",
                         html_escape(k < static_cast<int64_t>(classes.size()) ? classes[k] : std::to_string(k)),
                         m.precision[k], m.recall[k], m.f1[k], m.support[k]);
  table += fmt::format("<tr><th>macro avg</th><th>{:.4f}</th><th>{:.4f}</th><th>{:.4f}</th><th>{}</th></tr></table>\n",
                       m.macro_precision, m.macro_recall, m.macro_f1, pass.targets.size(0));
  page.raw(table);
}

// The reliability diagram of the test pass (Guo et al. 2017): per bin of the top-1
// probability, accuracy against mean confidence; with the run's temperature (the model file
// records it) the calibrated probabilities too.
void reliability(Page& page, const TestPass& pass, std::optional<double> temperature) {
  if (pass.logits.dim() != 2 || pass.logits.size(1) < 2 || pass.targets.dim() != 1) return;
  page.section("Test split: calibration");
  auto series_of = [&](double t, const std::string& name, const std::string& color, double& ece) {
    const train::Calibration c = train::calibration(softmax(pass.logits / t, 1), pass.targets);
    ece = c.ece;
    detail::Series s{name, {}, {}, color};
    for (size_t b = 0; b < c.count.size(); ++b) {
      if (c.count[b] == 0) continue;
      s.x.push_back(100 * c.confidence[b]);
      s.y.push_back(100 * c.accuracy[b]);
    }
    return s;
  };
  double raw_ece = 0, cal_ece = 0;
  std::vector<detail::Series> series = {{"perfect calibration", {0, 100}, {0, 100}, "#999999", true},
                                        series_of(1.0, "model", "#1f77b4", raw_ece)};
  if (temperature) series.push_back(series_of(*temperature, fmt::format("T = {:.3f}", *temperature), "#ff7f0e", cal_ece));
  detail::ChartOptions o;
  o.title = "Reliability";
  o.x_label = "mean top-1 probability in the bin (%)";
  o.y_label = "accuracy in the bin (%)";
  page.chart("reliability", detail::line_chart(series, o),
             fmt::format("15 equal-width bins of the top-1 softmax probability; a point below the diagonal is "
                         "over-confident. Expected calibration error {:.4f}{}.",
                         raw_ece,
                         temperature ? fmt::format(", {:.4f} with the logits divided by the temperature {:.3f} that "
                                                   "the run fitted on its validation split",
                                                   cal_ece, *temperature)
                                     : std::string()));
}

// Nearest-neighbour resampling of a (C, h, w) uint8 image to (C, S, S * w / h).
Tensor fit(const Tensor& image, int64_t S) {
  Tensor src = image.contiguous();
  const int64_t C = src.size(0), h = src.size(1), w = src.size(2);
  const int64_t H = S, W = std::max<int64_t>(1, S * w / h);
  Tensor out = zeros({C, H, W}, TensorOptions().dtype(kByte));
  const uint8_t* p = src.data_ptr<uint8_t>();
  uint8_t* o = out.data_ptr<uint8_t>();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) o[(c * H + y) * W + x] = p[(c * h + y * h / H) * w + x * w / W];
  return out;
}

struct Display {
  std::vector<double> mean, std;
  bool pixels = false;
  Tensor operator()(const Tensor& x) const { return display_image(x, mean, std, pixels); }
};

std::string class_name(const std::vector<std::string>& classes, int64_t k) {
  return k >= 0 && k < static_cast<int64_t>(classes.size()) ? classes[static_cast<size_t>(k)] : std::to_string(k);
}

// Each stage's output (the last child before the spatial size changes, and the last 4-D
// one) for one test image per class: the first 8 channels beside the image.
void feature_maps(Page& page, nn::Sequential& net, data::DatasetBase& test, const TestPass& pass,
                  const std::vector<std::string>& classes, const Display& show) {
  page.section("Feature maps");
  const int64_t K = pass.logits.size(1);
  std::vector<int64_t> first(static_cast<size_t>(K), -1);
  const Tensor t = pass.targets.contiguous();
  for (int64_t i = 0; i < t.size(0); ++i) {
    const int64_t k = t[i].item<int64_t>();
    if (k >= 0 && k < K && first[static_cast<size_t>(k)] < 0) first[static_cast<size_t>(k)] = i;
  }
  std::vector<Tensor> xs;
  std::vector<int64_t> shown;
  for (int64_t k = 0; k < K; ++k)
    if (first[static_cast<size_t>(k)] >= 0) {
      xs.push_back(test.get(static_cast<size_t>(first[static_cast<size_t>(k)])).data);
      shown.push_back(k);
    }
  if (xs.empty()) return;
  NoGradGuard no_grad;
  net->eval();
  Tensor a = stack(xs, 0);
  std::vector<std::pair<std::string, Tensor>> stages;
  std::vector<std::pair<std::string, Tensor>> outs;
  size_t idx = 0;
  std::vector<std::string> names;
  for (const auto& item : net->named_children()) names.push_back(item.key());
  for (nn::AnyModule& m : *net) {
    a = m.forward(a);
    outs.emplace_back(names[idx++], a);
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    const Tensor& o = outs[i].second;
    if (o.dim() != 4 || o.size(2) * o.size(3) == 1) continue;
    const bool last4d = i + 1 == outs.size() || outs[i + 1].second.dim() != 4 ||
                        std::none_of(outs.begin() + static_cast<long>(i) + 1, outs.end(),
                                     [](const auto& p) { return p.second.dim() == 4; });
    const bool size_changes = i + 1 < outs.size() && outs[i + 1].second.dim() == 4 &&
                              (outs[i + 1].second.size(2) != o.size(2) || outs[i + 1].second.size(3) != o.size(3));
    if (last4d || size_changes) stages.push_back(outs[i]);
  }
  const int64_t S = 48, channels = 8;
  for (size_t s = 0; s < stages.size(); ++s) {
    const auto& [name, o] = stages[s];
    std::vector<Tensor> cells;
    const int64_t C = std::min<int64_t>(channels, o.size(1));
    for (size_t r = 0; r < shown.size(); ++r) {
      cells.push_back(fit(show(xs[r]), S));
      for (int64_t c = 0; c < C; ++c) cells.push_back(fit(detail::colormap(o[static_cast<int64_t>(r)][c]), S));
    }
    page.png(fmt::format("feature_maps_{}", s), detail::grid(cells, C + 1),
             fmt::format("Stage {} (after child '{}', {} channels of {}x{}): one test image per class ({}), then the first "
                         "{} channels, each on its own colour scale.",
                         s + 1, html_escape(name), o.size(1), o.size(2), o.size(3),
                         html_escape([&] {
                           std::string l;
                           for (int64_t k : shown) l += (l.empty() ? "" : ", ") + class_name(classes, k);
                           return l;
                         }()),
                         C));
  }
}

// The most confident correct and wrong predictions, with Grad-CAM over them; the gallery of
// the most confident mistakes.
void explanations(Page& page, nn::Sequential& net, data::DatasetBase& test, const TestPass& pass,
                  const std::vector<std::string>& classes, const Display& show, int64_t gallery) {
  Tensor probs = softmax(pass.logits, 1);
  // Plain variables, not a structured binding: clang 14 lambdas cannot capture those.
  const auto best = probs.max(1);
  Tensor conf = std::get<0>(best), pred = std::get<1>(best);
  const Tensor correct = pred.eq(pass.targets);
  std::vector<int64_t> right, wrong;
  {
    const Tensor c = conf.to(kFloat).contiguous(), ok = correct.to(kLong).contiguous();
    const float* cp = c.data_ptr<float>();
    const int64_t* okp = ok.data_ptr<int64_t>();
    std::vector<int64_t> order(static_cast<size_t>(c.numel()));
    std::iota(order.begin(), order.end(), int64_t{0});
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return cp[a] > cp[b]; });
    for (int64_t i : order) {
      auto& list = okp[i] != 0 ? right : wrong;
      if (static_cast<int64_t>(list.size()) < gallery) list.push_back(i);
    }
  }
  auto caption = [&](int64_t i) {
    const int64_t t = pass.targets[i].item<int64_t>(), p = pred[i].item<int64_t>();
    return fmt::format("true: {}<br>predicted: {} ({:.0f}%)", html_escape(class_name(classes, t)),
                       html_escape(class_name(classes, p)), 100 * conf[i].item<double>());
  };
  page.section("Grad-CAM");
  const int64_t S = 84;
  for (const auto* list : {&right, &wrong}) {
    if (list->empty()) continue;
    std::vector<Tensor> xs;
    for (int64_t i : *list) xs.push_back(test.get(static_cast<size_t>(i)).data);
    GradCam g = grad_cam(net, stack(xs, 0));
    std::vector<std::pair<Tensor, std::string>> items;
    for (size_t r = 0; r < xs.size(); ++r) {
      Tensor cam = g.cam[static_cast<int64_t>(r)];
      const double peak = cam.max().item<double>();
      Tensor heat = fit(detail::colormap(cam, 0.0, peak > 0 ? peak : 1.0), S);
      Tensor pic = fit(show(xs[r]), S);
      if (heat.size(2) != pic.size(2)) heat = fit(heat, S);  // same aspect as the picture
      items.emplace_back(detail::overlay(pic, heat, 0.45), caption((*list)[r]));
    }
    const bool ok = list == &right;
    page.cells(ok ? "grad_cam_correct" : "grad_cam_wrong", items, 8,
               fmt::format("Grad-CAM of the predicted class over the {} most confident {} test predictions (child {} of "
                           "the model, the last conv stage); bright: evidence for the prediction.",
                           xs.size(), ok ? "correct" : "wrong", g.layer));
  }
  page.section("Most confident mistakes");
  std::vector<std::pair<Tensor, std::string>> items;
  for (int64_t i : wrong) items.emplace_back(fit(show(test.get(static_cast<size_t>(i)).data), S), caption(i));
  if (items.empty()) page.note("no test example is misclassified");
  page.cells("mistakes", items, 8, "The test images the model got wrong with the highest confidence.");
}

}  // namespace

// ---------------------------------------------------------------------------------------
// write_report
// ---------------------------------------------------------------------------------------

ReportResult write_report(const std::string& run_dir, const ReportOptions& options) {
  CNNKIT_CHECK_IO(fs::is_directory(run_dir), "report: '", run_dir, "' is not a run directory");
  ReportResult result;
  result.html = run_dir + "/report.html";
  fs::create_directories(run_dir + "/figures");
  Page page(run_dir, result.figures);
  std::vector<std::string>& notes = result.notes;

  std::string title = fs::path(run_dir).filename().string();
  if (title.empty()) title = run_dir;
  if (std::string kind; detail::selection_page(run_dir, page, kind)) {
    io::write_file_atomic(result.html, page.html(title + " (" + kind + ")"), "report");
    return result;
  }
  const Table metrics = read_csv(run_dir + "/metrics.csv");
  curves(page, run_dir, metrics, notes);

  // The model, the data and everything that runs them.
  std::optional<train::Run> run;
  try {
    run.emplace(train::Run::open(run_dir, "", {}, train::RunOptions().threads(options.threads())));
    if (run->weights_path().empty()) run.reset();
  } catch (const Error& e) {
    notes.push_back(std::string("model sections: the run directory has no model to open (") + e.what() + ")");
  }
  if (!run) {
    if (notes.empty() || notes.back().rfind("model sections", 0) != 0)
      notes.push_back("model sections: the run directory has no model file yet (an interrupted run?)");
    page.section("Model");
    page.note(notes.back());
  } else {
    nn::Sequential& net = run->model();
    filters(page, *net, notes);
    const bool classification = run->task() == train::Task::kClassification;
    if (!classification) {
      notes.push_back("confusion matrix, Grad-CAM and mistakes: the run is not single-label classification");
      page.note(notes.back());
    } else if (options.evaluate()) {
      const TestPass pass = run_test(*run, net);
      confusion(page, pass, run->classes());
      if (run->task() == train::Task::kClassification) reliability(page, pass, run->temperature());
      const std::vector<int64_t> shape = run->input_shape();
      const bool images = shape.size() == 3 && (shape[0] == 1 || shape[0] == 3);
      bool has_conv = false;
      for (const auto& m : net->modules()) has_conv |= m->as<nn::Conv2dImpl>() != nullptr;
      if (!images) {
        notes.push_back("feature maps and Grad-CAM: the inputs are not images (C, H, W) with 1 or 3 channels");
        page.note(notes.back());
      } else if (has_conv) {
        train::RunConfig cfg = run->resolved_config();
        Display show{cfg.data.mean, cfg.data.std, cfg.data.input_values == "pixels"};
        feature_maps(page, net, *run->data().test, pass, run->classes(), show);
        explanations(page, net, *run->data().test, pass, run->classes(), show, options.gallery());
      }
    }
  }

  // Config, model summary, timings.
  page.section("Run");
  const std::string summary = read_text(run_dir + "/summary.txt");
  if (!summary.empty()) page.raw("<pre>" + html_escape(summary) + "</pre>\n");
  else {
    notes.push_back("summary: summary.txt is missing (the run did not finish)");
    page.note(notes.back());
  }
  if (run) page.raw("<h3>model</h3><pre>" + html_escape(run->model_summary()) + "</pre>\n");
  const std::string config = read_text(run_dir + "/config.yaml");
  if (!config.empty()) page.raw("<h3>config.yaml</h3><pre>" + html_escape(config) + "</pre>\n");

  const std::string html = page.html(title);
  io::write_file_atomic(result.html, html, "report");
  return result;
}

}  // namespace cnnkit::report
