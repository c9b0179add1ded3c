// The optimiser base: parameter groups, zero_grad, and the flat state dict with PyTorch's
// names ("param_groups.<g>.<option>", "state.<i>.<name>"). The update rules live in one
// file per optimiser; this file knows no formula.
#include "cnnkit/optim/optimizer.h"

#include <cmath>
#include <cstring>
#include <experimental/simd>
#include <set>
#include <sstream>

#include "cnnkit/autograd/grad_mode.h"
#include "optim/optim_internal.h"

namespace cnnkit {
namespace optim {

// ---- options and groups ------------------------------------------------------------------

double OptimizerOptions::get_momentum() const {
  CNNKIT_CHECK(false, "this optimizer has no momentum (only SGD, RMSprop, Adam and AdamW do)");
}
void OptimizerOptions::set_momentum(double) {
  CNNKIT_CHECK(false, "this optimizer has no momentum (only SGD, RMSprop, Adam and AdamW do)");
}

OptimizerParamGroup::OptimizerParamGroup(std::vector<Tensor> params) : params_(std::move(params)) {}

OptimizerParamGroup::OptimizerParamGroup(std::vector<Tensor> params, std::unique_ptr<OptimizerOptions> options)
    : params_(std::move(params)), options_(std::move(options)) {}

OptimizerParamGroup::OptimizerParamGroup(const OptimizerParamGroup& other)
    : params_(other.params_),
      options_(other.options_ ? other.options_->clone() : nullptr),
      initial_lr_(other.initial_lr_) {}

OptimizerParamGroup& OptimizerParamGroup::operator=(const OptimizerParamGroup& other) {
  if (this != &other) {
    params_ = other.params_;
    options_ = other.options_ ? other.options_->clone() : nullptr;
    initial_lr_ = other.initial_lr_;
  }
  return *this;
}

OptimizerOptions& OptimizerParamGroup::options() {
  CNNKIT_CHECK(options_ != nullptr, "OptimizerParamGroup: this group has no options yet");
  return *options_;
}
const OptimizerOptions& OptimizerParamGroup::options() const {
  CNNKIT_CHECK(options_ != nullptr, "OptimizerParamGroup: this group has no options yet");
  return *options_;
}
void OptimizerParamGroup::set_options(std::unique_ptr<OptimizerOptions> options) { options_ = std::move(options); }

double OptimizerParamGroup::initial_lr() const {
  CNNKIT_CHECK(initial_lr_.has_value(), "OptimizerParamGroup: no initial_lr (no scheduler attached yet)");
  return *initial_lr_;
}

// ---- optimizer ---------------------------------------------------------------------------

Optimizer::Optimizer(std::vector<OptimizerParamGroup> param_groups, std::unique_ptr<OptimizerOptions> defaults)
    : defaults_(std::move(defaults)) {
  CNNKIT_CHECK(defaults_ != nullptr, "Optimizer: defaults must not be null");
  for (const auto& group : param_groups) add_param_group(group);
}

Optimizer::Optimizer(std::vector<Tensor> parameters, std::unique_ptr<OptimizerOptions> defaults)
    : Optimizer(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(parameters))}, std::move(defaults)) {}

void Optimizer::add_param_group(const OptimizerParamGroup& param_group) {
  std::set<const void*> seen;
  for (const auto& group : param_groups_)
    for (const auto& p : group.params()) seen.insert(key_of(p));
  for (size_t i = 0; i < param_group.params().size(); ++i) {
    const Tensor& p = param_group.params()[i];
    CNNKIT_CHECK(p.defined(), "optimizer: parameter ", i, " of the new group is an undefined Tensor");
    CNNKIT_CHECK(p.is_leaf(), "optimizer: can't optimize a non-leaf Tensor (parameter ", i, " of the new group)");
    CNNKIT_CHECK(seen.insert(key_of(p)).second,
                 "optimizer: some parameters appear in more than one parameter group (parameter ", i,
                 " of the new group)");
  }
  OptimizerParamGroup group(param_group.params(),
                            param_group.has_options() ? param_group.options().clone() : defaults_->clone());
  group.set_initial_lr(param_group.has_initial_lr() ? std::optional<double>(param_group.initial_lr())
                                                    : std::nullopt);
  param_groups_.push_back(std::move(group));
}

void Optimizer::add_parameters(const std::vector<Tensor>& parameters) {
  if (param_groups_.empty()) {
    add_param_group(OptimizerParamGroup(parameters));
    return;
  }
  std::set<const void*> seen;
  for (const auto& group : param_groups_)
    for (const auto& p : group.params()) seen.insert(key_of(p));
  for (const Tensor& p : parameters) {
    CNNKIT_CHECK(p.defined() && p.is_leaf(), "optimizer: add_parameters needs defined leaf tensors");
    CNNKIT_CHECK(seen.insert(key_of(p)).second, "optimizer: parameter added twice");
  }
  auto& params = param_groups_[0].params();
  params.insert(params.end(), parameters.begin(), parameters.end());
}

void Optimizer::zero_grad(bool set_to_none) {
  for (auto& group : param_groups_) {
    for (auto& p : group.params()) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      if (set_to_none) {
        p.mutable_grad() = Tensor();
        continue;
      }
      // LibTorch: detach from any graph, then zero in place.
      if (g.grad_fn()) {
        p.mutable_grad().detach_();
      } else {
        p.mutable_grad().set_requires_grad(false);
      }
      Tensor z = p.grad();
      if (z.is_contiguous()) {
        std::memset(z.data_ptr(), 0, z.nbytes());
      } else {
        NoGradGuard no_grad;
        z.zero_();
      }
    }
  }
}

std::vector<Tensor> Optimizer::parameters() const {
  std::vector<Tensor> out;
  for (const auto& group : param_groups_) out.insert(out.end(), group.params().begin(), group.params().end());
  return out;
}

size_t Optimizer::size() const {
  size_t n = 0;
  for (const auto& group : param_groups_) n += group.params().size();
  return n;
}

Tensor Optimizer::evaluate_closure(const LossClosure& closure) {
  if (!closure) return Tensor();
  AutoGradMode enable_grad(true);
  return closure();
}

// ---- state dict --------------------------------------------------------------------------

namespace {

std::string shape_str(IntArrayRef sizes) {
  std::ostringstream os;
  os << sizes;
  return os.str();
}

// "state.12.exp_avg" -> 12; false if the key is not of that form.
bool state_index(const std::string& key, size_t& index) {
  static const std::string prefix = "state.";
  if (key.compare(0, prefix.size(), prefix) != 0) return false;
  size_t dot = key.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size()) return false;
  index = 0;
  for (size_t i = prefix.size(); i < dot; ++i) {
    if (key[i] < '0' || key[i] > '9') return false;
    index = index * 10 + static_cast<size_t>(key[i] - '0');
  }
  return true;
}

}  // namespace

StateDict Optimizer::state_dict() const {
  StateDict dict;
  size_t index = 0;
  for (size_t g = 0; g < param_groups_.size(); ++g) {
    const auto& group = param_groups_[g];
    std::string gp = "param_groups." + std::to_string(g) + ".";
    group.options().save(dict, gp);
    dict.scalars[gp + "params"] = static_cast<double>(group.params().size());
    if (group.has_initial_lr()) dict.scalars[gp + "initial_lr"] = group.initial_lr();
    for (const auto& p : group.params()) {
      auto it = state_.find(key_of(p));
      if (it != state_.end()) it->second->save(dict, "state." + std::to_string(index) + ".");
      ++index;
    }
  }
  for (auto& [key, t] : dict.tensors) t = detail::copy_tensor(t);
  return dict;
}

void Optimizer::load_state_dict(const StateDict& dict) {
  // Everything is read into new objects first; the optimiser changes only at the end.
  size_t groups = 0;
  while (dict.scalars.count("param_groups." + std::to_string(groups) + ".params")) ++groups;
  CNNKIT_CHECK(groups == param_groups_.size(), "optimizer load_state_dict: the state dict has ", groups,
               " parameter groups (keys param_groups.<g>.params), the optimizer has ", param_groups_.size());

  std::vector<const Tensor*> params;
  std::vector<std::unique_ptr<OptimizerOptions>> options;
  std::vector<std::optional<double>> initial_lrs;
  for (size_t g = 0; g < groups; ++g) {
    const auto& group = param_groups_[g];
    std::string gp = "param_groups." + std::to_string(g) + ".";
    double count = dict.scalars.at(gp + "params");
    CNNKIT_CHECK(count == static_cast<double>(group.params().size()), "optimizer load_state_dict: ", gp,
                 "params: the state dict's group has ", count, " parameters, the optimizer's group has ",
                 group.params().size());
    auto opts = group.options().clone();
    opts->load(dict, gp);
    options.push_back(std::move(opts));
    auto it = dict.scalars.find(gp + "initial_lr");
    initial_lrs.push_back(it == dict.scalars.end() ? std::nullopt : std::optional<double>(it->second));
    for (const auto& p : group.params()) params.push_back(&p);
  }

  // Every state key names an existing parameter and has its shape and dtype.
  std::set<size_t> with_state;
  auto check_key = [&](const std::string& key) {
    size_t i = 0;
    CNNKIT_CHECK(state_index(key, i), "optimizer load_state_dict: unexpected key '", key, "'");
    CNNKIT_CHECK(i < params.size(), "optimizer load_state_dict: '", key, "' names parameter ", i,
                 " but the optimizer has ", params.size(), " parameters");
    with_state.insert(i);
    return i;
  };
  for (const auto& [key, t] : dict.tensors) {
    size_t i = check_key(key);
    const Tensor& p = *params[i];
    CNNKIT_CHECK(t.defined(), "optimizer load_state_dict: '", key, "' is an undefined tensor");
    CNNKIT_CHECK(t.sizes() == p.sizes(), "optimizer load_state_dict: '", key, "' has shape ",
                 shape_str(t.sizes()), " but parameter ", i, " has shape ", shape_str(p.sizes()));
    CNNKIT_CHECK(t.dtype() == p.dtype(), "optimizer load_state_dict: '", key, "' has dtype ",
                 dtype_name(t.dtype()), " but parameter ", i, " has dtype ", dtype_name(p.dtype()));
  }
  for (const auto& [key, v] : dict.scalars) {
    if (key.compare(0, 13, "param_groups.") == 0) continue;
    check_key(key);
  }
  std::map<const void*, std::unique_ptr<OptimizerParamState>> state;
  for (size_t i : with_state) {
    auto s = make_state();
    s->load(dict, "state." + std::to_string(i) + ".");
    state[key_of(*params[i])] = std::move(s);
  }

  for (size_t g = 0; g < groups; ++g) {
    param_groups_[g].set_options(std::move(options[g]));
    param_groups_[g].set_initial_lr(initial_lrs[g]);
  }
  state_ = std::move(state);
}

// ---- helpers -------------------------------------------------------------------------------

namespace detail {

double read_scalar(const StateDict& dict, const std::string& key) {
  auto it = dict.scalars.find(key);
  CNNKIT_CHECK(it != dict.scalars.end(), "optimizer load_state_dict: missing key '", key, "'");
  return it->second;
}

bool has_tensor(const StateDict& dict, const std::string& key) { return dict.tensors.count(key) != 0; }

Tensor read_tensor(const StateDict& dict, const std::string& key) {
  auto it = dict.tensors.find(key);
  CNNKIT_CHECK(it != dict.tensors.end(), "optimizer load_state_dict: missing key '", key, "'");
  return copy_tensor(it->second);
}

Tensor copy_tensor(const Tensor& t) {
  if (!t.defined()) return t;
  Tensor src = t.is_contiguous() ? t : t.contiguous();
  Tensor out = cnnkit::empty(src.sizes(), TensorOptions(src.dtype()));
  if (out.nbytes()) std::memcpy(out.data_ptr(), src.data_ptr(), out.nbytes());
  return out;
}

Tensor full_like_param(const Tensor& p, double value) {
  Tensor out = cnnkit::empty(p.sizes(), TensorOptions(p.dtype()));
  if (value == 0.0) {
    if (out.nbytes()) std::memset(out.data_ptr(), 0, out.nbytes());
  } else {
    NoGradGuard no_grad;
    out.fill_(value);
  }
  return out;
}

void check_option(bool ok, const char* what, double value) {
  CNNKIT_CHECK(ok, "Invalid ", what, ": ", value);
}

void sqrt_(float* x, int64_t n) {
  namespace stdx = std::experimental;
  using V = stdx::native_simd<float>;
  constexpr auto width = static_cast<int64_t>(V::size());
  int64_t i = 0;
  for (; i + width <= n; i += width) stdx::sqrt(V(x + i, stdx::element_aligned)).copy_to(x + i, stdx::element_aligned);
  for (; i < n; ++i) x[i] = std::sqrt(x[i]);
}

UpdateView::UpdateView(const Tensor& param, const Tensor& grad, const char* optimizer) : param_(param) {
  CNNKIT_CHECK_TYPE(param.dtype() == kFloat, optimizer, ": parameters must be float32, got ",
                    dtype_name(param.dtype()));
  CNNKIT_CHECK_TYPE(grad.dtype() == param.dtype(), optimizer, ": gradient dtype ", dtype_name(grad.dtype()),
                    " does not match its parameter's ", dtype_name(param.dtype()));
  CNNKIT_CHECK_SHAPE(grad.sizes() == param.sizes(), optimizer, ": gradient shape ", shape_str(grad.sizes()),
                     " does not match its parameter's ", shape_str(param.sizes()));
  work_ = param.is_contiguous() ? param : copy_tensor(param);
  grad_ = grad.is_contiguous() ? grad : copy_tensor(grad);
}

void UpdateView::commit() {
  if (work_.is_same(param_)) return;
  NoGradGuard no_grad;
  param_.copy_(work_);
}

}  // namespace detail

}  // namespace optim
}  // namespace cnnkit
