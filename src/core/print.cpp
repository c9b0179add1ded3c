// Printing tensors the way LibTorch does (`std::cout << t`): one shared number format
// chosen from the value range (integers, fixed with 4 decimals, a common scale factor, or
// scientific), matrices column-blocked to 80 characters, higher ranks as "(i,j,.,.) ="
// slices, then "[ CPUFloatType{2,3} ]". Elements are read through the strides, so views
// print without a copy; core calls no ops.
#include <cmath>
#include <iomanip>
#include <iostream>
#include <vector>

#include "cnnkit/core/tensor.h"

namespace cnnkit {

namespace {

const char* type_string(ScalarType t) {
  switch (t) {
    case kFloat: return "CPUFloatType";
    case kLong: return "CPULongType";
    case kByte: return "CPUByteType";
    case kBool: return "CPUBoolType";
    case kDouble: return "CPUDoubleType";
  }
  return "CPUUnknownType";
}

// All elements in row-major order as doubles (exact for int64 up to 2^53).
std::vector<double> read_all(const TensorImpl& t) {
  const int64_t n = t.numel(), nd = static_cast<int64_t>(t.sizes.size());
  std::vector<double> out(static_cast<size_t>(n));
  if (n == 0) return out;
  std::vector<int64_t> idx(static_cast<size_t>(nd), 0);
  const char* base = static_cast<const char*>(t.data());
  int64_t off = 0;
  for (int64_t i = 0; i < n; ++i) {
    switch (t.dtype) {
      case kFloat: out[i] = reinterpret_cast<const float*>(base)[off]; break;
      case kLong: out[i] = static_cast<double>(reinterpret_cast<const int64_t*>(base)[off]); break;
      default: out[i] = reinterpret_cast<const uint8_t*>(base)[off]; break;
    }
    for (int64_t d = nd - 1; d >= 0; --d) {  // odometer over the strides
      off += t.strides[d];
      if (++idx[d] < t.sizes[d]) break;
      off -= t.strides[d] * t.sizes[d];
      idx[d] = 0;
    }
  }
  return out;
}

// Restores the stream's flags, precision and fill on scope exit.
struct FormatGuard {
  explicit FormatGuard(std::ostream& os) : os_(os), flags_(os.flags()), precision_(os.precision()) {}
  ~FormatGuard() {
    os_.flags(flags_);
    os_.precision(precision_);
  }
  FormatGuard(const FormatGuard&) = delete;
  FormatGuard& operator=(const FormatGuard&) = delete;

 private:
  std::ostream& os_;
  std::ios_base::fmtflags flags_;
  std::streamsize precision_;
};

struct NumberFormat {
  double scale = 1;  // values are printed divided by this
  int width = 0;
};

// Chooses one format for all values, as LibTorch's printer does: integers when every finite
// value is integral; otherwise 4 decimals, with a common power-of-ten scale when the values
// are large or small but within 5 orders of magnitude of each other, else scientific.
NumberFormat choose_format(std::ostream& os, const double* v, int64_t n) {
  NumberFormat f;
  if (n == 0) return f;
  bool int_mode = true;
  for (int64_t i = 0; i < n; ++i)
    if (std::isfinite(v[i]) && v[i] != std::ceil(v[i])) {
      int_mode = false;
      break;
    }
  int64_t first = 0;
  while (first < n && !std::isfinite(v[first])) ++first;
  double exp_min = 1, exp_max = 1;
  if (first < n) {
    double lo = std::fabs(v[first]), hi = lo;
    for (int64_t i = first; i < n; ++i) {
      const double z = std::fabs(v[i]);
      if (!std::isfinite(z)) continue;
      lo = std::min(lo, z);
      hi = std::max(hi, z);
    }
    exp_min = lo != 0 ? std::floor(std::log10(lo)) + 1 : 1;
    exp_max = hi != 0 ? std::floor(std::log10(hi)) + 1 : 1;
  }
  if (int_mode) {
    if (exp_max > 9) {
      f.width = 11;
      os << std::scientific << std::setprecision(4);
    } else {
      f.width = static_cast<int>(exp_max) + 1;
      os.unsetf(std::ios_base::floatfield);
    }
  } else if (exp_max - exp_min > 4) {
    f.width = std::fabs(exp_max) > 99 || std::fabs(exp_min) > 99 ? 12 : 11;
    os << std::scientific << std::setprecision(4);
  } else {
    if (exp_max > 5 || exp_max < 0) {
      f.width = 7;
      f.scale = std::pow(10, exp_max - 1);
    } else {
      f.width = exp_max == 0 ? 7 : static_cast<int>(exp_max) + 6;
    }
    os << std::fixed << std::setprecision(4);
  }
  return f;
}

void print_scale(std::ostream& os, double scale) {
  FormatGuard guard(os);
  os.unsetf(std::ios_base::floatfield);
  os << scale << " *\n";
}

void indent(std::ostream& os, int64_t n) {
  for (int64_t i = 0; i < n; ++i) os << ' ';
}

// A rows x cols matrix (row-major in v), split into column blocks that fit linesize. Each
// block of a split matrix starts with a "Columns i to j" line (LibTorch runs the first row
// onto that line; a line break reads better).
void print_matrix(std::ostream& os, const double* v, int64_t rows, int64_t cols, int64_t linesize, int64_t ind) {
  FormatGuard guard(os);
  const NumberFormat f = choose_format(os, v, rows * cols);
  const int64_t per_line = std::max<int64_t>(1, (linesize - ind) / (f.width + 1));
  for (int64_t first = 0; first < cols; first += per_line) {
    const int64_t last = std::min(first + per_line, cols) - 1;
    if (per_line < cols) {
      if (first != 0) os << '\n';
      indent(os, ind);
      os << "Columns " << first + 1 << " to " << last + 1 << '\n';
    }
    if (f.scale != 1) {
      indent(os, ind);
      print_scale(os, f.scale);
    }
    for (int64_t r = 0; r < rows; ++r) {
      indent(os, ind);
      for (int64_t c = first; c <= last; ++c) {
        os << std::setw(f.width) << v[r * cols + c] / f.scale << (c == last ? '\n' : ' ');
      }
    }
  }
}

}  // namespace

std::string Tensor::toString() const {
  if (!impl_) return "UndefinedType";
  return type_string(impl_->dtype);
}

void Tensor::print() const {
  if (!impl_) {
    std::cerr << "[UndefinedTensor]" << std::endl;
    return;
  }
  std::cerr << "[" << toString() << " " << sizes() << "]" << std::endl;
}

namespace {
// The dtype as c10 prints a TensorOptions' (caffe2::TypeMeta's C++ type name, checked against
// LibTorch 1.13 by tests/integration/libtorch_build): "float", "long int", not float32 or int64.
const char* c10_type_name(ScalarType t) {
  switch (t) {
    case ScalarType::Byte: return "unsigned char";
    case ScalarType::Long: return "long int";
    case ScalarType::Float: return "float";
    case ScalarType::Double: return "double";
    case ScalarType::Bool: return "bool";
  }
  return "unknown";
}
}  // namespace

// c10's format: each property, "(default)" after those never set; cnnkit tensors are always
// strided, unpinned, with no memory format of their own.
std::ostream& operator<<(std::ostream& os, const TensorOptions& o) {
  const auto dflt = [](bool given) { return given ? "" : " (default)"; };
  return os << "TensorOptions(dtype=" << c10_type_name(o.dtype()) << dflt(o.has_dtype()) << ", device=" << o.device()
            << dflt(o.has_device()) << ", layout=Strided (default), requires_grad="
            << (o.requires_grad() ? "true" : "false") << dflt(o.has_requires_grad())
            << ", pinned_memory=false (default), memory_format=(nullopt))";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "[ Tensor (undefined) ]";
  FormatGuard guard(os);
  const TensorImpl& impl = *t.unsafeGetTensorImpl();
  const std::vector<double> v = read_all(impl);
  const int64_t nd = t.dim(), n = t.numel();
  constexpr int64_t kLineSize = 80;
  if (nd == 0) {
    os.unsetf(std::ios_base::floatfield);
    os << v[0] << '\n';
  } else if (nd == 1) {
    if (n > 0) {
      const NumberFormat f = choose_format(os, v.data(), n);
      if (f.scale != 1) print_scale(os, f.scale);
      for (int64_t i = 0; i < n; ++i) os << std::setw(f.width) << v[i] / f.scale << '\n';
    }
  } else if (nd == 2) {
    if (n > 0) print_matrix(os, v.data(), t.size(0), t.size(1), kLineSize, 0);
  } else if (n > 0) {
    // One "(i,j,.,.) =" block per matrix over the leading dims, 1-based like LibTorch.
    const int64_t rows = t.size(nd - 2), cols = t.size(nd - 1), block = rows * cols;
    std::vector<int64_t> idx(static_cast<size_t>(nd - 2), 0);
    for (int64_t b = 0; b * block < n; ++b) {
      if (b != 0) os << '\n';
      os << '(';
      for (int64_t d = 0; d < nd - 2; ++d) os << idx[d] + 1 << ',';
      os << ".,.) = \n";
      print_matrix(os, v.data() + b * block, rows, cols, kLineSize, 1);
      for (int64_t d = nd - 3; d >= 0; --d) {
        if (++idx[d] < t.size(d)) break;
        idx[d] = 0;
      }
    }
  }
  os << "[ " << t.toString() << '{';
  for (int64_t d = 0; d < nd; ++d) os << (d ? "," : "") << t.size(d);
  return os << "} ]";
}

}  // namespace cnnkit
