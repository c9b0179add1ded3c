// report: Grad-CAM against PyTorch and on a task whose evidence lies in one quadrant; the
// report page of a real (small) Fashion-MNIST run, its figures, its self-containment, and
// what it does for runs that lack metrics, a model or convolutions; the page rendered by
// headless Chromium (a screenshot that is not blank).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cnnkit/cnnkit.h"
#include "report/svg.h"
#include "test_util.h"

using namespace cnnkit;
namespace fs = std::filesystem;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST(ReportFigures, Base64AndChartsAndHeatMap) {
  using report::detail::base64;
  EXPECT_EQ(base64("Man"), "TWFu");
  EXPECT_EQ(base64("Ma"), "TWE=");
  EXPECT_EQ(base64("M"), "TQ==");
  EXPECT_EQ(base64(""), "");
  report::detail::Series s{"train", {1, 2, 3, 4}, {1.0, 0.5, std::nan(""), 0.2}, "#123456"};
  report::detail::ChartOptions o;
  o.title = "Loss <x>";
  o.marker_x = 2;
  o.marker_label = "best";
  const std::string svg = report::detail::line_chart({s}, o);
  EXPECT_NE(svg.find("<path d=\"M"), std::string::npos);
  EXPECT_NE(svg.find("Loss &lt;x&gt;"), std::string::npos);  // escaped
  EXPECT_NE(svg.find("<circle"), std::string::npos);         // the lone point after the gap
  EXPECT_NE(svg.find(">best<"), std::string::npos);
  report::detail::Series empty{"none", {1, 2}, {std::nan(""), std::nan("")}, "#000"};
  EXPECT_EQ(report::detail::line_chart({empty}, o), "");
  const std::string heat = report::detail::confusion_heatmap({5, 1, 0, 4}, 2, {"cat", "dog"});
  EXPECT_NE(heat.find(">cat<"), std::string::npos);
  EXPECT_NE(heat.find(">5<"), std::string::npos);
}

TEST(GradCam, MatchesPyTorch) {
  auto t = io::load_safetensors(std::string(CNNKIT_GOLDEN_DIR) + "/report/gradcam.safetensors");
  nn::Sequential model(nn::Conv2d(nn::Conv2dOptions(2, 4, 3).padding(1)), nn::ReLU(),
                       nn::Conv2d(nn::Conv2dOptions(4, 6, 3).padding(1)), nn::ReLU(), nn::AdaptiveAvgPool2d(1),
                       nn::Flatten(), nn::Linear(6, 3));
  std::map<std::string, Tensor> sd;
  for (const auto& [k, v] : t)
    if (k.rfind("model/", 0) == 0) sd[k.substr(6)] = v;
  model->load_state_dict(sd);
  const Tensor x = t.at("input");
  report::GradCam given = report::grad_cam(model, x, t.at("target"));
  EXPECT_EQ(given.layer, 3);
  EXPECT_TRUE(test::allclose(given.cam, t.at("cam_target"), 1e-4, 1e-5));
  EXPECT_TRUE(test::allclose(given.logits, t.at("logits"), 1e-4, 1e-5));
  report::GradCam predicted = report::grad_cam(model, x);
  EXPECT_TRUE(predicted.target.equal(t.at("pred")));
  EXPECT_TRUE(test::allclose(predicted.cam, t.at("cam_pred"), 1e-4, 1e-5));
  EXPECT_TRUE(model->is_training());                        // the caller's mode comes back
  for (const auto& p : model->parameters()) EXPECT_FALSE(p.grad().defined());  // parameters untouched
}

// Class 1: a bright 4x4 square at a random place plus a distracting bright 1x6 bar; class 0:
// the bar alone. A network with global pooling cannot use the position, only the pattern, so
// after training Grad-CAM of class 1 must put most of its mass around the square, not the bar.
TEST(GradCam, FindsTheEvidenceNotTheDistractor) {
  manual_seed(0);
  struct Batch {
    Tensor x, y;
    std::vector<std::array<int64_t, 2>> square;  // top-left corner of the square (class 1)
  };
  auto make = [](int64_t n) {
    Batch b{randn({n, 1, 16, 16}) * 0.1, zeros({n}, kLong), {}};
    for (int64_t i = 0; i < n; ++i) {
      const int64_t cls = i % 2;
      const bool square_on_top = randint(0, 2, {1}).item<int64_t>() == 1;
      const int64_t sy = (square_on_top ? 0 : 10) + randint(0, 3, {1}).item<int64_t>();
      const int64_t sx = randint(0, 13, {1}).item<int64_t>();
      const int64_t by = (square_on_top ? 10 : 0) + randint(0, 6, {1}).item<int64_t>();
      const int64_t bx = randint(0, 11, {1}).item<int64_t>();
      b.x[i][0].narrow(0, by, 1).narrow(1, bx, 6).add_(1.0);
      if (cls == 1) b.x[i][0].narrow(0, sy, 4).narrow(1, sx, 4).add_(1.0);
      b.y[i].fill_(cls);
      b.square.push_back({sy, sx});
    }
    return b;
  };
  nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(1, 8, 3).padding(1)), nn::ReLU(),
                     nn::Conv2d(nn::Conv2dOptions(8, 8, 3).padding(1)), nn::ReLU(), nn::AdaptiveAvgPool2d(1),
                     nn::Flatten(), nn::Linear(8, 2));
  optim::Adam opt(net->parameters(), optim::AdamOptions(0.01));
  const Batch train = make(256);
  for (int step = 0; step < 150; ++step) {
    opt.zero_grad();
    Tensor loss = nn::functional::cross_entropy(net->forward(train.x), train.y);
    loss.backward();
    opt.step();
  }
  const Batch test = make(64);
  net->eval();
  {
    NoGradGuard no_grad;
    ASSERT_GT(net->forward(test.x).argmax(1).eq(test.y).to(kFloat).mean().item<float>(), 0.95f)
        << "the net did not learn the task";
  }
  const Tensor ones_idx = arange(1, 64, 2);
  report::GradCam g = report::grad_cam(net, index_select(test.x, 0, ones_idx), full({32}, 1, kLong));
  ASSERT_EQ(g.cam.sizes(), (std::vector<int64_t>{32, 16, 16}));
  // The square's 8x8 neighbourhood is a quarter of the image (at most): a map blind to the
  // evidence would put about a quarter of its mass there.
  double share = 0;
  for (int64_t k = 0; k < 32; ++k) {
    const auto [sy, sx] = test.square[static_cast<size_t>(2 * k + 1)];
    const int64_t y0 = std::max<int64_t>(sy - 2, 0), x0 = std::max<int64_t>(sx - 2, 0);
    const Tensor cam = g.cam[k];
    const double total = cam.sum().item<double>();
    ASSERT_GT(total, 0) << "image " << k;
    share += cam.narrow(0, y0, std::min<int64_t>(8, 16 - y0)).narrow(1, x0, std::min<int64_t>(8, 16 - x0)).sum().item<double>() /
             total / 32;
  }
  EXPECT_GT(share, 0.6) << "mean share of the Grad-CAM mass around the square";
}

namespace {

// A LeNet-5 trained one epoch on 2,000 Fashion-MNIST examples: a real run directory.
std::string small_run() {
  static std::string dir;
  if (!dir.empty()) return dir;
  dir = test::fresh_dir("report_run") + "/run";
  train::RunConfig cfg = train::load_run_config(std::string(CNNKIT_SOURCE_DIR) + "/configs/lenet5-fashion-mnist.yaml",
                                                {"epochs=2", "data.subset.train=2000", "data.subset.test=500",
                                                 "output_dir=" + dir, "threads=2"});
  std::ostringstream sink;
  train::Run run(cfg, train::RunOptions().progress_bar(false).log(&sink));
  run.fit();
  return dir;
}

}  // namespace

TEST(Report, RealRunHasEveryFigureAndNeedsNoNetwork) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const std::string dir = small_run();
  report::ReportResult r = report::write_report(dir, report::ReportOptions().gallery(6));
  EXPECT_TRUE(r.notes.empty()) << r.notes.front();
  const std::string html = read_text(r.html);
  for (const char* id : {"curves_loss", "curves_accuracy", "curves_lr", "curves_throughput", "confusion_matrix",
                         "filters", "feature_maps_0", "feature_maps_1", "grad_cam_correct", "grad_cam_wrong", "mistakes"})
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  for (const auto& f : r.figures) EXPECT_GT(fs::file_size(f), 100u) << f;
  EXPECT_GE(r.figures.size(), 11u);
  // Self-contained: no script, no stylesheet link, no remote reference (the SVG namespace
  // is an identifier, never fetched).
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  std::string stripped = html;
  for (size_t at; (at = stripped.find("xmlns=\"http://www.w3.org/2000/svg\"")) != std::string::npos;)
    stripped.erase(at, 34);
  EXPECT_EQ(stripped.find("http://"), std::string::npos);
  EXPECT_EQ(stripped.find("https://"), std::string::npos);
  EXPECT_NE(html.find("data:image/png;base64,"), std::string::npos);
  EXPECT_NE(html.find("Ankle boot"), std::string::npos);  // class names in the confusion matrix
}

TEST(Report, PartialRunsStillRender) {
  // Nothing but metrics: curves, and notes for the rest.
  const std::string only_metrics = test::fresh_dir("only_metrics");
  std::ofstream(only_metrics + "/metrics.csv") << "epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy\n"
                                                  "1,0.1,1.2,0.6,1.0,0.65\n2,0.05,0.8,0.7,0.9,0.7\n";
  report::ReportResult r = report::write_report(only_metrics);
  EXPECT_TRUE(fs::exists(r.html));
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes.front().find("model"), std::string::npos) << r.notes.front();
  EXPECT_NE(read_text(r.html).find("id=\"curves_loss\""), std::string::npos);
  // An empty directory (a run interrupted at once): a page that says so.
  const std::string empty = test::fresh_dir("empty_run");
  r = report::write_report(empty);
  EXPECT_TRUE(fs::exists(r.html));
  EXPECT_NE(read_text(r.html).find("metrics.csv is missing"), std::string::npos);
  EXPECT_THROW(report::write_report(empty + "/nope"), IOError);
}

TEST(Report, ChromiumRendersThePage) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const std::string dir = small_run();
  report::ReportResult r = report::write_report(dir, report::ReportOptions().gallery(4));
  const std::string shot = dir + "/screenshot.png";
  // --no-proxy-server and a proxy that points nowhere: a page that fetched anything would
  // show a broken image, not hang.
  const std::string cmd = "chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,2400 "
                          "--proxy-server=127.0.0.1:9 --screenshot=" + shot + " file://" + r.html + " > /dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "chromium failed (scripts/install-deps installs it): " << cmd;
  ASSERT_TRUE(fs::exists(shot));
  Tensor img = data::decode_image(shot, data::ImageReadMode::RGB).to(kFloat);  // (3, H, W)
  EXPECT_EQ(img.size(2), 1200);
  // Not blank: the page, and each band of it where the figures are, has pixel variance.
  EXPECT_GT(img.var().item<double>(), 100.0);
  const int64_t bands = 4, h = img.size(1) / bands;
  for (int64_t b = 0; b < bands; ++b)
    EXPECT_GT(img.narrow(1, b * h, h).var().item<double>(), 10.0) << "band " << b << " of the screenshot is blank";
}
