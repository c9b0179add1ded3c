// The loss, optimiser and scheduler families of a run config (families.h), and the
// builders that make the run's objects from them (train/config.h).
#include "train/families.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <numeric>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cnnkit/core/suggest.h"
#include "cnnkit/data/datasets/csv.h"
#include "cnnkit/data/datasets/image_folder.h"
#include "cnnkit/data/datasets/mnist.h"
#include "cnnkit/data/datasets/npy.h"
#include "cnnkit/data/shards.h"
#include "cnnkit/data/split.h"
#include "cnnkit/nn/modules/loss.h"
#include "cnnkit/ops/factory.h"
#include "cnnkit/optim/optim.h"

namespace cnnkit::train {

namespace {

using io::yaml::as;
using io::yaml::fail;
using io::yaml::has;
using io::yaml::YamlContext;
using Plateau = optim::ReduceLROnPlateauScheduler;
namespace fs = std::filesystem;

// ---- values: YAML <-> the options' member types -----------------------------------------

Tensor to_tensor(const std::vector<double>& v) {
  Tensor t = empty({static_cast<int64_t>(v.size())});
  for (size_t i = 0; i < v.size(); ++i) t.data_ptr<float>()[i] = static_cast<float>(v[i]);
  return t;
}

std::vector<double> to_vector(const Tensor& t) {
  std::vector<double> v;
  const Tensor c = t.contiguous();
  for (int64_t i = 0; i < c.numel(); ++i) v.push_back(c.data_ptr<float>()[i]);
  return v;
}

// An enum-like member read from and written as one of `names` (index = value).
template <class E>
struct Choice {
  std::vector<std::string_view> names;
};

template <class T>
T read_value(const YAML::Node& v, const YamlContext& ctx, const std::string& what) {
  if constexpr (std::is_same_v<T, std::tuple<double, double>>) {  // Adam's betas
    const auto b = as<std::vector<double>>(v, ctx, what);
    if (b.size() != 2) fail(v, ctx, what + ": expected two numbers [beta1, beta2], got " + io::yaml::describe(v));
    return {b[0], b[1]};
  } else if constexpr (std::is_same_v<T, Tensor>) {  // class weights
    return to_tensor(as<std::vector<double>>(v, ctx, what));
  } else if constexpr (std::is_same_v<T, std::optional<double>>) {
    return as<double>(v, ctx, what);
  } else if constexpr (std::is_same_v<T, nn::detail::loss_reduction_t>) {
    const std::string r = io::yaml::one_of_value(v, ctx, {"mean", "sum", "none"}, "reduction");
    if (r == "sum") return kSum;
    if (r == "none") return kNone;
    return kMean;
  } else {
    return as<T>(v, ctx, what);
  }
}

template <class T>
YAML::Node write_value(const T& x) {
  if constexpr (std::is_same_v<T, double>) {
    return io::yaml::num(x);
  } else if constexpr (std::is_same_v<T, std::tuple<double, double>>) {
    return io::yaml::flow_list(std::vector<double>{std::get<0>(x), std::get<1>(x)});
  } else if constexpr (std::is_same_v<T, Tensor>) {
    return x.defined() ? io::yaml::flow_list(to_vector(x)) : YAML::Node();
  } else if constexpr (std::is_same_v<T, std::optional<double>>) {
    return x ? io::yaml::num(*x) : YAML::Node();
  } else if constexpr (std::is_same_v<T, nn::detail::loss_reduction_t>) {
    return YAML::Node(std::holds_alternative<enumtype::kSum>(x) ? "sum"
                      : std::holds_alternative<enumtype::kNone>(x) ? "none" : "mean");
  } else if constexpr (std::is_same_v<T, std::vector<int64_t>> || std::is_same_v<T, std::vector<double>>) {
    return io::yaml::flow_list(x);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return x.empty() ? YAML::Node() : YAML::Node(x);  // an unset path
  } else {
    return YAML::Node(x);
  }
}

// ---- the table shape ---------------------------------------------------------------------

// map[key], or map[a][b] for a key "a.b" (a dataset's `paths.train`); a null node when absent
// or null (check with given()).
bool given(const YAML::Node& n) { return n.IsDefined() && !n.IsNull(); }
YAML::Node lookup(const YAML::Node& map, std::string_view key) {
  const size_t dot = key.find('.');
  const std::string head(key.substr(0, dot));
  if (!has(map, head)) return YAML::Node();
  const YAML::Node n = map[head];
  return dot == std::string_view::npos ? n : lookup(n, key.substr(dot + 1));
}

// One key: its name and the options member it reads and writes.
template <class O>
struct Field {
  std::string_view key;
  std::function<void(O&, const YAML::Node&, const YamlContext&)> read;
  std::function<YAML::Node(const O&)> write;  // undefined: not written (an unset weight)
};

template <class O, class Get>
Field<O> field(std::string_view key, Get get) {
  using T = std::decay_t<decltype(get(std::declval<O&>()))>;
  return {key,
          [key, get](O& o, const YAML::Node& v, const YamlContext& ctx) {
            get(o) = read_value<T>(v, ctx, "key '" + std::string(key) + "'");
          },
          [get](const O& o) { return write_value<T>(get(const_cast<O&>(o))); }};
}

template <class O, class E, class Get>
Field<O> field(std::string_view key, Choice<E> choice, Get get) {
  return {key,
          [key, choice, get](O& o, const YAML::Node& v, const YamlContext& ctx) {
            const std::string s = io::yaml::one_of_value(v, ctx, choice.names, std::string(key));
            const auto it = std::find(choice.names.begin(), choice.names.end(), s);
            get(o) = static_cast<E>(it - choice.names.begin());
          },
          [choice, get](const O& o) {
            return YAML::Node(std::string(choice.names.at(static_cast<size_t>(get(const_cast<O&>(o))))));
          }};
}

// A member of options type O under its own name: CNNKIT_FIELD(SGDOptions, momentum).
#define CNNKIT_FIELD(O, key) field<O>(#key, [](O& o) -> auto& { return o.key(); })

// One class of a family: name, default options, keys (those a config must give listed in
// `required`).
template <class Variant>
struct Entry {
  std::string_view name;
  Variant defaults;
  std::vector<std::string_view> keys, required;
  std::function<void(Variant&, const YAML::Node&, const YamlContext&)> read;
  std::function<void(const Variant&, YAML::Node&)> write;
};

template <class Variant, class O>
Entry<Variant> entry(std::string_view name, O defaults, std::vector<Field<O>> fields,
                     std::vector<std::string_view> required = {}) {
  Entry<Variant> e{name, Variant(std::move(defaults)), {}, std::move(required), {}, {}};
  for (const Field<O>& f : fields) e.keys.push_back(f.key);
  e.read = [fields](Variant& v, const YAML::Node& map, const YamlContext& ctx) {
    for (const Field<O>& f : fields)
      if (const YAML::Node n = lookup(map, f.key); given(n)) f.read(std::get<O>(v), n, ctx);
  };
  e.write = [fields](const Variant& v, YAML::Node& out) {
    for (const Field<O>& f : fields)
      if (YAML::Node n = f.write(std::get<O>(v)); n.IsDefined()) {
        const size_t dot = f.key.find('.');
        if (dot == std::string_view::npos) out[std::string(f.key)] = n;
        else out[std::string(f.key.substr(0, dot))][std::string(f.key.substr(dot + 1))] = n;
      }
  };
  return e;
}

template <class Variant>
const Entry<Variant>& find(const std::vector<Entry<Variant>>& table, std::string_view name) {
  for (const auto& e : table)
    if (e.name == name) return e;
  throw ValueError("unknown name '" + std::string(name) + "'");
}

template <class Variant>
std::vector<std::string_view> names_of(const std::vector<Entry<Variant>>& table) {
  std::vector<std::string_view> out;
  for (const auto& e : table) out.push_back(e.name);
  return out;
}

// ---- the three tables ----------------------------------------------------------------------

const std::vector<Entry<LossOptions>>& losses() {
  using namespace nn;
  using V = LossOptions;
  static const std::vector<Entry<V>> table = {
      entry<V>("CrossEntropyLoss", CrossEntropyLossOptions(),
               {CNNKIT_FIELD(CrossEntropyLossOptions, reduction), CNNKIT_FIELD(CrossEntropyLossOptions, weight),
                CNNKIT_FIELD(CrossEntropyLossOptions, ignore_index),
                CNNKIT_FIELD(CrossEntropyLossOptions, label_smoothing)}),
      entry<V>("NLLLoss", NLLLossOptions(),
               {CNNKIT_FIELD(NLLLossOptions, reduction), CNNKIT_FIELD(NLLLossOptions, weight),
                CNNKIT_FIELD(NLLLossOptions, ignore_index)}),
      entry<V>("MSELoss", MSELossOptions(), {CNNKIT_FIELD(MSELossOptions, reduction)}),
      entry<V>("L1Loss", L1LossOptions(), {CNNKIT_FIELD(L1LossOptions, reduction)}),
      entry<V>("SmoothL1Loss", SmoothL1LossOptions(),
               {CNNKIT_FIELD(SmoothL1LossOptions, reduction), CNNKIT_FIELD(SmoothL1LossOptions, beta)}),
      entry<V>("HuberLoss", HuberLossOptions(),
               {CNNKIT_FIELD(HuberLossOptions, reduction), CNNKIT_FIELD(HuberLossOptions, delta)}),
      entry<V>("BCELoss", BCELossOptions(),
               {CNNKIT_FIELD(BCELossOptions, reduction), CNNKIT_FIELD(BCELossOptions, weight)}),
      entry<V>("BCEWithLogitsLoss", BCEWithLogitsLossOptions(),
               {CNNKIT_FIELD(BCEWithLogitsLossOptions, reduction), CNNKIT_FIELD(BCEWithLogitsLossOptions, weight),
                CNNKIT_FIELD(BCEWithLogitsLossOptions, pos_weight)}),
      entry<V>("MultiLabelSoftMarginLoss", MultiLabelSoftMarginLossOptions(),
               {CNNKIT_FIELD(MultiLabelSoftMarginLossOptions, reduction),
                CNNKIT_FIELD(MultiLabelSoftMarginLossOptions, weight)}),
  };
  return table;
}

const std::vector<Entry<OptimizerOptions>>& optimizers() {
  using namespace optim;
  using V = OptimizerOptions;
  static const std::vector<Entry<V>> table = {
      entry<V>("SGD", SGDOptions(0.01),
               {CNNKIT_FIELD(SGDOptions, lr), CNNKIT_FIELD(SGDOptions, momentum), CNNKIT_FIELD(SGDOptions, dampening),
                CNNKIT_FIELD(SGDOptions, weight_decay), CNNKIT_FIELD(SGDOptions, nesterov)}),
      entry<V>("Adam", AdamOptions(),
               {CNNKIT_FIELD(AdamOptions, lr), CNNKIT_FIELD(AdamOptions, betas), CNNKIT_FIELD(AdamOptions, eps),
                CNNKIT_FIELD(AdamOptions, weight_decay), CNNKIT_FIELD(AdamOptions, amsgrad)}),
      entry<V>("AdamW", AdamWOptions(),
               {CNNKIT_FIELD(AdamWOptions, lr), CNNKIT_FIELD(AdamWOptions, betas), CNNKIT_FIELD(AdamWOptions, eps),
                CNNKIT_FIELD(AdamWOptions, weight_decay), CNNKIT_FIELD(AdamWOptions, amsgrad)}),
      entry<V>("Adagrad", AdagradOptions(),
               {CNNKIT_FIELD(AdagradOptions, lr), CNNKIT_FIELD(AdagradOptions, lr_decay),
                CNNKIT_FIELD(AdagradOptions, weight_decay), CNNKIT_FIELD(AdagradOptions, initial_accumulator_value),
                CNNKIT_FIELD(AdagradOptions, eps)}),
      entry<V>("RMSprop", RMSpropOptions(),
               {CNNKIT_FIELD(RMSpropOptions, lr), CNNKIT_FIELD(RMSpropOptions, alpha), CNNKIT_FIELD(RMSpropOptions, eps),
                CNNKIT_FIELD(RMSpropOptions, weight_decay), CNNKIT_FIELD(RMSpropOptions, momentum),
                CNNKIT_FIELD(RMSpropOptions, centered)}),
  };
  return table;
}

const std::vector<Entry<SchedulerOptions>>& schedulers() {
  using namespace optim;
  using V = SchedulerOptions;
  using Cos = CosineAnnealingLROptions;
  using Warm = CosineAnnealingWarmRestartsOptions;
  using P = ReduceLROnPlateauOptions;
  using One = OneCycleLROptions;
  static const std::vector<Entry<V>> table = {
      entry<V>("none", std::monostate{}, std::vector<Field<std::monostate>>{}),
      entry<V>("StepLR", StepLROptions(10), {CNNKIT_FIELD(StepLROptions, step_size), CNNKIT_FIELD(StepLROptions, gamma)}),
      entry<V>("MultiStepLR", MultiStepLROptions({}),
               {CNNKIT_FIELD(MultiStepLROptions, milestones), CNNKIT_FIELD(MultiStepLROptions, gamma)}, {"milestones"}),
      entry<V>("ExponentialLR", ExponentialLROptions(0.95), {CNNKIT_FIELD(ExponentialLROptions, gamma)}, {"gamma"}),
      entry<V>("CosineAnnealingLR", Cos(0), {CNNKIT_FIELD(Cos, T_max), CNNKIT_FIELD(Cos, eta_min)}),
      entry<V>("CosineAnnealingWarmRestarts", Warm(10),
               {CNNKIT_FIELD(Warm, T_0), CNNKIT_FIELD(Warm, T_mult), CNNKIT_FIELD(Warm, eta_min)}),
      entry<V>("ReduceLROnPlateau", P(),
               {field<P>("mode", Choice<P::Mode>{{"min", "max"}}, [](P& o) -> auto& { return o.mode(); }),
                CNNKIT_FIELD(P, factor), CNNKIT_FIELD(P, patience), CNNKIT_FIELD(P, threshold),
                field<P>("threshold_mode", Choice<P::ThresholdMode>{{"rel", "abs"}},
                         [](P& o) -> auto& { return o.threshold_mode(); }),
                CNNKIT_FIELD(P, cooldown), CNNKIT_FIELD(P, min_lr), CNNKIT_FIELD(P, eps)}),
      entry<V>("LinearLR", LinearLROptions(),
               {CNNKIT_FIELD(LinearLROptions, start_factor), CNNKIT_FIELD(LinearLROptions, end_factor),
                CNNKIT_FIELD(LinearLROptions, total_iters)}),
      entry<V>("OneCycleLR", One(0, 0),
               {CNNKIT_FIELD(One, max_lr), CNNKIT_FIELD(One, pct_start), CNNKIT_FIELD(One, anneal_strategy),
                CNNKIT_FIELD(One, div_factor), CNNKIT_FIELD(One, final_div_factor), CNNKIT_FIELD(One, three_phase),
                CNNKIT_FIELD(One, cycle_momentum), CNNKIT_FIELD(One, base_momentum), CNNKIT_FIELD(One, max_momentum)}),
  };
  return table;
}

// A path under `data.paths`: field<NpySource>("paths.train_images", ...).
#define CNNKIT_PATH(O, key) field<O>("paths." #key, [](O& o) -> auto& { return o.key(); })

const std::vector<Entry<DatasetSource>>& datasets() {
  using V = DatasetSource;
  using Label = data::datasets::CIFAR100::Label;
  using Folder = ImageFolderSource;
  static const std::vector<Entry<V>> table = {
      entry<V>("fashion-mnist", IdxSource().root("/usr/share/datasets/fashion-mnist"), {CNNKIT_FIELD(IdxSource, root)}),
      entry<V>("mnist", IdxSource(), {CNNKIT_FIELD(IdxSource, root)}, {"root"}),
      entry<V>("cifar10", CifarSource(), {CNNKIT_FIELD(CifarSource, root)}, {"root"}),
      entry<V>("cifar100", CifarSource(),
               {CNNKIT_FIELD(CifarSource, root),
                field<CifarSource>("label", Choice<Label>{{"fine", "coarse"}}, [](CifarSource& o) -> auto& {
                  return o.label();
                })},
               {"root"}),
      // root, or both paths (checked in parse_dataset)
      entry<V>("image-folder", Folder(),
               {CNNKIT_FIELD(Folder, root), CNNKIT_PATH(Folder, train), CNNKIT_PATH(Folder, test)}),
      entry<V>("npy", NpySource(),
               {CNNKIT_PATH(NpySource, train_images), CNNKIT_PATH(NpySource, train_labels),
                CNNKIT_PATH(NpySource, test_images), CNNKIT_PATH(NpySource, test_labels)},
               {"paths.train_images", "paths.train_labels", "paths.test_images", "paths.test_labels"}),
      entry<V>("csv", CsvSource(),
               {CNNKIT_PATH(CsvSource, train), CNNKIT_PATH(CsvSource, test), CNNKIT_FIELD(CsvSource, label_column)},
               {"paths.train", "paths.test"}),
      entry<V>("shards", ShardsSource(),
               {CNNKIT_PATH(ShardsSource, train), CNNKIT_PATH(ShardsSource, test), CNNKIT_PATH(ShardsSource, val),
                CNNKIT_FIELD(ShardsSource, shuffle_buffer)},
               {"paths.train", "paths.test"}),
  };
  return table;
}

// ---- transforms ------------------------------------------------------------------------------

// torchvision's transforms take keyword arguments, not an options object: an entry reads them
// and calls the constructor, whose defaults are torchvision's. Keys and their checks live here
// once; the values are checked again by the transform itself.
namespace T = data::transforms;

struct TransformEntry {
  std::string_view name;
  std::vector<std::string_view> keys, required;
  std::function<T::AnyTransform(const YAML::Node&, const YamlContext&)> build;
};

T::IntList int_list(const YAML::Node& a, const char* key, const YamlContext& ctx) {
  const std::string what = std::string("key '") + key + "'";
  if (a[key].IsSequence()) return T::IntList(as<std::vector<int64_t>>(a[key], ctx, what));
  return T::IntList(as<int64_t>(a[key], ctx, what));
}

T::DoubleList double_list(const YAML::Node& a, const char* key, const YamlContext& ctx, double def) {
  if (!has(a, key)) return T::DoubleList(def);
  const std::string what = std::string("key '") + key + "'";
  if (a[key].IsSequence()) return T::DoubleList(as<std::vector<double>>(a[key], ctx, what));
  return T::DoubleList(as<double>(a[key], ctx, what));
}

std::pair<double, double> pair_of(const YAML::Node& a, const char* key, const YamlContext& ctx,
                                  std::pair<double, double> def) {
  if (!has(a, key)) return def;
  const auto v = as<std::vector<double>>(a[key], ctx, std::string("key '") + key + "'");
  if (v.size() != 2) fail(a[key], ctx, std::string("key '") + key + "': expected two numbers [lo, hi]");
  return {v[0], v[1]};
}

T::InterpolationMode interpolation(const YAML::Node& a, const YamlContext& ctx, T::InterpolationMode def) {
  if (!has(a, "interpolation")) return def;
  const std::string s = io::yaml::one_of(a, "interpolation", ctx, {"nearest", "bilinear", "NEAREST", "BILINEAR"},
                                         "interpolation", "");
  return (s == "nearest" || s == "NEAREST") ? T::InterpolationMode::NEAREST : T::InterpolationMode::BILINEAR;
}

double probability(const YAML::Node& a, const YamlContext& ctx) {
  const double p = io::yaml::get<double>(a, "p", ctx, 0.5);
  io::yaml::check_value(p >= 0 && p <= 1, a, "p", ctx, "in [0, 1]");
  return p;
}

// `fill`: a number or one per channel; absent = `def` (none for the AutoAugment family).
std::optional<std::vector<double>> fill_of(const YAML::Node& a, const YamlContext& ctx,
                                           std::optional<std::vector<double>> def) {
  if (!has(a, "fill")) return def;
  const std::vector<double> f = double_list(a, "fill", ctx, 0).values;
  if (f.empty()) fail(a["fill"], ctx, "key 'fill': expected a number or one number per channel");
  return f;
}

// torchvision's _setup_angle: a number d >= 0 (meaning [-d, d]) or a list of one of `sizes`.
T::DoubleList angle_of(const YAML::Node& a, const char* key, const YamlContext& ctx, std::vector<size_t> sizes,
                       const char* expected) {
  const T::DoubleList v = double_list(a, key, ctx, 0);
  const bool ok = v.values.size() == 1 ? v.values[0] >= 0
                                       : std::find(sizes.begin(), sizes.end(), v.values.size()) != sizes.end();
  if (!ok) fail(a[key], ctx, std::string("key '") + key + "': expected " + expected + ", got " + io::yaml::describe(a[key]));
  return v;
}

// The AutoAugment family's integer keys, with their ranges.
int64_t int_in(const YAML::Node& a, const char* key, const YamlContext& ctx, int64_t def, int64_t lo, int64_t hi,
               const std::string& rule) {
  const int64_t v = io::yaml::get<int64_t>(a, key, ctx, def);
  io::yaml::check_value(v >= lo && v < hi, a, key, ctx, rule);
  return v;
}

const std::vector<TransformEntry>& transforms() {
  using io::yaml::get;
  using A = const YAML::Node&;
  using C = const YamlContext&;
  static const std::vector<TransformEntry> table = {
      {"ToTensor", {}, {}, [](A, C) -> T::AnyTransform { return T::ToTensor(); }},
      {"Normalize", {"mean", "std"}, {"mean", "std"},
       [](A a, C ctx) -> T::AnyTransform {
         return T::Normalize<>(double_list(a, "mean", ctx, 0), double_list(a, "std", ctx, 1));
       }},
      {"RandomHorizontalFlip", {"p"}, {},
       [](A a, C ctx) -> T::AnyTransform { return T::RandomHorizontalFlip(probability(a, ctx)); }},
      {"RandomVerticalFlip", {"p"}, {},
       [](A a, C ctx) -> T::AnyTransform { return T::RandomVerticalFlip(probability(a, ctx)); }},
      {"RandomCrop", {"size", "padding", "pad_if_needed", "fill", "padding_mode"}, {"size"},
       [](A a, C ctx) -> T::AnyTransform {
         std::optional<T::IntList> padding;
         if (has(a, "padding")) padding = int_list(a, "padding", ctx);
         return T::RandomCrop(int_list(a, "size", ctx), padding, get<bool>(a, "pad_if_needed", ctx, false),
                              get<double>(a, "fill", ctx, 0.0),
                              io::yaml::one_of(a, "padding_mode", ctx, {"constant", "edge", "reflect", "symmetric"},
                                               "padding_mode", "constant"));
       }},
      {"Resize", {"size", "interpolation", "max_size", "antialias"}, {"size"},
       [](A a, C ctx) -> T::AnyTransform {
         return T::Resize(int_list(a, "size", ctx), interpolation(a, ctx, T::InterpolationMode::BILINEAR),
                          io::yaml::get_optional<int64_t>(a, "max_size", ctx),
                          io::yaml::get_optional<bool>(a, "antialias", ctx));
       }},
      {"CenterCrop", {"size"}, {"size"},
       [](A a, C ctx) -> T::AnyTransform { return T::CenterCrop(int_list(a, "size", ctx)); }},
      {"RandomRotation", {"degrees", "interpolation", "expand", "center", "fill"}, {"degrees"},
       [](A a, C ctx) -> T::AnyTransform {
         return T::RandomRotation(double_list(a, "degrees", ctx, 0), interpolation(a, ctx, T::InterpolationMode::NEAREST),
                                  get<bool>(a, "expand", ctx, false),
                                  io::yaml::get_optional<std::vector<double>>(a, "center", ctx),
                                  double_list(a, "fill", ctx, 0));
       }},
      {"RandomResizedCrop", {"size", "scale", "ratio", "interpolation"}, {"size"},
       [](A a, C ctx) -> T::AnyTransform {
         return T::RandomResizedCrop(int_list(a, "size", ctx), pair_of(a, "scale", ctx, {0.08, 1.0}),
                                     pair_of(a, "ratio", ctx, {3.0 / 4.0, 4.0 / 3.0}),
                                     interpolation(a, ctx, T::InterpolationMode::BILINEAR));
       }},
      {"ColorJitter", {"brightness", "contrast", "saturation", "hue"}, {},
       [](A a, C ctx) -> T::AnyTransform {
         return T::ColorJitter(double_list(a, "brightness", ctx, 0), double_list(a, "contrast", ctx, 0),
                               double_list(a, "saturation", ctx, 0), double_list(a, "hue", ctx, 0));
       }},
      {"GaussianNoise", {"mean", "sigma", "clip"}, {},
       [](A a, C ctx) -> T::AnyTransform {
         return T::GaussianNoise(get<double>(a, "mean", ctx, 0.0), io::yaml::non_negative(a, "sigma", ctx, 0.1),
                                 get<bool>(a, "clip", ctx, true));
       }},
      {"RandomErasing", {"p", "scale", "ratio", "value"}, {},
       [](A a, C ctx) -> T::AnyTransform {
         const auto scale = pair_of(a, "scale", ctx, {0.02, 0.33});
         const auto ratio = pair_of(a, "ratio", ctx, {0.3, 3.3});
         if (scale.first < 0 || scale.second > 1 || scale.first > scale.second)
           fail(a["scale"], ctx, "key 'scale': expected [min, max] with 0 <= min <= max <= 1");
         if (ratio.first <= 0 || ratio.first > ratio.second)
           fail(a["ratio"], ctx, "key 'ratio': expected [min, max] with 0 < min <= max");
         T::ErasingValue value = 0.0;
         if (has(a, "value") && a["value"].IsScalar() && a["value"].Scalar() == "random")
           value = T::ErasingValue("random");
         else if (has(a, "value"))
           value = T::ErasingValue(double_list(a, "value", ctx, 0).values);
         return T::RandomErasing(probability(a, ctx), scale, ratio, value);
       }},
      {"GaussianBlur", {"kernel_size", "sigma"}, {"kernel_size"},
       [](A a, C ctx) -> T::AnyTransform {
         const std::vector<int64_t> k = int_list(a, "kernel_size", ctx).values;
         if (k.empty() || k.size() > 2 || k.front() <= 0 || k.back() <= 0 || k.front() % 2 == 0 || k.back() % 2 == 0)
           fail(a["kernel_size"], ctx, "key 'kernel_size': expected an odd positive size or [kx, ky] of them");
         const std::vector<double> s = double_list(a, "sigma", ctx, 0).values;
         std::pair<double, double> sigma{0.1, 2.0};
         if (has(a, "sigma")) {
           if (s.empty() || s.size() > 2 || !(s.front() > 0) || s.front() > s.back())
             fail(a["sigma"], ctx, "key 'sigma': expected a positive number or [min, max] with 0 < min <= max");
           sigma = {s.front(), s.back()};
         }
         return T::GaussianBlur({k.front(), k.back()}, sigma);
       }},
      {"RandomAffine", {"degrees", "translate", "scale", "shear", "interpolation", "fill", "center"}, {"degrees"},
       [](A a, C ctx) -> T::AnyTransform {
         const T::DoubleList degrees = angle_of(a, "degrees", ctx, {2}, "a number >= 0 or [min, max]");
         std::optional<std::pair<double, double>> translate, scale;
         if (has(a, "translate")) {
           translate = pair_of(a, "translate", ctx, {0, 0});
           if (!(translate->first >= 0 && translate->first <= 1 && translate->second >= 0 && translate->second <= 1))
             fail(a["translate"], ctx, "key 'translate': expected [fx, fy], fractions of the width and height in [0, 1]");
         }
         if (has(a, "scale")) {
           scale = pair_of(a, "scale", ctx, {1, 1});
           if (!(scale->first > 0 && scale->second > 0))
             fail(a["scale"], ctx, "key 'scale': expected [min, max] with positive values");
         }
         std::optional<T::DoubleList> shear;
         if (has(a, "shear"))
           shear = angle_of(a, "shear", ctx, {2, 4}, "a number >= 0, [xmin, xmax] or [xmin, xmax, ymin, ymax]");
         const auto center = io::yaml::get_optional<std::vector<double>>(a, "center", ctx);
         if (center && center->size() != 2) fail(a["center"], ctx, "key 'center': expected [x, y] in pixels");
         return T::RandomAffine(degrees, translate, scale, shear, interpolation(a, ctx, T::InterpolationMode::NEAREST),
                                *fill_of(a, ctx, std::vector<double>{0.0}), center);
       }},
      {"RandomPerspective", {"distortion_scale", "p", "interpolation", "fill"}, {},
       [](A a, C ctx) -> T::AnyTransform {
         const double d = get<double>(a, "distortion_scale", ctx, 0.5);
         io::yaml::check_value(d >= 0 && d <= 1, a, "distortion_scale", ctx, "in [0, 1]");
         return T::RandomPerspective(d, probability(a, ctx), interpolation(a, ctx, T::InterpolationMode::BILINEAR),
                                     *fill_of(a, ctx, std::vector<double>{0.0}));
       }},
      // The AutoAugment family runs on uint8 images: before the pipeline's (implied) ToTensor.
      {"RandAugment", {"num_ops", "magnitude", "num_magnitude_bins", "interpolation", "fill"}, {},
       [](A a, C ctx) -> T::AnyTransform {
         const int64_t ops = int_in(a, "num_ops", ctx, 2, 0, INT64_MAX, ">= 0");
         const int64_t bins = int_in(a, "num_magnitude_bins", ctx, 31, 2, INT64_MAX, ">= 2");
         const int64_t m = int_in(a, "magnitude", ctx, 9, 0, bins,
                                  "in [0, num_magnitude_bins) = [0, " + std::to_string(bins) + ")");
         return T::RandAugment(ops, m, bins, interpolation(a, ctx, T::InterpolationMode::NEAREST),
                               fill_of(a, ctx, std::nullopt));
       }},
      {"TrivialAugmentWide", {"num_magnitude_bins", "interpolation", "fill"}, {},
       [](A a, C ctx) -> T::AnyTransform {
         return T::TrivialAugmentWide(int_in(a, "num_magnitude_bins", ctx, 31, 2, INT64_MAX, ">= 2"),
                                      interpolation(a, ctx, T::InterpolationMode::NEAREST),
                                      fill_of(a, ctx, std::nullopt));
       }},
      {"AutoAugment", {"policy", "interpolation", "fill"}, {},
       [](A a, C ctx) -> T::AnyTransform {
         const std::string policy = io::yaml::one_of(a, "policy", ctx, {"imagenet", "cifar10", "svhn"}, "policy",
                                                     "imagenet");
         return T::AutoAugment(T::parse_auto_augment_policy(policy),
                               interpolation(a, ctx, T::InterpolationMode::NEAREST), fill_of(a, ctx, std::nullopt));
       }},
      {"Grayscale", {"num_output_channels"}, {},
       [](A a, C ctx) -> T::AnyTransform {
         const int64_t c = get<int64_t>(a, "num_output_channels", ctx, 1);
         io::yaml::check_value(c == 1 || c == 3, a, "num_output_channels", ctx, "1 or 3");
         return T::Grayscale(c);
       }},
  };
  return table;
}

// Keys of a section besides the class's own: the scheduler's warm-up for all, and the metric
// ReduceLROnPlateau watches.
std::vector<std::string_view> extra_keys(std::string_view section, std::string_view name) {
  if (section != "scheduler") return {};
  if (name == "ReduceLROnPlateau") return {"warmup", "monitor"};
  return {"warmup"};
}

// ---- checking values with the classes that take them ----------------------------------------

// The key a library message is about: "Invalid learning rate: -1" -> lr. Longest key names
// first ("weight_decay" before "weight").
std::string key_of_message(const std::string& msg, const YAML::Node& section, std::vector<std::string_view> keys) {
  static const std::pair<std::string_view, std::string_view> kPhrases[] = {
      {"learning rate", "lr"}, {"epsilon", "eps"}, {"beta parameter", "betas"},
      {"Starting multiplicative", "start_factor"}, {"Ending multiplicative", "end_factor"}, {"Factor", "factor"}};
  for (const auto& [phrase, key] : kPhrases)
    if (msg.find(phrase) != std::string::npos && has(section, key)) return std::string(key);
  std::sort(keys.begin(), keys.end(), [](auto a, auto b) { return a.size() > b.size(); });
  for (std::string_view k : keys)
    if (has(section, k) && msg.find(k) != std::string::npos) return std::string(k);
  return "";
}

// Runs `check` (which builds the class on placeholder data) and reports a library error at the
// line of the key it names: "configs/x.yaml:7: optimizer SGD: key 'lr': Invalid learning rate: -1".
template <class F>
void check_with_library(const YAML::Node& section, const YamlContext& ctx, const std::string& what,
                        const std::vector<std::string_view>& keys, F check) {
  try {
    check();
  } catch (const Error& e) {
    const std::string key = key_of_message(e.what(), section, keys);
    if (key.empty()) fail(section, ctx, what + ": " + e.what());
    fail(section[key], ctx, what + ": key '" + key + "': " + e.what());
  }
}

std::unique_ptr<optim::Optimizer> make_optimizer(const OptimizerOptions& options, const std::vector<Tensor>& params) {
  return std::visit(
      [&](const auto& o) -> std::unique_ptr<optim::Optimizer> {
        using O = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<O, optim::SGDOptions>) return std::make_unique<optim::SGD>(params, o);
        else if constexpr (std::is_same_v<O, optim::AdamOptions>) return std::make_unique<optim::Adam>(params, o);
        else if constexpr (std::is_same_v<O, optim::AdamWOptions>) return std::make_unique<optim::AdamW>(params, o);
        else if constexpr (std::is_same_v<O, optim::AdagradOptions>) return std::make_unique<optim::Adagrad>(params, o);
        else return std::make_unique<optim::RMSprop>(params, o);
      },
      options);
}

// The schedule proper (nullptr for none and ReduceLROnPlateau), with T_max / max_lr resolved.
std::shared_ptr<optim::LRScheduler> make_scheduler(const SchedulerOptions& options, optim::Optimizer& opt,
                                                   int64_t main_epochs, int64_t total_steps, double lr) {
  return std::visit(
      [&](const auto& o) -> std::shared_ptr<optim::LRScheduler> {
        using O = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<O, std::monostate> || std::is_same_v<O, optim::ReduceLROnPlateauOptions>) {
          return nullptr;
        } else if constexpr (std::is_same_v<O, optim::StepLROptions>) {
          return std::make_shared<optim::StepLR>(opt, o);
        } else if constexpr (std::is_same_v<O, optim::MultiStepLROptions>) {
          return std::make_shared<optim::MultiStepLR>(opt, o);
        } else if constexpr (std::is_same_v<O, optim::ExponentialLROptions>) {
          return std::make_shared<optim::ExponentialLR>(opt, o);
        } else if constexpr (std::is_same_v<O, optim::CosineAnnealingLROptions>) {
          auto r = o;  // T_max 0: the epochs after the warm-up
          if (r.T_max() == 0) r.T_max(main_epochs);
          return std::make_shared<optim::CosineAnnealingLR>(opt, r);
        } else if constexpr (std::is_same_v<O, optim::CosineAnnealingWarmRestartsOptions>) {
          return std::make_shared<optim::CosineAnnealingWarmRestarts>(opt, o);
        } else if constexpr (std::is_same_v<O, optim::LinearLROptions>) {
          return std::make_shared<optim::LinearLR>(opt, o);
        } else {
          auto r = o;  // max_lr 0: the optimiser's lr; cycling the momentum only where there is one
          if (r.max_lr() == 0) r.max_lr(lr);
          r.total_steps(total_steps);
          r.cycle_momentum(r.cycle_momentum() && opt.defaults().has_momentum() && opt.defaults().get_momentum() > 0);
          return std::make_shared<optim::OneCycleLR>(opt, r);
        }
      },
      options);
}

// ---- reading and writing a section ------------------------------------------------------------

// `section: Name` or {name: Name, ...} -> the entry and its options read over the defaults.
template <class Variant>
std::pair<std::string, Variant> read_section(const std::vector<Entry<Variant>>& table, std::string_view section,
                                             YAML::Node n, const YamlContext& ctx, const std::string& default_name) {
  if (n.IsDefined() && n.IsScalar()) {  // loss: CrossEntropyLoss
    YAML::Node map;
    map["name"] = n;
    n = map;
  }
  if (!n.IsDefined() || n.IsNull()) n = YAML::Node(YAML::NodeType::Map);
  io::yaml::check_map(n, ctx, section);
  const std::string name = io::yaml::one_of(n, "name", ctx, names_of(table), section, default_name);
  const Entry<Variant>& e = find(table, name);
  io::yaml::check_keys(n, families::section_keys(section, name), ctx, std::string(section) + " " + name);
  for (std::string_view key : e.required)
    if (!has(n, key))
      fail(n, ctx, "missing required key '" + std::string(key) + "' in " + std::string(section) + " " + name);
  Variant options = e.defaults;
  e.read(options, n, ctx);
  return {name, options};
}

template <class Variant>
YAML::Node write_section(const std::vector<Entry<Variant>>& table, const std::string& name, const Variant& options) {
  YAML::Node out(YAML::NodeType::Map);
  out["name"] = name;
  find(table, name).write(options, out);
  return out;
}

// One example of the right kind for the loss of a task, to check the loss's values on.
void try_loss(const LossConfig& loss) {
  const Task task = task_of_loss(loss.name);
  int64_t classes = 2;
  std::visit(
      [&](const auto& o) {
        if constexpr (requires { o.weight(); })
          if (o.weight().defined()) classes = o.weight().numel();
      },
      loss.options);
  const LossFn fn = build_loss(loss);
  if (task == Task::kClassification) fn(zeros({1, classes}), zeros({1}, kLong));
  else if (task == Task::kMultiLabel) fn(zeros({1, classes}), zeros({1, classes}));
  else fn(zeros({1, 1}), zeros({1, 1}));
}

}  // namespace

// ---- families.h --------------------------------------------------------------------------------

namespace families {

const std::vector<std::string_view>& monitor_names() {
  static const std::vector<std::string_view> names = {
      "val_loss",      "val_accuracy", "val_macro_f1", "val_micro_f1", "val_subset_accuracy", "val_mse",
      "val_mae",       "val_r2",       "train_loss",   "train_accuracy", "train_macro_f1", "train_micro_f1",
      "train_subset_accuracy", "train_mse", "train_mae", "train_r2"};
  return names;
}

std::vector<std::string_view> section_keys(std::string_view section, const std::string& name) {
  std::vector<std::string_view> keys = {"name"};
  auto add = [&](const auto& table) {
    for (const auto& e : table)
      if (e.name == name) keys.insert(keys.end(), e.keys.begin(), e.keys.end());
  };
  if (section == "loss") add(losses());
  if (section == "optimizer") add(optimizers());
  if (section == "scheduler") add(schedulers());
  const auto extra = extra_keys(section, name);
  keys.insert(keys.end(), extra.begin(), extra.end());
  return keys;
}

const std::vector<std::string_view>& dataset_names() {
  static const std::vector<std::string_view> names = names_of(datasets());
  return names;
}

std::vector<std::string_view> dataset_keys(const std::string& name) {
  std::vector<std::string_view> keys;
  for (std::string_view k : find(datasets(), name).keys) {
    const std::string_view head = k.substr(0, k.find('.'));
    if (std::find(keys.begin(), keys.end(), head) == keys.end()) keys.push_back(head);
  }
  return keys;
}

std::vector<int64_t> dataset_shape(const std::string& name) {
  if (name == "fashion-mnist" || name == "mnist") return {1, 28, 28};
  if (name == "cifar10" || name == "cifar100") return {3, 32, 32};
  return {};
}

void parse_dataset(const YAML::Node& n, const YamlContext& ctx, DataConfig& out) {
  const Entry<DatasetSource>& e = find(datasets(), out.dataset);
  std::vector<std::string_view> paths;
  for (std::string_view k : e.keys)
    if (k.rfind("paths.", 0) == 0) paths.push_back(k.substr(6));
  const YAML::Node section = lookup(n, "paths");
  io::yaml::check_keys(section, paths, ctx, "data.paths (dataset " + out.dataset + ")");
  for (std::string_view key : e.required) {
    if (given(lookup(n, key))) continue;
    if (key.rfind("paths.", 0) == 0 && given(section))  // at the paths' line
      fail(section, ctx, "data.paths: dataset '" + out.dataset + "' needs key '" + std::string(key.substr(6)) + "'");
    fail(n, ctx, "data: dataset '" + out.dataset + "' needs key '" + std::string(key) + "'");
  }
  out.source = e.defaults;
  e.read(out.source, n, ctx);
  if (const auto* sh = std::get_if<ShardsSource>(&out.source))
    if (sh->shuffle_buffer() < 0)
      fail(lookup(n, "shuffle_buffer"), ctx, "key 'shuffle_buffer': must be >= 0 (0 keeps the shards' order), got " +
                                              std::to_string(sh->shuffle_buffer()));
  if (const auto* f = std::get_if<ImageFolderSource>(&out.source); f && f->root().empty())
    if (f->train().empty() || f->test().empty())
      fail(n, ctx, "data: dataset 'image-folder' needs key 'root' (with train/ and test/ below it), or both "
                   "paths.train and paths.test");
}

void write_dataset(const DataConfig& d, YAML::Node& out) {
  out["dataset"] = d.dataset;
  find(datasets(), d.dataset).write(d.source, out);
}

void parse_loss(const YAML::Node& n, const YamlContext& ctx, LossConfig& out) {
  std::tie(out.name, out.options) = read_section(losses(), "loss", n, ctx, out.name);
  const std::string what = "loss " + out.name;
  check_with_library(n, ctx, what, section_keys("loss", out.name), [&] { try_loss(out); });
}

void parse_optimizer(const YAML::Node& n, const YamlContext& ctx, OptimizerConfig& out) {
  std::tie(out.name, out.options) = read_section(optimizers(), "optimizer", n, ctx, out.name);
  check_with_library(n, ctx, "optimizer " + out.name, section_keys("optimizer", out.name),
                     [&] { make_optimizer(out.options, {zeros({1}, TensorOptions().requires_grad(true))}); });
}

void parse_scheduler(const YAML::Node& n, const YamlContext& ctx, SchedulerConfig& out) {
  out = SchedulerConfig{};
  std::tie(out.name, out.options) = read_section(schedulers(), "scheduler", n, ctx, "none");
  const std::string what = "scheduler " + out.name;
  const YAML::Node map = n.IsMap() ? n : YAML::Node(YAML::NodeType::Map);
  check_with_library(map, ctx, what, section_keys("scheduler", out.name), [&] {
    optim::SGD placeholder({zeros({1}, TensorOptions().requires_grad(true))}, optim::SGDOptions(0.1).momentum(0.9));
    if (const auto* p = std::get_if<optim::ReduceLROnPlateauOptions>(&out.options))
      optim::ReduceLROnPlateauScheduler(placeholder, *p);
    else
      make_scheduler(out.options, placeholder, 1, 1, 0.1);
  });
  if (has(map, "monitor")) out.monitor = io::yaml::one_of(map, "monitor", ctx, families::monitor_names(), "monitor", out.monitor);
  YAML::Node w;  // undefined when absent (yaml-cpp's map[key] for a missing key cannot be read further)
  if (has(map, "warmup")) w = static_cast<const YAML::Node&>(map)["warmup"];
  io::yaml::check_keys(w, {"epochs", "start_factor"}, ctx, "scheduler.warmup");
  out.warmup_epochs = io::yaml::get<int64_t>(w, "epochs", ctx, 0);
  out.warmup_start_factor = io::yaml::get<double>(w, "start_factor", ctx, 0.1);
  if (out.warmup_epochs < 0) fail(w["epochs"], ctx, "key 'epochs': must be >= 0, got " + io::yaml::describe(w["epochs"]));
  if (out.warmup_epochs > 0 && (out.name == "ReduceLROnPlateau" || out.name == "OneCycleLR"))
    fail(w, ctx, "scheduler.warmup: not available with " + out.name +
                     " (SequentialLR chains epoch schedulers only; OneCycleLR has its own warm-up)");
  if (out.warmup_epochs > 0)
    check_with_library(w, ctx, "scheduler.warmup", {"start_factor"}, [&] {
      optim::SGD placeholder({zeros({1}, TensorOptions().requires_grad(true))}, optim::SGDOptions(0.1));
      optim::LinearWarmupLR(placeholder, nullptr, out.warmup_start_factor, out.warmup_epochs, 1);
    });
}

YAML::Node loss_yaml(const LossConfig& loss) { return write_section(losses(), loss.name, loss.options); }

YAML::Node optimizer_yaml(const OptimizerConfig& optimizer) {
  return write_section(optimizers(), optimizer.name, optimizer.options);
}

YAML::Node scheduler_yaml(const SchedulerConfig& s, int64_t epochs) {
  YAML::Node out = write_section(schedulers(), s.name, s.options);
  if (s.name == "CosineAnnealingLR" && out["T_max"].as<int64_t>() == 0)  // written as used
    out["T_max"] = std::max<int64_t>(1, epochs - s.warmup_epochs);
  if (s.name == "ReduceLROnPlateau") out["monitor"] = s.monitor;
  if (s.warmup_epochs > 0) {
    out["warmup"]["epochs"] = s.warmup_epochs;
    out["warmup"]["start_factor"] = io::yaml::num(s.warmup_start_factor);
  }
  return out;
}

}  // namespace families

// ---- config.h: the options' common values and the builders -------------------------------------

std::string describe_optimizer(const RunConfig& cfg) {
  // The name, lr, and every argument that differs from the optimiser's defaults.
  const OptimizerConfig& o = cfg.optimizer;
  const YAML::Node given = families::optimizer_yaml(o);
  const YAML::Node defaults = write_section(optimizers(), o.name, find(optimizers(), o.name).defaults);
  std::string s = o.name + " lr " + given["lr"].Scalar();
  for (auto it = given.begin(); it != given.end(); ++it) {
    const std::string key = it->first.Scalar();
    if (key == "name" || key == "lr") continue;
    YAML::Emitter a, b;
    a << YAML::Flow << it->second;
    b << YAML::Flow << defaults[key];
    if (std::string(a.c_str()) == b.c_str()) continue;
    s += " " + key;
    if (it->second.IsScalar() && it->second.Scalar() == "true") continue;  // "nesterov"
    s += " " + std::string(a.c_str());
  }
  return s;
}

double OptimizerConfig::lr() const {
  return std::visit([](const auto& o) { return o.lr(); }, options);
}

double OptimizerConfig::momentum() const {
  return std::visit([](const auto& o) { return o.has_momentum() ? o.get_momentum() : 0.0; }, options);
}

LossFn build_loss(const LossConfig& loss) {
  return std::visit(
      [&](const auto& o) -> LossFn {
        using O = std::decay_t<decltype(o)>;
        auto module = [&] {
          if constexpr (std::is_same_v<O, nn::CrossEntropyLossOptions>) return nn::CrossEntropyLoss(o);
          else if constexpr (std::is_same_v<O, nn::NLLLossOptions>) return nn::NLLLoss(o);
          else if constexpr (std::is_same_v<O, nn::MSELossOptions>) return nn::MSELoss(o);
          else if constexpr (std::is_same_v<O, nn::L1LossOptions>) return nn::L1Loss(o);
          else if constexpr (std::is_same_v<O, nn::SmoothL1LossOptions>) return nn::SmoothL1Loss(o);
          else if constexpr (std::is_same_v<O, nn::HuberLossOptions>) return nn::HuberLoss(o);
          else if constexpr (std::is_same_v<O, nn::BCELossOptions>) return nn::BCELoss(o);
          else if constexpr (std::is_same_v<O, nn::BCEWithLogitsLossOptions>) return nn::BCEWithLogitsLoss(o);
          else return nn::MultiLabelSoftMarginLoss(o);
        }();
        if (task_of_loss(loss.name) != Task::kRegression)
          return [module](const Tensor& out, const Tensor& target) mutable { return module(out, target); };
        // One regression target per example: (N) targets against a Linear(..., 1)'s (N, 1)
        // output. PyTorch would broadcast them to (N, N) with a warning; this compares them
        // element by element instead.
        return [module](const Tensor& out, const Tensor& target) mutable {
          if (out.dim() == 2 && out.size(1) == 1 && target.dim() == 1 && target.size(0) == out.size(0))
            return module(out, target.unsqueeze(1));
          return module(out, target);
        };
      },
      loss.options);
}

LossFn build_loss(const RunConfig& cfg) { return build_loss(cfg.loss); }

std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)> build_weighted_loss(const LossConfig& loss) {
  LossConfig each = loss;
  std::visit([](auto& o) { o.reduction(kNone); }, each.options);
  const LossFn per_example = build_loss(each);
  return [per_example](const Tensor& out, const Tensor& target, const Tensor& weight) {
    Tensor l = per_example(out, target);  // (N), or (N, ...) for element-wise losses
    CNNKIT_CHECK_SHAPE(l.dim() >= 1 && l.size(0) == weight.numel(), "weighted loss: ", weight.numel(),
                       " sample weights for per-example losses of shape ", l.sizes());
    if (l.dim() > 1) l = l.reshape({l.size(0), -1}).mean(1);
    const Tensor w = weight.reshape({-1}).to(l.scalar_type());
    return (l * w).sum() / w.sum();
  };
}

std::unique_ptr<optim::Optimizer> build_optimizer(const RunConfig& cfg, const std::vector<Tensor>& params) {
  return make_optimizer(cfg.optimizer.options, params);
}

std::shared_ptr<optim::LRScheduler> build_scheduler(const RunConfig& cfg, optim::Optimizer& opt,
                                                    int64_t steps_per_epoch) {
  const SchedulerConfig& s = cfg.scheduler;
  const int64_t warm = s.warmup_epochs;
  // OneCycleLR warms up itself (pct_start); a second ramp before it would be a silent no-op
  // or a double warm-up, so say so. (The config parser rejects it too; this guards configs
  // built in code.)
  CNNKIT_CHECK(warm == 0 || s.name != "OneCycleLR", cfg.source,
               ": scheduler.warmup cannot be combined with OneCycleLR, which has its own warm-up (pct_start)");
  if (warm > 0 || s.name == "OneCycleLR")
    CNNKIT_CHECK(steps_per_epoch > 0, cfg.source, ": ", warm > 0 ? "scheduler.warmup" : "OneCycleLR",
                 " steps per batch and needs the number of batches per epoch, got ", steps_per_epoch);
  // The schedule proper, in epochs, as PyTorch code writes it; it starts after the warm-up
  // (CosineAnnealingLR's default T_max is the epochs left then).
  std::shared_ptr<optim::LRScheduler> main = make_scheduler(
      s.options, opt, std::max<int64_t>(1, cfg.epochs - warm), cfg.epochs * steps_per_epoch, cfg.optimizer.lr());
  if (warm == 0) return main;  // nullptr for none / ReduceLROnPlateau
  // The warm-up ramps per optimisation step from start_factor * lr to lr over `warm`
  // epochs; the schedule then runs on epoch boundaries. At every epoch boundary the lr is
  // PyTorch's SequentialLR([LinearLR(start_factor, total_iters=warm), main], [warm]) stepped
  // per epoch. Stepped per batch (SchedulerConfig::per_batch()).
  return std::make_shared<optim::LinearWarmupLR>(opt, main, s.warmup_start_factor, warm, steps_per_epoch);
}

std::shared_ptr<optim::ReduceLROnPlateauScheduler> build_plateau_scheduler(const RunConfig& cfg,
                                                                           optim::Optimizer& opt) {
  const auto* p = std::get_if<optim::ReduceLROnPlateauOptions>(&cfg.scheduler.options);
  return p ? std::make_shared<optim::ReduceLROnPlateauScheduler>(opt, *p) : nullptr;
}


// ---- datasets and transforms from their sections ------------------------------------------------

namespace {

// An image-folder split's directory: paths.train / paths.test, else root/train, root/test.
std::string folder_of(const ImageFolderSource& s, bool train) {
  const std::string& given = train ? s.train() : s.test();
  return given.empty() ? (fs::path(s.root()) / (train ? "train" : "test")).lexically_normal().string() : given;
}

data::datasets::CsvOptions csv_options(const RunConfig& cfg, const CsvSource& s,
                                       const std::vector<std::string>& classes) {
  return data::datasets::CsvOptions().target_column(s.label_column()).task(task_of(cfg)).classes(classes).allow_non_finite(
      cfg.data.clean);
}

}  // namespace

namespace families {

std::shared_ptr<data::DatasetBase> open_dataset(const RunConfig& cfg, bool train, const std::vector<std::string>& classes) {
  namespace D = data::datasets;
  using Ptr = std::shared_ptr<data::DatasetBase>;
  const DataConfig& d = cfg.data;
  const auto mode = train ? D::MNIST::Mode::kTrain : D::MNIST::Mode::kTest;
  const auto cifar_mode = train ? D::CIFAR10::Mode::kTrain : D::CIFAR10::Mode::kTest;
  return std::visit(
      [&](const auto& s) -> Ptr {
        using S = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<S, IdxSource>) {
          if (d.dataset == "fashion-mnist") return std::make_shared<D::FashionMNIST>(s.root(), mode);
          return std::make_shared<D::MNIST>(s.root(), mode);
        } else if constexpr (std::is_same_v<S, CifarSource>) {
          if (d.dataset == "cifar100") return std::make_shared<D::CIFAR100>(s.root(), cifar_mode, s.label());
          return std::make_shared<D::CIFAR10>(s.root(), cifar_mode);
        } else if constexpr (std::is_same_v<S, ImageFolderSource>) {
          return std::make_shared<D::ImageFolder>(folder_of(s, train), D::ImageFolderOptions().classes(classes));
        } else if constexpr (std::is_same_v<S, ShardsSource>) {
          // The whole split in the shards' order (every rank's view); build_datasets opens the
          // training stream itself, shuffled and split over the ranks.
          return std::make_shared<data::ShardDataset>(train ? s.train() : s.test());
        } else if constexpr (std::is_same_v<S, NpySource>) {
          const auto o = D::NpyOptions().task(task_of(cfg)).images(true).allow_non_finite(d.clean);
          return train ? std::make_shared<D::NpyDataset>(s.train_images(), s.train_labels(), o)
                       : std::make_shared<D::NpyDataset>(s.test_images(), s.test_labels(), o);
        } else {
          const std::string& file = train ? s.train() : s.test();
          auto csv = std::make_shared<D::CsvDataset>(file, csv_options(cfg, s, classes));
          // Rows of pixels -> images (C, H, W); a row of the wrong length fails here, not mid-run.
          const std::vector<int64_t> shape = d.image_shape;
          int64_t pixels = 1;
          for (int64_t n : shape) pixels *= n;
          CNNKIT_CHECK(csv->features().size(1) == pixels, "data: '", fs::path(file).lexically_normal().string(),
                       "' has ", csv->features().size(1), " feature columns per row, but image_shape ",
                       IntArrayRef(shape), " needs ", pixels);
          return std::make_shared<data::MapDataset>(csv, [shape](Tensor x) { return x.reshape(shape); });
        }
      },
      d.source);
}

std::shared_ptr<data::DatasetBase> first_n(std::shared_ptr<data::DatasetBase> ds, int64_t n) {
  const size_t size = ds->size().value_or(0);
  if (n <= 0 || static_cast<size_t>(n) >= size) return ds;
  std::vector<size_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), size_t{0});
  return std::make_shared<data::Subset>(std::move(ds), std::move(idx));
}

std::vector<std::string> training_classes(const RunConfig& cfg) {
  std::error_code ec;
  if (const auto* f = std::get_if<ImageFolderSource>(&cfg.data.source))
    if (fs::is_directory(folder_of(*f, true), ec)) return data::datasets::find_classes(folder_of(*f, true));
  if (const auto* c = std::get_if<CsvSource>(&cfg.data.source))
    if (task_of(cfg) == Task::kClassification && fs::is_regular_file(c->train(), ec))
      return data::datasets::CsvDataset(c->train(), csv_options(cfg, *c, {})).classes();
  return {};
}

}  // namespace families

data::transforms::AnyTransform build_transform(const TransformSpec& spec, const std::string& file) {
  const YamlContext ctx{file};
  const YAML::Node a = io::yaml::node_of(spec.args);
  const std::string where = (file.empty() ? std::string("<yaml>") : file) +
                            (spec.line >= 0 ? ":" + std::to_string(spec.line + 1) : "");
  const auto& table = transforms();
  const auto e = std::find_if(table.begin(), table.end(), [&](const TransformEntry& t) { return t.name == spec.name; });
  if (e == table.end()) {
    std::vector<std::string_view> names;
    for (const TransformEntry& t : table) names.push_back(t.name);
    std::string msg = where + ": unknown transform '" + spec.name + "' (one of: " + join_capped(names, 100) + ")";
    const std::string hint = did_you_mean(spec.name, names);
    throw ValueError(msg + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
  }
  const std::string section = "transform " + spec.name;
  io::yaml::check_keys(a, e->keys, ctx, section);
  for (std::string_view key : e->required)  // the arguments may be empty: name the transform's line
    if (!has(a, key)) throw ValueError(where + ": missing required key '" + std::string(key) + "' in " + section);
  return e->build(a, ctx);
}

}  // namespace cnnkit::train
