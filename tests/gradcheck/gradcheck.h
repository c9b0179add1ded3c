// The table-driven finite-difference checker shared by the gradcheck tests (ggml's
// test-backend-ops, flashlight's jacobianTestImpl): for L = sum(f(inputs) * W) with a fixed
// random W, autograd's dL/dx (out.backward(W)) must match the central difference
// (L(x + eps) - L(x - eps)) / (2 eps) for every element of every input, parameters
// included. f runs in float32; L is accumulated in double, so outputs that an element does
// not touch cancel exactly and the difference only carries the rounding of the ones it
// does. Kinks are declared per case: inputs are sampled away from them (ReLU at 0,
// Hardswish at +-3, ties for max and pools, ...), so both derivatives are well defined.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/core/rng.h"
#include "cnnkit/ops/ops.h"
#include "test_util.h"

namespace cnnkit {
namespace test {
namespace gradcheck {

using Inputs = std::vector<Tensor>;
using Fn = std::function<Tensor(const Inputs&)>;

// How one input is sampled.
struct In {
  std::vector<int64_t> shape;
  double lo = -2, hi = 2;
  std::vector<double> kinks;     // no element within kMargin of these
  bool distinct = false;         // values pairwise >= ~0.6 (hi - lo) / numel apart (max, sort, pools)
  bool integers_are_kinks = false;  // floor / ceil / round: also avoid k and k + 0.5
  bool grad = true;              // false: a constant (running stats, ...)

  In(std::vector<int64_t> s) : shape(std::move(s)) {}  // NOLINT: In({2, 3})
  In& range(double l, double h) { lo = l, hi = h; return *this; }
  In& avoid(std::vector<double> k) { kinks = std::move(k); return *this; }
  In& unique() { distinct = true; return *this; }
  In& off_integers() { integers_are_kinks = true; return *this; }
  In& constant() { grad = false; return *this; }
};

struct Case {
  std::string name;
  std::vector<In> inputs;
  Fn f;
  // |analytic - numeric| <= atol + rtol * |numeric|. Float32 rounding in L leaves at most
  // ~2.5e-4 here (batch norm); a wrong gradient is off by O(0.1).
  double rtol = 1e-2, atol = 1e-3;
  double eps = 1e-3;
  // A rule over all inputs together (e.g. maximum(a, b) needs |a - b| > margin); sampling
  // retries until it holds.
  std::function<bool(const Inputs&)> valid = nullptr;

  Case& tol(double r, double a) { rtol = r, atol = a; return *this; }
  Case& step(double e) { eps = e; return *this; }
  Case& when(std::function<bool(const Inputs&)> v) { valid = std::move(v); return *this; }
};

inline constexpr double kMargin = 0.05;  // 50 eps: a kink is never inside a perturbation
inline constexpr double kBilinearStep = 1e-2;

inline uint64_t seed_of(const std::string& s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a: stable across platforms, unlike std::hash
  for (char ch : s) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
  return h;
}

inline bool near_kink(double v, const In& in) {
  for (double k : in.kinks)
    if (std::fabs(v - k) < kMargin) return true;
  if (in.integers_are_kinks) {
    double twice = 2 * v;
    if (std::fabs(twice - std::round(twice)) < 2 * kMargin) return true;
  }
  return false;
}

inline Tensor sample(const In& in, Generator& gen) {
  Tensor t = cnnkit::empty(in.shape);
  float* p = t.data_ptr<float>();
  int64_t n = t.numel();
  if (in.distinct) {
    std::vector<int64_t> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    for (int64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[gen.randint(0, i + 1)]);
    double spacing = (in.hi - in.lo) / static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i)
      p[i] = static_cast<float>(in.lo + spacing * (perm[i] + 0.5 + 0.4 * (gen.uniform() - 0.5)));
    return t;
  }
  for (int64_t i = 0; i < n; ++i) {
    double v;
    do {
      v = in.lo + (in.hi - in.lo) * gen.uniform();
    } while (near_kink(v, in));
    p[i] = static_cast<float>(v);
  }
  return t;
}

inline double weighted_sum(const Tensor& out, const std::vector<double>& w) {
  std::vector<float> o = out.to_vector();
  double s = 0;
  for (size_t i = 0; i < o.size(); ++i) s += static_cast<double>(o[i]) * w[i];
  return s;
}

// The case's inputs, sampled until its rule holds; those it differentiates require grad.
inline Inputs sample_inputs(const Case& c, Generator& gen) {
  Inputs x;
  for (int attempt = 0;; ++attempt) {
    if (attempt >= 200) {
      ADD_FAILURE() << c.name << ": could not sample inputs satisfying the case's rule";
      return {};
    }
    x.clear();
    for (const In& in : c.inputs) x.push_back(sample(in, gen));
    if (!c.valid || c.valid(x)) break;
  }
  for (size_t k = 0; k < x.size(); ++k)
    if (c.inputs[k].grad) x[k].set_requires_grad(true);
  return x;
}

inline Tensor uniform_like(IntArrayRef sizes, Generator& gen) {
  Tensor t = cnnkit::empty(sizes);
  for (int64_t i = 0; i < t.numel(); ++i) t.data_ptr<float>()[i] = static_cast<float>(2.0 * gen.uniform() - 1.0);
  return t;
}

// Second order (PyTorch's gradgradcheck): with random upstream u and random directions v,
// S(x, u) = sum_k <dL/dx_k, v_k>, where dL/dx_k is autograd's gradient of f for the seed u.
// autograd's dS/dx and dS/du (a backward through the backward, create_graph=true) must match
// central differences of S, which only needs first-order backward. S is accumulated in double.
inline void run_second_order(const Case& c) {
  Generator gen(seed_of(c.name) + 1);
  Inputs x = sample_inputs(c, gen);
  if (x.empty() && !c.inputs.empty()) return;
  std::vector<size_t> wrt_index;
  for (size_t k = 0; k < x.size(); ++k)
    if (c.inputs[k].grad) wrt_index.push_back(k);
  Tensor probe = c.f(x);
  ASSERT_TRUE(probe.requires_grad()) << c.name;
  Tensor u = uniform_like(probe.sizes(), gen).set_requires_grad(true);
  std::vector<std::vector<double>> v;
  for (size_t k : wrt_index) {
    std::vector<double> d(static_cast<size_t>(x[k].numel()));
    for (double& e : d) e = 2.0 * gen.uniform() - 1.0;
    v.push_back(std::move(d));
  }
  auto wrt = [&] {
    TensorList t;
    for (size_t k : wrt_index) t.push_back(x[k]);
    return t;
  };
  // S with first-order backward only, in double.
  auto S = [&]() {
    TensorList g = autograd::grad({c.f(x)}, wrt(), {u}, false, false, /*allow_unused=*/true);
    double s = 0;
    for (size_t j = 0; j < g.size(); ++j)
      if (g[j].defined()) s += weighted_sum(g[j], v[j]);
    return s;
  };

  // Analytic: the gradient of S (built with create_graph) with respect to x and u.
  TensorList g = autograd::grad({c.f(x)}, wrt(), {u}, true, /*create_graph=*/true, /*allow_unused=*/true);
  Tensor s_graph;
  for (size_t j = 0; j < g.size(); ++j) {
    if (!g[j].defined()) continue;
    Tensor vt = cnnkit::empty(g[j].sizes());
    for (int64_t i = 0; i < vt.numel(); ++i) vt.data_ptr<float>()[i] = static_cast<float>(v[j][static_cast<size_t>(i)]);
    Tensor term = sum(mul(g[j], vt));
    s_graph = s_graph.defined() ? add(s_graph, term) : term;
  }
  TensorList targets = wrt();
  targets.push_back(u);
  TensorList analytic(targets.size());
  if (s_graph.defined() && s_graph.requires_grad())
    analytic = autograd::grad({s_graph}, targets, {}, false, false, /*allow_unused=*/true);

  NoGradGuard no_grad_for_sampling;  // the perturbations write the leaves' data
  const double rtol = std::max(c.rtol, 2e-2), atol = std::max(c.atol, 3e-3);
  double max_diff = 0;
  for (size_t t = 0; t < targets.size(); ++t) {
    Tensor& leaf = targets[t];
    std::vector<float> a = analytic[t].defined() ? analytic[t].to_vector() : std::vector<float>();
    float* p = leaf.data_ptr<float>();
    int bad = 0;
    for (int64_t i = 0; i < leaf.numel(); ++i) {
      const float val = p[i];
      double sp, sm;
      {
        AutoGradMode on(true);
        p[i] = static_cast<float>(val + c.eps);
        sp = S();
        p[i] = static_cast<float>(val - c.eps);
        sm = S();
      }
      p[i] = val;
      const double h = static_cast<double>(static_cast<float>(val + c.eps)) -
                       static_cast<double>(static_cast<float>(val - c.eps));
      const double numeric = (sp - sm) / h;
      const double an = a.empty() ? 0.0 : a[static_cast<size_t>(i)];
      const double d = std::fabs(an - numeric);
      max_diff = std::max(max_diff, d);
      if (d > atol + rtol * std::fabs(numeric) && bad++ < 5)
        ADD_FAILURE() << c.name << ": second order, d S / d " << (t + 1 == targets.size() ? std::string("upstream")
                                                                  : "input " + std::to_string(wrt_index[t]))
                      << " element " << test::index_str(leaf.sizes(), i) << ": autograd " << an
                      << ", finite difference " << numeric << ", diff " << d;
    }
  }
  std::cout << "[gradgradcheck] " << c.name << ": max abs diff " << max_diff << "\n";
}

inline void run_case(const Case& c) {
  Generator gen(seed_of(c.name));
  Inputs x = sample_inputs(c, gen);
  if (x.empty() && !c.inputs.empty()) return;

  // Analytic: backward of sum(out * W) is backward(out) with gradient W.
  Tensor out = c.f(x);
  ASSERT_TRUE(out.defined()) << c.name << ": op returned an undefined tensor";
  ASSERT_EQ(out.scalar_type(), kFloat) << c.name;
  ASSERT_TRUE(out.requires_grad()) << c.name << ": output does not require grad (op not recorded)";
  Tensor w = cnnkit::empty(out.sizes());
  std::vector<double> wd(static_cast<size_t>(out.numel()));
  for (size_t i = 0; i < wd.size(); ++i) {
    wd[i] = 2.0 * gen.uniform() - 1.0;
    w.data_ptr<float>()[i] = static_cast<float>(wd[i]);
  }
  out.backward(w);

  NoGradGuard no_grad;
  double max_diff = 0;
  std::string worst;
  for (size_t k = 0; k < x.size(); ++k) {
    if (!c.inputs[k].grad) continue;
    Tensor g = x[k].grad();
    std::vector<float> analytic = g.defined() ? g.to_vector() : std::vector<float>();
    if (g.defined()) {
      ASSERT_EQ(g.sizes(), x[k].sizes()) << c.name << ": gradient of input " << k << " has the wrong shape";
    }
    float* p = x[k].data_ptr<float>();
    int bad = 0;
    for (int64_t i = 0; i < x[k].numel(); ++i) {
      float v = p[i];
      p[i] = static_cast<float>(v + c.eps);
      double lp = weighted_sum(c.f(x), wd);
      p[i] = static_cast<float>(v - c.eps);
      double lm = weighted_sum(c.f(x), wd);
      p[i] = v;
      // The step actually taken in float, not the nominal eps.
      double h = (static_cast<double>(static_cast<float>(v + c.eps)) -
                  static_cast<double>(static_cast<float>(v - c.eps)));
      double numeric = (lp - lm) / h;
      double a = g.defined() ? analytic[i] : 0.0;
      double d = std::fabs(a - numeric);
      if (d > max_diff) {
        max_diff = d;
        worst = "input " + std::to_string(k) + " element " + test::index_str(x[k].sizes(), i);
      }
      if (d > c.atol + c.rtol * std::fabs(numeric) && bad++ < 5) {
        ADD_FAILURE() << c.name << ": input " << k << " " << x[k].sizes() << " element "
                      << test::index_str(x[k].sizes(), i) << " (x = " << v << "): autograd "
                      << (g.defined() ? std::to_string(a) : std::string("undefined (0)")) << ", finite difference "
                      << numeric << ", diff " << d << " > " << c.atol << " + " << c.rtol << " * |numeric|";
      }
    }
  }
  std::cout << "[gradcheck] " << c.name << ": max abs diff " << max_diff
            << (worst.empty() ? "" : " at " + worst) << "\n";
}

}  // namespace gradcheck
}  // namespace test
}  // namespace cnnkit
