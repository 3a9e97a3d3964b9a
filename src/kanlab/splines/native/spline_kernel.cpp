// kanlab's optional compiled kernel: the KAN layer's basis matrix A in one pass over memory,
// and the input gradient's gather and dot in one more. See kanlab/splines/native/__init__.py.
//
// Conventions (the same as kanlab.splines.kernel): knots (in, n) per input, degree k,
// nb = n - k - 1 basis functions; a point x of input i lies in knot interval m, the largest m
// with t_m <= x among the non-empty intervals; the right end point belongs to the last
// non-empty interval; a point outside [t_0, t_{n-1}] has no basis values (zero), a NaN gives
// NaN. Basis function j = m - k + r (r = 0..k) is written to column i*nb + j of A when
// 0 <= j < nb. The extra columns (base branch, tails) follow at column in*nb.

#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace {

constexpr int kMaxDegree = 7;

// What the kernel needs of one input's knots, computed once per call: the search edges (the
// last knot's copies moved up by one ulp, so that the right end point lies in the last
// interval) and, per degree q = 1..k, the reciprocal spans 1/(t_{j+q} - t_j) (0 for an empty
// span), so that the triangle needs no division; or, for equally spaced cubic knots, t_0 and 1/h.
template <typename T>
struct KnotInfo {
  int64_t n = 0, nb = 0;
  int k = 0;
  bool uniform = false;
  T t0 = 0, inv_h = 0;
  std::vector<T> t, edges, inv;  // inv[q * n + j]

  KnotInfo(const T* knots, int64_t n_, int k_, bool uniform_) : n(n_), nb(n_ - k_ - 1), k(k_) {
    t.assign(knots, knots + n);
    edges = t;
    for (int64_t j = n - 1; j >= 0 && t[j] == t[n - 1]; --j) {
      edges[j] = std::nextafter(t[n - 1], std::numeric_limits<T>::infinity());
    }
    inv.assign((k + 1) * n, T(0));
    for (int q = 1; q <= k; ++q) {
      for (int64_t j = 0; j + q < n; ++j) {
        const T span = t[j + q] - t[j];
        inv[q * n + j] = span > T(0) ? T(1) / span : T(0);
      }
    }
    uniform = uniform_ && k == 3;
    if (uniform) {
      t0 = t[0];
      inv_h = T(n - 1) / (t[n - 1] - t[0]);
    }
  }

  // #{edges <= x} - 1: the knot interval, -1 left of the knots, n - 1 right of them
  int64_t locate(T x) const {
    if (uniform) {
      const T pos = (x - t0) * inv_h;
      if (!(pos >= T(0))) return -1;
      return pos >= T(n - 1) ? n - 1 : static_cast<int64_t>(pos);
    }
    int64_t lo = 0, hi = n;  // the count lies in [lo, hi]
    while (hi - lo > 8) {
      const int64_t mid = (lo + hi) / 2;
      if (edges[mid] <= x) lo = mid + 1; else hi = mid;
    }
    int64_t count = lo;
    for (int64_t j = lo; j < hi; ++j) count += edges[j] <= x;
    return count - 1;
  }

  // Degree-k values (r = 0..k: B_{m-k+r}) at x in interval m, and with d != nullptr their
  // first derivatives in x (equally spaced cubic knots go through UniformRows instead).
  void values(int64_t m, T x, T* v, T* d) const {
    // Cox-de Boor, B_{j,q} = (x - t_j) B_{j,q-1} / (t_{j+q} - t_j)
    //                      + (t_{j+q+1} - x) B_{j+1,q-1} / (t_{j+q+1} - t_{j+1}),
    // on the functions m - q .. m of each degree; v[s] = B_{m-q+s,q}. A function that reaches
    // past the ends does not exist and never feeds one that does (clamped indices).
    v[0] = T(1);
    T lower[kMaxDegree + 1];
    for (int q = 1; q <= k; ++q) {
      if (q == k && d != nullptr) std::copy(v, v + k, lower);
      const T* iq = inv.data() + q * n;
      for (int s = q; s >= 0; --s) {  // in place, from the top: v[s-1], v[s] still q - 1's
        const int64_t j = m - q + s;
        T value = T(0);
        if (s > 0) value += (x - at(t, j)) * at(iq, j) * v[s - 1];
        if (s < q) value += (at(t, j + q + 1) - x) * at(iq, j + 1) * v[s];
        v[s] = value;
      }
    }
    if (d != nullptr) {  // B'_{j,k} = k (B_{j,k-1} / (t_{j+k} - t_j) - B_{j+1,k-1} / (...))
      const T* ik = inv.data() + k * n;
      for (int r = 0; r <= k; ++r) {
        const int64_t j = m - k + r;
        T value = T(0);
        if (r > 0) value += lower[r - 1] * at(ik, j);
        if (r < k) value -= lower[r] * at(ik, j + 1);
        d[r] = T(k) * value;
      }
    }
  }

  T at(const std::vector<T>& a, int64_t j) const { return a[clamp(j)]; }
  T at(const T* a, int64_t j) const { return a[clamp(j)]; }
  int64_t clamp(int64_t j) const { return j < 0 ? 0 : (j >= n ? n - 1 : j); }
};

template <typename T>
std::vector<KnotInfo<T>> knot_infos(const T* knots, int64_t n_in, int64_t n, int k,
                                    bool uniform) {
  std::vector<KnotInfo<T>> infos;
  infos.reserve(n_in);
  for (int64_t i = 0; i < n_in; ++i) infos.emplace_back(knots + i * n, n, k, uniform);
  return infos;
}

// The interval a point is written in: its own, the first non-empty one for NaN (so that NaN
// reaches every output, as on the PyTorch path), -1 when outside.
template <typename T>
inline int64_t interval_of(const KnotInfo<T>& info, T x, bool nan) {
  const int64_t m = info.locate(nan ? info.t[0] : x);
  return (m < 0 || m >= info.n - 1) ? -1 : m;
}

// Equally spaced cubic knots, in arrays over the inputs so that the compiler vectorises the
// per-row loops: position, interval and the four polynomials of u in [0, 1] (values or
// derivatives in x), then the writes (or gathers) of each input's four columns.
// Input i's functions m - k .. m that exist, of a row of A (or of dL/dA) from column i * nb:
// write value(r) into each, or sum each times weight(r).
template <typename T, typename Value>
inline void write_functions(T* cols, int64_t m, int k, int64_t nb, Value value) {
  for (int r = 0; r <= k; ++r) {
    const int64_t j = m - k + r;
    if (j >= 0 && j < nb) cols[j] = value(r);
  }
}

template <typename T, typename Weight>
inline T gather_functions(const T* cols, int64_t m, int k, int64_t nb, Weight weight) {
  T out = T(0);
  for (int r = 0; r <= k; ++r) {
    const int64_t j = m - k + r;
    if (j >= 0 && j < nb) out += cols[j] * weight(r);
  }
  return out;
}

template <typename T>
struct UniformRows {
  int64_t n_in, n, nb;
  std::vector<T> t0, inv_h, pos, u, p0, p1, p2, p3;

  explicit UniformRows(const std::vector<KnotInfo<T>>& infos)
      : n_in(infos.size()), n(infos[0].n), nb(infos[0].nb), t0(n_in), inv_h(n_in), pos(n_in),
        u(n_in), p0(n_in), p1(n_in), p2(n_in), p3(n_in) {
    for (int64_t i = 0; i < n_in; ++i) {
      t0[i] = infos[i].t0;
      inv_h[i] = infos[i].inv_h;
    }
  }

  // pos (the interval as a number, NaN or outside [0, n - 1) when there is none) and the
  // polynomials of the row's points: values, or derivatives in x
  void evaluate(const T* x, bool derivative) {
    const T sixth = T(1) / T(6);
    for (int64_t i = 0; i < n_in; ++i) {
      const T p = (x[i] - t0[i]) * inv_h[i];
      const T m = std::floor(p);
      pos[i] = m;
      u[i] = p - m;
    }
    if (!derivative) {
      for (int64_t i = 0; i < n_in; ++i) {
        const T v = u[i], w = T(1) - v, v2 = v * v, v3 = v2 * v;
        p0[i] = w * w * w * sixth;
        p1[i] = (T(0.5) * v3 - v2) + T(2) / T(3);
        p2[i] = ((T(-0.5) * v3 + T(0.5) * v2) + T(0.5) * v) + sixth;
        p3[i] = v3 * sixth;
      }
    } else {
      for (int64_t i = 0; i < n_in; ++i) {
        const T v = u[i], w = T(1) - v, v2 = v * v, h = inv_h[i];
        p0[i] = T(-0.5) * w * w * h;
        p1[i] = (T(1.5) * v2 - T(2) * v) * h;
        p2[i] = ((T(-1.5) * v2 + v) + T(0.5)) * h;
        p3[i] = T(0.5) * v2 * h;
      }
    }
  }

  // the interval of input i's point, or -1 (outside, NaN)
  int64_t interval(int64_t i) const {
    const T m = pos[i];
    return (m >= T(0) && m < T(n - 1)) ? static_cast<int64_t>(m) : -1;
  }

  T poly(int r, int64_t i) const {
    return r == 0 ? p0[i] : (r == 1 ? p1[i] : (r == 2 ? p2[i] : p3[i]));
  }
};

template <typename T>
void fill_rows_uniform(const T* x, const std::vector<KnotInfo<T>>& infos, const T* extra, T* a,
                       int64_t begin, int64_t end, int64_t n_extra, int64_t n_cols) {
  UniformRows<T> rows(infos);
  const int64_t n_in = rows.n_in, nb = rows.nb;
  for (int64_t b = begin; b < end; ++b) {
    T* row = a + b * n_cols;
    const T* xb = x + b * n_in;
    std::memset(row, 0, sizeof(T) * n_cols);
    rows.evaluate(xb, false);
    for (int64_t i = 0; i < n_in; ++i) {
      int64_t m = rows.interval(i);
      const bool nan = std::isnan(xb[i]);
      if (nan) m = interval_of(infos[i], xb[i], true);
      if (m < 0) continue;
      write_functions(row + i * nb, m, 3, nb, [&](int r) { return nan ? xb[i] : rows.poly(r, i); });
    }
    if (n_extra > 0) std::memcpy(row + n_in * nb, extra + b * n_extra, sizeof(T) * n_extra);
  }
}

template <typename T>
void input_grad_rows_uniform(const T* grad_a, const T* x, const std::vector<KnotInfo<T>>& infos,
                             T* grad_x, int64_t begin, int64_t end, int64_t n_cols) {
  UniformRows<T> rows(infos);
  const int64_t n_in = rows.n_in, nb = rows.nb;
  for (int64_t b = begin; b < end; ++b) {
    const T* g = grad_a + b * n_cols;
    const T* xb = x + b * n_in;
    rows.evaluate(xb, true);
    for (int64_t i = 0; i < n_in; ++i) {
      const int64_t m = rows.interval(i);
      grad_x[b * n_in + i] =
          std::isnan(xb[i]) ? xb[i]
          : m < 0 ? T(0)
                  : gather_functions(g + i * nb, m, 3, nb, [&](int r) { return rows.poly(r, i); });
    }
  }
}

template <typename T>
void fill_rows(const T* x, const std::vector<KnotInfo<T>>& infos, const T* extra, T* a,
               int64_t begin, int64_t end, int64_t n_extra, int64_t n_cols) {
  const int64_t n_in = infos.size(), nb = infos[0].nb;
  const int k = infos[0].k;
  T v[kMaxDegree + 1];
  for (int64_t b = begin; b < end; ++b) {
    T* row = a + b * n_cols;
    std::memset(row, 0, sizeof(T) * n_cols);
    for (int64_t i = 0; i < n_in; ++i) {
      const T xi = x[b * n_in + i];
      const bool nan = std::isnan(xi);
      const int64_t m = interval_of(infos[i], xi, nan);
      if (m < 0) continue;
      if (!nan) infos[i].values(m, xi, v, nullptr);
      write_functions(row + i * nb, m, k, nb, [&](int r) { return nan ? xi : v[r]; });
    }
    if (n_extra > 0) std::memcpy(row + n_in * nb, extra + b * n_extra, sizeof(T) * n_extra);
  }
}

template <typename T>
void input_grad_rows(const T* grad_a, const T* x, const std::vector<KnotInfo<T>>& infos,
                     T* grad_x, int64_t begin, int64_t end, int64_t n_cols) {
  const int64_t n_in = infos.size(), nb = infos[0].nb;
  const int k = infos[0].k;
  T v[kMaxDegree + 1], d[kMaxDegree + 1];
  for (int64_t b = begin; b < end; ++b) {
    const T* g = grad_a + b * n_cols;
    for (int64_t i = 0; i < n_in; ++i) {
      const T xi = x[b * n_in + i];
      const int64_t m = std::isnan(xi) ? -1 : interval_of(infos[i], xi, false);
      T out = std::isnan(xi) ? xi : T(0);
      if (m >= 0) {
        infos[i].values(m, xi, v, d);
        out = gather_functions(g + i * nb, m, k, nb, [&](int r) { return d[r]; });
      }
      grad_x[b * n_in + i] = out;
    }
  }
}

void check(const torch::Tensor& x, const torch::Tensor& knots, int64_t k) {
  TORCH_CHECK(x.device().is_cpu() && knots.device().is_cpu(), "CPU tensors expected");
  TORCH_CHECK(x.dim() == 2 && knots.dim() == 2 && x.size(1) == knots.size(0),
              "x (B, in) and knots (in, n) expected");
  TORCH_CHECK(x.scalar_type() == knots.scalar_type(), "x and knots must share a dtype");
  TORCH_CHECK(k >= 0 && k <= kMaxDegree, "spline degree must lie in [0, 7]");
  TORCH_CHECK(knots.size(1) >= k + 2, "too few knots for the degree");
}

// A (B, n_cols): the basis values of x, then the extra columns, then zeros.
torch::Tensor fill(torch::Tensor x, torch::Tensor knots, int64_t k, torch::Tensor extra,
                   int64_t n_cols, bool uniform) {
  check(x, knots, k);
  x = x.contiguous();
  knots = knots.contiguous();
  const int64_t batch = x.size(0), n_in = x.size(1), n = knots.size(1);
  const int64_t n_extra = extra.numel() > 0 ? extra.size(1) : 0;
  TORCH_CHECK(n_cols >= n_in * (n - k - 1) + n_extra, "n_cols too small");
  if (n_extra > 0) {
    TORCH_CHECK(extra.size(0) == batch && extra.scalar_type() == x.scalar_type(),
                "extra (B, E) in the dtype of x expected");
    extra = extra.contiguous();
  }
  auto a = torch::empty({batch, n_cols}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "kanlab_fill", [&] {
    const scalar_t* xp = x.data_ptr<scalar_t>();
    const auto infos = knot_infos(knots.data_ptr<scalar_t>(), n_in, n, static_cast<int>(k),
                                  uniform);
    const scalar_t* ep = n_extra > 0 ? extra.data_ptr<scalar_t>() : nullptr;
    scalar_t* ap = a.data_ptr<scalar_t>();
    at::parallel_for(0, batch, 64, [&](int64_t begin, int64_t end) {
      if (infos[0].uniform) {
        fill_rows_uniform<scalar_t>(xp, infos, ep, ap, begin, end, n_extra, n_cols);
      } else {
        fill_rows<scalar_t>(xp, infos, ep, ap, begin, end, n_extra, n_cols);
      }
    });
  });
  return a;
}

// dL/dx (B, in) = sum_r dL/dA[b, col_r(i)] * B'_r(x_i), from dL/dA (B, n_cols).
torch::Tensor input_grad(torch::Tensor grad_a, torch::Tensor x, torch::Tensor knots,
                         int64_t k, bool uniform) {
  check(x, knots, k);
  TORCH_CHECK(grad_a.dim() == 2 && grad_a.size(0) == x.size(0) &&
                  grad_a.scalar_type() == x.scalar_type(),
              "grad_a (B, n_cols) in the dtype of x expected");
  grad_a = grad_a.contiguous();
  x = x.contiguous();
  knots = knots.contiguous();
  const int64_t batch = x.size(0), n_in = x.size(1), n = knots.size(1);
  const int64_t n_cols = grad_a.size(1);
  TORCH_CHECK(n_cols >= n_in * (n - k - 1), "grad_a has too few columns");
  auto grad_x = torch::empty({batch, n_in}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "kanlab_input_grad", [&] {
    const scalar_t* gp = grad_a.data_ptr<scalar_t>();
    const scalar_t* xp = x.data_ptr<scalar_t>();
    const auto infos = knot_infos(knots.data_ptr<scalar_t>(), n_in, n, static_cast<int>(k),
                                  uniform);
    scalar_t* op = grad_x.data_ptr<scalar_t>();
    at::parallel_for(0, batch, 64, [&](int64_t begin, int64_t end) {
      if (infos[0].uniform) {
        input_grad_rows_uniform<scalar_t>(gp, xp, infos, op, begin, end, n_cols);
      } else {
        input_grad_rows<scalar_t>(gp, xp, infos, op, begin, end, n_cols);
      }
    });
  });
  return grad_x;
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("fill", &fill, "the basis matrix A of a KAN layer");
  m.def("input_grad", &input_grad, "the input gradient from the gradient of A");
}
