// libFuzzer target: ONNX import (io::import_onnx, io::load_onnx_metadata). A graph that
// imports is also run once in eval mode on a small input of its declared shape (dynamic
// dimensions 1): an imported model whose nodes cannot run must say so with a cnnkit::Error,
// not crash.
//
// Running a graph allocates what its nodes ask for, and a valid model may ask for a lot (a
// Pad of 100,000 on each side of a small input wants gigabytes, as it would in ONNX Runtime).
// So the run stage takes inputs of at most 4096 elements and graphs whose integer attributes
// and int64 constants (kernel sizes, strides, pads, shapes, axes) all lie in [-256, 256];
// and AddressSanitizer refuses single allocations over 1 GiB by returning null, which cnnkit's
// allocator turns into std::bad_alloc (the CLI reports it as out of memory), accepted in the
// run stage. In the import stage, as in every other target, a bad_alloc is a bug.
#include <new>

#include <cstdlib>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/io/onnx.h"
#include "cnnkit/ops/factory.h"
#include "fuzz/fuzz_util.h"
#include "io/onnx_proto.h"

using namespace cnnkit;

extern "C" const char* __asan_default_options() {
  return "max_allocation_size_mb=1024:allocator_may_return_null=1";
}

namespace {

constexpr int64_t kRunLimit = 256;

bool small(int64_t v) { return v >= -kRunLimit && v <= kRunLimit; }

// Whether every integer the graph's nodes take is small (see the file comment).
bool small_numbers(const io::detail::OnnxGraph& g) {
  for (const auto& node : g.model.graph().node())
    for (const auto& a : node.attribute()) {
      if (!small(a.i())) return false;
      for (int64_t v : a.ints())
        if (!small(v)) return false;
    }
  for (const auto& [name, t] : g.constants)
    if (t.scalar_type() == kLong) {
      const Tensor c = t.contiguous();
      const int64_t* v = c.data_ptr<int64_t>();
      for (int64_t i = 0, n = c.numel(); i < n; ++i)
        if (!small(v[i])) return false;
    }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_file("input.onnx", data, size);
  fuzz::loads([&] { io::load_onnx_metadata(path); });
  io::OnnxModel model(nullptr);
  if (!fuzz::loads([&] { model = io::import_onnx(path); })) return 0;
  if (!small_numbers(model->graph())) return 0;
  std::vector<int64_t> shape = model->input_shape(0);
  int64_t numel = 1;
  for (int64_t& d : shape) {
    if (d < 0) d = 1;
    if (d > 4096) return 0;
    numel *= d;
    if (numel > 4096) return 0;
  }
  try {
    fuzz::loads([&] {
      NoGradGuard no_grad;
      (void)model->forward(ones(shape));
    });
  } catch (const std::bad_alloc&) {
    // more memory than the 1 GiB allowed here: what the graph asked for (see above)
  }
  return 0;
}
