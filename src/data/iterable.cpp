// IterableDataset's refusal of random access, IterableMapDataset and first_example. The
// loader's side of iterable datasets lives in dataloader.cpp; shards in shards.cpp.
#include "cnnkit/data/iterable.h"

namespace cnnkit::data {

Example<> IterableDataset::get(size_t index) {
  throw NotImplementedError("get(" + std::to_string(index) +
                            "): an iterable (streaming) dataset has no random access; read it through a DataLoader "
                            "or stream() (splits, subsets, folds and clean need a map-style dataset)");
}

namespace {

class MappedStream : public ExampleStream {
 public:
  MappedStream(std::unique_ptr<ExampleStream> source, std::function<Example<>(Example<>)> transform)
      : source_(std::move(source)), transform_(std::move(transform)) {}
  bool next(Example<>& out) override {
    if (!source_->next(out)) return false;
    out = transform_(std::move(out));
    return true;
  }

 private:
  std::unique_ptr<ExampleStream> source_;
  std::function<Example<>(Example<>)> transform_;  // a copy: a stream may outlive its dataset
};

}  // namespace

IterableMapDataset::IterableMapDataset(std::shared_ptr<IterableDataset> dataset,
                                       std::function<Example<>(Example<>)> transform)
    : dataset_(std::move(dataset)), transform_(std::move(transform)) {
  CNNKIT_CHECK(dataset_ != nullptr, "IterableMapDataset: the source dataset is null");
  CNNKIT_CHECK(static_cast<bool>(transform_), "IterableMapDataset: the transform is empty");
}

std::unique_ptr<ExampleStream> IterableMapDataset::stream(const WorkerInfo& worker) const {
  return std::make_unique<MappedStream>(dataset_->stream(worker), transform_);
}

Example<> first_example(DatasetBase& dataset) {
  if (auto* iterable = dynamic_cast<IterableDataset*>(&dataset)) {
    Example<> e;
    CNNKIT_CHECK(iterable->stream(WorkerInfo{})->next(e), "the dataset is empty (its stream yields no example)");
    return e;
  }
  CNNKIT_CHECK(dataset.size().value_or(0) > 0, "the dataset is empty");
  return dataset.get(0);
}

}  // namespace cnnkit::data
