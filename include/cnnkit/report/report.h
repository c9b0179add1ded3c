// Reports people look at: one self-contained HTML page per run (inline SVG charts, PNG
// images as data URIs, no network, no JavaScript) and its figures as files, plus Grad-CAM.
//
//   report::ReportResult r = report::write_report("runs/lenet5-fashion-mnist-...");
//   // r.html == ".../report.html"; r.figures: figures/curves_loss.svg, figures/filters.png, ...
//   report::compare_runs({"runs/a", "runs/b"}, "runs/compare");  // runs/compare/compare.html
//   auto cam = report::grad_cam(net, x);           // (N, h, w) heat maps of the last conv stage
//
// Intended usage: `cnnkit report RUN_DIR` (and the end of `cnnkit train`) call write_report;
// grad_cam serves users who look at their own models. A run without metrics, without a model
// file, of a model without convolutions or of non-image data still gets its page, with the
// sections that apply and a line saying why the others are missing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cnnkit/core/arg.h"
#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/modules/container/sequential.h"

namespace cnnkit::report {

// Grad-CAM (Selvaraju et al., 2017) of a Sequential classifier: A = the output of child
// `layer` (-1: the last child whose output is 4-D and larger than 1x1, "the last conv stage"), g = d(sum_n
// logit[n, target_n]) / dA, w[n, k] = mean over (h, w) of g[n, k], cam[n] = ReLU(sum_k
// w[n, k] A[n, k]). `target` (N) int64; undefined: each example's predicted class. The model
// runs in eval mode (its mode comes back afterwards); gradients of its parameters are left
// untouched.
struct GradCam {
  Tensor cam;      // (N, h, w), not normalised
  Tensor logits;   // (N, K)
  Tensor target;   // (N) the classes explained
  int64_t layer;   // the child index A came from
};
GradCam grad_cam(nn::Sequential& model, const Tensor& x, const Tensor& target = {}, int64_t layer = -1);

struct ReportOptions {
  CNNKIT_ARG(int64_t, gallery) = 12;  // images in the mistakes gallery and in each Grad-CAM row
  CNNKIT_ARG(int, threads) = 0;       // for evaluating the test split; 0: the run's setting
  CNNKIT_ARG(bool, evaluate) = true;  // false: curves, config and filters only (no test pass)
};

struct ReportResult {
  std::string html;                  // RUN_DIR/report.html
  std::vector<std::string> figures;  // RUN_DIR/figures/*.svg and *.png, in page order
  std::vector<std::string> notes;    // sections left out, and why
};

// Writes RUN_DIR/report.html and RUN_DIR/figures/ (each file atomically). IOError when
// RUN_DIR is not a directory.
// A `cnnkit cv`, `search` or `ensemble` directory gets its own page instead: per-fold or
// per-trial tables, score against each hyper-parameter, the successive-halving rungs, members
// against the ensemble (and boosting's rounds).
ReportResult write_report(const std::string& run_dir, const ReportOptions& options = {});

// Several runs on one page (`cnnkit compare`): their curves overlaid (validation accuracy and
// loss, training loss and accuracy per epoch) and their final numbers in one table, written
// to OUTPUT_DIR/compare.html and OUTPUT_DIR/figures/. At most 10 runs; IOError naming a
// directory that does not exist; a run without metrics is listed with a note.
ReportResult compare_runs(const std::vector<std::string>& run_dirs, const std::string& output_dir);

}  // namespace cnnkit::report
