// libFuzzer target: CIFAR binary batches. The input is written as CIFAR-10's test_batch.bin
// and CIFAR-100's test.bin (raw or gzipped: the readers accept both) and read as CIFAR-10
// and as CIFAR-100 with fine and coarse labels.
#include "cnnkit/data/datasets/cifar.h"
#include "fuzz/fuzz_util.h"

using namespace cnnkit;
using data::datasets::CIFAR10;
using data::datasets::CIFAR100;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::write_file("test_batch.bin", data, size);
  fuzz::write_file("test.bin", data, size);
  const std::string root = fuzz::scratch_dir().string();
  auto touch = [](data::datasets::CIFAR10& ds) {
    const size_t n = ds.size().value();
    for (size_t i : {size_t{0}, n - 1})
      if (i < n) (void)ds.get(i).target.item<int64_t>();
    (void)ds.labels();
  };
  fuzz::loads([&] {
    CIFAR10 ds(root, CIFAR10::Mode::kTest);
    touch(ds);
  });
  for (auto label : {CIFAR100::Label::kFine, CIFAR100::Label::kCoarse})
    fuzz::loads([&] {
      CIFAR100 ds(root, CIFAR100::Mode::kTest, label);
      touch(ds);
    });
  return 0;
}
