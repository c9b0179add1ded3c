// The per-thread sums of a weight gradient (kernels/wgrad3x3_impl.h's direct sums,
// kernels/winograd_impl.h's tiles): the work in `count` parts, one a thread on shapes worth
// splitting, part p summing into its own row of `size` doubles (zeroed here, in the calling
// thread's buffer; each part zeroes its own row where it runs: start), the rows then added in
// part order (sum): a given thread count gives the same bits every run.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cnnkit/core/threads.h"

namespace cnnkit::kernels {

struct PartSums {
  int64_t count, size;
  double* rows;
  // flops: the pass's work (below 8 MFLOP one part); items: how many pieces it splits into.
  PartSums(double flops, int64_t items, int64_t row_size) : size(row_size) {
    count = flops < 8e6 || in_parallel_region() ? 1 : std::min<int64_t>(get_num_threads(), items);
    thread_local std::vector<double> buffer;  // the calling thread's: the parts' threads write through rows
    if (buffer.size() < static_cast<size_t>(count * size)) buffer.resize(static_cast<size_t>(count * size));
    rows = buffer.data();
  }
  // Part p's row, zeroed: called once by the thread that runs part p, before it adds to it (a
  // 64-channel Winograd weight gradient's row is 0.5 MiB, zeroed in the parallel region).
  double* start(int64_t p) const {
    double* r = row(p);
    std::fill(r, r + size, 0.0);
    return r;
  }
  // The first of part p's items, of n.
  int64_t first(int64_t p, int64_t n) const { return n * p / count; }
  double* row(int64_t p) const { return rows + p * size; }
  double sum(int64_t at) const {
    double v = 0;
    for (int64_t p = 0; p < count; ++p) v += rows[p * size + at];
    return v;
  }
};

// A weight gradient's multiply-adds times two: 2 N C_out H_out W_out C_in 9.
inline double weight_grad_flops(int64_t N, int64_t C_out, int64_t H_out, int64_t W_out, int64_t C_in) {
  return 2.0 * static_cast<double>(N * C_out * H_out * W_out) * static_cast<double>(C_in * 9);
}

}  // namespace cnnkit::kernels
