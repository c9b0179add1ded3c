// cnnkit::save / cnnkit::load (torch::save / torch::load): modules, optimizers, tensors and
// lists round-trip exactly; a resumed optimizer continues bit for bit; loading the wrong
// kind of file, another model's weights or a corrupt file names the file and the problem.
#include <gtest/gtest.h>

#include <fstream>

#include "cnnkit/cnnkit.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::allclose;
using cnnkit::test::error_of;

namespace {

std::string temp(const std::string& name) { return ::testing::TempDir() + "cnnkit_serialize_" + name; }


nn::Sequential make_net() {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 4, 3)), nn::BatchNorm2d(4), nn::ReLU(), nn::Flatten(),
                        nn::Linear(4 * 4 * 4, 3));
}

}  // namespace

TEST(Serialize, ModuleRoundTripsParametersAndBuffers) {
  manual_seed(1);
  nn::Sequential a = make_net();
  a->forward(randn({2, 1, 6, 6}));  // running stats move
  const std::string path = temp("module.pt");
  cnnkit::save(a, path);
  manual_seed(2);
  nn::Sequential b = make_net();
  cnnkit::load(b, path);
  auto sa = a->state_dict(), sb = b->state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& item : sa) EXPECT_TRUE(item.value().equal(sb[item.key()])) << item.key();
  // the same through shared_ptr<Module>
  nn::Sequential c = make_net();
  cnnkit::load(c.ptr(), path);
  EXPECT_TRUE(c->parameters()[0].equal(a->parameters()[0]));
}

TEST(Serialize, OptimizerRoundTripContinuesExactly) {
  manual_seed(3);
  Tensor x = randn({8, 1, 6, 6}), y = randint(0, 3, {8});
  auto run = [&](nn::Sequential& net, optim::Optimizer& opt, int steps) {
    for (int i = 0; i < steps; ++i) {
      opt.zero_grad();
      nn::functional::cross_entropy(net->forward(x), y).backward();
      opt.step();
    }
  };
  manual_seed(4);
  nn::Sequential straight = make_net();
  optim::Adam opt_s(straight->parameters(), optim::AdamOptions(1e-2).amsgrad(true));
  run(straight, opt_s, 6);

  manual_seed(4);
  nn::Sequential first = make_net();
  optim::Adam opt_f(first->parameters(), optim::AdamOptions(1e-2).amsgrad(true));
  run(first, opt_f, 3);
  cnnkit::save(first, temp("resume_model.pt"));
  cnnkit::save(opt_f, temp("resume_opt.pt"));

  nn::Sequential second = make_net();
  optim::Adam opt_r(second->parameters(), optim::AdamOptions(1e-2).amsgrad(true));
  cnnkit::load(second, temp("resume_model.pt"));
  cnnkit::load(opt_r, temp("resume_opt.pt"));
  run(second, opt_r, 3);
  for (size_t i = 0; i < straight->parameters().size(); ++i)
    EXPECT_TRUE(straight->parameters()[i].equal(second->parameters()[i])) << "parameter " << i;
}

TEST(Serialize, TensorsAndLists) {
  Tensor t = arange(6, kFloat).view({2, 3}).t();  // non-contiguous is fine
  cnnkit::save(t, temp("t.pt"));
  Tensor back;
  cnnkit::load(back, temp("t.pt"));
  EXPECT_TRUE(back.equal(t.contiguous()));
  std::vector<Tensor> list{ones({2}), arange(3), zeros({1, 1}, kByte)};
  cnnkit::save(list, temp("list.pt"));
  std::vector<Tensor> got;
  cnnkit::load(got, temp("list.pt"));
  ASSERT_EQ(got.size(), 3U);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].dtype(), list[i].dtype());
    EXPECT_TRUE(got[i].equal(list[i]));
  }
}

TEST(Serialize, WrongKindsOtherModelsAndCorruptFilesNameTheFile) {
  nn::Sequential net = make_net();
  optim::SGD opt(net->parameters(), optim::SGDOptions(0.1).momentum(0.9));
  cnnkit::save(net, temp("k_module.pt"));
  cnnkit::save(opt, temp("k_opt.pt"));
  cnnkit::save(ones({2}), temp("k_tensor.pt"));
  Tensor t;
  std::vector<Tensor> ts;
  EXPECT_NE(error_of([&] { cnnkit::load(net, temp("k_opt.pt")); }).find("holds a saved optimizer, not a module"),
            std::string::npos);
  EXPECT_NE(error_of([&] { cnnkit::load(opt, temp("k_module.pt")); }).find("holds a saved module, not a optimizer"),
            std::string::npos);
  EXPECT_NE(error_of([&] { cnnkit::load(ts, temp("k_tensor.pt")); }).find("holds a saved tensor, not a tensors"),
            std::string::npos);
  nn::Linear other(3, 3);
  EXPECT_NE(error_of([&] { cnnkit::load(other, temp("k_module.pt")); }).find("k_module.pt"), std::string::npos);
  {
    std::ofstream f(temp("garbage.pt"), std::ios::binary);
    f << "PK\x03\x04 this is a zip archive, as torch.save writes";
  }
  EXPECT_NE(error_of([&] { cnnkit::load(t, temp("garbage.pt")); }).find("garbage.pt"), std::string::npos);
  EXPECT_NE(error_of([&] { cnnkit::load(t, temp("missing.pt")); }).find("missing.pt"), std::string::npos);
}
