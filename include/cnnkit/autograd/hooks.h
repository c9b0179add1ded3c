// Hooks into backward, for code that acts on gradients as they become ready (the
// distributed layer's gradient all-reduce): PyTorch's
// Tensor.register_post_accumulate_grad_hook and the engine's queue_callback.
//
//   auto h = autograd::register_post_accumulate_grad_hook(weight, [](const Tensor& p) {
//     use(p.grad());                      // after backward() accumulated weight's .grad()
//   });
//   autograd::remove_hook(h);
//
// Contracts: a post-accumulate hook runs on the thread running backward(), right after the
// leaf's .grad() received this backward's gradient (once per backward, after every
// contribution to it was summed); it does not run for leaves no gradient reached, nor under
// autograd::grad(). queue_callback() may only be called while a backward() runs (from a
// hook or a backward function); the callbacks run in order once the whole graph is done,
// before backward() returns, and not when backward() throws.
#pragma once

#include <cstdint>
#include <functional>

#include "cnnkit/core/tensor.h"

namespace cnnkit::autograd {

using HookHandle = uint64_t;

// `leaf` must be a leaf that requires grad (a parameter). The hook is held until removed
// (or until the leaf is destroyed).
HookHandle register_post_accumulate_grad_hook(const Tensor& leaf, std::function<void(const Tensor&)> hook);
void remove_hook(HookHandle handle);  // unknown or already removed handles are ignored

// Runs `callback` when the backward pass now running ends.
void queue_callback(std::function<void()> callback);

}  // namespace cnnkit::autograd
