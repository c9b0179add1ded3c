// report: Grad-CAM against PyTorch and on a task whose evidence lies in one quadrant; the
// report page of a real (small) Fashion-MNIST run, its figures, its self-containment, and
// what it does for runs that lack metrics, a model or convolutions; the page rendered by
// headless Chromium (every figure in a band that is not blank; no network request).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cnnkit/cnnkit.h"
#include "report/figure.h"
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
  namespace d = report::detail;
  EXPECT_EQ(d::base64("Man"), "TWFu");
  EXPECT_EQ(d::base64("Ma"), "TWE=");
  EXPECT_EQ(d::base64("M"), "TQ==");
  EXPECT_EQ(d::base64(""), "");
  d::Series s{"train", {1, 2, 3, 4}, {1.0, 0.5, std::nan(""), 0.2}, "#123456"};
  d::ChartOptions o;
  o.title = "Loss <x>";
  o.marker_x = 2;
  o.marker_label = "best";
  const std::string svg = d::to_svg(d::line_chart({s}, o));
  EXPECT_NE(svg.find("<path d=\"M"), std::string::npos);
  EXPECT_NE(svg.find("Loss &lt;x&gt;"), std::string::npos);  // escaped
  EXPECT_NE(svg.find("<circle"), std::string::npos);         // the lone point after the gap
  EXPECT_NE(svg.find(">best<"), std::string::npos);
  d::Series empty{"none", {1, 2}, {std::nan(""), std::nan("")}, "#000000"};
  EXPECT_TRUE(d::line_chart({empty}, o).empty());
  EXPECT_EQ(d::to_svg(d::line_chart({empty}, o)), "");
  // A log x axis: decades as ticks, non-positive x left out.
  d::ChartOptions lo;
  lo.log_x = true;
  const std::string log_svg = d::to_svg(d::line_chart({{"loss", {0, 1e-5, 1e-3, 1e-1}, {1, 2, 3, 4}, "#000000"}}, lo));
  for (const char* tick : {">1e-05<", ">0.001<", ">0.1<"}) EXPECT_NE(log_svg.find(tick), std::string::npos) << tick;
  const std::string heat = d::to_svg(d::confusion_heatmap({5, 1, 0, 4}, 2, {"cat", "dog"}));
  EXPECT_NE(heat.find(">cat<"), std::string::npos);
  EXPECT_NE(heat.find(">5<"), std::string::npos);
  EXPECT_THROW(d::parse_color("blue"), ValueError);
}

// The PNG backend draws what the SVG says, where it says it.
TEST(ReportFigures, RasterDrawsShapesAndTextInPlace) {
  namespace d = report::detail;
  d::Scene sc;
  sc.width = 120;
  sc.height = 60;
  sc.items.push_back(d::Line{10, 10, 110, 10, {0, 0, 0}, 2});
  sc.items.push_back(d::Rect{10, 40, 20, 10, d::Rgb{255, 0, 0}, std::nullopt});
  sc.items.push_back(d::Text{110, 35, "Wg", 14, d::Anchor::kEnd, false, 0, {0, 0, 255}});
  const Tensor img = d::rasterize(sc).to(kFloat);  // (3, 60, 120)
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{3, 60, 120}));
  auto px = [&](int64_t c, int64_t y, int64_t x) { return img[c][y][x].item<float>(); };
  EXPECT_LT(px(0, 10, 60), 60);    // on the line: dark
  EXPECT_EQ(px(0, 4, 60), 255);    // above it: white
  EXPECT_EQ(px(0, 45, 20), 255);   // the red rectangle
  EXPECT_LT(px(1, 45, 20), 5);
  EXPECT_EQ(px(1, 45, 40), 255);   // right of it: white
  // The text ends at x = 110 (anchor end) and sits on its baseline y = 35: blue ink left of
  // 110 and above 36, none right of 111 or to the left of 80.
  const Tensor blue_ink = (img[2] - img[0]).gt(100);
  EXPECT_GT(blue_ink.narrow(0, 20, 16).narrow(1, 85, 26).sum().item<int64_t>(), 20);
  EXPECT_EQ(blue_ink.narrow(1, 112, 8).sum().item<int64_t>(), 0);
  EXPECT_EQ(blue_ink.narrow(1, 0, 80).sum().item<int64_t>(), 0);
  // Rotated text (the y-axis label) stays in a column.
  d::Scene rot;
  rot.width = 40;
  rot.height = 100;
  rot.items.push_back(d::Text{20, 50, "accuracy", 12, d::Anchor::kMiddle, false, -90, {0, 0, 0}});
  const Tensor ink = d::rasterize(rot)[0].to(kFloat).lt(128);
  EXPECT_GT(ink.narrow(1, 8, 14).sum().item<int64_t>(), 30);
  EXPECT_EQ(ink.narrow(0, 0, 15).sum().item<int64_t>(), 0);  // centred on y = 50: nothing at the top
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

// The evidence lies in one quadrant: class 1 has a bright 4x4 square inside a random
// quadrant plus a distracting bright 1x6 bar inside another; class 0 the bar alone. A
// network with global pooling can use the pattern only, not its position, so after training
// Grad-CAM of class 1 must put most of its mass in the square's quadrant (a quarter of the
// image: a map blind to the evidence would put about 25% there).
TEST(GradCam, FindsTheEvidenceQuadrantNotTheDistractor) {
  manual_seed(0);
  struct Batch {
    Tensor x, y;
    std::vector<int64_t> quadrant;  // of the square (class 1): 0 top-left, 1 top-right, 2, 3 bottom
  };
  auto make = [](int64_t n) {
    Batch b{randn({n, 1, 16, 16}) * 0.1, zeros({n}, kLong), {}};
    for (int64_t i = 0; i < n; ++i) {
      const int64_t cls = i % 2, q = randint(0, 4, {1}).item<int64_t>();
      const int64_t qb = (q + 1 + randint(0, 3, {1}).item<int64_t>()) % 4;
      const int64_t sy = (q / 2) * 8 + randint(0, 5, {1}).item<int64_t>(), sx = (q % 2) * 8 + randint(0, 5, {1}).item<int64_t>();
      const int64_t by = (qb / 2) * 8 + randint(0, 8, {1}).item<int64_t>(), bx = (qb % 2) * 8 + randint(0, 3, {1}).item<int64_t>();
      b.x[i][0].narrow(0, by, 1).narrow(1, bx, 6).add_(1.0);
      if (cls == 1) b.x[i][0].narrow(0, sy, 4).narrow(1, sx, 4).add_(1.0);
      b.y[i].fill_(cls);
      b.quadrant.push_back(q);
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
  double share = 0;
  for (int64_t k = 0; k < 32; ++k) {
    const int64_t q = test.quadrant[static_cast<size_t>(2 * k + 1)];
    const Tensor cam = g.cam[k];
    const double total = cam.sum().item<double>();
    ASSERT_GT(total, 0) << "image " << k;
    share += cam.narrow(0, (q / 2) * 8, 8).narrow(1, (q % 2) * 8, 8).sum().item<double>() / total / 32;
  }
  EXPECT_GT(share, 0.6) << "mean share of the Grad-CAM mass in the quadrant of the evidence";
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
                         "filters", "feature_maps_0", "feature_maps_1", "grad_cam_correct", "grad_cam_wrong", "mistakes",
                         "reliability"})
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  for (const auto& f : r.figures) EXPECT_GT(fs::file_size(f), 100u) << f;
  EXPECT_GE(r.figures.size(), 12u);
  // The run fitted a temperature on its validation split; the diagram shows both curves.
  EXPECT_NE(html.find("with the logits divided by the temperature"), std::string::npos);
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

namespace {

const char* kChromium =
    "chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --disable-background-networking "
    "--disable-component-update --disable-sync --no-first-run ";

// The http(s) requests a page made, from Chromium's NetLog: URL requests whose network
// isolation key is the file:// page (the browser's own background requests have none).
std::vector<std::string> page_requests(const std::string& net_log) {
  const auto j = nlohmann::json::parse(read_text(net_log));
  int start_job = -1;
  for (const auto& [name, id] : j.at("constants").at("logEventTypes").items())
    if (name == "URL_REQUEST_START_JOB") start_job = id.get<int>();
  std::vector<std::string> urls;
  for (const auto& e : j.at("events")) {
    if (e.value("type", -2) != start_job || !e.contains("params")) continue;
    const auto& p = e.at("params");
    if (p.value("network_isolation_key", "").rfind("file://", 0) == 0) urls.push_back(p.value("url", ""));
  }
  return urls;
}

}  // namespace

TEST(Report, ChromiumRendersEveryFigureAndFetchesNothing) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const std::string dir = small_run();
  report::ReportResult r = report::write_report(dir, report::ReportOptions().gallery(4));
  const std::string html = read_text(r.html);

  // No request: the page as written, with Chromium's network log. A page that fetched an
  // image proves the log would show it.
  const std::string probe = dir + "/probe.html";
  std::ofstream(probe) << "<!DOCTYPE html><html><body><img src=\"http://example.invalid/x.png\"></body></html>";
  for (const auto& [page, expect_request] : {std::pair{r.html, false}, std::pair{probe, true}}) {
    const std::string log = page + ".netlog.json";
    const std::string cmd = std::string(kChromium) + "--log-net-log=" + log + " --screenshot=" + dir + "/shot.png file://" +
                            page + " > /dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "chromium failed (scripts/install-deps installs it): " << cmd;
    const auto urls = page_requests(log);
    if (expect_request) EXPECT_EQ(urls, std::vector<std::string>{"http://example.invalid/x.png"}) << "the probe";
    else EXPECT_TRUE(urls.empty()) << "the report fetched " << urls.front();
  }

  // Every figure rendered and not blank: the same page with a style that stacks the figures
  // in bands of known height (and hides the text between them); each band has pixel variance.
  std::vector<std::string> ids;
  for (size_t at = html.find("<figure id=\""); at != std::string::npos; at = html.find("<figure id=\"", at + 1))
    ids.push_back(html.substr(at + 12, html.find('"', at + 12) - at - 12));
  ASSERT_GE(ids.size(), 11u);
  const int band = 360;
  std::string stacked = html;
  stacked.insert(stacked.find("</head>"),
                 "<style>body{margin:0!important;max-width:none!important}body>*:not(figure){display:none!important}"
                 ".fig{display:block!important;margin:0!important;width:1200px;height:" + std::to_string(band) +
                     "px;overflow:hidden}figcaption{display:none}</style>");
  const std::string stacked_path = dir + "/stacked.html", shot = dir + "/stacked.png";
  std::ofstream(stacked_path) << stacked;
  const std::string cmd = std::string(kChromium) + "--window-size=1200," + std::to_string(band * static_cast<int>(ids.size())) +
                          " --screenshot=" + shot + " file://" + stacked_path + " > /dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  Tensor img = data::decode_image(shot, data::ImageReadMode::GRAY).to(kFloat)[0];  // (H, W)
  ASSERT_EQ(img.size(0), band * static_cast<int64_t>(ids.size()));
  for (size_t k = 0; k < ids.size(); ++k)
    EXPECT_GT(img.narrow(0, static_cast<int64_t>(k) * band, band).var().item<double>(), 50.0)
        << "figure " << ids[k] << " renders blank";
}

TEST(Report, StepsCsvHoldsTheLearningRateOfEveryStep) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const std::string dir = small_run();
  // 2,000 examples less the 10% validation split: 1,800 in batches of 64, 29 steps an epoch;
  // cosine over 2 epochs stepped per epoch: lr 0.03 in epoch 1, 0.015 in epoch 2.
  const std::string text = read_text(dir + "/steps.csv");
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "step,epoch,batch,lr,loss");
  int64_t rows = 0;
  while (std::getline(in, line)) {
    ++rows;
    std::vector<double> f;
    std::stringstream ls(line);
    for (std::string c; std::getline(ls, c, ',');) f.push_back(std::stod(c));
    ASSERT_EQ(f.size(), 5u) << line;
    EXPECT_EQ(f[0], static_cast<double>(rows));
    EXPECT_EQ(f[1], rows <= 29 ? 1 : 2) << line;
    EXPECT_NEAR(f[3], rows <= 29 ? 0.03 : 0.015, 1e-9) << line;
    EXPECT_TRUE(std::isfinite(f[4]) && f[4] > 0) << line;
  }
  EXPECT_EQ(rows, 58);
  const std::string html = read_text(report::write_report(dir, report::ReportOptions().evaluate(false)).html);
  EXPECT_NE(html.find("each of the 58 optimisation steps"), std::string::npos);
}

namespace {

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

TEST(Report, CvSearchAndEnsembleDirectoriesGetTheirOwnPages) {
  // cv: three folds.
  const std::string cv = test::fresh_dir("sel_cv");
  write_file(cv + "/cv.json", R"({"folds": [
      {"fold": 0, "train_size": 80, "val_size": 40, "seconds": 1.5, "metrics": {"val_accuracy": 0.80, "val_loss": 0.5}},
      {"fold": 1, "train_size": 80, "val_size": 40, "seconds": 1.4, "metrics": {"val_accuracy": 0.85, "val_loss": 0.4}},
      {"fold": 2, "train_size": 80, "val_size": 40, "seconds": 1.6, "metrics": {"val_accuracy": 0.90, "val_loss": 0.3}}],
    "mean": {"val_accuracy": 0.85, "val_loss": 0.4}, "std": {"val_accuracy": 0.0408, "val_loss": 0.0816}, "std_ddof": 0,
    "refit": {"dir": "refit", "test": {"test_accuracy": 0.875}}})");
  report::ReportResult r = report::write_report(cv);
  std::string html = read_text(r.html);
  EXPECT_NE(html.find("cross-validation"), std::string::npos);
  EXPECT_NE(html.find("id=\"cv_folds\""), std::string::npos);
  for (const char* cell : {"<td>85.00%</td>", "<td>4.08%</td>", "<td>87.50%</td>", "<td>mean</td>"})
    EXPECT_NE(html.find(cell), std::string::npos) << cell;
  EXPECT_TRUE(fs::exists(cv + "/figures/cv_folds.png"));

  // search: two rungs, a choice parameter whose value holds a comma (quoted in trials.csv).
  const std::string search = test::fresh_dir("sel_search");
  write_file(search + "/search.json", R"json({"metric": "val_accuracy", "mode": "max", "halving": true, "eta": 2,
    "space": ["optimizer.lr=loguniform(0.001,0.1)", "model.widths=choice(\"8,16\",\"16,32\")"]})json");
  write_file(search + "/trials.csv",
             "id,rung,epochs,model.widths,optimizer.lr,score,metric,status,seconds\n"
             "0,0,1,\"8,16\",0.001,0.5,val_accuracy,ok,1.0\n"
             "1,0,1,\"16,32\",0.01,0.7,val_accuracy,ok,1.0\n"
             "2,0,1,\"8,16\",0.1,0.6,val_accuracy,ok,1.0\n"
             "1,1,2,\"16,32\",0.01,0.8,val_accuracy,ok,2.0\n"
             "2,1,2,\"8,16\",0.1,,val_accuracy,\"failed: the loss is nan, at epoch 2\",2.0\n");
  write_file(search + "/best.yaml", "optimizer:\n  lr: 0.01\n");
  r = report::write_report(search);
  html = read_text(r.html);
  for (const char* id : {"search_optimizer_lr", "search_model_widths", "search_rungs"})
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  // Best first at the longest budget: trial 1 (80%) before the failed trial 2, then trial 0.
  const size_t t1 = html.find("<td>80.00%</td>"), failed = html.find("failed: the loss is nan, at epoch 2"),
               t0 = html.find("<td>50.00%</td>");
  ASSERT_NE(t1, std::string::npos);
  ASSERT_NE(failed, std::string::npos);
  ASSERT_NE(t0, std::string::npos);
  EXPECT_LT(t1, failed);
  EXPECT_LT(failed, t0);
  EXPECT_NE(html.find("<td>16,32</td>"), std::string::npos);  // the quoted field, whole
  EXPECT_NE(html.find(">16,32</text>"), std::string::npos);   // and a category tick
  EXPECT_NE(html.find("lr: 0.01"), std::string::npos);       // best.yaml

  // ensemble: boosting rounds.
  const std::string ens = test::fresh_dir("sel_ens");
  write_file(ens + "/ensemble.json", R"({"method": "boosting", "members": [
      {"member": 0, "train_size": 100, "val_accuracy": 0.8, "test_accuracy": 0.78, "error": 0.2, "alpha": 3.5, "ensemble_error": 0.2},
      {"member": 1, "train_size": 100, "val_accuracy": 0.7, "test_accuracy": 0.69, "error": 0.3, "alpha": 3.0, "ensemble_error": 0.15}],
    "ensemble": {"val_accuracy": 0.83, "test_accuracy": 0.81}})");
  r = report::write_report(ens);
  html = read_text(r.html);
  for (const char* id : {"ensemble_members", "boosting_rounds"})
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  EXPECT_NE(html.find("<td>81.00%</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>15.00%</td>"), std::string::npos);

  // A broken cv.json is an error naming the file, not a page of garbage.
  write_file(cv + "/cv.json", "{\"folds\": [");
  try {
    report::write_report(cv);
    ADD_FAILURE() << "no error";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find(cv + "/cv.json"), std::string::npos) << e.what();
  }
}

TEST(Report, CompareOverlaysRuns) {
  const std::string a = test::fresh_dir("cmp/a"), b = test::fresh_dir("cmp/b"), c = test::fresh_dir("cmp/c");
  write_file(a + "/metrics.csv", "epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy,seconds\n"
                                 "1,0.1,1.0,0.6,0.9,0.65,10\n2,0.1,0.7,0.75,0.6,0.80,10\n3,0.1,0.6,0.8,0.65,0.78,10\n");
  write_file(a + "/summary.txt", "validation: accuracy 78.00%\ntest: accuracy 77.50%  loss 0.6500  macro F1 0.7700\n");
  write_file(b + "/metrics.csv", "epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy,seconds\n"
                                 "1,0.01,1.5,0.5,1.2,0.55,12\n2,0.01,1.1,0.6,1.0,0.62,12\n");
  const std::string out = test::temp_path("cmp/out");
  report::ReportResult r = report::compare_runs({a, b, c}, out);
  EXPECT_EQ(r.html, out + "/compare.html");
  const std::string html = read_text(r.html);
  for (const char* id : {"compare_val_accuracy", "compare_val_loss", "compare_train_loss", "compare_train_accuracy"})
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  EXPECT_NE(html.find("<td>80.00% (epoch 2)</td>"), std::string::npos);  // a's best validation epoch
  EXPECT_NE(html.find("accuracy 77.50%  loss 0.6500"), std::string::npos);
  EXPECT_NE(html.find("<td>30 s</td>"), std::string::npos);
  ASSERT_EQ(r.notes.size(), 1u);  // c has no metrics
  EXPECT_NE(r.notes[0].find("c: metrics.csv is missing"), std::string::npos) << r.notes[0];
  EXPECT_TRUE(fs::exists(out + "/figures/compare_val_accuracy.png"));
  EXPECT_THROW(report::compare_runs({a, a + "/nope"}, out), IOError);
  EXPECT_THROW(report::compare_runs({}, out), ValueError);
}

TEST(Report, AModelWithoutConvolutionsOnNonImageDataGetsTheSectionsThatApply) {
  // 8 features a row (a CSV shaped [2, 2, 2]: two channels, not a picture), an MLP.
  const std::string dir = test::fresh_dir("mlp");
  Generator gen(3);
  for (const auto& [name, n] : {std::pair{std::string("train"), 160}, std::pair{std::string("test"), 60}}) {
    std::ofstream csv(dir + "/" + name + ".csv");
    csv << "f0,f1,f2,f3,f4,f5,f6,f7,label\n";
    for (int i = 0; i < n; ++i) {
      const int y = i % 4;
      for (int f = 0; f < 8; ++f) csv << (f == y ? 3.0 : 0.0) + static_cast<double>(gen.next_u32() % 1000) / 1000.0 << ",";
      csv << y << "\n";
    }
  }
  const std::string cfg_path = dir + "/mlp.yaml";
  write_file(cfg_path, "data:\n  dataset: csv\n  paths: {train: " + dir + "/train.csv, test: " + dir +
                           "/test.csv}\n  label_column: label\n  image_shape: [2, 2, 2]\n  batch_size: 32\n"
                           "  split: {val: 0.25}\nmodel:\n  layers: [Flatten, Linear: {out_features: 16}, ReLU, "
                           "Linear: {out_features: 4}]\noptimizer: {name: SGD, lr: 0.1, momentum: 0.9}\nepochs: 2\n"
                           "output_dir: " + dir + "/run\nthreads: 1\n");
  std::ostringstream sink;
  train::Run(train::load_run_config(cfg_path), train::RunOptions().progress_bar(false).log(&sink)).fit();
  const report::ReportResult r = report::write_report(dir + "/run");
  ASSERT_EQ(r.notes.size(), 2u);
  EXPECT_NE(r.notes[0].find("the model has no Conv2d layer"), std::string::npos) << r.notes[0];
  EXPECT_NE(r.notes[1].find("the inputs are not images"), std::string::npos) << r.notes[1];
  const std::string html = read_text(r.html);
  for (const char* id : {"curves_loss", "curves_lr", "confusion_matrix"})
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  for (const char* id : {"filters", "feature_maps_0", "grad_cam_correct"})
    EXPECT_EQ(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  EXPECT_NE(html.find("the model has no Conv2d layer"), std::string::npos);  // said on the page too
}
