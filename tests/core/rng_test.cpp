// Generator: seeding, and state save/restore that continues the stream exactly.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cnnkit/core/error.h"
#include "cnnkit/core/rng.h"

using cnnkit::Generator;

TEST(Generator, SameSeedSameStream) {
  Generator a(7), b(7);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next_u32(), b.next_u32());
}

TEST(Generator, RestoredStateContinuesBitForBitMidBoxMullerPair) {
  Generator g(123);
  g.normal();  // leaves the second half of the pair as the spare
  const std::string saved = g.state();
  std::vector<float> expected;
  for (int i = 0; i < 9; ++i) expected.push_back(g.normal());
  Generator r(999);
  r.set_state(saved);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(r.normal(), expected[i]) << "draw " << i;
  EXPECT_EQ(r.initial_seed(), 123u);
}

TEST(Generator, MalformedStateIsAnError) {
  Generator g;
  EXPECT_THROW(g.set_state("not a state"), cnnkit::Error);
}
