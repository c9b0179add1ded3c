// torch::save / torch::load with LibTorch's call shapes, so that checkpointing code of a
// LibTorch program keeps working after `torch::` -> `cnnkit::`:
//
//   cnnkit::save(model, "model.pt");      cnnkit::load(model, "model.pt");
//   cnnkit::save(optimizer, "opt.pt");    cnnkit::load(optimizer, "opt.pt");
//   cnnkit::save(tensor, "t.pt");         cnnkit::load(tensor, "t.pt");
//   cnnkit::save(tensors, "ts.pt");       cnnkit::load(tensors, "ts.pt");  // std::vector<Tensor>
//
// The files are safetensors whatever their extension (PyTorch's pickle-based .pt format is
// neither written nor read: loading one is an IOError naming the file), written atomically:
//   a module     its state_dict() under PyTorch's key names (io::save_state_dict); loading
//                is strict and names missing, unexpected or mis-shaped keys;
//   an optimizer a cnnkit checkpoint holding only the optimizer's state (io/checkpoint.h);
//   tensors      "0", "1", ... (one tensor: "0"); metadata "cnnkit.save" = "tensor"/"tensors".
// Loading a file written for another kind of value says which kind the file holds.
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/module.h"
#include "cnnkit/nn/pimpl.h"
#include "cnnkit/optim/optimizer.h"

namespace cnnkit {

void save(const nn::Module& module, const std::string& path);
void load(nn::Module& module, const std::string& path);

template <typename M>
void save(const nn::ModuleHolder<M>& module, const std::string& path) {
  save(static_cast<const nn::Module&>(*module), path);
}
template <typename M>
void load(nn::ModuleHolder<M>& module, const std::string& path) {
  load(static_cast<nn::Module&>(*module), path);
}
template <typename M, typename = std::enable_if_t<std::is_base_of_v<nn::Module, M>>>
void save(const std::shared_ptr<M>& module, const std::string& path) {
  save(static_cast<const nn::Module&>(*module), path);
}
template <typename M, typename = std::enable_if_t<std::is_base_of_v<nn::Module, M>>>
void load(const std::shared_ptr<M>& module, const std::string& path) {
  load(static_cast<nn::Module&>(*module), path);
}

void save(const optim::Optimizer& optimizer, const std::string& path);
void load(optim::Optimizer& optimizer, const std::string& path);

void save(const Tensor& tensor, const std::string& path);
void load(Tensor& tensor, const std::string& path);
void save(const std::vector<Tensor>& tensors, const std::string& path);
void load(std::vector<Tensor>& tensors, const std::string& path);

}  // namespace cnnkit
