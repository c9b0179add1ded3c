// The direct 3x3 convolution between channel-blocked tensors (kernels/direct3x3.h): the
// switch, the weight layout and the dispatch to the kernel of each instruction set
// (kernels/direct3x3_impl.h).
#include "kernels/direct3x3.h"

#include <atomic>
#include <cmath>
#include <cstdlib>

#include "cnnkit/core/error.h"
#include "kernels/isa.h"
#include "kernels/simd.h"

namespace cnnkit::kernels::direct3x3 {

namespace {

std::atomic<uint64_t> call_count{0};

std::atomic<bool>& enabled_flag() {
  static std::atomic<bool> on{[] {
    const char* e = std::getenv("CNNKIT_DIRECT3X3");
    return e == nullptr || e[0] != '0';
  }()};
  return on;
}

}  // namespace

bool enabled() { return enabled_flag().load(std::memory_order_relaxed); }
void set_enabled(bool on) { enabled_flag().store(on, std::memory_order_relaxed); }
uint64_t calls() { return call_count.load(std::memory_order_relaxed); }

bool supported(const Conv2dShape& s, int block) {
  return enabled() && simd::cpu_runs(block) && s.kH == 3 && s.kW == 3 && s.stride_h == 1 && s.stride_w == 1 &&
         s.dil_h == 1 && s.dil_w == 1 && s.groups == 1 && s.C_in > 0 && s.C_out > 0 && s.C_in % block == 0 &&
         s.C_out % block == 0 && s.N > 0 && s.H_out > 0 && s.W_out > 0 && s.pad_t >= 0 && s.pad_l >= 0 &&
         s.pad_b >= 0 && s.pad_r >= 0 && s.pad_t <= 2 && s.pad_l <= 2 && s.pad_b <= 2 && s.pad_r <= 2 &&
         s.H_out == s.H + s.pad_t + s.pad_b - 2 && s.W_out == s.W + s.pad_l + s.pad_r - 2;
}

bool pack_weights(std::vector<float>& out, const float* weight, int64_t C_out, int64_t C_in, int block,
                  bool flipped) {
  CNNKIT_CHECK((block == 8 || block == 16) && C_out > 0 && C_in > 0 && C_out % block == 0 && C_in % block == 0,
               "direct3x3::pack_weights: channels come in blocks of ", block, ", got C_out=", C_out, ", C_in=", C_in);
  // The convolution these weights serve: C -> K, w(k, c) for that convolution.
  const int64_t C = flipped ? C_out : C_in, K = flipped ? C_in : C_out, B = block;
  out.resize(static_cast<size_t>(9 * C * K));
  bool finite = true;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c) {
      // flipped: w'(k, c) at tap t = weight[c][k] at tap 8 - t
      const float* g = flipped ? weight + (c * C_in + k) * 9 : weight + (k * C_in + c) * 9;
      float* d = out.data() + ((k / B) * (C / B) + c / B) * 9 * B * B + (c % B) * B + k % B;
      for (int t = 0; t < 9; ++t) {
        const float v = g[flipped ? 8 - t : t];
        finite = finite && std::isfinite(v);
        d[t * B * B] = v;
      }
    }
  return finite;
}

void conv3x3(const float* src, const float* w, const float* bias, const float* residual, bool relu, float* dst,
             const Conv2dShape& s, int block) {
  CNNKIT_ASSERT(supported(s, block), "direct3x3::conv3x3: a shape it does not compute");
  call_count.fetch_add(1, std::memory_order_relaxed);
#if defined(__x86_64__)
  if (block == 16) {
    avx512::direct_conv3x3(src, w, bias, residual, relu, dst, s);
  } else {
    avx2::direct_conv3x3(src, w, bias, residual, relu, dst, s);
  }
#else
  CNNKIT_ASSERT(false, "direct3x3::conv3x3 needs x86-64 (supported() is false elsewhere)");
#endif
}

}  // namespace cnnkit::kernels::direct3x3
