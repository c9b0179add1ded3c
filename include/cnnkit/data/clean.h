// Data cleaning: one pass over a dataset that finds the examples training should not see
// and returns the dataset without them, with a report of what was dropped and why.
//
//   auto full = std::make_shared<data::datasets::ImageFolder>("data/pets");
//   auto cleaned = data::clean(full);                 // num_classes from full->classes()
//   std::cout << cleaned.summary();                    // counts, then the first offenders
//   auto train = cleaned.dataset;                      // a Subset of the kept examples
//
// Checks, per example (in parallel over all threads):
//   - undecodable: get() threw a cnnkit::Error (a corrupt image file, ...); the message,
//     which names the file, is kept;
//   - non-finite: a NaN or infinity in a floating-point data or target tensor;
//   - out-of-range label: an integer target outside [0, num_classes) (num_classes from the
//     options, else classes().size(); when neither is known only negative labels count);
//   - exact duplicate: the same data bytes (dtype and shape too) and the same target as an
//     earlier kept example; the first occurrence is kept. Candidates are found by a 64-bit
//     hash and confirmed by comparing bytes, so a hash collision never drops an example.
// Any other exception from get() (not a cnnkit::Error) is a bug, and is rethrown.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cnnkit/data/dataset.h"
#include "cnnkit/core/arg.h"

namespace cnnkit::data {

struct CleanOptions {
  CNNKIT_ARG(std::optional<int64_t>, num_classes) = std::nullopt;
  CNNKIT_ARG(bool, drop_undecodable) = true;
  CNNKIT_ARG(bool, drop_non_finite) = true;
  CNNKIT_ARG(bool, drop_out_of_range) = true;
  CNNKIT_ARG(bool, drop_duplicates) = true;
};

struct CleanReport {
  size_t total = 0;  // examples looked at
  size_t kept = 0;
  // (index, error message) of each example whose get() threw.
  std::vector<std::pair<size_t, std::string>> undecodable;
  std::vector<size_t> non_finite;
  // (index, label) of each out-of-range label.
  std::vector<std::pair<size_t, int64_t>> out_of_range;
  // (duplicate index, index of the first occurrence, which is kept).
  std::vector<std::pair<size_t, size_t>> duplicates;
  std::optional<int64_t> num_classes;  // what the label check used
  CleanOptions options;                // what was dropped: a kind not dropped is listed as "kept"
  size_t dropped() const { return total - kept; }
  // Counts on one line, then up to `max_listed` offenders per kind, one per line.
  std::string summary(size_t max_listed = 10) const;
};

struct CleanResult {
  std::shared_ptr<DatasetBase> dataset;  // a data::Subset of the kept examples, in order
  std::vector<size_t> kept_indices;
  CleanReport report;
  std::string summary(size_t max_listed = 10) const { return report.summary(max_listed); }
};

// ValueError for a null dataset or one without a size.
CleanResult clean(std::shared_ptr<DatasetBase> dataset, CleanOptions options = {});

}  // namespace cnnkit::data
