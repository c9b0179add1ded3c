// Shape ops: views (view, reshape, permute, slice, select, expand, ...) that share storage
// through a new TensorImpl with new sizes/strides/offset, the copying joins and gathers
// (cat, stack, repeat, index_select, gather, one_hot) and pad, each with its backward right
// below. Views' backward maps the gradient back to the source shape. Not here: clone,
// contiguous, to and copy_ (element-wise family), sum_to (element-wise family).
#include "cnnkit/ops/shape.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <optional>
#include <sstream>

#include "cnnkit/autograd/grad_mode.h"
#include "autograd/record.h"
#include "cnnkit/autograd/node.h"
#include "ops/graph_internal.h"
#include "kernels/copy.h"
#include "kernels/reduce.h"
#include "cnnkit/ops/reduce.h"
#include "core/tensor_internal.h"

namespace cnnkit {

namespace {

using autograd::needs_grad;
using autograd::record;
using autograd::detail::record_differentiable;
using autograd::GradMode;

Tensor make_view(const Tensor& a, std::vector<int64_t> sizes, std::vector<int64_t> strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = a.unsafeGetTensorImpl()->storage;
  detail::mark_alias(*impl, detail::AliasKind::kView);
  impl->sizes = std::move(sizes);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = a.dtype();
  return Tensor(std::move(impl));
}

// A contiguous copy without history (the op recording it provides the backward).
Tensor contiguous_copy(const Tensor& a) {
  Tensor out = empty(a.sizes(), a.dtype());
  kernels::copy_strided(out.data_ptr(), a.data_ptr(), a.element_size(), a.sizes(), a.strides());
  return out;
}
Tensor as_contiguous(const Tensor& a) { return a.is_contiguous() ? a : contiguous_copy(a); }

Tensor zeros_of(IntArrayRef sizes, ScalarType dtype = kFloat) {
  Tensor out = empty(sizes, dtype);
  if (out.nbytes()) std::memset(out.data_ptr(), 0, out.nbytes());
  return out;
}

int64_t prod_range(IntArrayRef v, size_t b, size_t e) {
  int64_t p = 1;
  for (size_t i = b; i < e; ++i) p *= v[i];
  return p;
}

// Records the backward of an op whose output is the input with another shape.
void record_reshape(const char* name, const Tensor& in, const Tensor& out) {
  if (!needs_grad({in})) return;
  record_differentiable(name, {in}, {out}, [sizes = in.sizes().vec()](const TensorList& g) {
    return TensorList{g[0].reshape(sizes)};
  });
}

// Sizes with one -1 filled in from numel (ATen's infer_size).
std::vector<int64_t> infer_size(IntArrayRef shape, int64_t numel) {
  int64_t known = 1;
  std::optional<size_t> infer;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      CNNKIT_CHECK_SHAPE(!infer, "only one dimension can be inferred");
      infer = i;
    } else {
      CNNKIT_CHECK_SHAPE(shape[i] >= 0, "invalid shape dimension ", shape[i]);
      known *= shape[i];
    }
  }
  std::vector<int64_t> out = shape.vec();
  if (numel == known || (infer && known > 0 && numel % known == 0)) {
    if (infer) {
      CNNKIT_CHECK_SHAPE(known != 0, "cannot reshape tensor of 0 elements into shape ", shape,
                         " because the unspecified dimension size -1 can be any value and is ambiguous");
      out[*infer] = numel / known;
    }
    return out;
  }
  std::ostringstream s;
  s << "shape '" << shape << "' is invalid for input of size " << numel;
  throw ShapeError(s.str());
}

// Strides that let `newshape` alias memory laid out as (oldshape, oldstride), if any exist
// (ATen's computeStride): each run of dims that is contiguous in memory may be regrouped.
std::optional<std::vector<int64_t>> compute_stride(IntArrayRef oldshape, IntArrayRef oldstride,
                                                   IntArrayRef newshape) {
  const int64_t new_nd = static_cast<int64_t>(newshape.size());
  if (oldshape.empty()) return std::vector<int64_t>(newshape.size(), 1);
  int64_t numel = prod_range(oldshape, 0, oldshape.size());
  std::vector<int64_t> newstride(newshape.size());
  if (numel == 0) {
    if (oldshape == newshape) return oldstride.vec();
    for (int64_t k = new_nd - 1; k >= 0; --k)
      newstride[k] = k == new_nd - 1 ? 1 : std::max<int64_t>(newshape[k + 1], 1) * newstride[k + 1];
    return newstride;
  }
  int64_t view_d = new_nd - 1;
  int64_t chunk_base_stride = oldstride.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = static_cast<int64_t>(oldshape.size()) - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= oldshape[tensor_d];
    if (tensor_d == 0 ||
        (oldshape[tensor_d - 1] != 1 && oldstride[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || newshape[view_d] == 1)) {
        newstride[view_d] = view_numel * chunk_base_stride;
        view_numel *= newshape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (tensor_d > 0) {
        chunk_base_stride = oldstride[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return newstride;
}

// Zeros of `in_sizes` with g written into the region (sizes of g, `strides`, `offset`) of
// that contiguous buffer: the backward of slice/select.
Tensor zeros_with(const Tensor& g, IntArrayRef in_sizes, IntArrayRef region_strides, int64_t offset) {
  Tensor out = zeros_of(in_sizes);
  kernels::copy_between_strided(out.data_ptr<float>() + offset, region_strides, g.data_ptr(), g.strides(),
                                g.sizes(), sizeof(float));
  return out;
}

int rank_of(ScalarType t) {
  switch (t) {
    case kBool: return 0;
    case kByte: return 1;
    case kLong: return 2;
    default: return 3;
  }
}

Tensor convert_to(const Tensor& a, ScalarType t) {
  if (a.dtype() == t) return a;
  Tensor src = as_contiguous(a);
  Tensor out = empty(a.sizes(), t);
  kernels::convert(out.data_ptr(), t, src.data_ptr(), src.dtype(), src.numel());
  return out;
}

}  // namespace

// ---- view / reshape ---------------------------------------------------------------------------
Tensor Tensor::view(IntArrayRef sizes) const {
  std::vector<int64_t> shape = infer_size(sizes, numel());
  auto st = compute_stride(this->sizes(), strides(), shape);
  CNNKIT_CHECK_SHAPE(st.has_value(), "view size is not compatible with input tensor's size and stride (at least "
                     "one dimension spans across two contiguous subspaces). Use .reshape(...) instead.");
  Tensor out = make_view(*this, std::move(shape), std::move(*st), storage_offset());
  record_reshape("ViewBackward", *this, out);
  return out;
}

Tensor Tensor::reshape(IntArrayRef sizes) const {
  std::vector<int64_t> shape = infer_size(sizes, numel());
  auto st = compute_stride(this->sizes(), strides(), shape);
  Tensor out;
  if (st) {
    out = make_view(*this, std::move(shape), std::move(*st), storage_offset());
  } else {
    Tensor c = contiguous_copy(*this);
    out = make_view(c, shape, detail::contiguous_strides(shape), 0);
  }
  record_reshape("ReshapeBackward", *this, out);
  return out;
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  const int64_t s = detail::wrap_dim(start_dim, dim(), "flatten start_dim");
  const int64_t e = detail::wrap_dim(end_dim, dim(), "flatten end_dim");
  CNNKIT_CHECK_SHAPE(s <= e, "flatten() has invalid args: start_dim cannot come after end_dim (got start_dim ",
                     start_dim, ", end_dim ", end_dim, ")");
  if (s == e) return reshape(sizes());
  std::vector<int64_t> shape(sizes().begin(), sizes().begin() + s);
  shape.push_back(prod_range(sizes(), static_cast<size_t>(s), static_cast<size_t>(e + 1)));
  shape.insert(shape.end(), sizes().begin() + e + 1, sizes().end());
  return reshape(shape);
}

Tensor Tensor::unflatten(int64_t dim_, IntArrayRef sizes_) const {
  const int64_t d = detail::wrap_dim(dim_, dim(), "unflatten dim");
  CNNKIT_CHECK_SHAPE(!sizes_.empty(), "unflatten: sizes must be non-empty");
  std::vector<int64_t> inner;
  try {
    inner = infer_size(sizes_, size(d));
  } catch (const ShapeError&) {
    std::ostringstream s;
    s << "unflatten: Provided sizes " << sizes_ << " don't multiply up to the size of dim " << dim_ << " ("
      << size(d) << ") in the input tensor";
    throw ShapeError(s.str());
  }
  std::vector<int64_t> shape(sizes().begin(), sizes().begin() + d);
  shape.insert(shape.end(), inner.begin(), inner.end());
  shape.insert(shape.end(), sizes().begin() + d + 1, sizes().end());
  return reshape(shape);
}

Tensor Tensor::squeeze() const {
  std::vector<int64_t> sz, st;
  for (int64_t d = 0; d < dim(); ++d)
    if (size(d) != 1) {
      sz.push_back(size(d));
      st.push_back(stride(d));
    }
  Tensor out = make_view(*this, std::move(sz), std::move(st), storage_offset());
  record_reshape("SqueezeBackward", *this, out);
  return out;
}

Tensor Tensor::squeeze(int64_t dim_) const {
  const int64_t d = detail::wrap_dim(dim_, dim(), "squeeze dim");
  std::vector<int64_t> sz = sizes().vec(), st = strides().vec();
  if (dim() > 0 && sz[d] == 1) {
    sz.erase(sz.begin() + d);
    st.erase(st.begin() + d);
  }
  Tensor out = make_view(*this, std::move(sz), std::move(st), storage_offset());
  record_reshape("SqueezeBackward", *this, out);
  return out;
}

Tensor Tensor::unsqueeze(int64_t dim_) const {
  const int64_t d = detail::wrap_dim(dim_, dim() + 1, "unsqueeze dim");
  std::vector<int64_t> sz = sizes().vec(), st = strides().vec();
  const int64_t new_stride = d >= dim() ? 1 : sz[d] * st[d];
  sz.insert(sz.begin() + d, 1);
  st.insert(st.begin() + d, new_stride);
  Tensor out = make_view(*this, std::move(sz), std::move(st), storage_offset());
  record_reshape("UnsqueezeBackward", *this, out);
  return out;
}

// ---- permute / transpose ------------------------------------------------------------------------
Tensor Tensor::permute(IntArrayRef dims) const {
  const int64_t nd = dim();
  CNNKIT_CHECK_SHAPE(static_cast<int64_t>(dims.size()) == nd, "permute: number of dims don't match: the tensor "
                     "has ", nd, " dimensions ", sizes(), " but the permutation has ", dims.size(), " ", dims);
  std::vector<int64_t> sz(nd), st(nd), inverse(nd);
  std::vector<bool> seen(nd, false);
  for (int64_t i = 0; i < nd; ++i) {
    const int64_t d = detail::wrap_dim(dims[i], nd, "permute dim");
    CNNKIT_CHECK_SHAPE(!seen[d], "permute(): duplicate dims are not allowed (dim ", dims[i], " in ", dims, ")");
    seen[d] = true;
    sz[i] = size(d);
    st[i] = stride(d);
    inverse[d] = i;
  }
  Tensor out = make_view(*this, std::move(sz), std::move(st), storage_offset());
  if (needs_grad({*this}))
    record_differentiable("PermuteBackward", {*this}, {out}, [inverse](const TensorList& g) {
      return TensorList{g[0].permute(inverse)};
    });
  return out;
}

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  if (dim() == 0) {
    detail::wrap_dim(dim0, 0, "transpose dim0");
    detail::wrap_dim(dim1, 0, "transpose dim1");
    return reshape(sizes());
  }
  const int64_t a = detail::wrap_dim(dim0, dim(), "transpose dim0");
  const int64_t b = detail::wrap_dim(dim1, dim(), "transpose dim1");
  std::vector<int64_t> sz = sizes().vec(), st = strides().vec();
  std::swap(sz[a], sz[b]);
  std::swap(st[a], st[b]);
  Tensor out = make_view(*this, std::move(sz), std::move(st), storage_offset());
  if (needs_grad({*this}))
    record_differentiable("TransposeBackward", {*this}, {out}, [a, b](const TensorList& g) {
      return TensorList{g[0].transpose(a, b)};
    });
  return out;
}

Tensor Tensor::t() const {
  CNNKIT_CHECK_SHAPE(dim() <= 2, "t() expects a tensor with <= 2 dimensions, but self is ", dim(), "D ", sizes());
  return dim() < 2 ? transpose(0, 0) : transpose(0, 1);
}

// ---- slicing ------------------------------------------------------------------------------------
Tensor Tensor::slice(int64_t dim_, std::optional<int64_t> start, std::optional<int64_t> end, int64_t step) const {
  CNNKIT_CHECK_SHAPE(dim() > 0, "slice() cannot be applied to a 0-dim tensor.");
  const int64_t d = detail::wrap_dim(dim_, dim(), "slice dim");
  CNNKIT_CHECK(step > 0, "slice step must be positive, got ", step);
  const int64_t n = size(d);
  auto clampi = [n](int64_t v) {
    if (v < 0) v += n;
    return std::clamp<int64_t>(v, 0, n);
  };
  const int64_t b = clampi(start.value_or(0));
  const int64_t e = std::max(b, clampi(end.value_or(n)));
  std::vector<int64_t> sz = sizes().vec(), st = strides().vec();
  sz[d] = (e - b + step - 1) / step;
  st[d] *= step;
  Tensor out = make_view(*this, std::move(sz), std::move(st), storage_offset() + b * stride(d));
  if (needs_grad({*this}))
    record_differentiable("SliceBackward", {*this}, {out}, [in = sizes().vec(), d, b, e, step](const TensorList& g) {
      std::vector<int64_t> st2 = detail::contiguous_strides(in);
      const int64_t off = b * st2[d];
      st2[d] *= step;
      Tensor gi = zeros_with(g[0], in, st2, off);
      if (GradMode::is_enabled())
        return TensorList{graph_detail::linear_in_grad("SliceBackwardBackward0", g[0], gi, [d, b, e, step](const Tensor& gg) {
          return gg.slice(d, b, e, step);
        })};
      return TensorList{gi};
    });
  return out;
}

Tensor Tensor::narrow(int64_t dim_, int64_t start, int64_t length) const {
  CNNKIT_CHECK_SHAPE(dim() > 0, "narrow() cannot be applied to a 0-dim tensor.");
  const int64_t d = detail::wrap_dim(dim_, dim(), "narrow dim");
  const int64_t n = size(d);
  CNNKIT_CHECK_SHAPE(start >= -n && start <= n, "start out of range (expected to be in range of [", -n, ", ", n,
                     "], but got ", start, ")");
  if (start < 0) start += n;
  CNNKIT_CHECK_SHAPE(length >= 0 && start <= n - length, "start (", start, ") + length (", length,
                     ") exceeds dimension size (", n, ").");
  return slice(d, start, start + length, 1);
}

Tensor Tensor::select(int64_t dim_, int64_t index) const {
  CNNKIT_CHECK_SHAPE(dim() > 0, "select() cannot be applied to a 0-dim tensor.");
  const int64_t d = detail::wrap_dim(dim_, dim(), "select dim");
  const int64_t n = size(d);
  CNNKIT_CHECK_SHAPE(index >= -n && index < n, "select(): index ", index, " out of range for tensor of size ",
                     sizes(), " at dimension ", d);
  if (index < 0) index += n;
  std::vector<int64_t> sz = sizes().vec(), st = strides().vec();
  sz.erase(sz.begin() + d);
  st.erase(st.begin() + d);
  Tensor out = make_view(*this, std::move(sz), std::move(st), storage_offset() + index * stride(d));
  if (needs_grad({*this}))
    record_differentiable("SelectBackward", {*this}, {out}, [in = sizes().vec(), d, index](const TensorList& g) {
      std::vector<int64_t> st2 = detail::contiguous_strides(in);
      const int64_t off = index * st2[d];
      st2.erase(st2.begin() + d);
      Tensor gi = zeros_with(g[0], in, st2, off);
      if (GradMode::is_enabled())
        return TensorList{graph_detail::linear_in_grad("SelectBackwardBackward0", g[0], gi,
                                                       [d, index](const Tensor& gg) { return gg.select(d, index); })};
      return TensorList{gi};
    });
  return out;
}

// ---- expand / repeat ----------------------------------------------------------------------------
Tensor Tensor::expand(IntArrayRef sizes_) const {
  const int64_t nd = static_cast<int64_t>(sizes_.size()), od = dim(), lead = nd - od;
  CNNKIT_CHECK_SHAPE(lead >= 0, "expand: the number of sizes provided (", nd, ") must be greater or equal to the "
                     "number of dimensions in the tensor (", od, ")");
  std::vector<int64_t> sz(nd), st(nd);
  std::vector<int64_t> reduce_dims;
  for (int64_t i = 0; i < nd; ++i) {
    if (i < lead) {
      CNNKIT_CHECK_SHAPE(sizes_[i] >= 0, "The expanded size of the tensor (", sizes_[i], ") isn't allowed in a "
                         "leading, non-existing dimension ", i);
      sz[i] = sizes_[i];
      st[i] = 0;
      reduce_dims.push_back(i);
      continue;
    }
    const int64_t have = size(i - lead);
    const int64_t want = sizes_[i] == -1 ? have : sizes_[i];
    if (have == want) {
      sz[i] = have;
      st[i] = stride(i - lead);
    } else {
      CNNKIT_CHECK_SHAPE(have == 1 && want >= 0, "The expanded size of the tensor (", want, ") must match the "
                         "existing size (", have, ") at non-singleton dimension ", i, ".  Target sizes: ", sizes_,
                         ".  Tensor sizes: ", sizes());
      sz[i] = want;
      st[i] = 0;
      reduce_dims.push_back(i);
    }
  }
  Tensor out = make_view(*this, std::move(sz), std::move(st), storage_offset());
  if (needs_grad({*this}))
    record_differentiable("ExpandBackward", {*this}, {out}, [in = sizes().vec(), reduce_dims](const TensorList& g) {
      if (reduce_dims.empty()) return TensorList{g[0].reshape(in)};
      return TensorList{cnnkit::sum(g[0], reduce_dims, /*keepdim=*/true).reshape(in)};
    });
  return out;
}

Tensor Tensor::repeat(IntArrayRef repeats) const {
  const int64_t nr = static_cast<int64_t>(repeats.size()), lead = nr - dim();
  CNNKIT_CHECK_SHAPE(lead >= 0, "Number of dimensions of repeat dims can not be smaller than number of dimensions "
                     "of tensor (repeats ", repeats, ", tensor sizes ", sizes(), ")");
  // View the input as (1, s0, 1, s1, ...) expanded to (r0, s0, r1, s1, ...), then copy.
  std::vector<int64_t> pair_sizes, pair_strides, out_sizes, sum_dims;
  for (int64_t i = 0; i < nr; ++i) {
    CNNKIT_CHECK_SHAPE(repeats[i] >= 0, "Trying to create tensor with negative dimension ", repeats[i],
                       ": repeats ", repeats);
    const int64_t s = i < lead ? 1 : size(i - lead);
    const int64_t st = i < lead ? 0 : stride(i - lead);
    pair_sizes.insert(pair_sizes.end(), {repeats[i], s});
    pair_strides.insert(pair_strides.end(), {0, st});
    out_sizes.push_back(repeats[i] * s);
    sum_dims.push_back(2 * i);
  }
  Tensor out = empty(out_sizes, dtype());
  kernels::copy_strided(out.data_ptr(), data_ptr(), element_size(), pair_sizes, pair_strides);
  if (needs_grad({*this}))
    record_differentiable("RepeatBackward", {*this}, {out}, [in = sizes().vec(), pair_sizes, sum_dims](const TensorList& g) {
      if (sum_dims.empty()) return TensorList{g[0].reshape(in)};
      return TensorList{cnnkit::sum(g[0].reshape(pair_sizes), sum_dims).reshape(in)};
    });
  return out;
}

// ---- split / chunk / unbind ---------------------------------------------------------------------
std::vector<Tensor> Tensor::split(int64_t split_size, int64_t dim_) const {
  CNNKIT_CHECK_SHAPE(dim() > 0, "split() cannot be applied to a 0-dim tensor.");
  const int64_t d = detail::wrap_dim(dim_, dim(), "split dim");
  const int64_t n = size(d);
  CNNKIT_CHECK(split_size > 0 || (split_size == 0 && n == 0), "split expects split_size be non-negative, and "
               "positive unless the dimension is empty, but got split_size=", split_size, " for size ", n);
  const int64_t pieces = n == 0 ? 1 : (n + split_size - 1) / split_size;
  std::vector<Tensor> out;
  {
    NoGradGuard no_grad;  // one node for all pieces is recorded below
    for (int64_t p = 0; p < pieces; ++p) {
      const int64_t b = p * split_size;
      out.push_back(narrow(d, b, std::min(split_size, n - b)));
    }
  }
  if (needs_grad({*this}))
    record_differentiable("SplitBackward", {*this}, out, [d](const TensorList& g) { return TensorList{cnnkit::cat(g, d)}; });
  return out;
}

std::vector<Tensor> Tensor::chunk(int64_t chunks, int64_t dim_) const {
  CNNKIT_CHECK_SHAPE(dim() > 0, "chunk expects at least a 1-dimensional tensor");
  CNNKIT_CHECK(chunks > 0, "chunk expects `chunks` to be greater than 0, got: ", chunks);
  const int64_t d = detail::wrap_dim(dim_, dim(), "chunk dim");
  const int64_t n = size(d);
  return split(std::max<int64_t>((n + chunks - 1) / chunks, n == 0 ? 0 : 1), d);
}

std::vector<Tensor> Tensor::unbind(int64_t dim_) const {
  CNNKIT_CHECK_SHAPE(dim() > 0, "Dimension specified as ", dim_, " but tensor has no dimensions");
  const int64_t d = detail::wrap_dim(dim_, dim(), "unbind dim");
  std::vector<Tensor> out;
  {
    NoGradGuard no_grad;
    for (int64_t i = 0; i < size(d); ++i) out.push_back(select(d, i));
  }
  if (needs_grad({*this}) && !out.empty())
    record_differentiable("UnbindBackward", {*this}, out, [d](const TensorList& g) { return TensorList{cnnkit::stack(g, d)}; });
  return out;
}

// ---- gathers ------------------------------------------------------------------------------------
Tensor Tensor::index_select(int64_t dim_, const Tensor& index) const {
  CNNKIT_CHECK_TYPE(index.dtype() == kLong, "index_select(): Expected dtype int64 for index, got ", index.dtype());
  CNNKIT_CHECK_SHAPE(index.dim() <= 1, "index_select(): Index is supposed to be a vector, got sizes ", index.sizes());
  const int64_t d = detail::wrap_dim(dim_, dim(), "index_select dim");
  Tensor idx = as_contiguous(index);
  const int64_t K = idx.numel();
  const int64_t R = dim() == 0 ? 1 : size(d);
  const int64_t* ip = idx.data_ptr<int64_t>();
  for (int64_t k = 0; k < K; ++k)
    CNNKIT_CHECK_SHAPE(ip[k] >= 0 && ip[k] < R, "index_select(): index ", ip[k], " out of range for dimension ",
                       d, " of size ", R);
  Tensor src = as_contiguous(*this);
  std::vector<int64_t> out_sizes = sizes().vec();
  if (dim() > 0) out_sizes[d] = K;
  else CNNKIT_CHECK_SHAPE(K == 1, "index_select(): a 0-dim input needs exactly one index, got ", K);
  const int64_t O = dim() == 0 ? 1 : prod_range(sizes(), 0, static_cast<size_t>(d));
  const int64_t I = dim() == 0 ? 1 : prod_range(sizes(), static_cast<size_t>(d) + 1, sizes().size());
  Tensor out = empty(out_sizes, dtype());
  kernels::index_select(out.data_ptr(), src.data_ptr(), element_size(), ip, O, R, K, I);
  if (needs_grad({*this}))
    record_differentiable("IndexSelectBackward", {*this}, {out}, [in = sizes().vec(), idx, d, O, R, K, I](const TensorList& g) {
      Tensor gi = zeros_of(in);
      Tensor gc = as_contiguous(g[0]);
      kernels::index_add(gi.data_ptr<float>(), gc.data_ptr<float>(), idx.data_ptr<int64_t>(), O, R, K, I);
      if (GradMode::is_enabled())
        return TensorList{graph_detail::linear_in_grad("IndexSelectBackwardBackward0", g[0], gi,
                                                       [d, idx](const Tensor& gg) { return gg.index_select(d, idx); })};
      return TensorList{gi};
    });
  return out;
}

Tensor Tensor::gather(int64_t dim_, const Tensor& index) const {
  CNNKIT_CHECK_TYPE(index.dtype() == kLong, "gather(): Expected dtype int64 for index, got ", index.dtype());
  const int64_t nd = dim();
  CNNKIT_CHECK_SHAPE(index.dim() == nd || (nd == 0 && index.dim() <= 1),
                     "gather(): Index tensor must have the same number of dimensions as input tensor (index ",
                     index.sizes(), ", input ", sizes(), ")");
  const int64_t d = detail::wrap_dim(dim_, nd, "gather dim");
  if (nd == 0) return reshape({1}).gather(0, index.reshape({-1})).reshape(index.sizes());
  for (int64_t i = 0; i < nd; ++i)
    CNNKIT_CHECK_SHAPE(i == d || index.size(i) <= size(i), "gather(): Size does not match at dimension ", i,
                       " expected index ", index.sizes(), " to be smaller than self ", sizes(),
                       " apart from dimension ", d);
  Tensor idx = as_contiguous(index);
  const int64_t R = size(d);
  const int64_t* ip = idx.data_ptr<int64_t>();
  for (int64_t j = 0; j < idx.numel(); ++j)
    CNNKIT_CHECK_SHAPE(ip[j] >= 0 && ip[j] < R, "gather(): index ", ip[j], " is out of bounds for dimension ", d,
                       " with size ", R);
  Tensor out = empty(idx.sizes(), dtype());
  kernels::gather(out.data_ptr(), data_ptr(), element_size(), strides(), ip, idx.sizes(), d);
  if (needs_grad({*this}))
    record_differentiable("GatherBackward", {*this}, {out}, [in = sizes().vec(), idx, d](const TensorList& g) {
      if (GradMode::is_enabled()) return TensorList{graph_detail::scatter_add_zeros(in, d, idx, g[0])};
      Tensor gi = zeros_of(in);
      Tensor gc = as_contiguous(g[0]);
      kernels::scatter_add(gi.data_ptr<float>(), detail::contiguous_strides(in), gc.data_ptr<float>(),
                           idx.data_ptr<int64_t>(), idx.sizes(), d);
      return TensorList{gi};
    });
  return out;
}

Tensor Tensor::one_hot(int64_t num_classes) const {
  CNNKIT_CHECK_TYPE(dtype() == kLong, "one_hot is only applicable to index tensor (int64), got ", dtype());
  Tensor labels = as_contiguous(*this);
  const int64_t n = labels.numel();
  const int64_t* lp = labels.data_ptr<int64_t>();
  if (num_classes == -1) {
    CNNKIT_CHECK(n > 0, "one_hot: Can not infer total number of classes from empty tensor.");
    num_classes = *std::max_element(lp, lp + n) + 1;
  }
  CNNKIT_CHECK(num_classes >= 0, "one_hot: num_classes should be -1 or non-negative, got ", num_classes);
  for (int64_t i = 0; i < n; ++i) {
    CNNKIT_CHECK(lp[i] >= 0, "one_hot: Class values must be non-negative (got ", lp[i], ").");
    CNNKIT_CHECK(lp[i] < num_classes, "one_hot: Class values must be smaller than num_classes (got ", lp[i],
                 " for num_classes ", num_classes, ").");
  }
  std::vector<int64_t> sz = sizes().vec();
  sz.push_back(num_classes);
  Tensor out = zeros_of(sz, kLong);
  int64_t* op = out.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) op[i * num_classes + lp[i]] = 1;
  return out;
}

// ---- joins --------------------------------------------------------------------------------------
Tensor cat(const TensorList& tensors, int64_t dim) {
  CNNKIT_CHECK(!tensors.empty(), "torch.cat(): expected a non-empty list of Tensors");
  // PyTorch's legacy rule: 1-d tensors of size 0 are skipped whatever the other shapes.
  auto skipped = [](const Tensor& t) { return t.dim() == 1 && t.size(0) == 0; };
  const Tensor* ref = nullptr;
  ScalarType out_type = tensors[0].dtype();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    CNNKIT_CHECK(t.defined(), "torch.cat(): tensor number ", i, " in the list is undefined");
    CNNKIT_CHECK_SHAPE(t.dim() > 0, "zero-dimensional tensor (at position ", i, ") cannot be concatenated");
    if (rank_of(t.dtype()) > rank_of(out_type)) out_type = t.dtype();
    if (!ref && !skipped(t)) ref = &t;
  }
  if (!ref) ref = &tensors[0];
  const int64_t nd = ref->dim();
  const int64_t d = detail::wrap_dim(dim, nd, "cat dim");
  std::vector<int64_t> out_sizes = ref->sizes().vec();
  out_sizes[d] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (skipped(t) && &t != ref) continue;
    CNNKIT_CHECK_SHAPE(t.dim() == nd, "Tensors must have same number of dimensions: got ", nd, " and ", t.dim(),
                       " (tensor number ", i, " in the list)");
    for (int64_t j = 0; j < nd; ++j)
      CNNKIT_CHECK_SHAPE(j == d || t.size(j) == ref->size(j), "Sizes of tensors must match except in dimension ",
                         d, ". Expected size ", ref->size(j), " but got size ", t.size(j), " for tensor number ", i,
                         " in the list.");
    out_sizes[d] += t.size(d);
  }
  Tensor out = empty(out_sizes, out_type);
  std::vector<int64_t> out_strides = detail::contiguous_strides(out_sizes);
  const size_t es = element_size(out_type);
  std::vector<int64_t> offsets(tensors.size(), -1);
  int64_t off = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (skipped(t) && &t != ref) continue;
    offsets[i] = off;
    Tensor src = convert_to(t, out_type);
    kernels::copy_between_strided(static_cast<char*>(out.data_ptr()) + off * out_strides[d] * static_cast<int64_t>(es),
                                  out_strides, src.data_ptr(), src.strides(), src.sizes(), es);
    off += t.size(d);
  }
  if (autograd::needs_grad(tensors)) {
    std::vector<int64_t> lengths;
    std::vector<bool> need;
    for (const Tensor& t : tensors) {
      lengths.push_back(t.dim() > d ? t.size(d) : 0);
      need.push_back(t.requires_grad());
    }
    record_differentiable("CatBackward", tensors, {out}, [d, offsets, lengths, need](const TensorList& g) {
      TensorList grads(offsets.size());
      for (size_t i = 0; i < offsets.size(); ++i)
        if (need[i] && offsets[i] >= 0) grads[i] = g[0].narrow(d, offsets[i], lengths[i]);
      return grads;
    });
  }
  return out;
}

Tensor concat(const TensorList& tensors, int64_t dim) { return cat(tensors, dim); }

Tensor stack(const TensorList& tensors, int64_t dim) {
  CNNKIT_CHECK(!tensors.empty(), "stack expects a non-empty TensorList");
  const int64_t d = detail::wrap_dim(dim, tensors[0].dim() + 1, "stack dim");
  TensorList parts;
  for (size_t i = 0; i < tensors.size(); ++i) {
    CNNKIT_CHECK_SHAPE(tensors[i].sizes() == tensors[0].sizes(), "stack expects each tensor to be equal size, but "
                       "got ", tensors[0].sizes(), " at entry 0 and ", tensors[i].sizes(), " at entry ", i);
    parts.push_back(tensors[i].unsqueeze(d));
  }
  return cat(parts, d);
}

// ---- pad ----------------------------------------------------------------------------------------
Tensor pad(const Tensor& a, IntArrayRef pad, const std::string& mode, double value) {
  const int64_t nd = a.dim(), np = static_cast<int64_t>(pad.size());
  CNNKIT_CHECK_SHAPE(np % 2 == 0, "Padding length must be divisible by 2 (got ", np, " values ", pad, ")");
  const int64_t k = np / 2;
  CNNKIT_CHECK_SHAPE(k <= nd, "Padding length too large: ", np, " values pad ", k, " dims but the input has ", nd,
                     " dims ", a.sizes());
  const bool constant = mode == "constant";
  if (!constant) {
    if (mode != "reflect" && mode != "replicate" && mode != "circular")
      throw NotImplementedError("pad: Unrecognised padding mode " + mode +
                                " (expected constant, reflect, replicate or circular)");
    if (k < 1 || k > 3 || (nd != k + 1 && nd != k + 2)) {
      std::ostringstream s;
      s << "pad: Only 2D, 3D, 4D, 5D padding with non-constant padding are supported for now: mode '" << mode
        << "' with " << np << " padding values pads the last " << k << " dims and expects a " << k + 1 << "-d or "
        << k + 2 << "-d input, got " << nd << " dims " << a.sizes();
      throw NotImplementedError(s.str());
    }
  }
  if (k == 0) return a.reshape(a.sizes());
  // maps[j][o]: the input coordinate of output coordinate o along padded dim nd - k + j.
  std::vector<std::vector<int64_t>> maps(static_cast<size_t>(k));
  std::vector<int64_t> out_sizes = a.sizes().vec(), in_block, out_block;
  for (int64_t j = 0; j < k; ++j) {
    const int64_t d = nd - k + j;
    const int64_t p = 2 * (k - 1 - j);  // pad lists the last dim first
    const int64_t left = pad[p], right = pad[p + 1], n = a.size(d);
    const int64_t m = n + left + right;
    CNNKIT_CHECK_SHAPE(m >= 0, "pad: the padded size of dimension ", d, " is negative: ", n, " + ", left, " + ",
                       right, " for input ", a.sizes());
    if (mode == "reflect")
      CNNKIT_CHECK_SHAPE(left < n && right < n, "Argument #4: Padding size should be less than the corresponding "
                         "input dimension, but got: padding (", left, ", ", right, ") at dimension ", d,
                         " of input ", a.sizes());
    if (mode == "replicate")
      CNNKIT_CHECK_SHAPE(n > 0, "pad: replicate padding needs a non-empty dimension ", d, ", input ", a.sizes());
    if (mode == "circular")
      CNNKIT_CHECK_SHAPE(left <= n && right <= n, "Padding value causes wrapping around more than once (padding (",
                         left, ", ", right, ") at dimension ", d, " of size ", n, ").");
    auto& map = maps[j];
    map.resize(static_cast<size_t>(m));
    for (int64_t o = 0; o < m; ++o) {
      const int64_t i = o - left;
      int64_t src = i;
      if (mode == "reflect") src = i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i);
      else if (mode == "replicate") src = std::clamp<int64_t>(i, 0, n - 1);
      else if (mode == "circular") src = ((i % n) + n) % n;
      else src = (i >= 0 && i < n) ? i : -1;
      map[o] = src;
    }
    out_sizes[d] = m;
    in_block.push_back(n);
    out_block.push_back(m);
  }
  const int64_t outer = prod_range(a.sizes(), 0, static_cast<size_t>(nd - k));
  std::vector<const int64_t*> map_ptrs;
  for (auto& m : maps) map_ptrs.push_back(m.data());
  Tensor src = as_contiguous(a);
  Tensor out = empty(out_sizes, a.dtype());
  switch (a.dtype()) {
    case kFloat:
      kernels::pad_gather(out.data_ptr<float>(), src.data_ptr<float>(), outer, k, in_block.data(), out_block.data(),
                          map_ptrs.data(), static_cast<float>(value));
      break;
    case kLong:
      kernels::pad_gather(out.data_ptr<int64_t>(), src.data_ptr<int64_t>(), outer, k, in_block.data(),
                          out_block.data(), map_ptrs.data(), static_cast<int64_t>(value));
      break;
    default:
      kernels::pad_gather(static_cast<uint8_t*>(out.data_ptr()), static_cast<const uint8_t*>(src.data_ptr()), outer,
                          k, in_block.data(), out_block.data(), map_ptrs.data(),
                          a.dtype() == kBool ? uint8_t(value != 0) : static_cast<uint8_t>(value));
  }
  if (needs_grad({a}))
    record_differentiable("PadBackward", {a}, {out}, [in = a.sizes().vec(), maps, outer, k, in_block, out_block,
                                                  pads = pad.vec(), mode](const TensorList& g) {
      Tensor gi = zeros_of(in);
      Tensor gc = as_contiguous(g[0]);
      std::vector<const int64_t*> ptrs;
      for (auto& m : maps) ptrs.push_back(m.data());
      kernels::pad_scatter_add(gi.data_ptr<float>(), gc.data_ptr<float>(), outer, k, in_block.data(),
                               out_block.data(), ptrs.data());
      if (GradMode::is_enabled())  // the adjoint of pad's backward is pad itself, with zeros
        return TensorList{graph_detail::linear_in_grad("PadBackwardBackward0", g[0], gi, [pads, mode](const Tensor& gg) {
          return cnnkit::pad(gg, pads, mode, 0.0);
        })};
      return TensorList{gi};
    });
  return out;
}

// ---- create_graph building blocks (ops/graph_internal.h) ------------------------------------------
Tensor graph_detail::linear_in_grad(const char* name, const Tensor& g, Tensor value,
                                    std::function<Tensor(const Tensor&)> adjoint) {
  if (autograd::needs_grad({g}))
    record_differentiable(name, {g}, {value}, [adjoint = std::move(adjoint)](const TensorList& gg) {
      return TensorList{adjoint(gg[0])};
    });
  return value;
}

Tensor graph_detail::scatter_add_zeros(IntArrayRef sizes, int64_t dim, const Tensor& index, const Tensor& src) {
  Tensor out = zeros_of(sizes);
  Tensor sc = as_contiguous(src);
  Tensor idx = as_contiguous(index);
  kernels::scatter_add(out.data_ptr<float>(), detail::contiguous_strides(sizes), sc.data_ptr<float>(),
                       idx.data_ptr<int64_t>(), idx.sizes(), dim);
  return linear_in_grad("ScatterAddBackward0", src, out, [dim, idx](const Tensor& gg) { return gg.gather(dim, idx); });
}

// ---- free-function spellings --------------------------------------------------------------------
Tensor flatten(const Tensor& a, int64_t start_dim, int64_t end_dim) { return a.flatten(start_dim, end_dim); }
Tensor reshape(const Tensor& a, IntArrayRef sizes) { return a.reshape(sizes); }
Tensor permute(const Tensor& a, IntArrayRef dims) { return a.permute(dims); }
Tensor transpose(const Tensor& a, int64_t dim0, int64_t dim1) { return a.transpose(dim0, dim1); }
Tensor t(const Tensor& a) { return a.t(); }
Tensor squeeze(const Tensor& a) { return a.squeeze(); }
Tensor squeeze(const Tensor& a, int64_t dim) { return a.squeeze(dim); }
Tensor unsqueeze(const Tensor& a, int64_t dim) { return a.unsqueeze(dim); }
Tensor narrow(const Tensor& a, int64_t dim, int64_t start, int64_t length) { return a.narrow(dim, start, length); }
Tensor select(const Tensor& a, int64_t dim, int64_t index) { return a.select(dim, index); }
std::vector<Tensor> split(const Tensor& a, int64_t split_size, int64_t dim) { return a.split(split_size, dim); }
std::vector<Tensor> chunk(const Tensor& a, int64_t chunks, int64_t dim) { return a.chunk(chunks, dim); }
std::vector<Tensor> unbind(const Tensor& a, int64_t dim) { return a.unbind(dim); }
Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index) { return a.index_select(dim, index); }
Tensor gather(const Tensor& a, int64_t dim, const Tensor& index) { return a.gather(dim, index); }
Tensor one_hot(const Tensor& labels, int64_t num_classes) { return labels.one_hot(num_classes); }
// The member Tensor::clone() belongs to the element-wise family; this is only its spelling.
Tensor clone(const Tensor& a) { return a.clone(); }

}  // namespace cnnkit
