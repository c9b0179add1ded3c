// serialize::OutputArchive / InputArchive as LibTorch checkpoint code uses them: a module's
// save(archive) and load(archive) through a file, nested archives, tensors and scalars under
// keys, compatibility with cnnkit::save(module, path), and the errors that name the key and
// the file.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "cnnkit/cnnkit.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::contains;
using cnnkit::test::error_of;
using cnnkit::test::temp_path;

namespace {

nn::Sequential net() {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 4, 3)), nn::BatchNorm2d(4), nn::ReLU(), nn::Flatten(),
                        nn::Linear(4 * 6 * 6, 3));
}

bool same_state(const nn::Module& a, const nn::Module& b) {
  const auto sa = a.state_dict(), sb = b.state_dict();
  if (sa.size() != sb.size()) return false;
  for (const auto& item : sa)
    if (!sb.contains(item.key()) || !item.value().equal(sb[item.key()])) return false;
  return true;
}

}  // namespace

TEST(Archive, AModuleRoundTripsThroughAFile) {
  manual_seed(1);
  nn::Sequential a = net();
  a->forward(randn({2, 1, 8, 8}));  // batch-norm running statistics move away from 0 / 1
  serialize::OutputArchive out;
  a->save(out);
  out.write("step", int64_t{42});
  out.write("lr", 0.0125);
  out.write("nesterov", true);
  out.write("note", "after warm-up");
  out.write("ema", tensor({1.5f, 2.5f}));
  const std::string path = temp_path("archive.pt");
  out.save_to(path);

  manual_seed(2);
  nn::Sequential b = net();
  const Tensor conv_weight = b->named_parameters()["0.weight"];  // the handle an optimiser would hold
  EXPECT_FALSE(same_state(*a, *b));
  serialize::InputArchive in;
  in.load_from(path);
  b->load(in);
  EXPECT_TRUE(same_state(*a, *b));
  EXPECT_TRUE(conv_weight.equal(a->named_parameters()["0.weight"]));  // loaded in place
  int64_t step = 0;
  double lr = 0;
  bool nesterov = false;
  std::string note;
  Tensor ema;
  in.read("step", step);
  in.read("lr", lr);
  in.read("nesterov", nesterov);
  in.read("note", note);
  in("ema", ema);
  EXPECT_EQ(step, 42);
  EXPECT_EQ(lr, 0.0125);
  EXPECT_TRUE(nesterov);
  EXPECT_EQ(note, "after warm-up");
  EXPECT_EQ(ema.to_vector(), (std::vector<float>{1.5f, 2.5f}));
  // Children by their names, the parameterless ReLU and Flatten leaving none.
  EXPECT_EQ(in.keys(), (std::vector<std::string>{"0", "1", "4", "ema", "lr", "nesterov", "note", "step"}));
  serialize::InputArchive bn;
  in.read("1", bn);
  Tensor mean;
  bn.read("running_mean", mean, /*is_buffer=*/true);
  EXPECT_TRUE(mean.equal(a->named_buffers()["1.running_mean"]));
}

TEST(Archive, TheFileIsTheOneSaveWrites) {
  manual_seed(3);
  nn::Sequential a = net(), b = net(), c = net();
  const std::string saved = temp_path("saved.pt"), archived = temp_path("archived.pt");
  cnnkit::save(a, saved);
  serialize::InputArchive in;
  in.load_from(saved);
  b->load(in);
  EXPECT_TRUE(same_state(*a, *b));
  serialize::OutputArchive out;
  a->save(out);
  out.save_to(archived);
  cnnkit::load(c, archived);
  EXPECT_TRUE(same_state(*a, *c));
}

TEST(Archive, ErrorsNameTheKeyAndTheFile) {
  serialize::OutputArchive out;
  out.write("w", zeros({2, 3}));
  out.write("n", int64_t{1});
  EXPECT_TRUE(contains(error_of([&] { out.write("w", zeros({1})); }), "key 'w' was written already"));
  EXPECT_TRUE(contains(error_of([&] { out.write("a.b", zeros({1})); }), "holds a '.'"));
  const std::string path = temp_path("small.pt");
  out.save_to(path);
  serialize::InputArchive in;
  in.load_from(path);
  Tensor t = zeros({3, 2}), missing;
  EXPECT_TRUE(contains(error_of([&] { in.read("w", t); }), "'w' in " + path + " has shape [2, 3]"));
  EXPECT_TRUE(contains(error_of([&] { in.read("v", missing); }), "no such serialized tensor 'v' in " + path));
  double d = 0;
  EXPECT_TRUE(contains(error_of([&] { in.read("n", d); }), "value 'n' in " + path + " is an integer, not a double"));
  // A module whose parameters the archive lacks.
  nn::Sequential m = net();
  EXPECT_TRUE(contains(error_of([&] { m->load(in); }), "no such serialized archive '0' in " + path));
  // Not a safetensors file.
  const std::string junk = temp_path("junk.pt");
  std::ofstream(junk) << "PK\x03\x04 a zip archive";
  serialize::InputArchive bad;
  EXPECT_TRUE(contains(error_of([&] { bad.load_from(junk); }), junk));
  // A file that holds something else.
  const std::string opt = temp_path("opt.pt");
  nn::Linear lin(2, 2);
  optim::SGD sgd(lin->parameters(), optim::SGDOptions(0.1));
  cnnkit::save(sgd, opt);
  EXPECT_TRUE(contains(error_of([&] { bad.load_from(opt); }), "holds a saved optimizer, not an archive or a module"));
}
