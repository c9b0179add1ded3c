// The optimisers' API and behaviour beyond the golden trajectories: LibTorch's option
// defaults and call shapes, PyTorch's option errors, zero_grad, parameters without a
// gradient, closures, the state dict (names, bit-exact resume, load errors that leave the
// optimiser unchanged) and the parallel path of a large parameter.
#include <gtest/gtest.h>

#include <cstring>

#include "cnnkit/nn/functional.h"
#include "cnnkit/nn/modules/linear.h"
#include "cnnkit/core/threads.h"
#include "cnnkit/ops/factory.h"
#include "cnnkit/optim/optim.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::test;
using optim::OptimizerParamGroup;

namespace {

Tensor param(std::vector<float> v) { return lit(v, {static_cast<int64_t>(v.size())}).set_requires_grad(true); }

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && a.dtype() == b.dtype() &&
         std::memcmp(a.data_ptr(), b.data_ptr(), a.nbytes()) == 0;
}

bool same_dict(const optim::StateDict& a, const optim::StateDict& b) {
  if (a.scalars != b.scalars || a.tensors.size() != b.tensors.size()) return false;
  for (const auto& [k, t] : a.tensors) {
    auto it = b.tensors.find(k);
    if (it == b.tensors.end() || !same_bits(t, it->second)) return false;
  }
  return true;
}

TEST(OptimizerOptions, DefaultsAreLibTorchs) {
  optim::SGDOptions sgd(0.01);
  EXPECT_EQ(sgd.lr(), 0.01);
  EXPECT_EQ(sgd.momentum(), 0);
  EXPECT_EQ(sgd.dampening(), 0);
  EXPECT_EQ(sgd.weight_decay(), 0);
  EXPECT_FALSE(sgd.nesterov());
  optim::AdamOptions adam;
  EXPECT_EQ(adam.lr(), 1e-3);
  EXPECT_EQ(adam.betas(), std::make_tuple(0.9, 0.999));
  EXPECT_EQ(adam.eps(), 1e-8);
  EXPECT_EQ(adam.weight_decay(), 0);
  EXPECT_FALSE(adam.amsgrad());
  optim::AdamWOptions adamw;
  EXPECT_EQ(adamw.lr(), 1e-3);
  EXPECT_EQ(adamw.weight_decay(), 1e-2);
  optim::AdagradOptions adagrad;
  EXPECT_EQ(adagrad.lr(), 1e-2);
  EXPECT_EQ(adagrad.lr_decay(), 0);
  EXPECT_EQ(adagrad.initial_accumulator_value(), 0);
  EXPECT_EQ(adagrad.eps(), 1e-10);
  optim::RMSpropOptions rms;
  EXPECT_EQ(rms.lr(), 1e-2);
  EXPECT_EQ(rms.alpha(), 0.99);
  EXPECT_EQ(rms.eps(), 1e-8);
  EXPECT_EQ(rms.momentum(), 0);
  EXPECT_FALSE(rms.centered());
}

TEST(Optimizer, LibTorchCallShapesCompileAndWork) {
  nn::Linear model(3, 2);
  optim::SGD sgd(model->parameters(), optim::SGDOptions(0.01).momentum(0.9));
  EXPECT_EQ(static_cast<optim::SGDOptions&>(sgd.param_groups()[0].options()).lr(), 0.01);
  static_cast<optim::SGDOptions&>(sgd.param_groups()[0].options()).lr(0.5);
  EXPECT_EQ(sgd.param_groups()[0].options().get_lr(), 0.5);
  EXPECT_EQ(sgd.size(), 2u);

  std::vector<Tensor> p1{model->weight}, p2{model->bias};
  optim::Adam adam({OptimizerParamGroup(p1), OptimizerParamGroup(p2, std::make_unique<optim::AdamOptions>(1e-4))},
                   optim::AdamOptions(1e-3));
  ASSERT_EQ(adam.param_groups().size(), 2u);
  EXPECT_EQ(adam.param_groups()[0].options().get_lr(), 1e-3);  // the defaults
  EXPECT_EQ(adam.param_groups()[1].options().get_lr(), 1e-4);
  EXPECT_EQ(static_cast<const optim::AdamOptions&>(adam.defaults()).lr(), 1e-3);

  Tensor x = seq({4, 3});
  adam.zero_grad();
  nn::functional::linear(x, model->weight, model->bias).sum().backward();
  Tensor w0 = model->weight.detach().clone(), b0 = model->bias.detach().clone();
  adam.step();
  // Adam's first step moves every element with a nonzero gradient by lr (m / sqrt(v) = sign(g)).
  EXPECT_TRUE(allclose((model->weight - w0).abs(), full({2, 3}, 1e-3), 0, 2e-7));
  EXPECT_TRUE(allclose((model->bias - b0).abs(), full({2}, 1e-4), 0, 2e-7));
}

TEST(Optimizer, InvalidOptionsThrowPyTorchsMessages) {
  std::vector<Tensor> ps{param({1})};
  auto msg = [](auto make) { return error_of(make); };
  EXPECT_EQ(msg([&] { optim::SGD(ps, optim::SGDOptions(-1)); }), "Invalid learning rate: -1");
  EXPECT_EQ(msg([&] { optim::SGD(ps, optim::SGDOptions(0.1).momentum(-0.5)); }), "Invalid momentum value: -0.5");
  EXPECT_EQ(msg([&] { optim::SGD(ps, optim::SGDOptions(0.1).weight_decay(-1)); }), "Invalid weight_decay value: -1");
  EXPECT_EQ(msg([&] { optim::SGD(ps, optim::SGDOptions(0.1).nesterov(true)); }),
            "Nesterov momentum requires a momentum and zero dampening");
  EXPECT_EQ(msg([&] { optim::SGD(ps, optim::SGDOptions(0.1).momentum(0.9).dampening(0.1).nesterov(true)); }),
            "Nesterov momentum requires a momentum and zero dampening");
  EXPECT_THROW(optim::SGD(ps, optim::SGDOptions(0.1).nesterov(true)), ValueError);
  EXPECT_EQ(msg([&] { optim::Adam(ps, optim::AdamOptions(-0.1)); }), "Invalid learning rate: -0.1");
  EXPECT_EQ(msg([&] { optim::Adam(ps, optim::AdamOptions().eps(-1)); }), "Invalid epsilon value: -1");
  EXPECT_EQ(msg([&] { optim::Adam(ps, optim::AdamOptions().betas(std::make_tuple(1.0, 0.999))); }),
            "Invalid beta parameter at index 0: 1");
  EXPECT_EQ(msg([&] { optim::AdamW(ps, optim::AdamWOptions().betas(std::make_tuple(0.9, -0.1))); }),
            "Invalid beta parameter at index 1: -0.1");
  EXPECT_EQ(msg([&] { optim::AdamW(ps, optim::AdamWOptions().weight_decay(-0.01)); }),
            "Invalid weight_decay value: -0.01");
  EXPECT_EQ(msg([&] { optim::Adagrad(ps, optim::AdagradOptions().lr_decay(-1)); }), "Invalid lr_decay value: -1");
  EXPECT_EQ(msg([&] { optim::Adagrad(ps, optim::AdagradOptions().initial_accumulator_value(-1)); }),
            "Invalid initial_accumulator_value value: -1");
  EXPECT_EQ(msg([&] { optim::Adagrad(ps, optim::AdagradOptions().eps(-1)); }), "Invalid epsilon value: -1");
  EXPECT_EQ(msg([&] { optim::RMSprop(ps, optim::RMSpropOptions().alpha(-1)); }), "Invalid alpha value: -1");
  EXPECT_EQ(msg([&] { optim::RMSprop(ps, optim::RMSpropOptions().momentum(-1)); }), "Invalid momentum value: -1");
  // A group's own options are checked too.
  EXPECT_THROW(optim::SGD({OptimizerParamGroup(ps, std::make_unique<optim::SGDOptions>(-2))}, optim::SGDOptions(0.1)),
               ValueError);
}

TEST(Optimizer, RejectsDuplicateAndNonLeafParameters) {
  Tensor p = param({1, 2});
  EXPECT_TRUE(contains(error_of([&] { optim::SGD({OptimizerParamGroup({p}), OptimizerParamGroup({p})}, 0.1); }),
                       "more than one parameter group"));
  Tensor non_leaf = p * 2.0;
  EXPECT_THROW(optim::SGD(std::vector<Tensor>{non_leaf}, 0.1), ValueError);
  optim::SGD opt(std::vector<Tensor>{p}, 0.1);
  EXPECT_THROW(opt.add_param_group(OptimizerParamGroup({p})), ValueError);
  Tensor q = param({3});
  opt.add_param_group(OptimizerParamGroup({q}));
  EXPECT_EQ(opt.param_groups()[1].options().get_lr(), 0.1);  // the defaults
  EXPECT_EQ(opt.size(), 2u);
}

TEST(Optimizer, ZeroGradSetsToNoneOrZeroes) {
  Tensor p = param({1, 2, 3});
  optim::SGD opt(std::vector<Tensor>{p}, 0.1);
  p.set_grad(lit({1, 1, 1}, {3}));
  opt.zero_grad();  // LibTorch's default: set_to_none = true
  EXPECT_FALSE(p.grad().defined());
  p.set_grad(lit({1, 1, 1}, {3}));
  Tensor old = p.grad();
  opt.zero_grad(false);
  ASSERT_TRUE(p.grad().defined());
  EXPECT_TRUE(allclose(p.grad(), std::vector<float>{0, 0, 0}, 0, 0, "grad"));
  EXPECT_TRUE(p.grad().is_same(old));  // zeroed in place
  opt.zero_grad(false);                 // no gradient: nothing to do, no error
}

// torch: p = [1.]; SGD([p], lr=0.1, momentum=0.9, dampening=0.5); p.grad = [1.] each step
// -> 0.9, 0.76, 0.584: the first buffer is the gradient itself, undamped.
TEST(SGD, FirstMomentumBufferIsTheGradientUndamped) {
  Tensor p = param({1});
  optim::SGD opt(std::vector<Tensor>{p}, optim::SGDOptions(0.1).momentum(0.9).dampening(0.5));
  const float want[] = {0.9f, 0.76f, 0.584f};
  for (float w : want) {
    p.set_grad(lit({1}, {1}));
    opt.step();
    EXPECT_NEAR(p.to_vector()[0], w, 1e-7);
  }
}

// torch: p = [1., -2.]; Adam([p], lr=0.1); p.grad = [0.5, 0.25] twice -> [0.9, -2.1], [0.8, -2.2].
TEST(Adam, TwoStepsMatchTorch) {
  Tensor p = param({1, -2});
  optim::Adam opt(std::vector<Tensor>{p}, optim::AdamOptions(0.1));
  p.set_grad(lit({0.5f, 0.25f}, {2}));
  opt.step();
  EXPECT_TRUE(allclose(p, std::vector<float>{0.9000000357627869f, -2.0999999046325684f}, 1e-6, 0, "step 1"));
  opt.step();
  EXPECT_TRUE(allclose(p, std::vector<float>{0.800000011920929f, -2.1999998092651367f}, 1e-6, 0, "step 2"));
  EXPECT_EQ(opt.state_dict().scalars.at("state.0.step"), 2.0);
}

TEST(Optimizer, SkipsParametersWithoutGradient) {
  Tensor a = param({1, 2}), b = param({3, 4});
  optim::Adam opt(std::vector<Tensor>{a, b}, optim::AdamOptions(0.1));
  a.set_grad(lit({1, 1}, {2}));
  opt.step();
  EXPECT_TRUE(allclose(b, std::vector<float>{3, 4}, 0, 0, "b untouched"));
  EXPECT_FALSE(allclose(a, std::vector<float>{1, 2}, 0, 0, "a moved"));
  optim::StateDict sd = opt.state_dict();
  EXPECT_TRUE(sd.tensors.count("state.0.exp_avg"));
  EXPECT_FALSE(sd.tensors.count("state.1.exp_avg"));  // no state for b
  EXPECT_FALSE(sd.scalars.count("state.1.step"));
}

TEST(Optimizer, ClosureIsEvaluatedWithGradAndItsLossReturned) {
  Tensor p = param({2});
  optim::SGD opt(std::vector<Tensor>{p}, 0.25);
  int calls = 0;
  Tensor loss = opt.step([&] {
    ++calls;
    opt.zero_grad();
    Tensor l = (p * p).sum();  // d/dp = 2p = 4
    l.backward();
    return l;
  });
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(loss.defined());
  EXPECT_EQ(loss.item<float>(), 4.0f);
  EXPECT_EQ(p.to_vector()[0], 1.0f);  // 2 - 0.25 * 4
  EXPECT_FALSE(opt.step().defined());  // no closure: undefined
}

TEST(Optimizer, StateDictUsesPyTorchsNames) {
  Tensor p = param({1, 2, 3});
  p.set_grad(lit({0.1f, 0.2f, 0.3f}, {3}));
  {
    optim::SGD opt(std::vector<Tensor>{p}, optim::SGDOptions(0.1).momentum(0.9).nesterov(true));
    opt.step();
    auto sd = opt.state_dict();
    EXPECT_TRUE(sd.tensors.count("state.0.momentum_buffer"));
    for (const char* k : {"lr", "momentum", "dampening", "weight_decay", "nesterov", "params"})
      EXPECT_TRUE(sd.scalars.count(std::string("param_groups.0.") + k)) << k;
    EXPECT_EQ(sd.scalars.at("param_groups.0.nesterov"), 1.0);
    EXPECT_EQ(sd.scalars.at("param_groups.0.params"), 1.0);
  }
  {
    optim::Adam opt(std::vector<Tensor>{p}, optim::AdamOptions().amsgrad(true));
    opt.step();
    auto sd = opt.state_dict();
    for (const char* k : {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"})
      EXPECT_TRUE(sd.tensors.count(std::string("state.0.") + k)) << k;
    for (const char* k : {"betas.0", "betas.1", "eps", "amsgrad"})
      EXPECT_TRUE(sd.scalars.count(std::string("param_groups.0.") + k)) << k;
  }
  {
    optim::Adagrad opt(std::vector<Tensor>{p}, optim::AdagradOptions().initial_accumulator_value(0.5));
    auto sd = opt.state_dict();  // PyTorch fills Adagrad's state at construction
    ASSERT_TRUE(sd.tensors.count("state.0.sum"));
    EXPECT_TRUE(allclose(sd.tensors.at("state.0.sum"), std::vector<float>{0.5, 0.5, 0.5}, 0, 0, "sum"));
    EXPECT_EQ(sd.scalars.at("state.0.step"), 0.0);
  }
  {
    optim::RMSprop opt(std::vector<Tensor>{p}, optim::RMSpropOptions().momentum(0.5).centered(true));
    opt.step();
    auto sd = opt.state_dict();
    for (const char* k : {"square_avg", "momentum_buffer", "grad_avg"})
      EXPECT_TRUE(sd.tensors.count(std::string("state.0.") + k)) << k;
    EXPECT_EQ(sd.scalars.at("state.0.step"), 1.0);
  }
}

// ---- resume: 10 steps, save, 10 more == fresh optimiser loaded from the dict, 10 more ----

struct Problem {
  std::vector<Tensor> params;
  Tensor x = seq({6, 4}), y = seq({6, 2}, 1.3, 0.1);
  explicit Problem(const std::vector<Tensor>* from = nullptr) {
    if (from) {
      for (const Tensor& p : *from) params.push_back(p.detach().clone().set_requires_grad(true));
    } else {
      params = {seq({3, 4}, 0.37).set_requires_grad(true), seq({3}, 0.9).set_requires_grad(true),
                seq({2, 3}, 0.21).set_requires_grad(true), seq({2}, 1.7).set_requires_grad(true)};
    }
  }
  void train(optim::Optimizer& opt, int steps) {
    for (int i = 0; i < steps; ++i) {
      opt.zero_grad();
      Tensor h = nn::functional::linear(x, params[0], params[1]).tanh();
      (nn::functional::linear(h, params[2], params[3]) - y).pow(2).mean().backward();
      opt.step();
    }
  }
};

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(const std::vector<Tensor>&)>;

void expect_resume_exact(const MakeOptimizer& make) {
  Problem a;
  auto opt_a = make(a.params);
  a.train(*opt_a, 10);
  optim::StateDict saved = opt_a->state_dict();
  std::vector<Tensor> saved_params;
  for (const Tensor& p : a.params) saved_params.push_back(p.detach().clone());
  a.train(*opt_a, 10);

  Problem b(&saved_params);
  auto opt_b = make(b.params);
  opt_b->load_state_dict(saved);
  EXPECT_TRUE(same_dict(opt_b->state_dict(), saved));
  b.train(*opt_b, 10);
  for (size_t i = 0; i < a.params.size(); ++i) EXPECT_TRUE(same_bits(a.params[i], b.params[i])) << "parameter " << i;
  EXPECT_TRUE(same_dict(opt_a->state_dict(), opt_b->state_dict()));
}

TEST(OptimizerStateDict, ResumeIsBitExactSGD) {
  expect_resume_exact([](const std::vector<Tensor>& ps) {
    return std::make_unique<optim::SGD>(ps, optim::SGDOptions(0.05).momentum(0.9).nesterov(true).weight_decay(0.01));
  });
}
TEST(OptimizerStateDict, ResumeIsBitExactAdam) {
  expect_resume_exact([](const std::vector<Tensor>& ps) {
    return std::make_unique<optim::Adam>(ps, optim::AdamOptions(0.01).amsgrad(true).weight_decay(0.01));
  });
}
TEST(OptimizerStateDict, ResumeIsBitExactAdamW) {
  expect_resume_exact([](const std::vector<Tensor>& ps) {
    return std::make_unique<optim::AdamW>(ps, optim::AdamWOptions(0.01));
  });
}
TEST(OptimizerStateDict, ResumeIsBitExactAdagrad) {
  expect_resume_exact([](const std::vector<Tensor>& ps) {
    return std::make_unique<optim::Adagrad>(ps, optim::AdagradOptions(0.1).lr_decay(0.01));
  });
}
TEST(OptimizerStateDict, ResumeIsBitExactRMSprop) {
  expect_resume_exact([](const std::vector<Tensor>& ps) {
    return std::make_unique<optim::RMSprop>(ps, optim::RMSpropOptions(0.01).momentum(0.5).centered(true));
  });
}
TEST(OptimizerStateDict, ResumeRestoresGroupOptionsAndLr) {
  Problem a;
  std::vector<Tensor> first(a.params.begin(), a.params.begin() + 2), second(a.params.begin() + 2, a.params.end());
  auto make = [&](const std::vector<Tensor>& ps) {
    std::vector<Tensor> f(ps.begin(), ps.begin() + 2), s(ps.begin() + 2, ps.end());
    return std::make_unique<optim::SGD>(
        std::vector<OptimizerParamGroup>{OptimizerParamGroup(f),
                                         OptimizerParamGroup(s, std::make_unique<optim::SGDOptions>(
                                                                    optim::SGDOptions(0.2).momentum(0.5)))},
        optim::SGDOptions(0.1).momentum(0.9));
  };
  auto opt = make(a.params);
  opt->param_groups()[1].options().set_lr(0.05);  // e.g. a scheduler's doing
  a.train(*opt, 3);
  auto sd = opt->state_dict();
  auto fresh = make(a.params);
  fresh->load_state_dict(sd);
  EXPECT_EQ(fresh->param_groups()[1].options().get_lr(), 0.05);
  EXPECT_EQ(static_cast<optim::SGDOptions&>(fresh->param_groups()[1].options()).momentum(), 0.5);
}

// ---- load errors leave the optimiser unchanged ---------------------------------------------

class LoadErrors : public ::testing::Test {
 protected:
  Problem pb;
  std::unique_ptr<optim::Adam> opt;
  optim::StateDict good, before;
  void SetUp() override {
    opt = std::make_unique<optim::Adam>(pb.params, optim::AdamOptions(0.01));
    pb.train(*opt, 2);
    good = opt->state_dict();
    before = opt->state_dict();
  }
  std::string load(const optim::StateDict& d) {
    std::string m = error_of([&] { opt->load_state_dict(d); });
    EXPECT_TRUE(same_dict(opt->state_dict(), before)) << "optimizer changed by a failed load: " << m;
    return m;
  }
};

TEST_F(LoadErrors, WrongGroupCount) {
  optim::StateDict d = good;
  d.scalars["param_groups.1.params"] = 1;
  EXPECT_TRUE(contains(load(d), "2 parameter groups"));
  EXPECT_THROW(opt->load_state_dict(d), ValueError);
}

TEST_F(LoadErrors, WrongParameterCount) {
  optim::StateDict d = good;
  d.scalars["param_groups.0.params"] = 3;
  EXPECT_TRUE(contains(load(d), "param_groups.0.params"));
}

TEST_F(LoadErrors, WrongShapeNamesTheKey) {
  optim::StateDict d = good;
  d.tensors["state.2.exp_avg"] = seq({3, 2});
  std::string m = load(d);
  EXPECT_TRUE(contains(m, "state.2.exp_avg")) << m;
  EXPECT_TRUE(contains(m, "[3, 2]")) << m;
  EXPECT_THROW(opt->load_state_dict(d), ValueError);
}

TEST_F(LoadErrors, MissingKeyNamesIt) {
  optim::StateDict d = good;
  d.tensors.erase("state.1.exp_avg_sq");
  EXPECT_TRUE(contains(load(d), "'state.1.exp_avg_sq'"));
  d = good;
  d.scalars.erase("param_groups.0.betas.1");
  EXPECT_TRUE(contains(load(d), "'param_groups.0.betas.1'"));
}

TEST_F(LoadErrors, StateOfAParameterThatDoesNotExist) {
  optim::StateDict d = good;
  d.tensors["state.7.exp_avg"] = seq({2});
  EXPECT_TRUE(contains(load(d), "state.7.exp_avg"));
}

TEST_F(LoadErrors, WrongDtype) {
  optim::StateDict d = good;
  d.tensors["state.3.exp_avg"] = cnnkit::zeros({2}, kInt64);
  EXPECT_TRUE(contains(load(d), "dtype"));
}

// ---- dtypes and sizes --------------------------------------------------------------------

TEST(Adam, LargeParameterTakesTheParallelPathWithTheSameNumbers) {
  const int64_t n = 3 * kGrainSize + 17;
  Tensor big = seq({n}, 0.013);
  Tensor small = big.narrow(0, n - 5, 5).clone().set_requires_grad(true);
  big.set_requires_grad(true);
  Tensor gb = seq({n}, 0.7, 0.2);
  Tensor gs = gb.narrow(0, n - 5, 5).clone();
  optim::Adam ob(std::vector<Tensor>{big}, optim::AdamOptions(0.01).weight_decay(0.1));
  optim::Adam os(std::vector<Tensor>{small}, optim::AdamOptions(0.01).weight_decay(0.1));
  for (int i = 0; i < 3; ++i) {
    big.set_grad(gb);
    small.set_grad(gs);
    ob.step();
    os.step();
  }
  EXPECT_TRUE(same_bits(big.narrow(0, n - 5, 5).contiguous(), small));
}

}  // namespace
