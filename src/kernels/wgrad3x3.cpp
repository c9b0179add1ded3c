// The direct weight gradient of a 3x3 stride-1 convolution between channel-blocked tensors
// (kernels/wgrad3x3.h): the switch and the dispatch to the kernel of each instruction set
// (kernels/wgrad3x3_impl.h).
#include "kernels/wgrad3x3.h"

#include <atomic>
#include <cstdlib>

#include "cnnkit/core/error.h"
#include "kernels/isa.h"
#include "kernels/simd.h"

namespace cnnkit::kernels::wgrad3x3 {

namespace {

std::atomic<uint64_t> call_count{0};

std::atomic<Use>& use_flag() {
  static std::atomic<Use> u{[] {
    const char* e = std::getenv("CNNKIT_WGRAD3X3");
    if (e == nullptr || e[0] == '\0') return Use::automatic;
    return e[0] == '0' ? Use::never : Use::always;
  }()};
  return u;
}

}  // namespace

Use use() { return use_flag().load(std::memory_order_relaxed); }
void set_use(Use u) { use_flag().store(u, std::memory_order_relaxed); }
bool runs(const Conv2dShape& s, int block) {
  const Use u = use();
  return (u == Use::always || (u == Use::automatic && (block == 8 || s.C_in == block))) && supported(s, block);
}
uint64_t calls() { return call_count.load(std::memory_order_relaxed); }

bool supported(const Conv2dShape& s, int block) {
  return simd::cpu_runs(block) && s.kH == 3 && s.kW == 3 && s.stride_h == 1 && s.stride_w == 1 &&
         s.dil_h == 1 && s.dil_w == 1 && s.groups == 1 && s.C_in > 0 && s.C_out > 0 && s.C_in % block == 0 && s.C_out % block == 0 &&
         s.N > 0 && s.H_out > 0 && s.W_out > 0 && s.pad_t >= 0 && s.pad_l >= 0 && s.pad_b >= 0 && s.pad_r >= 0 &&
         s.pad_t <= 2 && s.pad_l <= 2 && s.pad_b <= 2 && s.pad_r <= 2 && s.H_out == s.H + s.pad_t + s.pad_b - 2 &&
         s.W_out == s.W + s.pad_l + s.pad_r - 2;
}

void weight_grad(const float* src, const float* grad_out, float* grad_weight, float* grad_bias, const Conv2dShape& s,
                 int block) {
  CNNKIT_ASSERT(supported(s, block), "wgrad3x3::weight_grad: a shape it does not compute");
  call_count.fetch_add(1, std::memory_order_relaxed);
#if defined(__x86_64__)
  if (block == 16) {
    avx512::wgrad3x3(src, grad_out, grad_weight, grad_bias, s);
  } else {
    avx2::wgrad3x3(src, grad_out, grad_weight, grad_bias, s);
  }
#else
  CNNKIT_ASSERT(false, "wgrad3x3::weight_grad needs x86-64 (supported() is false elsewhere)");
#endif
}

}  // namespace cnnkit::kernels::wgrad3x3
