// TensorDataset, map() / MapDataset (LibTorch's CRTP spelling and the runtime one), and the
// per-thread example generator.
#include <gtest/gtest.h>

#include <thread>

#include "cnnkit/data/data.h"
#include "test_util.h"

using namespace cnnkit;
namespace T = cnnkit::data::transforms;
using cnnkit::test::contains;
using cnnkit::test::error_of;

namespace {
struct Numbers : data::datasets::Dataset<Numbers> {
  int64_t n = 5;
  data::Example<> get(size_t i) override {
    Tensor x = cnnkit::empty({1, 1, 2});
    x.data_ptr<float>()[0] = static_cast<float>(i);
    x.data_ptr<float>()[1] = 1.0f;
    return {x, cnnkit::empty({}, kLong).fill_(static_cast<double>(i))};
  }
  std::optional<size_t> size() const override { return static_cast<size_t>(n); }
  std::vector<std::string> classes() const override { return {"a", "b"}; }
};
}  // namespace

TEST(TensorDataset, ExamplesAreRowViewsOfDataAndTargets) {
  Tensor x = cnnkit::empty({3, 2});
  for (int i = 0; i < 6; ++i) x.data_ptr<float>()[i] = static_cast<float>(i);
  Tensor y = cnnkit::empty({3}, kLong);
  for (int i = 0; i < 3; ++i) y.data_ptr<int64_t>()[i] = 10 + i;
  data::TensorDataset ds(x, y);
  EXPECT_EQ(ds.size(), std::optional<size_t>(3));
  auto e = ds.get(2);
  EXPECT_EQ(e.data.sizes(), IntArrayRef({2}));
  EXPECT_EQ(e.data.data_ptr<float>()[1], 5.0f);
  EXPECT_EQ(e.target.dim(), 0);
  EXPECT_EQ(e.target.item<int64_t>(), 12);
  EXPECT_FALSE(data::TensorDataset(x).get(0).target.defined());
  std::string msg = error_of([&] { ds.get(3); });
  EXPECT_TRUE(contains(msg, "index 3 out of range for a dataset of 3")) << msg;
  EXPECT_THROW(data::TensorDataset(x, cnnkit::empty({4}, kLong)), ShapeError);
  EXPECT_THROW(data::TensorDataset(Tensor(), y), ValueError);
}

TEST(MapDataset, CrtpMapChainsTransformsAndKeepsSizeAndClasses) {
  auto mapped = Numbers().map(T::Normalize<>(1.0, 2.0)).map(T::Lambda([](Tensor t) { return t.mul(10.0); }));
  EXPECT_EQ(mapped.size(), std::optional<size_t>(5));
  EXPECT_EQ(mapped.classes(), (std::vector<std::string>{"a", "b"}));
  auto e = mapped.get(3);
  EXPECT_FLOAT_EQ(e.data.data_ptr<float>()[0], (3.0f - 1.0f) / 2.0f * 10.0f);
  EXPECT_EQ(e.target.item<int64_t>(), 3);
  // an lvalue dataset is copied, so the original stays usable
  Numbers base;
  base.n = 2;
  auto copy = base.map(T::Stack<>());
  EXPECT_EQ(copy.size(), std::optional<size_t>(2));
  EXPECT_EQ(copy.get(1).data.data_ptr<float>()[0], 1.0f);
  // a transform of the whole example
  auto relabel = Numbers().map([](data::Example<> ex) {
    ex.target = cnnkit::empty({}, kLong).fill_(7);
    return ex;
  });
  EXPECT_EQ(relabel.get(0).target.item<int64_t>(), 7);
  // LibTorch's Lambda template over whole examples, and Lambda<> (deduced) over their data.
  auto shifted = Numbers().map(T::Lambda<data::Example<>>([](data::Example<> ex) {
    ex.target = cnnkit::empty({}, kLong).fill_(ex.target.item<int64_t>() + 100);
    return ex;
  }));
  EXPECT_EQ(shifted.get(3).target.item<int64_t>(), 103);
  EXPECT_EQ(shifted.get(3).data.data_ptr<float>()[0], 3.0f);
  T::Lambda<> twice([](Tensor t) { return t * 2.0; });
  EXPECT_EQ(Numbers().map(twice).get(2).data.data_ptr<float>()[0], 4.0f);
  T::Lambda<Tensor, int64_t> numel([](Tensor t) { return t.numel(); });  // Output differs from Input
  EXPECT_EQ(numel(cnnkit::empty({2, 3})), 6);
  EXPECT_THROW(T::Lambda<data::Example<>>(nullptr), ValueError);
}

TEST(MapDataset, RuntimeMapDatasetWrapsADatasetBase) {
  std::shared_ptr<data::DatasetBase> base = std::make_shared<Numbers>();
  data::MapDataset m(base, T::Compose({T::Normalize({0.0}, {0.5})}));
  EXPECT_FLOAT_EQ(m.get(2).data.data_ptr<float>()[0], 4.0f);
  EXPECT_EQ(m.size(), std::optional<size_t>(5));
  EXPECT_EQ(m.classes().size(), 2u);
  EXPECT_THROW(data::MapDataset(nullptr, T::ToTensor()), ValueError);
}

TEST(ExampleGenerator, SeededPerThreadAndOutsideALoaderFromTheDefaultGenerator) {
  data::seed_example_generator(5);
  Generator ref(5);
  EXPECT_EQ(data::example_generator().next_u32(), ref.next_u32());
  auto first_draw_in_new_thread = [] {
    uint32_t v = 0;
    std::thread t([&] { v = data::example_generator().next_u32(); });
    t.join();
    return v;
  };
  cnnkit::manual_seed(17);
  uint32_t a = first_draw_in_new_thread();
  cnnkit::manual_seed(17);
  uint32_t b = first_draw_in_new_thread();
  cnnkit::manual_seed(18);
  uint32_t c = first_draw_in_new_thread();
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

// The loader seeds before every example; the seed goes into the engine at the first draw
// after it (an example whose transforms draw nothing costs no reseeding): the draws are those
// of the last seed given, a seed given mid-stream restarts the stream, and a draw without a
// new seed goes on from the last one.
TEST(ExampleGenerator, TheLastSeedGivenDecidesTheNextDraws) {
  data::seed_example_generator(1);
  data::seed_example_generator(2);  // no draw between: 1 never reaches the engine
  Generator two(2);
  EXPECT_EQ(data::example_generator().next_u32(), two.next_u32());
  EXPECT_EQ(data::example_generator().next_u32(), two.next_u32()) << "the stream goes on from the seed";
  data::seed_example_generator(2);
  Generator again(2);
  EXPECT_EQ(data::example_generator().next_u32(), again.next_u32()) << "a new seed restarts the stream";
  data::example_generator().normal();  // leaves a spare normal for seed 2's stream
  data::seed_example_generator(3);
  Generator three(3);
  EXPECT_EQ(data::example_generator().normal(), three.normal());
  EXPECT_EQ(data::example_generator().normal(), three.normal()) << "the normal's spare belongs to seed 3";
}
