// Anomaly detection (torch::autograd::AnomalyMode and DetectAnomalyGuard, the C++ side of
// torch.autograd.detect_anomaly): while enabled, every backward node's gradients are checked
// as the engine produces them, and the first node that returns a NaN stops the backward
// with a ValueError naming it, as PyTorch does: "Function 'SqrtBackward0' returned nan
// values in its 0th output." Without it a NaN spreads silently into every .grad().
//
//   { autograd::DetectAnomalyGuard guard; loss.backward(); }   // or AnomalyMode::set_enabled(true)
//
// It costs one pass over each gradient, so it is a debugging switch (TerminateOnNaN is the
// cheap check that training runs with). Global to the process, as PyTorch's.
#pragma once

namespace cnnkit::autograd {

struct AnomalyMode {
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

// Enables anomaly mode for its scope and restores the previous setting after.
class DetectAnomalyGuard {
 public:
  DetectAnomalyGuard();
  ~DetectAnomalyGuard();
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace cnnkit::autograd
