// libFuzzer target: ONNX import (io::import_onnx, io::load_onnx_metadata). A graph that
// imports is also run once in eval mode on a small input of its declared shape (dynamic
// dimensions 1, at most 64Ki elements): an imported model whose nodes cannot run must say
// so with a cnnkit::Error, not crash.
#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/io/onnx.h"
#include "cnnkit/ops/factory.h"
#include "fuzz/fuzz_util.h"

using namespace cnnkit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_file("input.onnx", data, size);
  fuzz::loads([&] { io::load_onnx_metadata(path); });
  io::OnnxModel model(nullptr);
  if (!fuzz::loads([&] { model = io::import_onnx(path); })) return 0;
  std::vector<int64_t> shape = model->input_shape(0);
  int64_t numel = 1;
  for (int64_t& d : shape) {
    if (d < 0) d = 1;
    if (d > (int64_t{1} << 16)) return 0;
    numel *= d;
    if (numel > (int64_t{1} << 16)) return 0;
  }
  fuzz::loads([&] {
    NoGradGuard no_grad;
    (void)model->forward(ones(shape));
  });
  return 0;
}
