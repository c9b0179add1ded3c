// Global generator and the Box-Muller normal sampler.
#include "cnnkit/core/rng.h"

#include <bit>
#include <cmath>
#include <sstream>

#include "cnnkit/core/error.h"

namespace cnnkit {

uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

void Generator::manual_seed(uint64_t seed) {
  seed_ = seed;
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  engine_.seed(seq);
  has_spare_ = false;
}

float Generator::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = uniform_double(), u2 = uniform_double();
  if (u1 < 1e-300) u1 = 1e-300;
  double r = std::sqrt(-2.0 * std::log(u1)), a = 2.0 * M_PI * u2;
  spare_ = static_cast<float>(r * std::sin(a));
  has_spare_ = true;
  return static_cast<float>(r * std::cos(a));
}

int64_t Generator::randint(int64_t low, int64_t high) {
  CNNKIT_CHECK(high > low, "randint: empty range [", low, ", ", high, ")");
  uint64_t range = static_cast<uint64_t>(high - low);
  // rejection sampling keeps the distribution exactly uniform
  uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  uint64_t v;
  do { v = next_u64(); } while (v >= limit);
  return low + static_cast<int64_t>(v % range);
}

std::string Generator::state() const {
  std::ostringstream os;
  // The spare normal as its bit pattern: printed as a decimal it would lose digits, and a
  // resumed run would draw a different second half of the Box-Muller pair.
  os << seed_ << ' ' << has_spare_ << ' ' << std::bit_cast<uint32_t>(spare_) << ' ' << engine_;
  return os.str();
}

void Generator::set_state(const std::string& s) {
  // Parsed into temporaries: a malformed state leaves the generator unchanged.
  std::istringstream is(s);
  uint64_t seed = 0;
  bool has_spare = false;
  uint32_t spare_bits = 0;
  auto engine = engine_;
  is >> seed >> has_spare >> spare_bits >> engine;
  CNNKIT_CHECK(!is.fail(), "Generator::set_state: malformed generator state");
  seed_ = seed;
  has_spare_ = has_spare;
  engine_ = engine;
  spare_ = std::bit_cast<float>(spare_bits);
}

Generator& default_generator() {
  static Generator g;
  return g;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace cnnkit
