// Tensor::index / index_put_ (Python's subscripts, NumPy's advanced indexing), nonzero and
// masked_select. Basic indices (integers, slices, None, Ellipsis, bools) are chains of the
// view ops select/slice/unsqueeze; advanced indices (int64 and bool tensors) become one
// index_select over the indexed dimensions flattened together, so autograd needs nothing
// new. index_put_ runs the same indexing over a tensor of element offsets and writes the
// value at the offsets it selects.
#include "cnnkit/ops/indexing.h"

#include <cstring>
#include <numeric>
#include <sstream>
#include <string_view>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/ops/elementwise.h"
#include "cnnkit/ops/factory.h"
#include "ops/elementwise_internal.h"

namespace cnnkit {
namespace indexing {

TensorIndex::TensorIndex(const char* str) : kind_(Kind::kEllipsis) {
  CNNKIT_CHECK(str != nullptr && std::string_view(str) == "...", "Expected \"...\" to represent an ellipsis index, got \"",
               str ? str : "(null)", "\"");
}

std::ostream& operator<<(std::ostream& os, const TensorIndex& index) {
  auto opt = [&os](std::optional<int64_t> v) -> std::ostream& { return v ? os << *v : os << "None"; };
  switch (index.kind()) {
    case TensorIndex::Kind::kNone: return os << "None";
    case TensorIndex::Kind::kEllipsis: return os << "...";
    case TensorIndex::Kind::kInteger: return os << index.integer();
    case TensorIndex::Kind::kBoolean: return os << (index.boolean() ? "true" : "false");
    case TensorIndex::Kind::kSlice:
      opt(index.slice().start()) << ':';
      opt(index.slice().stop()) << ':';
      return opt(index.slice().step());
    case TensorIndex::Kind::kTensor: return os << "Tensor(sizes=" << index.tensor().sizes() << ", dtype=" << index.tensor().dtype() << ')';
  }
  return os;
}

}  // namespace indexing

namespace {

using indexing::TensorIndex;
using Kind = TensorIndex::Kind;

bool is_mask(const Tensor& t) { return t.dtype() == kBool || t.dtype() == kByte; }

void check_index_tensor(const Tensor& t) {
  CNNKIT_CHECK_T(ValueError, t.defined(), "index(): an undefined tensor cannot be used as an index");
  CNNKIT_CHECK_TYPE(t.dtype() == kLong || is_mask(t),
                    "index(): tensors used as indices must be int64, uint8 or bool tensors, got ", t.dtype());
}

// How many dimensions of the indexed tensor an index consumes.
int64_t dims_consumed(const TensorIndex& i) {
  switch (i.kind()) {
    case Kind::kInteger:
    case Kind::kSlice: return 1;
    case Kind::kTensor: {
      const Tensor& t = i.tensor();
      check_index_tensor(t);
      if (is_mask(t)) return t.dim();
      return 1;
    }
    default: return 0;
  }
}

int64_t wrap_index(int64_t i, int64_t size, int64_t dim) {
  CNNKIT_CHECK_SHAPE(i >= -size && i < size, "index ", i, " is out of bounds for dimension ", dim, " with size ", size);
  return i < 0 ? i + size : i;
}

struct Advanced {
  int64_t dim;  // in the tensor left by the basic indices
  Tensor index; // int64
};

// Applies the basic indices as views; collects the advanced ones (masks as their nonzero
// coordinates) with the dimension each indexes.
Tensor apply_basic(const Tensor& self, const TensorIndex* begin, const TensorIndex* end,
                   std::vector<Advanced>& advanced) {
  int64_t consumed = 0, ellipses = 0;
  for (const TensorIndex* i = begin; i != end; ++i) {
    consumed += dims_consumed(*i);
    ellipses += i->is_ellipsis();
  }
  CNNKIT_CHECK_SHAPE(ellipses <= 1, "index(): an index can only have a single ellipsis ('...')");
  CNNKIT_CHECK_SHAPE(consumed <= self.dim(), "index(): too many indices for tensor of dimension ", self.dim(),
                     " (got ", consumed, ")");
  Tensor v = self;
  int64_t d = 0;  // the dimension of v the next index applies to
  for (const TensorIndex* i = begin; i != end; ++i) {
    switch (i->kind()) {
      case Kind::kEllipsis: d += self.dim() - consumed; break;
      case Kind::kNone: v = v.unsqueeze(d++); break;
      case Kind::kBoolean:
        v = v.unsqueeze(d);
        if (!i->boolean()) v = v.slice(d, 0, 0);
        ++d;
        break;
      case Kind::kInteger: v = v.select(d, wrap_index(i->integer(), v.size(d), d)); break;
      case Kind::kSlice: {
        const indexing::Slice& s = i->slice();
        const int64_t step = s.step().value_or(1);
        CNNKIT_CHECK(step > 0, "index(): slice step must be positive, got ", step);
        v = v.slice(d++, s.start(), s.stop(), step);
        break;
      }
      case Kind::kTensor: {
        const Tensor& t = i->tensor();
        if (t.dtype() == kLong && t.dim() == 0) {  // a 0-dim integer tensor acts as an integer
          v = v.select(d, wrap_index(t.item<int64_t>(), v.size(d), d));
        } else if (t.dtype() == kLong) {
          advanced.push_back({d++, t});
        } else if (t.dim() == 0) {  // a 0-dim mask acts as a bool
          v = v.unsqueeze(d);
          if (!t.to(kLong).item<int64_t>()) v = v.slice(d, 0, 0);
          ++d;
        } else {
          for (int64_t k = 0; k < t.dim(); ++k)
            CNNKIT_CHECK_SHAPE(t.size(k) == v.size(d + k), "index(): the shape of the mask ", t.sizes(), " at index ",
                               k, " does not match the shape of the indexed tensor ", v.sizes(), " at index ", d + k);
          Tensor nz = t.nonzero();  // [N, t.dim()]
          for (int64_t k = 0; k < t.dim(); ++k) advanced.push_back({d + k, nz.select(1, k)});
          d += t.dim();
        }
        break;
      }
    }
  }
  return v;
}

// NumPy advanced indexing of v by `advanced` (int64 tensors broadcast together).
Tensor apply_advanced(const Tensor& v, std::vector<Advanced>& advanced) {
  std::vector<int64_t> shape;  // the broadcast shape of the index tensors
  for (const Advanced& a : advanced) shape = broadcast_shapes(shape, a.index.sizes());
  int64_t count = 1;
  for (int64_t s : shape) count *= s;

  // One flat index into the advanced dimensions taken together, row-major.
  const auto n_adv = static_cast<int64_t>(advanced.size());
  std::vector<int64_t> adv_sizes(n_adv);
  for (int64_t k = 0; k < n_adv; ++k) adv_sizes[k] = v.size(advanced[k].dim);
  Tensor flat = empty({count}, kLong);
  int64_t* fp = flat.data_ptr<int64_t>();
  std::fill(fp, fp + count, int64_t{0});
  for (int64_t k = 0; k < n_adv; ++k) {
    Tensor idx = advanced[k].index.expand(shape).contiguous();
    const int64_t* ip = idx.data_ptr<int64_t>();
    for (int64_t j = 0; j < count; ++j) fp[j] = fp[j] * adv_sizes[k] + wrap_index(ip[j], adv_sizes[k], advanced[k].dim);
  }

  // The advanced dimensions first (in order), flattened into one; then the others.
  std::vector<int64_t> perm, rest_sizes;
  for (const Advanced& a : advanced) perm.push_back(a.dim);
  for (int64_t d = 0; d < v.dim(); ++d) {
    bool adv = false;
    for (const Advanced& a : advanced) adv = adv || a.dim == d;
    if (!adv) {
      perm.push_back(d);
      rest_sizes.push_back(v.size(d));
    }
  }
  std::vector<int64_t> flat_shape{-1};
  flat_shape.insert(flat_shape.end(), rest_sizes.begin(), rest_sizes.end());
  if (v.numel() == 0) flat_shape[0] = std::accumulate(adv_sizes.begin(), adv_sizes.end(), int64_t{1}, std::multiplies<>());
  Tensor gathered = v.permute(perm).reshape(flat_shape).index_select(0, flat);
  std::vector<int64_t> out_shape = shape;
  out_shape.insert(out_shape.end(), rest_sizes.begin(), rest_sizes.end());
  Tensor out = gathered.view(out_shape);

  // Adjacent advanced dimensions keep their place (x[:, idx] -> [N, *idx.shape, ...]).
  bool adjacent = true;
  for (int64_t k = 1; k < n_adv; ++k) adjacent = adjacent && advanced[k].dim == advanced[k - 1].dim + 1;
  const int64_t first = advanced[0].dim;
  if (adjacent && first > 0) {
    const auto b = static_cast<int64_t>(shape.size()), r = static_cast<int64_t>(rest_sizes.size());
    std::vector<int64_t> back;
    for (int64_t k = 0; k < first; ++k) back.push_back(b + k);
    for (int64_t k = 0; k < b; ++k) back.push_back(k);
    for (int64_t k = first; k < r; ++k) back.push_back(b + k);
    out = out.permute(back);
  }
  return out;
}

Tensor index_impl(const Tensor& self, const TensorIndex* begin, const TensorIndex* end) {
  CNNKIT_CHECK_T(ValueError, self.defined(), "index(): called on an undefined tensor");
  std::vector<Advanced> advanced;
  Tensor v = apply_basic(self, begin, end, advanced);
  if (advanced.empty()) return v;
  return apply_advanced(v, advanced);
}

// The offset (in elements, from self.data_ptr()) of every element of self, as int64.
Tensor element_offsets(const Tensor& self) {
  Tensor off = empty(self.sizes(), kLong);
  int64_t* p = off.data_ptr<int64_t>();
  const int64_t nd = self.dim();
  std::vector<int64_t> pos(nd, 0);
  int64_t cur = 0;
  for (int64_t j = 0, n = self.numel(); j < n; ++j) {
    p[j] = cur;
    for (int64_t d = nd - 1; d >= 0; --d) {  // odometer
      cur += self.stride(d);
      if (++pos[d] < self.size(d)) break;
      cur -= self.stride(d) * pos[d];
      pos[d] = 0;
    }
  }
  return off;
}

Tensor& index_put_impl(Tensor& self, const TensorIndex* begin, const TensorIndex* end, const Tensor& value) {
  CNNKIT_CHECK_T(ValueError, self.defined(), "index_put_(): called on an undefined tensor");
  CNNKIT_CHECK_T(ValueError, value.defined(), "index_put_(): the value is an undefined tensor");
  elementwise_detail::check_inplace(self, "index_put_");
  Tensor targets;
  {
    NoGradGuard no_grad;
    targets = index_impl(element_offsets(self), begin, end);
  }
  bool fits = value.dim() <= targets.dim();
  for (int64_t k = 1; fits && k <= value.dim(); ++k) {
    const int64_t v = value.size(-k);
    fits = v == 1 || v == targets.size(-k);
  }
  CNNKIT_CHECK_SHAPE(fits, "index_put_(): shape mismatch: value tensor of shape ", value.sizes(),
                     " cannot be broadcast to indexing result of shape ", targets.sizes());
  targets = targets.contiguous();
  Tensor src = value.detach().to(self.dtype()).expand(targets.sizes()).contiguous();
  const int64_t* t = targets.data_ptr<int64_t>();
  const size_t es = self.element_size();
  auto* dst = static_cast<char*>(self.data_ptr());
  const auto* s = static_cast<const char*>(src.data_ptr());
  for (int64_t j = 0, n = targets.numel(); j < n; ++j) std::memcpy(dst + t[j] * static_cast<int64_t>(es), s + j * es, es);
  return self;
}

}  // namespace

Tensor Tensor::index(std::initializer_list<indexing::TensorIndex> indices) const {
  return index_impl(*this, indices.begin(), indices.end());
}
Tensor Tensor::index(const std::vector<indexing::TensorIndex>& indices) const {
  return index_impl(*this, indices.data(), indices.data() + indices.size());
}
Tensor& Tensor::index_put_(std::initializer_list<indexing::TensorIndex> indices, const Tensor& value) {
  return index_put_impl(*this, indices.begin(), indices.end(), value);
}
Tensor& Tensor::index_put_(std::initializer_list<indexing::TensorIndex> indices, double value) {
  return index_put_impl(*this, indices.begin(), indices.end(), full({}, value, dtype()));
}
Tensor& Tensor::index_put_(const std::vector<indexing::TensorIndex>& indices, const Tensor& value) {
  return index_put_impl(*this, indices.data(), indices.data() + indices.size(), value);
}
Tensor& Tensor::index_put_(const std::vector<indexing::TensorIndex>& indices, double value) {
  return index_put_impl(*this, indices.data(), indices.data() + indices.size(), full({}, value, dtype()));
}

Tensor Tensor::nonzero() const {
  const Tensor c = contiguous();
  const int64_t n = c.numel(), nd = c.dim();
  auto is_set = [&c](int64_t j) -> bool {
    switch (c.dtype()) {
      case kFloat: return c.data_ptr<float>()[j] != 0.0F;
      case kLong: return c.data_ptr<int64_t>()[j] != 0;
      default: return static_cast<const uint8_t*>(c.data_ptr())[j] != 0;
    }
  };
  std::vector<int64_t> hits;
  for (int64_t j = 0; j < n; ++j)
    if (is_set(j)) hits.push_back(j);
  Tensor out = empty({static_cast<int64_t>(hits.size()), nd}, kLong);
  int64_t* p = out.data_ptr<int64_t>();
  for (int64_t h : hits) {
    for (int64_t d = nd - 1; d >= 0; --d) {
      p[d] = h % c.size(d);
      h /= c.size(d);
    }
    p += nd;
  }
  return out;
}

Tensor Tensor::masked_select(const Tensor& mask) const {
  CNNKIT_CHECK_TYPE(is_mask(mask), "masked_select(): expected a bool or uint8 mask, got ", mask.dtype());
  const std::vector<int64_t> shape = broadcast_shapes(sizes(), mask.sizes());
  return expand(shape).index({mask.expand(shape)});
}

Tensor nonzero(const Tensor& a) { return a.nonzero(); }
Tensor masked_select(const Tensor& a, const Tensor& mask) { return a.masked_select(mask); }

}  // namespace cnnkit
