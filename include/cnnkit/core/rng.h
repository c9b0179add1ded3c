// The seeded global random generator (torch::manual_seed). A Generator is an mt19937
// stream; uniform floats take its top 24 bits and normals come from Box-Muller, so the
// same seed gives the same numbers on every platform (std:: distributions do not).
#pragma once

#include <cstdint>
#include <mutex>
#include <random>

namespace cnnkit {

class Generator {
 public:
  explicit Generator(uint64_t seed = 67280421310721ULL) { manual_seed(seed); }
  void manual_seed(uint64_t seed);
  uint64_t initial_seed() const { return seed_; }
  uint32_t next_u32() { return static_cast<uint32_t>(engine_()); }
  uint64_t next_u64() { return (static_cast<uint64_t>(next_u32()) << 32) | next_u32(); }
  float uniform() { return static_cast<float>(next_u32() >> 8) * (1.0f / 16777216.0f); }  // [0, 1)
  double uniform_double() { return static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0); }
  float normal();
  int64_t randint(int64_t low, int64_t high);  // [low, high)
  // The full state, to save in checkpoints and restore exactly.
  std::string state() const;
  void set_state(const std::string& s);
  std::mutex& mutex() { return mutex_; }

 private:
  uint64_t seed_ = 0;
  std::mt19937 engine_;
  bool has_spare_ = false;
  float spare_ = 0;
  std::mutex mutex_;
};

Generator& default_generator();
void manual_seed(uint64_t seed);

// splitmix64's finaliser: a bijective 64-bit mix, so distinct inputs give distinct seeds.
// Derives independent streams from (seed, index) pairs, e.g. Generator(mix64(mix64(seed) ^ i))
// (the DataLoader's per-example generators, a search's per-trial generators).
uint64_t mix64(uint64_t x);

}  // namespace cnnkit
