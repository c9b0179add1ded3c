// Tensor::index and index_put_ against PyTorch's x[...] and x[...] = v on every case of
// tests/golden/data/indexing.safetensors (tools/golden/gen_indexing.py): integers, slices,
// None, Ellipsis, bools, int64 index tensors and bool masks, hand-picked and random mixes.
// Checked: the result's shape and values, the input gradient of out.backward(grad_out) and
// the tensor after index_put_. Indexing moves values without arithmetic (the gradient
// only sums repeated picks), so the tolerance is float rounding of those sums.
#include "cnnkit/cnnkit.h"
#include "golden_runner.h"

using namespace cnnkit;
using namespace cnnkit::test;
using indexing::Slice;
using indexing::TensorIndex;

namespace {

const Golden& golden() {
  static Golden g("indexing");
  return g;
}

std::optional<int64_t> opt(const nlohmann::json& v) {
  if (v.is_null()) return std::nullopt;
  return v.get<int64_t>();
}

std::vector<TensorIndex> subscript(const std::string& c, const nlohmann::json& items) {
  std::vector<TensorIndex> out;
  for (const auto& it : items) {
    if (it.contains("int")) {
      out.emplace_back(it["int"].get<int64_t>());
    } else if (it.contains("slice")) {
      const auto& s = it["slice"];
      out.emplace_back(Slice(opt(s[0]), opt(s[1]), opt(s[2])));
    } else if (it.contains("none")) {
      out.emplace_back(indexing::None);
    } else if (it.contains("ellipsis")) {
      out.emplace_back("...");
    } else if (it.contains("bool")) {
      out.emplace_back(it["bool"].get<int>() != 0);
    } else if (it.contains("tensor")) {
      out.emplace_back(golden().get(c, it["tensor"].get<std::string>()));
    } else {
      out.emplace_back(golden().get(c, it["mask"].get<std::string>()).to(kBool));
    }
  }
  return out;
}

class IndexingGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(IndexingGolden, MatchesTorch) {
  const std::string& c = GetParam();
  ASSERT_NE(c, "__load_error__") << "tests/golden/data/indexing.safetensors did not load";
  const nlohmann::json o = golden().options(c);
  SCOPED_TRACE(c + ": " + o.dump());
  Tensor x = golden().get(c, "input").set_requires_grad(true);
  const std::vector<TensorIndex> sub = subscript(c, o.at("items"));
  Tensor out = x.index(sub);
  Tensor expected = golden().get(c, "out");
  ASSERT_EQ(out.sizes(), expected.sizes());
  EXPECT_TRUE(allclose(out, expected, 0, 0, c + "/out"));
  if (out.numel() > 0) {
    out.backward(golden().get(c, "grad_out"));
    EXPECT_TRUE(allclose(x.grad(), golden().get(c, "grad_input"), 1e-6, 1e-6, c + "/grad_input"));
  }
  if (o.at("put").get<bool>()) {
    Tensor y = golden().get(c, "input");
    Tensor& same = y.index_put_(sub, golden().get(c, "value"));
    EXPECT_TRUE(same.is_same(y));
    EXPECT_TRUE(allclose(y, golden().get(c, "put"), 0, 0, c + "/put"));
  }
}

INSTANTIATE_TEST_SUITE_P(Torch, IndexingGolden, ::testing::ValuesIn(golden_cases("indexing")), case_test_name);

}  // namespace
