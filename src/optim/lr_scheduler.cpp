// Every LR scheduler: PyTorch 1.13's torch/optim/lr_scheduler.py transcribed formula by
// formula (same operation order, in double) so the lr sequences agree to rounding. The
// chainable get_lrs() reads the optimiser's current lrs, as PyTorch's get_lr() does; the
// closed forms are only used when SequentialLR restarts a scheduler at a milestone.
#include "cnnkit/optim/lr_scheduler.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

namespace cnnkit {
namespace optim {

namespace {

constexpr double kPi = 3.141592653589793;  // math.pi

std::string key(const std::string& prefix, const std::string& name) { return prefix + name; }
std::string key(const std::string& prefix, const std::string& name, size_t i) {
  return prefix + name + "." + std::to_string(i);
}

double read(const StateDict& dict, const std::string& k) {
  auto it = dict.scalars.find(k);
  CNNKIT_CHECK(it != dict.scalars.end(), "scheduler load_state_dict: missing key '", k, "'");
  return it->second;
}

// The values stored under "<prefix><name>.0", ".1", ...; exactly `expected` of them.
std::vector<double> read_list(const StateDict& dict, const std::string& prefix, const std::string& name,
                              size_t expected) {
  std::vector<double> out;
  while (dict.scalars.count(key(prefix, name, out.size()))) out.push_back(dict.scalars.at(key(prefix, name, out.size())));
  CNNKIT_CHECK(out.size() == expected, "scheduler load_state_dict: '", prefix, name, "' has ", out.size(),
               " values (keys ", prefix, name, ".<g>), the optimizer has ", expected, " parameter groups");
  return out;
}

// Python's floor modulo (the sign follows the divisor).
int64_t py_mod(int64_t a, int64_t b) {
  int64_t r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

// LibTorch passes factor and min_lr as float; widening through the shortest decimal that
// round-trips (0.1f -> "0.1" -> 0.1) gives the double a Python caller would have written.
double widen(float f) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), f);
  double d = 0;
  std::from_chars(buf, res.ptr, d);
  return d;
}

}  // namespace

// ---- LRScheduler ---------------------------------------------------------------------------

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
  // PyTorch: group.setdefault('initial_lr', group['lr']); base_lrs = the initial lrs.
  for (auto& group : optimizer_.param_groups()) {
    if (!group.has_initial_lr()) group.set_initial_lr(group.options().get_lr());
    base_lrs_.push_back(group.initial_lr());
  }
}

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

void LRScheduler::step() {
  ++step_count_;
  ++last_epoch_;
  set_optimizer_lrs(get_lrs());
  last_lr_ = get_current_lrs();
}

void LRScheduler::step_to(int64_t epoch) {
  ++step_count_;
  last_epoch_ = epoch;
  set_optimizer_lrs(get_closed_form_lrs());
  last_lr_ = get_current_lrs();
}

std::vector<double> LRScheduler::get_current_lrs() const {
  std::vector<double> lrs;
  for (const auto& group : optimizer_.param_groups()) lrs.push_back(group.options().get_lr());
  return lrs;
}

void LRScheduler::set_optimizer_lrs(const std::vector<double>& lrs) {
  auto& groups = optimizer_.param_groups();
  CNNKIT_ASSERT(lrs.size() == groups.size(), "one lr per parameter group");
  for (size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(lrs[g]);
}

StateDict LRScheduler::state_dict() const {
  StateDict dict;
  save_to(dict, "");
  return dict;
}

void LRScheduler::load_state_dict(const StateDict& dict) { load_from(dict, ""); }

void LRScheduler::save_to(StateDict& dict, const std::string& prefix) const {
  dict.scalars[key(prefix, "last_epoch")] = static_cast<double>(last_epoch_);
  dict.scalars[key(prefix, "_step_count")] = static_cast<double>(step_count_);
  for (size_t g = 0; g < base_lrs_.size(); ++g) dict.scalars[key(prefix, "base_lrs", g)] = base_lrs_[g];
  for (size_t g = 0; g < last_lr_.size(); ++g) dict.scalars[key(prefix, "_last_lr", g)] = last_lr_[g];
}

void LRScheduler::load_from(const StateDict& dict, const std::string& prefix) {
  size_t groups = optimizer_.param_groups().size();
  double last_epoch = read(dict, key(prefix, "last_epoch"));
  double step_count = read(dict, key(prefix, "_step_count"));
  std::vector<double> base_lrs = read_list(dict, prefix, "base_lrs", groups);
  std::vector<double> last_lr = read_list(dict, prefix, "_last_lr", groups);
  last_epoch_ = static_cast<int64_t>(last_epoch);
  step_count_ = static_cast<int64_t>(step_count);
  base_lrs_ = std::move(base_lrs);
  last_lr_ = std::move(last_lr);
}

// ---- StepLR ------------------------------------------------------------------------------

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  CNNKIT_CHECK(step_size >= 1, "StepLR: step_size must be a positive integer, got ", step_size);
  initial_step();
}

std::vector<double> StepLR::get_lrs() {
  std::vector<double> lrs = get_current_lrs();
  if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0) return lrs;
  for (double& lr : lrs) lr = lr * gamma_;
  return lrs;
}

std::vector<double> StepLR::get_closed_form_lrs() {
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(base * std::pow(gamma_, static_cast<double>(last_epoch_ / step_size_)));
  return lrs;
}

// ---- MultiStepLR -------------------------------------------------------------------------

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(optimizer), milestones_(std::move(milestones)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
  initial_step();
}

std::vector<double> MultiStepLR::get_lrs() {
  std::vector<double> lrs = get_current_lrs();
  auto count = std::count(milestones_.begin(), milestones_.end(), last_epoch_);
  if (count == 0) return lrs;
  for (double& lr : lrs) lr = lr * std::pow(gamma_, static_cast<double>(count));
  return lrs;
}

std::vector<double> MultiStepLR::get_closed_form_lrs() {
  auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin();
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(base * std::pow(gamma_, static_cast<double>(passed)));
  return lrs;
}

// ---- ConstantLR --------------------------------------------------------------------------

ConstantLR::ConstantLR(Optimizer& optimizer, double factor, int64_t total_iters)
    : LRScheduler(optimizer), factor_(factor), total_iters_(total_iters) {
  CNNKIT_CHECK(factor <= 1.0 && factor >= 0, "Constant multiplicative factor expected to be between 0 and 1.");
  initial_step();
}

std::vector<double> ConstantLR::get_lrs() {
  std::vector<double> lrs = get_current_lrs();
  if (last_epoch_ == 0) {
    for (double& lr : lrs) lr = lr * factor_;
  } else if (last_epoch_ == total_iters_) {
    for (double& lr : lrs) lr = lr * (1.0 / factor_);
  }
  return lrs;
}

std::vector<double> ConstantLR::get_closed_form_lrs() {
  std::vector<double> lrs;
  double past = last_epoch_ >= total_iters_ ? 1.0 : 0.0;
  for (double base : base_lrs_) lrs.push_back(base * (factor_ + past * (1 - factor_)));
  return lrs;
}

// ---- LinearLR ----------------------------------------------------------------------------

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, int64_t total_iters)
    : LRScheduler(optimizer), start_factor_(start_factor), end_factor_(end_factor), total_iters_(total_iters) {
  CNNKIT_CHECK(start_factor <= 1.0 && start_factor >= 0,
               "Starting multiplicative factor expected to be between 0 and 1.");
  CNNKIT_CHECK(end_factor <= 1.0 && end_factor >= 0, "Ending multiplicative factor expected to be between 0 and 1.");
  initial_step();
}

std::vector<double> LinearLR::get_lrs() {
  std::vector<double> lrs = get_current_lrs();
  if (last_epoch_ == 0) {
    for (double& lr : lrs) lr = lr * start_factor_;
    return lrs;
  }
  if (last_epoch_ > total_iters_) return lrs;
  const double f = 1. + (end_factor_ - start_factor_) /
                            (static_cast<double>(total_iters_) * start_factor_ +
                             static_cast<double>(last_epoch_ - 1) * (end_factor_ - start_factor_));
  for (double& lr : lrs) lr = lr * f;
  return lrs;
}

std::vector<double> LinearLR::get_closed_form_lrs() {
  std::vector<double> lrs;
  double done = static_cast<double>(std::min(total_iters_, last_epoch_));
  for (double base : base_lrs_)
    lrs.push_back(base * (start_factor_ + (end_factor_ - start_factor_) * done / static_cast<double>(total_iters_)));
  return lrs;
}

// ---- ExponentialLR -----------------------------------------------------------------------

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma) : LRScheduler(optimizer), gamma_(gamma) {
  initial_step();
}

std::vector<double> ExponentialLR::get_lrs() {
  std::vector<double> lrs = get_current_lrs();
  if (last_epoch_ == 0) return lrs;
  for (double& lr : lrs) lr = lr * gamma_;
  return lrs;
}

std::vector<double> ExponentialLR::get_closed_form_lrs() {
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(base * std::pow(gamma_, static_cast<double>(last_epoch_)));
  return lrs;
}

// ---- CosineAnnealingLR -------------------------------------------------------------------

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)  // NOLINT
    : LRScheduler(optimizer), T_max_(T_max), eta_min_(eta_min) {
  CNNKIT_CHECK(T_max >= 1, "CosineAnnealingLR: T_max must be a positive integer, got ", T_max);
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lrs() {
  std::vector<double> lrs = get_current_lrs();
  const double le = static_cast<double>(last_epoch_), T = static_cast<double>(T_max_);
  if (last_epoch_ == 0) return lrs;
  if (step_count_ == 1 && last_epoch_ > 0) {
    for (size_t g = 0; g < lrs.size(); ++g)
      lrs[g] = eta_min_ + (base_lrs_[g] - eta_min_) * (1 + std::cos((le)*kPi / T)) / 2;
    return lrs;
  }
  if (py_mod(last_epoch_ - 1 - T_max_, 2 * T_max_) == 0) {
    for (size_t g = 0; g < lrs.size(); ++g)
      lrs[g] = lrs[g] + (base_lrs_[g] - eta_min_) * (1 - std::cos(kPi / T)) / 2;
    return lrs;
  }
  for (double& lr : lrs)
    lr = (1 + std::cos(kPi * le / T)) / (1 + std::cos(kPi * (le - 1) / T)) * (lr - eta_min_) + eta_min_;
  return lrs;
}

std::vector<double> CosineAnnealingLR::get_closed_form_lrs() {
  std::vector<double> lrs;
  const double le = static_cast<double>(last_epoch_), T = static_cast<double>(T_max_);
  for (double base : base_lrs_) lrs.push_back(eta_min_ + (base - eta_min_) * (1 + std::cos(kPi * le / T)) / 2);
  return lrs;
}

// ---- CosineAnnealingWarmRestarts ---------------------------------------------------------

CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(Optimizer& optimizer, int64_t T_0, int64_t T_mult,  // NOLINT
                                                         double eta_min)
    : LRScheduler(optimizer), T_0_(T_0), T_i_(T_0), T_mult_(T_mult), eta_min_(eta_min), T_cur_(-1) {
  CNNKIT_CHECK(T_0 > 0, "Expected positive integer T_0, but got ", T_0);
  CNNKIT_CHECK(T_mult >= 1, "Expected integer T_mult >= 1, but got ", T_mult);
  initial_step();
}

std::vector<double> CosineAnnealingWarmRestarts::get_lrs() {
  std::vector<double> lrs;
  for (double base : base_lrs_)
    lrs.push_back(eta_min_ + (base - eta_min_) * (1 + std::cos(kPi * T_cur_ / static_cast<double>(T_i_))) / 2);
  return lrs;
}

void CosineAnnealingWarmRestarts::step() {
  if (last_epoch_ < 0) {
    step_to(0);
    return;
  }
  T_cur_ = T_cur_ + 1;
  if (T_cur_ >= static_cast<double>(T_i_)) {
    T_cur_ = T_cur_ - static_cast<double>(T_i_);
    T_i_ = T_i_ * T_mult_;
  }
  last_epoch_ = last_epoch_ + 1;
  apply();
}

void CosineAnnealingWarmRestarts::step_to(int64_t epoch) {
  CNNKIT_CHECK(epoch >= 0, "Expected non-negative epoch, but got ", epoch);
  if (epoch >= T_0_) {
    if (T_mult_ == 1) {
      T_cur_ = static_cast<double>(epoch % T_0_);
    } else {
      const double ratio = static_cast<double>(epoch) / static_cast<double>(T_0_);
      const double tm = static_cast<double>(T_mult_);
      auto n = static_cast<int64_t>(std::log(ratio * (tm - 1) + 1) / std::log(tm));
      int64_t power = 1;
      for (int64_t k = 0; k < n; ++k) power *= T_mult_;
      T_cur_ = static_cast<double>(epoch) - static_cast<double>(T_0_ * (power - 1)) / static_cast<double>(T_mult_ - 1);
      T_i_ = T_0_ * power;
    }
  } else {
    T_i_ = T_0_;
    T_cur_ = static_cast<double>(epoch);
  }
  last_epoch_ = epoch;
  apply();
}

void CosineAnnealingWarmRestarts::apply() {
  set_optimizer_lrs(get_lrs());
  last_lr_ = get_current_lrs();
}

void CosineAnnealingWarmRestarts::save_to(StateDict& dict, const std::string& prefix) const {
  LRScheduler::save_to(dict, prefix);
  dict.scalars[key(prefix, "T_i")] = static_cast<double>(T_i_);
  dict.scalars[key(prefix, "T_cur")] = T_cur_;
}

void CosineAnnealingWarmRestarts::load_from(const StateDict& dict, const std::string& prefix) {
  double T_i = read(dict, key(prefix, "T_i")), T_cur = read(dict, key(prefix, "T_cur"));
  LRScheduler::load_from(dict, prefix);
  T_i_ = static_cast<int64_t>(T_i);
  T_cur_ = T_cur;
}

// ---- SequentialLR ------------------------------------------------------------------------

SequentialLR::SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<int64_t> milestones)
    : LRScheduler(optimizer), schedulers_(std::move(schedulers)), milestones_(std::move(milestones)) {
  CNNKIT_CHECK(!schedulers_.empty(), "SequentialLR: expects at least one scheduler");
  for (size_t i = 0; i < schedulers_.size(); ++i) {
    CNNKIT_CHECK(schedulers_[i] != nullptr, "SequentialLR: scheduler ", i, " is null");
    CNNKIT_CHECK(&schedulers_[i]->optimizer_ == &optimizer,
                 "Sequential Schedulers expects all schedulers to belong to the same optimizer, but got "
                 "schedulers at index ",
                 i, " to be different than the optimizer passed in.");
  }
  CNNKIT_CHECK(milestones_.size() == schedulers_.size() - 1,
               "Sequential Schedulers expects number of schedulers provided to be one more than the number of "
               "milestone points, but got number of schedulers ",
               schedulers_.size(), " and the number of milestones to be equal to ", milestones_.size());
  last_epoch_ = 0;
  for (auto& group : optimizer_.param_groups()) group.options().set_lr(group.initial_lr());
  for (auto& s : schedulers_) s->last_epoch_ -= 1;
  schedulers_[0]->initial_step();
  last_lr_ = schedulers_[0]->get_last_lr();
}

void SequentialLR::step() {
  ++last_epoch_;
  size_t idx = std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin();
  LRScheduler& s = *schedulers_[idx];
  if (idx > 0 && milestones_[idx - 1] == last_epoch_) {
    s.step_to(0);
  } else {
    s.step();
  }
  last_lr_ = s.get_last_lr();
}

void SequentialLR::save_to(StateDict& dict, const std::string& prefix) const {
  LRScheduler::save_to(dict, prefix);
  for (size_t i = 0; i < schedulers_.size(); ++i)
    schedulers_[i]->save_to(dict, prefix + "_schedulers." + std::to_string(i) + ".");
}

void SequentialLR::load_from(const StateDict& dict, const std::string& prefix) {
  // Validate every nested scheduler's keys before changing anything: load into a
  // throw-away check first (the reads are the only thing that can fail).
  for (size_t i = 0; i < schedulers_.size(); ++i) {
    std::string p = prefix + "_schedulers." + std::to_string(i) + ".";
    read(dict, key(p, "last_epoch"));
  }
  LRScheduler::load_from(dict, prefix);
  for (size_t i = 0; i < schedulers_.size(); ++i)
    schedulers_[i]->load_from(dict, prefix + "_schedulers." + std::to_string(i) + ".");
}

// ---- LinearWarmupLR ----------------------------------------------------------------------

LinearWarmupLR::LinearWarmupLR(Optimizer& optimizer, std::shared_ptr<LRScheduler> main, double start_factor,
                               int64_t warmup_epochs, int64_t steps_per_epoch)
    : LRScheduler(optimizer), main_(std::move(main)), steps_per_epoch_(steps_per_epoch) {
  CNNKIT_CHECK(warmup_epochs >= 1, "LinearWarmupLR: warmup_epochs must be >= 1, got ", warmup_epochs);
  CNNKIT_CHECK(steps_per_epoch >= 1, "LinearWarmupLR: steps_per_epoch must be >= 1, got ", steps_per_epoch);
  CNNKIT_CHECK(start_factor > 0 && start_factor <= 1, "LinearWarmupLR: start_factor must be in (0, 1], got ",
               start_factor);
  CNNKIT_CHECK(!main_ || &main_->optimizer_ == &optimizer,
               "LinearWarmupLR: the main scheduler drives another optimizer than the one passed in");
  warmup_steps_ = warmup_epochs * steps_per_epoch;
  // SequentialLR's constructor: back to the initial lrs, undo the main scheduler's initial
  // step, and let the warm-up take the first one (LinearLR's constructor does it).
  last_epoch_ = 0;
  for (auto& group : optimizer_.param_groups()) group.options().set_lr(group.initial_lr());
  if (main_) main_->last_epoch_ -= 1;
  warmup_ = std::make_shared<LinearLR>(optimizer, start_factor, 1.0, warmup_steps_);
  last_lr_ = warmup_->get_last_lr();
}

void LinearWarmupLR::step() {
  ++step_count_;
  ++last_epoch_;  // optimisation steps taken
  if (last_epoch_ < warmup_steps_) {
    warmup_->step();
  } else if (last_epoch_ == warmup_steps_) {
    // The milestone: SequentialLR's step(0) of the next scheduler; without one, the ramp's
    // last step (factor 1.0, chainable, so a ReduceLROnPlateau cut during it is kept).
    if (main_) main_->step_to(0);
    else warmup_->step();
  } else if (main_ && (last_epoch_ - warmup_steps_) % steps_per_epoch_ == 0) {
    main_->step();  // an epoch boundary
  }
  last_lr_ = get_current_lrs();
}

void LinearWarmupLR::save_to(StateDict& dict, const std::string& prefix) const {
  LRScheduler::save_to(dict, prefix);
  dict.scalars[key(prefix, "steps_per_epoch")] = static_cast<double>(steps_per_epoch_);
  dict.scalars[key(prefix, "warmup_steps")] = static_cast<double>(warmup_steps_);
  warmup_->save_to(dict, prefix + "_schedulers.0.");
  if (main_) main_->save_to(dict, prefix + "_schedulers.1.");
}

void LinearWarmupLR::load_from(const StateDict& dict, const std::string& prefix) {
  // Everything that can fail is checked before anything changes.
  const double spe = read(dict, key(prefix, "steps_per_epoch")), ws = read(dict, key(prefix, "warmup_steps"));
  CNNKIT_CHECK(static_cast<int64_t>(spe) == steps_per_epoch_ && static_cast<int64_t>(ws) == warmup_steps_,
               "LinearWarmupLR load_state_dict: saved with ", static_cast<int64_t>(spe), " steps per epoch and ",
               static_cast<int64_t>(ws), " warm-up steps, this one has ", steps_per_epoch_, " and ", warmup_steps_,
               " (another batch size or dataset size?)");
  read(dict, key(prefix + "_schedulers.0.", "last_epoch"));
  const bool saved_main = dict.scalars.count(key(prefix + "_schedulers.1.", "last_epoch")) > 0;
  CNNKIT_CHECK(saved_main == (main_ != nullptr), "LinearWarmupLR load_state_dict: the state ",
               saved_main ? "has" : "lacks", " a main scheduler ('", prefix, "_schedulers.1.') and this one ",
               main_ ? "has one" : "has none");
  LRScheduler::load_from(dict, prefix);
  warmup_->load_from(dict, prefix + "_schedulers.0.");
  if (main_) main_->load_from(dict, prefix + "_schedulers.1.");
}

// ---- OneCycleLR --------------------------------------------------------------------------

OneCycleLR::OneCycleLR(Optimizer& optimizer, double max_lr, int64_t total_steps, double pct_start,
                       const std::string& anneal_strategy, double div_factor, double final_div_factor,
                       bool three_phase, bool cycle_momentum, double base_momentum, double max_momentum)
    : OneCycleLR(optimizer, std::vector<double>(optimizer.param_groups().size(), max_lr), total_steps, pct_start,
                 anneal_strategy, div_factor, final_div_factor, three_phase, cycle_momentum, base_momentum,
                 max_momentum) {}

OneCycleLR::OneCycleLR(Optimizer& optimizer, std::vector<double> max_lrs, int64_t total_steps, double pct_start,
                       const std::string& anneal_strategy, double div_factor, double final_div_factor,
                       bool three_phase, bool cycle_momentum, double base_momentum, double max_momentum)
    : LRScheduler(optimizer), total_steps_(total_steps), cycle_momentum_(cycle_momentum) {
  const size_t groups = optimizer_.param_groups().size();
  CNNKIT_CHECK(total_steps > 0, "Expected positive integer total_steps, but got ", total_steps);
  CNNKIT_CHECK(pct_start >= 0 && pct_start <= 1, "Expected float between 0 and 1 pct_start, but got ", pct_start);
  CNNKIT_CHECK(anneal_strategy == "cos" || anneal_strategy == "linear",
               "anneal_strategy must by one of 'cos' or 'linear', instead got ", anneal_strategy);
  CNNKIT_CHECK(max_lrs.size() == groups, "expected ", groups, " values for max_lr, got ", max_lrs.size());
  CNNKIT_CHECK(!cycle_momentum || optimizer_.defaults().has_momentum(),
               "optimizer must support momentum with `cycle_momentum` option enabled");
  cos_ = anneal_strategy == "cos";

  const double total = static_cast<double>(total_steps);
  if (three_phase) {
    phases_ = {{pct_start * total - 1, kInitialLr, kMaxLr, kMaxMomentum, kBaseMomentum},
               {2 * pct_start * total - 2, kMaxLr, kInitialLr, kBaseMomentum, kMaxMomentum},
               {total - 1, kInitialLr, kMinLr, kMaxMomentum, kMaxMomentum}};
  } else {
    phases_ = {{pct_start * total - 1, kInitialLr, kMaxLr, kMaxMomentum, kBaseMomentum},
               {total - 1, kMaxLr, kMinLr, kBaseMomentum, kMaxMomentum}};
  }

  auto& param_groups = optimizer_.param_groups();
  for (size_t g = 0; g < groups; ++g) {
    initial_lrs_.push_back(max_lrs[g] / div_factor);
    max_lrs_.push_back(max_lrs[g]);
    min_lrs_.push_back(initial_lrs_[g] / final_div_factor);
    param_groups[g].set_initial_lr(initial_lrs_[g]);
    if (cycle_momentum_) {
      max_momentums_.push_back(max_momentum);
      base_momentums_.push_back(base_momentum);
      param_groups[g].options().set_momentum(max_momentum);
    }
  }
  base_lrs_ = initial_lrs_;
  initial_step();
}

double OneCycleLR::anchor(size_t group, Anchor a) const {
  switch (a) {
    case kInitialLr: return initial_lrs_[group];
    case kMaxLr: return max_lrs_[group];
    case kMinLr: return min_lrs_[group];
    case kMaxMomentum: return max_momentums_[group];
    case kBaseMomentum: return base_momentums_[group];
  }
  return 0;
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (cos_) {
    double cos_out = std::cos(kPi * pct) + 1;
    return end + (start - end) / 2.0 * cos_out;
  }
  return (end - start) * pct + start;
}

void OneCycleLR::step() {
  // Checked before anything moves, so a failed step leaves the scheduler as it was.
  CNNKIT_CHECK(last_epoch_ + 1 <= total_steps_, "Tried to step ", last_epoch_ + 2,
               " times. The specified number of total steps is ", total_steps_);
  LRScheduler::step();
}

std::vector<double> OneCycleLR::get_lrs() {
  std::vector<double> lrs;
  const double step_num = static_cast<double>(last_epoch_);
  auto& groups = optimizer_.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    double start_step = 0, lr = 0, momentum = 0;
    for (size_t i = 0; i < phases_.size(); ++i) {
      const Phase& phase = phases_[i];
      if (step_num <= phase.end_step || i == phases_.size() - 1) {
        double pct = (step_num - start_step) / (phase.end_step - start_step);
        lr = anneal(anchor(g, phase.start_lr), anchor(g, phase.end_lr), pct);
        if (cycle_momentum_) momentum = anneal(anchor(g, phase.start_momentum), anchor(g, phase.end_momentum), pct);
        break;
      }
      start_step = phase.end_step;
    }
    lrs.push_back(lr);
    if (cycle_momentum_) groups[g].options().set_momentum(momentum);
  }
  return lrs;
}

// ---- ReduceLROnPlateauScheduler ------------------------------------------------------------

ReduceLROnPlateauScheduler::ReduceLROnPlateauScheduler(Optimizer& optimizer, SchedulerMode mode, float factor,
                                                       int patience, double threshold, ThresholdMode threshold_mode,
                                                       int cooldown, const std::vector<float> min_lr, double eps,
                                                       bool verbose)
    : optimizer_(optimizer),
      mode_(mode),
      factor_(widen(factor)),
      patience_(patience),
      threshold_(threshold),
      threshold_mode_(threshold_mode),
      cooldown_(cooldown),
      eps_(eps),
      verbose_(verbose) {
  CNNKIT_CHECK(factor < 1.0f, "ReduceLROnPlateauScheduler: Factor should be < 1.0, got ", factor);
  const size_t groups = optimizer_.param_groups().size();
  CNNKIT_CHECK(min_lr.size() <= 1 || min_lr.size() == groups, "ReduceLROnPlateauScheduler: expected ", groups,
               " min_lrs (or one for all groups), got ", min_lr.size());
  for (size_t g = 0; g < groups; ++g)
    min_lrs_.push_back(min_lr.empty() ? 0.0 : widen(min_lr.size() == 1 ? min_lr[0] : min_lr[g]));
  best_ = mode_ == min ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}

bool ReduceLROnPlateauScheduler::is_better(double a, double best) const {
  if (mode_ == min && threshold_mode_ == rel) return a < best * (1. - threshold_);
  if (mode_ == min && threshold_mode_ == abs) return a < best - threshold_;
  if (mode_ == max && threshold_mode_ == rel) return a > best * (threshold_ + 1.);
  return a > best + threshold_;
}

void ReduceLROnPlateauScheduler::step(float metric) {
  const double current = metric;
  last_epoch_ += 1;
  if (is_better(current, best_)) {
    best_ = current;
    num_bad_epochs_ = 0;
  } else {
    num_bad_epochs_ += 1;
  }
  if (cooldown_counter_ > 0) {
    cooldown_counter_ -= 1;
    num_bad_epochs_ = 0;  // bad epochs in cooldown do not count
  }
  if (num_bad_epochs_ > patience_) {
    reduce_lr();
    cooldown_counter_ = cooldown_;
    num_bad_epochs_ = 0;
  }
  last_lr_.clear();
  for (const auto& group : optimizer_.param_groups()) last_lr_.push_back(group.options().get_lr());
}

void ReduceLROnPlateauScheduler::reduce_lr() {
  auto& groups = optimizer_.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    double old_lr = groups[g].options().get_lr();
    double new_lr = std::max(old_lr * factor_, min_lrs_[g]);
    if (old_lr - new_lr > eps_) {
      groups[g].options().set_lr(new_lr);
      if (verbose_)
        std::printf("Epoch %05lld: reducing learning rate of group %zu to %.4e.\n",
                    static_cast<long long>(last_epoch_), g, new_lr);
    }
  }
}

StateDict ReduceLROnPlateauScheduler::state_dict() const {
  StateDict dict;
  dict.scalars["best"] = best_;
  dict.scalars["num_bad_epochs"] = num_bad_epochs_;
  dict.scalars["cooldown_counter"] = cooldown_counter_;
  dict.scalars["last_epoch"] = static_cast<double>(last_epoch_);
  for (size_t g = 0; g < last_lr_.size(); ++g) dict.scalars[key("", "_last_lr", g)] = last_lr_[g];
  return dict;
}

void ReduceLROnPlateauScheduler::load_state_dict(const StateDict& dict) {
  double best = read(dict, "best"), bad = read(dict, "num_bad_epochs"), cool = read(dict, "cooldown_counter");
  double last_epoch = read(dict, "last_epoch");
  std::vector<double> last_lr;
  if (dict.scalars.count("_last_lr.0"))
    last_lr = read_list(dict, "", "_last_lr", optimizer_.param_groups().size());
  best_ = best;
  num_bad_epochs_ = static_cast<int>(bad);
  cooldown_counter_ = static_cast<int>(cool);
  last_epoch_ = static_cast<int64_t>(last_epoch);
  last_lr_ = std::move(last_lr);
}

}  // namespace optim
}  // namespace cnnkit
