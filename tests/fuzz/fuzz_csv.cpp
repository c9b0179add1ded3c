// libFuzzer target: CSV datasets (data::datasets::CsvDataset), read with four option sets
// (each task, header auto/off/named, two delimiters, given classes), then the first and
// last example and the labels.
#include "cnnkit/data/datasets/csv.h"
#include "fuzz/fuzz_util.h"

using namespace cnnkit;
using data::datasets::CsvDataset;
using data::datasets::CsvOptions;
using data::datasets::Task;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_file("input.csv", data, size);
  const CsvOptions options[] = {
      CsvOptions(),
      CsvOptions().task(Task::kRegression).header(false).target_column(int64_t{0}),
      CsvOptions().task(Task::kMultiLabel).target_column(std::string("label")).allow_non_finite(true),
      CsvOptions().classes({"a", "b", "c"}).delimiter(';').target_column(int64_t{1}),
  };
  for (const CsvOptions& o : options)
    fuzz::loads([&] {
      CsvDataset ds(path, o);
      const size_t n = ds.size().value();
      for (size_t i : {size_t{0}, n - 1})
        if (i < n) (void)ds.get(i);
      (void)ds.labels();
    });
  return 0;
}
