// Hyperparameter search spaces: what a grid or random search varies, as config overrides
// (`--set key=value`). scikit-learn's ParameterGrid / ParameterSampler over one config key each.
//
//   namespace ms = cnnkit::model_selection;
//   std::vector<ms::SearchParam> space = {ms::parse_space("optimizer.lr=loguniform(1e-4,1e-1)"),
//                                         ms::parse_space("model.dropout=uniform(0,0.5)"),
//                                         ms::parse_space("optimizer.name=choice(sgd,adam)")};
//   for (const ms::Trial& t : ms::random_trials(space, /*n=*/20, /*seed=*/0))
//     run_with(ms::to_overrides(t));          // {"model.dropout=0.1834...", "optimizer.lr=...", ...}
//   auto grid = ms::grid_trials({ms::parse_grid("data.batch_size=32,64"),
//                                ms::parse_grid("optimizer.lr=0.1,0.01")});  // 4 trials
//
// Intended usage: the `search` verb and the C++ API parse the user's --space / --grid
// arguments here, draw the trials, and hand each trial's overrides to train::Run. Values are
// strings, as YAML scalars in a config: choice/grid values are kept as written; drawn numbers
// are printed in the shortest form that reads back to the same double (std::to_chars), so an
// override reproduces the trial exactly.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cnnkit/core/rng.h"

namespace cnnkit::model_selection {

// One config key and the distribution its values are drawn from.
struct SearchParam {
  enum class Kind {
    kLogUniform,  // a * (b/a)^u, u ~ U[0, 1): scipy.stats.loguniform(a, b); 0 < a < b
    kUniform,     // a + (b - a) u: scipy.stats.uniform(a, b - a); a < b
    kInt,         // an integer in [a, b], both included, uniformly; a <= b
    kChoice,      // one of values, uniformly (a grid's list of values is one too)
  };
  std::string key;                  // a config key path, e.g. "optimizer.lr"
  Kind kind = Kind::kChoice;
  double low = 0, high = 0;         // kLogUniform, kUniform, kInt
  std::vector<std::string> values;  // kChoice, in the order given

  // ValueError naming the key and the bounds when they break the rule of the kind.
  static SearchParam loguniform(std::string key, double a, double b);
  static SearchParam uniform(std::string key, double a, double b);
  static SearchParam integer(std::string key, int64_t a, int64_t b);  // `int(a,b)` in parse_space
  static SearchParam choice(std::string key, std::vector<std::string> values);

  // One value drawn from gen, as an override value string.
  std::string sample(Generator& gen) const;
  // "key=loguniform(1e-04,0.1)", "key=choice(sgd,adam)": how messages and logs show it.
  std::string to_string() const;
};

// One search argument, `key=dist(args)` with dist one of loguniform(a,b), uniform(a,b),
// int(a,b), choice(v1,v2,...). Values are split at commas outside brackets and quotes
// (choice([3,3],[5,5]) has two values) and trimmed. ValueError names the argument as
// "--space <arg>" and says what is wrong:
//   "--space optimizer.lr=loguniform(0,1): loguniform needs 0 < a < b".
SearchParam parse_space(const std::string& arg);

// One grid argument, `key=v1,v2,...` (split as choice's values): a kChoice parameter.
// ValueError names the argument as "--grid <arg>" (no '=', an empty value, a value twice).
SearchParam parse_grid(const std::string& arg);

// One trial: its number and (key, value) overrides, keys in ascending order.
struct Trial {
  int64_t id = 0;
  std::vector<std::pair<std::string, std::string>> params;
};

// Every combination of the parameters' values (all must be kChoice), in sklearn's
// ParameterGrid order: keys sorted, the last key varying fastest; ids 0, 1, ... in that order.
// No parameters: one trial with no overrides. ValueError if a key is given twice or a
// parameter is a distribution (a grid needs lists of values).
std::vector<Trial> grid_trials(const std::vector<SearchParam>& grid);

// n trials (ids 0..n-1) with one value per parameter, drawn independently (sklearn's
// ParameterSampler with distributions; a kChoice parameter is a uniform pick). Trial i draws
// from Generator(mix64(mix64(seed) ^ i)), keys in ascending order, so trial i is the same
// whatever n is: asking for more trials keeps the first ones. ValueError if a key is given
// twice or n < 0.
std::vector<Trial> random_trials(const std::vector<SearchParam>& space, int64_t n, uint64_t seed);

// The trial's overrides as "key=value" strings, for RunConfig's --set.
std::vector<std::string> to_overrides(const Trial& trial);

}  // namespace cnnkit::model_selection
