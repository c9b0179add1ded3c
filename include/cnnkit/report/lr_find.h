// The learning-rate range test's files (train/lr_find.h): what train::save_lr_find writes
// (lr_find.csv, lr_find.yaml) plus its figure, lr_find.svg and lr_find.png: the raw loss
// (light) and the smoothed loss against the lr on a log axis, the suggested lr marked, and
// dots where both rules read the curve (the lowest smoothed loss, the steepest descent).
//
//   train::LrFindResult r = train::lr_find(train::load_run_config("configs/lenet5-fashion-mnist.yaml"));
//   std::vector<std::string> files = report::write_lr_find(r, "runs/lenet5-lr-find", "configs/lenet5-fashion-mnist.yaml");
//
// `cnnkit lr-find` calls it. The figure leaves out raw losses above 1.25 x the untrained
// model's (the diverging end: the y axis would otherwise squash the part worth reading) and
// says so in its title; the CSV keeps every value.
#pragma once

#include <string>
#include <vector>

#include "cnnkit/train/lr_find.h"

namespace cnnkit::report {

// Writes DIR/{lr_find.csv, lr_find.yaml, lr_find.svg, lr_find.png} (each atomically, DIR
// created) and returns their paths. `config_path` names the config in lr_find.yaml's comment.
// ValueError naming the font when the PNG cannot be drawn (DejaVu Sans missing).
std::vector<std::string> write_lr_find(const train::LrFindResult& result, const std::string& dir,
                                       const std::string& config_path = "");

}  // namespace cnnkit::report
