// TensorDataset (torch.utils.data.TensorDataset with two tensors): example i is
// (data[i], targets[i]), both views of row i that share the tensors' storage, so a
// dataset held in memory costs no copy per example. Transforms never write into their
// input, which makes handing out views safe.
//
//   auto ds = data::TensorDataset(images /* (N, 1, 28, 28) uint8 */, labels /* (N) int64 */);
//   auto loader = data::make_data_loader(ds.map(transforms::ToTensor()), 64);
#pragma once

#include "cnnkit/data/dataset.h"

namespace cnnkit {
namespace data {

class TensorDataset : public datasets::Dataset<TensorDataset> {
 public:
  // data: (N, ...); targets: (N, ...) or undefined (examples then have no target).
  TensorDataset(Tensor data, Tensor targets);
  explicit TensorDataset(Tensor data) : TensorDataset(std::move(data), Tensor()) {}
  Example<> get(size_t index) override;
  std::optional<size_t> size() const override { return static_cast<size_t>(data_.size(0)); }
  const Tensor& data() const { return data_; }
  const Tensor& targets() const { return targets_; }

 private:
  Tensor data_;
  Tensor targets_;
};

namespace datasets {
using data::TensorDataset;  // LibTorch spells it torch::data::datasets::TensorDataset
}  // namespace datasets

}  // namespace data
}  // namespace cnnkit
