// kanlab's optional compiled kernel: the KAN layer's basis matrix A in one pass over memory,
// and the input gradient's gather and dot in one more; the GEMM weight from the layer's
// parameters in one pass, and its gradient split back into theirs in one more. See
// kanlab/splines/native/__init__.py.
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

// Numbers of A (or of the weight) a thread's task holds at least: below that, waking a second
// thread costs more than it saves (a small layer's call stays on one thread).
constexpr int64_t kTaskValues = 32768;

inline int64_t rows_per_task(int64_t values_per_row) {
  return std::max<int64_t>(1, kTaskValues / std::max<int64_t>(1, values_per_row));
}

// What the kernel needs of one input's knots, computed once per call: the search edges (the
// last knot's copies moved up by one ulp, so that the right end point lies in the last
// interval) and, per non-empty interval m, the k + 1 functions that live on it as polynomials
// in s = (x - t_m) / (t_{m+1} - t_m) in [0, 1] (power form, de Boor's triangle run once on
// polynomials), so that a point costs a search and k + 1 Horner sums; or, for equally spaced
// cubic knots, t_0 and 1/h (their polynomials are the same on every interval).
template <typename T>
struct KnotInfo {
  int64_t n = 0, nb = 0;
  int k = 0;
  bool uniform = false;
  T t0 = 0, inv_h = 0;
  std::vector<T> t, edges, inv_len, table;  // table[(m * (k + 1) + r) * (k + 1) + p]

  KnotInfo(const T* knots, int64_t n_, int k_, bool uniform_) : n(n_), nb(n_ - k_ - 1), k(k_) {
    t.assign(knots, knots + n);
    edges = t;
    for (int64_t j = n - 1; j >= 0 && t[j] == t[n - 1]; --j) {
      edges[j] = std::nextafter(t[n - 1], std::numeric_limits<T>::infinity());
    }
    uniform = uniform_ && k == 3;
    if (uniform) {
      t0 = t[0];
      inv_h = T(n - 1) / (t[n - 1] - t[0]);
      return;
    }
    const int w = k + 1;
    inv_len.assign(n, T(0));
    table.assign(n * w * w, T(0));
    for (int64_t m = 0; m + 1 < n; ++m) {
      if (t[m + 1] > t[m]) interval_table(m);
    }
  }

  // The functions m - k .. m on interval m as polynomials in s: de Boor's triangle,
  // B_{j,q} = (x - t_j) B_{j,q-1} / (t_{j+q} - t_j) + (t_{j+q+1} - x) B_{j+1,q-1} / (...),
  // with x = t_m + h s, on the functions m - q .. m of each degree (poly[s] = B_{m-q+s,q});
  // a function that reaches past the ends does not exist and never feeds one that does
  // (clamped indices; an empty span's reciprocal is 0).
  void interval_table(int64_t m) {
    const int w = k + 1;
    const T h = t[m + 1] - t[m];
    inv_len[m] = T(1) / h;
    T poly[kMaxDegree + 1][kMaxDegree + 1] = {};
    poly[0][0] = T(1);
    for (int q = 1; q <= k; ++q) {
      for (int s = q; s >= 0; --s) {  // in place, from the top: poly[s-1], poly[s] still q - 1's
        const int64_t j = m - q + s;
        T next[kMaxDegree + 1] = {};
        if (s > 0) {  // (t_m - t_j + h s) / (t_{j+q} - t_j) times B_{j,q-1}
          const T r = inv(q, j), a0 = (t[m] - at(j)) * r, a1 = h * r;
          for (int p = 0; p < q; ++p) {
            next[p] += a0 * poly[s - 1][p];
            next[p + 1] += a1 * poly[s - 1][p];
          }
        }
        if (s < q) {  // (t_{j+q+1} - t_m - h s) / (t_{j+q+1} - t_{j+1}) times B_{j+1,q-1}
          const T r = inv(q, j + 1), b0 = (at(j + q + 1) - t[m]) * r, b1 = -h * r;
          for (int p = 0; p < q; ++p) {
            next[p] += b0 * poly[s][p];
            next[p + 1] += b1 * poly[s][p];
          }
        }
        std::copy(next, next + q + 1, poly[s]);
      }
    }
    for (int r = 0; r <= k; ++r) std::copy(poly[r], poly[r] + w, table.begin() + (m * w + r) * w);
  }

  // 1 / (t_{j+q} - t_j) at clamped indices, 0 for an empty span
  T inv(int q, int64_t j) const {
    const T span = at(j + q) - at(j);
    return span > T(0) ? T(1) / span : T(0);
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

  // Degree-k values (r = 0..k: B_{m-k+r}) at x in non-empty interval m, and with d != nullptr
  // their first derivatives in x (equally spaced cubic knots go through CubicRows instead).
  void values(int64_t m, T x, T* v, T* d) const {
    const int w = k + 1;
    const T s = (x - t[m]) * inv_len[m];
    const T* c = table.data() + m * w * w;
    for (int r = 0; r <= k; ++r, c += w) {
      T value = c[k];
      for (int p = k - 1; p >= 0; --p) value = value * s + c[p];
      v[r] = value;
      if (d != nullptr) {
        T slope = T(k) * c[k];
        for (int p = k - 1; p >= 1; --p) slope = slope * s + T(p) * c[p];
        d[r] = slope * inv_len[m];
      }
    }
  }

  T at(int64_t j) const { return t[clamp(j)]; }
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

// The columns of A after the splines, (B, n_extra) (the base branch, tails), given.
template <typename T>
struct ExtraColumns {
  const T* given = nullptr;
  int64_t n_extra = 0;

  void write(T* dst, int64_t b) const {
    if (n_extra > 0) std::memcpy(dst, given + b * n_extra, sizeof(T) * n_extra);
  }
};

// SiLU base columns s = silu(x) (B, in, row stride `stride`, as A holds them), for dL/dx's
// term dL/dA[b, in*nb + i] * silu'(x_i): with sigma = s / x (1/2 at x = 0),
// silu'(x) = sigma * (1 + x * (1 - sigma)), as torch's silu_backward, without an exp.
template <typename T>
struct SiluGrad {
  const T* s = nullptr;
  int64_t stride = 0, n_in = 0;

  // grad_x[i] += g[i] * silu'(x_i) for the row b; g: the row's dL/dA from the base columns
  void add(T* grad_x, const T* g, const T* xb, int64_t b) const {
    if (s == nullptr) return;
    const T* sb = s + b * stride;
    for (int64_t i = 0; i < n_in; ++i) {
      const T sig = xb[i] == T(0) ? T(0.5) : sb[i] / xb[i];
      grad_x[i] += g[i] * (sig * (T(1) + xb[i] * (T(1) - sig)));
    }
  }
};

// The interval a point is written in: its own, the first non-empty one for NaN (so that NaN
// reaches every output, as on the PyTorch path), -1 when outside.
template <typename T>
inline int64_t interval_of(const KnotInfo<T>& info, T x, bool nan) {
  const int64_t m = info.locate(nan ? info.t[0] : x);
  return (m < 0 || m >= info.n - 1) ? -1 : m;
}

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

// Cubic knots, in arrays over a block of `block_rows` whole rows, so that the compiler
// vectorises the loops over the block's points even when the layer has few inputs: interval,
// position u in [0, 1] on it, and the four polynomials of u (values or derivatives in x), then
// the writes (or gathers) of each point's four columns. Point p of the block is input p % n_in
// of its row. Equally spaced knots: the interval from (x - t_0) / h (the inputs' t_0 and 1/h
// tiled), the same polynomials on every interval; other knots: the interval by counting the
// edges at or below x (tiled; a binary search past kCountedKnots knots), each interval's own
// polynomials (KnotInfo::table).
constexpr int64_t kCountedKnots = 32;

template <typename T>
struct CubicRows {
  const std::vector<KnotInfo<T>>& infos;
  int64_t n_in, n, nb, block_rows;
  bool uniform, counted;
  std::vector<T> t0, inv_h, edges, pos, u, p0, p1, p2, p3;
  // other knots: per input and interval, {t_m, 1 / (t_{m+1} - t_m), the four polynomials'
  // coefficients}, one contiguous row of kRow numbers
  static constexpr int64_t kRow = 18;
  std::vector<T> intervals;
  std::vector<int64_t> input_row, row_of;  // per point: its input's first row, its own row

  // rows: how many the caller has (no longer blocks than that)
  CubicRows(const std::vector<KnotInfo<T>>& infos_, int64_t rows)
      : infos(infos_), n_in(infos_.size()), n(infos_[0].n), nb(infos_[0].nb),
        block_rows(std::clamp<int64_t>(256 / n_in, 1, std::max<int64_t>(rows, 1))),
        uniform(infos_[0].uniform),
        counted(!uniform && n <= kCountedKnots), t0(block_rows * n_in),
        inv_h(block_rows * n_in), pos(block_rows * n_in), u(block_rows * n_in),
        p0(block_rows * n_in), p1(block_rows * n_in), p2(block_rows * n_in),
        p3(block_rows * n_in) {
    const int64_t size = block_rows * n_in;
    const auto tile = [&](auto& out, auto value) {  // out[b * n_in + i] = value(i)
      for (int64_t i = 0; i < n_in; ++i) {
        const auto v = value(i);
        for (int64_t b = 0; b < block_rows; ++b) out[b * n_in + i] = v;
      }
    };
    tile(t0, [&](int64_t i) { return infos[i].t0; });
    tile(inv_h, [&](int64_t i) { return infos[i].inv_h; });
    if (!uniform) {
      input_row.resize(size);
      row_of.resize(size);
      tile(input_row, [&](int64_t i) { return i * n * kRow; });
      intervals.assign(n_in * n * kRow, T(0));
      for (int64_t i = 0; i < n_in; ++i) {
        const KnotInfo<T>& info = infos[i];
        for (int64_t m = 0; m + 1 < n; ++m) {
          T* row = intervals.data() + (i * n + m) * kRow;
          row[0] = info.t[m];
          row[1] = info.inv_len[m];
          std::copy(info.table.begin() + m * 16, info.table.begin() + (m + 1) * 16, row + 2);
        }
      }
    }
    if (counted) {
      edges.resize(n * size);
      for (int64_t j = 0; j < n; ++j) {
        T* plane = edges.data() + j * size;
        tile(plane, [&](int64_t i) { return infos[i].edges[j]; });
      }
    }
  }

  // pos (the interval as a number; NaN, negative or past n - 2 when there is none) and the
  // polynomials of the first `count` points from x: values, or derivatives in x
  void evaluate(const T* __restrict__ x, int64_t count, bool derivative) {
    if (!uniform) return evaluate_table(x, count, derivative);
    // raw, unaliased pointers: through the vectors' members the loops do not vectorise
    const T* __restrict__ a = t0.data();
    const T* __restrict__ s = inv_h.data();
    T* __restrict__ m_out = pos.data();
    T* __restrict__ u_out = u.data();
    T *__restrict__ q0 = p0.data(), *__restrict__ q1 = p1.data();
    T *__restrict__ q2 = p2.data(), *__restrict__ q3 = p3.data();
    const T sixth = T(1) / T(6);
    for (int64_t p = 0; p < count; ++p) {
      const T q = (x[p] - a[p]) * s[p];
      const T m = std::floor(q);
      m_out[p] = m;
      u_out[p] = q - m;
    }
    if (!derivative) {
      for (int64_t p = 0; p < count; ++p) {
        const T v = u_out[p], w = T(1) - v, v2 = v * v, v3 = v2 * v;
        q0[p] = w * w * w * sixth;
        q1[p] = (T(0.5) * v3 - v2) + T(2) / T(3);
        q2[p] = ((T(-0.5) * v3 + T(0.5) * v2) + T(0.5) * v) + sixth;
        q3[p] = v3 * sixth;
      }
    } else {
      for (int64_t p = 0; p < count; ++p) {
        const T v = u_out[p], w = T(1) - v, v2 = v * v, h = s[p];
        q0[p] = T(-0.5) * w * w * h;
        q1[p] = (T(1.5) * v2 - T(2) * v) * h;
        q2[p] = ((T(-1.5) * v2 + v) + T(0.5)) * h;
        q3[p] = T(0.5) * v2 * h;
      }
    }
  }

  void evaluate_table(const T* __restrict__ x, int64_t count, bool derivative) {
    T* __restrict__ m_out = pos.data();
    if (counted) {  // #{edges <= x} - 1, edge by edge over the block
      const int64_t size = block_rows * n_in;
      for (int64_t p = 0; p < count; ++p) m_out[p] = T(-1);
      for (int64_t j = 0; j < n; ++j) {
        const T* __restrict__ e = edges.data() + j * size;
        for (int64_t p = 0; p < count; ++p) m_out[p] += e[p] <= x[p] ? T(1) : T(0);
      }
    } else {
      for (int64_t p = 0; p < count; ++p) m_out[p] = T(infos[p % n_in].locate(x[p]));
    }
    // each point's row of `intervals` (the first one where it has no interval: ignored, as
    // its pos is -1), then its polynomials, without branches (the compiler gathers the rows)
    const T last = T(n - 1);
    int64_t* __restrict__ at = row_of.data();
    const int64_t* __restrict__ first = input_row.data();
    for (int64_t p = 0; p < count; ++p) {
      const T mf = m_out[p];
      const bool inside = mf >= T(0) && mf < last;
      m_out[p] = inside ? mf : T(-1);
      at[p] = first[p] + static_cast<int64_t>(inside ? mf : T(0)) * kRow;
    }
    const T* __restrict__ tab = intervals.data();
    T *__restrict__ q0 = p0.data(), *__restrict__ q1 = p1.data();
    T *__restrict__ q2 = p2.data(), *__restrict__ q3 = p3.data();
    if (!derivative) {
#pragma omp simd
      for (int64_t p = 0; p < count; ++p) {
        const T* c = tab + at[p];
        const T v = (x[p] - c[0]) * c[1];
        q0[p] = ((c[5] * v + c[4]) * v + c[3]) * v + c[2];
        q1[p] = ((c[9] * v + c[8]) * v + c[7]) * v + c[6];
        q2[p] = ((c[13] * v + c[12]) * v + c[11]) * v + c[10];
        q3[p] = ((c[17] * v + c[16]) * v + c[15]) * v + c[14];
      }
    } else {
#pragma omp simd
      for (int64_t p = 0; p < count; ++p) {
        const T* c = tab + at[p];
        const T v = (x[p] - c[0]) * c[1], h = c[1];
        q0[p] = ((T(3) * c[5] * v + T(2) * c[4]) * v + c[3]) * h;
        q1[p] = ((T(3) * c[9] * v + T(2) * c[8]) * v + c[7]) * h;
        q2[p] = ((T(3) * c[13] * v + T(2) * c[12]) * v + c[11]) * h;
        q3[p] = ((T(3) * c[17] * v + T(2) * c[16]) * v + c[15]) * h;
      }
    }
  }

  // the interval of point p, or -1 (outside, NaN)
  int64_t interval(int64_t p) const {
    const T m = pos[p];
    return (m >= T(0) && m < T(n - 1)) ? static_cast<int64_t>(m) : -1;
  }

  T poly(int r, int64_t p) const {
    return r == 0 ? p0[p] : (r == 1 ? p1[p] : (r == 2 ? p2[p] : p3[p]));
  }
};

template <typename T>
void fill_rows_cubic(const T* x, const std::vector<KnotInfo<T>>& infos,
                       const ExtraColumns<T>& extra, T* a, int64_t begin, int64_t end,
                       int64_t n_cols) {
  CubicRows<T> rows(infos, end - begin);
  const int64_t n_in = rows.n_in, nb = rows.nb;
  for (int64_t b0 = begin; b0 < end; b0 += rows.block_rows) {
    const int64_t n_rows = std::min(rows.block_rows, end - b0);
    rows.evaluate(x + b0 * n_in, n_rows * n_in, false);
    for (int64_t b = b0; b < b0 + n_rows; ++b) {
      T* row = a + b * n_cols;
      const T* xb = x + b * n_in;
      const int64_t p0 = (b - b0) * n_in;  // the row's first point in the block
      std::memset(row, 0, sizeof(T) * n_cols);
      for (int64_t i = 0; i < n_in; ++i) {
        const int64_t p = p0 + i;
        int64_t m = rows.interval(p);
        if (m >= 3 && m < nb) {  // inside the grid: all four functions exist, no checks
          T* c = row + i * nb + m - 3;
          c[0] = rows.p0[p];
          c[1] = rows.p1[p];
          c[2] = rows.p2[p];
          c[3] = rows.p3[p];
          continue;
        }
        const bool nan = std::isnan(xb[i]);
        if (nan) m = interval_of(infos[i], xb[i], true);
        if (m < 0) continue;
        write_functions(row + i * nb, m, 3, nb,
                        [&](int r) { return nan ? xb[i] : rows.poly(r, p); });
      }
      extra.write(row + n_in * nb, b);
    }
  }
}

template <typename T>
void input_grad_rows_cubic(const T* grad_a, const T* x, const std::vector<KnotInfo<T>>& infos,
                             const SiluGrad<T>& silu, T* grad_x, int64_t begin, int64_t end,
                             int64_t n_cols) {
  CubicRows<T> rows(infos, end - begin);
  const int64_t n_in = rows.n_in, nb = rows.nb;
  for (int64_t b0 = begin; b0 < end; b0 += rows.block_rows) {
    const int64_t n_rows = std::min(rows.block_rows, end - b0);
    rows.evaluate(x + b0 * n_in, n_rows * n_in, true);
    for (int64_t b = b0; b < b0 + n_rows; ++b) {
      const T* g = grad_a + b * n_cols;
      const T* xb = x + b * n_in;
      const int64_t p0 = (b - b0) * n_in;
      for (int64_t i = 0; i < n_in; ++i) {
        const int64_t p = p0 + i;
        const int64_t m = rows.interval(p);
        if (m >= 3 && m < nb) {  // inside the grid: all four functions exist, no checks
          const T* c = g + i * nb + m - 3;
          grad_x[b * n_in + i] =
              ((c[0] * rows.p0[p] + c[1] * rows.p1[p]) + c[2] * rows.p2[p]) + c[3] * rows.p3[p];
          continue;
        }
        grad_x[b * n_in + i] =
            std::isnan(xb[i]) ? xb[i]
            : m < 0           ? T(0)
                              : gather_functions(g + i * nb, m, 3, nb,
                                                 [&](int r) { return rows.poly(r, p); });
      }
      silu.add(grad_x + b * n_in, g + n_in * nb, xb, b);
    }
  }
}

template <typename T>
void fill_rows(const T* x, const std::vector<KnotInfo<T>>& infos, const ExtraColumns<T>& extra,
               T* a, int64_t begin, int64_t end, int64_t n_cols) {
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
    extra.write(row + n_in * nb, b);
  }
}

template <typename T>
void input_grad_rows(const T* grad_a, const T* x, const std::vector<KnotInfo<T>>& infos,
                     const SiluGrad<T>& silu, T* grad_x, int64_t begin, int64_t end,
                     int64_t n_cols) {
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
    silu.add(grad_x + b * n_in, g + n_in * nb, x + b * n_in, b);
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
    ExtraColumns<scalar_t> columns;
    columns.given = n_extra > 0 ? extra.data_ptr<scalar_t>() : nullptr;
    columns.n_extra = n_extra;
    scalar_t* ap = a.data_ptr<scalar_t>();
    at::parallel_for(0, batch, rows_per_task(n_cols), [&](int64_t begin, int64_t end) {
      if (k == 3) {
        fill_rows_cubic<scalar_t>(xp, infos, columns, ap, begin, end, n_cols);
      } else {
        fill_rows<scalar_t>(xp, infos, columns, ap, begin, end, n_cols);
      }
    });
  });
  return a;
}

// dL/dx (B, in) = sum_r dL/dA[b, col_r(i)] * B'_r(x_i), from dL/dA (B, n_cols); with the SiLU
// base columns silu_values (B, in) (or an empty tensor), + dL/dA[b, in*nb + i] * silu'(x_i).
torch::Tensor gather_input_grad(torch::Tensor grad_a, torch::Tensor x, torch::Tensor knots,
                                int64_t k, bool uniform, torch::Tensor silu_values) {
  check(x, knots, k);
  TORCH_CHECK(grad_a.dim() == 2 && grad_a.size(0) == x.size(0) &&
                  grad_a.scalar_type() == x.scalar_type(),
              "grad_a (B, n_cols) in the dtype of x expected");
  grad_a = grad_a.contiguous();
  x = x.contiguous();
  knots = knots.contiguous();
  const int64_t batch = x.size(0), n_in = x.size(1), n = knots.size(1);
  const int64_t n_cols = grad_a.size(1);
  const bool silu = silu_values.numel() > 0;
  TORCH_CHECK(n_cols >= n_in * (n - k - 1) + (silu ? n_in : 0), "grad_a has too few columns");
  if (silu) {
    TORCH_CHECK(silu_values.dim() == 2 && silu_values.size(0) == batch &&
                    silu_values.size(1) == n_in && silu_values.scalar_type() == x.scalar_type(),
                "silu_values (B, in) in the dtype of x expected");
    if (silu_values.stride(1) != 1) silu_values = silu_values.contiguous();
  }
  auto grad_x = torch::empty({batch, n_in}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "kanlab_input_grad", [&] {
    const scalar_t* gp = grad_a.data_ptr<scalar_t>();
    const scalar_t* xp = x.data_ptr<scalar_t>();
    const auto infos = knot_infos(knots.data_ptr<scalar_t>(), n_in, n, static_cast<int>(k),
                                  uniform);
    SiluGrad<scalar_t> base;
    if (silu) {
      base.s = silu_values.data_ptr<scalar_t>();
      base.stride = silu_values.stride(0);
      base.n_in = n_in;
    }
    scalar_t* op = grad_x.data_ptr<scalar_t>();
    at::parallel_for(0, batch, rows_per_task(n_cols), [&](int64_t begin, int64_t end) {
      if (k == 3) {
        input_grad_rows_cubic<scalar_t>(gp, xp, infos, base, op, begin, end, n_cols);
      } else {
        input_grad_rows<scalar_t>(gp, xp, infos, base, op, begin, end, n_cols);
      }
    });
  });
  return grad_x;
}

// dL/dx (B, in) of y = A(x) W^T from G = dL/dy (B, out) and W (out, n_cols): each thread forms
// dL/dA = G W for a block of chunk_values numbers (whole rows) and gathers it while it is in
// its cache, with a one-thread GEMM per block (a batch of one block: one GEMM, all threads).
torch::Tensor input_grad(torch::Tensor grad_y, torch::Tensor w, torch::Tensor x,
                         torch::Tensor knots, int64_t k, bool uniform, torch::Tensor silu_values,
                         int64_t chunk_values) {
  const int64_t batch = x.size(0);
  const bool silu = silu_values.numel() > 0;
  const int64_t rows = std::max<int64_t>(1, chunk_values / std::max<int64_t>(1, w.size(1)));
  if (rows >= batch) return gather_input_grad(at::mm(grad_y, w), x, knots, k, uniform, silu_values);
  auto grad_x = torch::empty_like(x);
  at::parallel_for(0, batch, rows, [&](int64_t begin, int64_t end) {
    for (int64_t lo = begin; lo < end; lo += rows) {
      const int64_t hi = std::min(end, lo + rows);
      grad_x.slice(0, lo, hi).copy_(gather_input_grad(
          at::mm(grad_y.slice(0, lo, hi), w), x.slice(0, lo, hi), knots, k, uniform,
          silu ? silu_values.slice(0, lo, hi) : silu_values));
    }
  });
  return grad_x;
}

void check_edges(const torch::Tensor& coef, const torch::Tensor& scale,
                 const torch::Tensor& mask) {
  TORCH_CHECK(coef.device().is_cpu() && coef.dim() == 3, "coef (out, in, nb) on the CPU expected");
  for (const auto* t : {&scale, &mask}) {
    TORCH_CHECK(t->device().is_cpu() && t->dim() == 2 && t->size(0) == coef.size(0) &&
                    t->size(1) == coef.size(1) && t->scalar_type() == coef.scalar_type(),
                "scale and mask (out, in) in the dtype of coef expected");
  }
}

// The layer's GEMM weight (out, n_cols): coef * (scale * mask) at column i*nb + j, then
// base * mask at column in*nb + i when base is given, then zeros.
torch::Tensor weight_fill(torch::Tensor coef, torch::Tensor scale, torch::Tensor mask,
                          torch::Tensor base, int64_t n_cols) {
  check_edges(coef, scale, mask);
  const bool with_base = base.numel() > 0;
  if (with_base) check_edges(coef, base, mask);
  coef = coef.contiguous();
  scale = scale.contiguous();
  mask = mask.contiguous();
  if (with_base) base = base.contiguous();
  const int64_t n_out = coef.size(0), n_in = coef.size(1), nb = coef.size(2);
  const int64_t used = n_in * nb + (with_base ? n_in : 0);
  TORCH_CHECK(n_cols >= used, "n_cols too small");
  auto w = torch::empty({n_out, n_cols}, coef.options());
  AT_DISPATCH_FLOATING_TYPES(coef.scalar_type(), "kanlab_weight_fill", [&] {
    const scalar_t *cp = coef.data_ptr<scalar_t>(), *sp = scale.data_ptr<scalar_t>();
    const scalar_t* mp = mask.data_ptr<scalar_t>();
    const scalar_t* bp = with_base ? base.data_ptr<scalar_t>() : nullptr;
    scalar_t* wp = w.data_ptr<scalar_t>();
    at::parallel_for(0, n_out, rows_per_task(n_cols), [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; ++o) {
        scalar_t* row = wp + o * n_cols;
        for (int64_t i = 0; i < n_in; ++i) {
          const scalar_t s = sp[o * n_in + i] * mp[o * n_in + i];
          const scalar_t* c = cp + (o * n_in + i) * nb;
          for (int64_t j = 0; j < nb; ++j) row[i * nb + j] = c[j] * s;
        }
        if (bp != nullptr) {
          for (int64_t i = 0; i < n_in; ++i) row[n_in * nb + i] = bp[o * n_in + i] * mp[o * n_in + i];
        }
        std::fill(row + used, row + n_cols, scalar_t(0));
      }
    });
  });
  return w;
}

// The gradients of coef, scale and base (when with_base) from that of the GEMM weight
// (out, n_cols): grad_coef = g * scale * mask, grad_scale = sum_j g * coef * mask,
// grad_base = g * mask.
std::vector<torch::Tensor> weight_grad(torch::Tensor grad_w, torch::Tensor coef,
                                       torch::Tensor scale, torch::Tensor mask, bool with_base) {
  check_edges(coef, scale, mask);
  coef = coef.contiguous();
  scale = scale.contiguous();
  mask = mask.contiguous();
  grad_w = grad_w.contiguous();
  const int64_t n_out = coef.size(0), n_in = coef.size(1), nb = coef.size(2);
  const int64_t n_cols = grad_w.size(1);
  TORCH_CHECK(grad_w.dim() == 2 && grad_w.size(0) == n_out &&
                  n_cols >= n_in * nb + (with_base ? n_in : 0) &&
                  grad_w.scalar_type() == coef.scalar_type(),
              "grad_w (out, n_cols) in the dtype of coef expected");
  auto grad_coef = torch::empty_like(coef);
  auto grad_scale = torch::empty_like(scale);
  auto grad_base = with_base ? torch::empty_like(scale) : torch::empty({0}, coef.options());
  AT_DISPATCH_FLOATING_TYPES(coef.scalar_type(), "kanlab_weight_grad", [&] {
    const scalar_t *gp = grad_w.data_ptr<scalar_t>(), *cp = coef.data_ptr<scalar_t>();
    const scalar_t *sp = scale.data_ptr<scalar_t>(), *mp = mask.data_ptr<scalar_t>();
    scalar_t *gcp = grad_coef.data_ptr<scalar_t>(), *gsp = grad_scale.data_ptr<scalar_t>();
    scalar_t* gbp = with_base ? grad_base.data_ptr<scalar_t>() : nullptr;
    at::parallel_for(0, n_out, rows_per_task(n_cols), [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; ++o) {
        const scalar_t* g = gp + o * n_cols;
        for (int64_t i = 0; i < n_in; ++i) {
          const int64_t e = o * n_in + i;
          const scalar_t s = sp[e] * mp[e];
          scalar_t acc = 0;
          for (int64_t j = 0; j < nb; ++j) {
            gcp[e * nb + j] = g[i * nb + j] * s;
            acc += g[i * nb + j] * cp[e * nb + j];
          }
          gsp[e] = acc * mp[e];
          if (gbp != nullptr) gbp[e] = g[n_in * nb + i] * mp[e];
        }
      }
    });
  });
  return {grad_coef, grad_scale, grad_base};
}

// The fused layer's forward (kanlab/nn/fused_forward.py): W (weight_fill), A with the SiLU
// columns when base is given, y = A W^T + bias (bias may be empty). Returns {y, A, W}.
std::vector<torch::Tensor> layer_forward(torch::Tensor x, torch::Tensor coef, torch::Tensor scale,
                                         torch::Tensor mask, torch::Tensor base,
                                         torch::Tensor bias, torch::Tensor knots, int64_t k,
                                         bool uniform) {
  const bool silu = base.numel() > 0;
  const int64_t n_in = coef.size(1), nb = coef.size(2);
  // zeros up to a multiple of 16 columns (odd widths slow large GEMMs down; a narrow A stays
  // as it is, where padding would cost memory and no time)
  const int64_t used = n_in * nb + (silu ? n_in : 0);
  const int64_t n_cols = used < 128 ? used : (used + 15) / 16 * 16;
  auto w = weight_fill(coef, scale, mask, base, n_cols);
  auto a = fill(x, knots, k, silu ? at::silu(x) : x.new_empty({0}), n_cols, uniform);
  return {bias.numel() > 0 ? at::addmm(bias, a, w.t()) : at::mm(a, w.t()), a, w};
}

// The fused layer's parameter gradients from G = dL/dy and A: {coef, scale, base (empty without
// one), bias (the sum of G's rows)}, through dL/dW = G^T A (weight_grad).
std::vector<torch::Tensor> layer_param_grads(torch::Tensor grad_y, torch::Tensor a,
                                             torch::Tensor coef, torch::Tensor scale,
                                             torch::Tensor mask, bool silu) {
  auto grads = weight_grad(at::mm(grad_y.t(), a), coef, scale, mask, silu);
  grads.push_back(grad_y.sum(0));
  return grads;
}


// An ensemble's layer (kanlab/nn/ensemble_layer.py): member e's layer_forward on its own
// slices -- the same code and shapes as a lone layer, so that every member's values are a
// lone model's to the bit. x (E, B, in), or (B, in) shared by every member; coef
// (E, out, in, nb); scale, mask and base (E, out, in) (base empty without a base branch); bias
// (E, out) or empty; knots (E, in, n); uniform: each member's closed-form flag. Returns
// y (E, B, out), then every member's A, then every member's W.
std::vector<torch::Tensor> ensemble_forward(torch::Tensor x, torch::Tensor coef,
                                            torch::Tensor scale, torch::Tensor mask,
                                            torch::Tensor base, torch::Tensor bias,
                                            torch::Tensor knots, int64_t k,
                                            std::vector<bool> uniform) {
  const int64_t members = coef.size(0);
  TORCH_CHECK(coef.dim() == 4 && knots.dim() == 3 && knots.size(0) == members &&
                  static_cast<int64_t>(uniform.size()) == members &&
                  (x.dim() == 2 || (x.dim() == 3 && x.size(0) == members)),
              "an ensemble's tensors with a leading member axis expected");
  std::vector<torch::Tensor> out(1 + 2 * members), ys(members);
  for (int64_t e = 0; e < members; ++e) {
    auto r = layer_forward(x.dim() == 2 ? x : x[e], coef[e], scale[e], mask[e],
                           base.numel() > 0 ? base[e] : base, bias.numel() > 0 ? bias[e] : bias,
                           knots[e], k, uniform[e]);
    ys[e] = r[0];
    out[1 + e] = r[1];
    out[1 + members + e] = r[2];
  }
  out[0] = at::stack(ys);
  return out;
}

// The ensemble layer's backward, member by member as a lone fused layer's: {coef, scale,
// base (empty without one), bias, x (empty unless with_input)} gradients with the member axis,
// from G = dL/dy (E, B, out) and the forward's A and W (A is released as it is used).
std::vector<torch::Tensor> ensemble_backward(torch::Tensor grad_y, std::vector<torch::Tensor> a,
                                             std::vector<torch::Tensor> w, torch::Tensor x,
                                             torch::Tensor coef, torch::Tensor scale,
                                             torch::Tensor mask, torch::Tensor knots, int64_t k,
                                             std::vector<bool> uniform, bool silu,
                                             bool with_input, int64_t chunk_values) {
  const int64_t members = coef.size(0), n_in = coef.size(2), nb = coef.size(3);
  grad_y = grad_y.contiguous();
  std::vector<torch::Tensor> gc(members), gs(members), gb(members), gbias(members), gx(members);
  for (int64_t e = 0; e < members; ++e) {
    auto g = grad_y[e];
    auto found = layer_param_grads(g, a[e], coef[e], scale[e], mask[e], silu);
    gc[e] = found[0], gs[e] = found[1], gb[e] = found[2], gbias[e] = found[3];
    if (with_input) {
      auto base = silu ? a[e].slice(1, n_in * nb, n_in * (nb + 1)).clone() : x.new_empty({0});
      a[e] = torch::Tensor();
      gx[e] = input_grad(g, w[e], x.dim() == 2 ? x : x[e], knots[e], k, uniform[e], base,
                         chunk_values);
    }
  }
  return {at::stack(gc), at::stack(gs), silu ? at::stack(gb) : coef.new_empty({0}),
          at::stack(gbias), with_input ? at::stack(gx) : coef.new_empty({0})};
}

// The outputs of ensemble_mse and ensemble_regularised: `values` vectors (E,) of NaN (a member
// not evaluated keeps them), then per layer the gradients of coef, scale, base, bias (empty
// where the layer has none; zeros unless every member is evaluated).
std::vector<torch::Tensor> member_outputs(const torch::Tensor& x,
                                          const std::vector<std::vector<torch::Tensor>>& layers,
                                          int64_t members, int64_t values,
                                          const std::vector<bool>& which) {
  const bool all = which.empty();
  TORCH_CHECK(all || static_cast<int64_t>(which.size()) == members, "which: one flag a member");
  const auto make = [all](const torch::Tensor& t) {
    return t.numel() == 0 ? t.new_empty({0}) : all ? torch::empty_like(t) : torch::zeros_like(t);
  };
  std::vector<torch::Tensor> out;
  for (int64_t v = 0; v < values; ++v) {
    out.push_back(torch::full({members}, std::numeric_limits<double>::quiet_NaN(), x.options()));
  }
  for (const auto& t : layers) {
    TORCH_CHECK(t.size() == 6 && t[0].size(0) == members, "6 tensors per layer expected");
    for (int idx : {0, 1, 3, 4}) out.push_back(make(t[idx]));
  }
  return out;
}

// An ensemble's mean squared errors and their gradients, member by member: each member's whole
// forward, its loss (at::mse_loss, as torch.nn.functional.mse_loss) and its whole backward run
// one after the other -- the steps, in order, of a lone model's autograd pass -- so that the
// member's A matrices are still in cache when its backward reads them (a batched pass writes
// every member's A to memory first). layers: per layer {coef (E, out, in, nb), scale, mask,
// base (E, out, in) or empty, bias (E, out) or empty, knots (E, in, n)}; uniform: per layer,
// each member's closed-form flag. x (B, in) shared or (E, B, in); y (B, out) or (E, B, out).
// Returns {losses (E,), then per layer the gradients of coef, scale, base, bias (empty where
// the layer has none)}. which: the members to evaluate (empty: all); the others' losses are
// NaN and their gradients zero.
std::vector<torch::Tensor> ensemble_mse(torch::Tensor x, torch::Tensor y,
                                        std::vector<std::vector<torch::Tensor>> layers, int64_t k,
                                        std::vector<std::vector<bool>> uniform,
                                        int64_t chunk_values, std::vector<bool> which) {
  const int64_t depth = static_cast<int64_t>(layers.size());
  TORCH_CHECK(depth > 0 && static_cast<int64_t>(uniform.size()) == depth, "layers expected");
  const int64_t members = layers[0][0].size(0);
  const bool all = which.empty();
  auto out = member_outputs(x, layers, members, 1, which);
  for (int64_t e = 0; e < members; ++e) {
    if (!all && !which[e]) continue;
    std::vector<torch::Tensor> h(depth + 1), a(depth), w(depth);
    h[0] = x.dim() == 2 ? x : x[e];
    for (int64_t l = 0; l < depth; ++l) {
      const auto& t = layers[l];
      auto r = layer_forward(h[l], t[0][e], t[1][e], t[2][e], t[3].numel() > 0 ? t[3][e] : t[3],
                             t[4].numel() > 0 ? t[4][e] : t[4], t[5][e], k, uniform[l][e]);
      h[l + 1] = r[0], a[l] = r[1], w[l] = r[2];
    }
    auto target = y.dim() == 2 ? y : y[e];
    auto loss = at::mse_loss(h[depth], target);
    out[0][e].copy_(loss);
    auto g = at::mse_loss_backward(torch::ones_like(loss), h[depth], target, at::Reduction::Mean);
    for (int64_t l = depth - 1; l >= 0; --l) {
      const auto& t = layers[l];
      const bool silu = t[3].numel() > 0;
      auto found = layer_param_grads(g, a[l], t[0][e], t[1][e], t[2][e], silu);
      out[1 + 4 * l][e].copy_(found[0]);
      out[2 + 4 * l][e].copy_(found[1]);
      if (silu) out[3 + 4 * l][e].copy_(found[2]);
      if (t[4].numel() > 0) out[4 + 4 * l][e].copy_(found[3]);
      if (l > 0) {
        const int64_t n_in = t[0].size(2), nb = t[0].size(3);
        auto base = silu ? a[l].slice(1, n_in * nb, n_in * (nb + 1)).clone() : h[l].new_empty({0});
        a[l] = torch::Tensor();
        g = input_grad(g, w[l], h[l], t[5][e], k, uniform[l][e], base, chunk_values);
      }
    }
  }
  return out;
}

// One layer of a member for ensemble_regularised: the edge activations phi (B, out, in), their
// spline parts spl, the basis matrix A (B, cols) and the outputs (B, out).
struct EdgeLayer {
  torch::Tensor a, spl, phi, y;
};

template <typename T>
EdgeLayer edge_forward(const torch::Tensor& h, const torch::Tensor& c, const torch::Tensor& ws,
                       const torch::Tensor& mask, const torch::Tensor& wb,
                       const torch::Tensor& bias, const torch::Tensor& knots, int64_t k,
                       bool uniform) {
  const int64_t batch = h.size(0), n_in = c.size(1), n_out = c.size(0), nb = c.size(2);
  const bool silu = wb.numel() > 0;
  const int64_t cols = n_in * nb + (silu ? n_in : 0);
  EdgeLayer out;
  out.a = fill(h, knots, k, silu ? at::silu(h) : h.new_empty({0}), cols, uniform);
  out.spl = torch::empty({batch, n_out, n_in}, h.options());
  out.phi = torch::empty({batch, n_out, n_in}, h.options());
  out.y = torch::empty({batch, n_out}, h.options());
  const T *ap = out.a.data_ptr<T>(), *cp = c.data_ptr<T>(), *sp = ws.data_ptr<T>();
  const T *mp = mask.data_ptr<T>(), *bp = silu ? wb.data_ptr<T>() : nullptr;
  const T* biasp = bias.numel() > 0 ? bias.data_ptr<T>() : nullptr;
  T *splp = out.spl.data_ptr<T>(), *php = out.phi.data_ptr<T>(), *yp = out.y.data_ptr<T>();
  for (int64_t b = 0; b < batch; ++b) {
    const T* row = ap + b * cols;
    for (int64_t o = 0; o < n_out; ++o) {
      T total = T(0);
      for (int64_t i = 0; i < n_in; ++i) {
        const T* coef = cp + (o * n_in + i) * nb;
        const T* basis = row + i * nb;
        T value = T(0);
        for (int64_t m = 0; m < nb; ++m) value += basis[m] * coef[m];
        const int64_t e = o * n_in + i, at_ = (b * n_out + o) * n_in + i;
        splp[at_] = value;
        T edge = value * (sp[e] * mp[e]);
        if (silu) edge += row[n_in * nb + i] * (bp[e] * mp[e]);
        php[at_] = edge;
        total += edge;
      }
      yp[b * n_out + o] = biasp != nullptr ? total + biasp[o] : total;
    }
  }
  return out;
}

// An ensemble's regularised squared errors, member by member (kanlab/nn/ensemble_layer.py):
// the MSE of each member's outputs plus lambda_e times the paper's sparsity penalty of its edge
// activations (eq. 2.20, metric edge_l1: v = mean_b |phi|, l1 * sum v + entropy * the entropy of
// v / sum v, per layer), and the gradients of that objective. layers and uniform as for
// ensemble_mse; lambdas (E,). Returns {losses (E,), penalties (E,), then per layer the
// gradients of coef, scale, base, bias}; which: as for ensemble_mse.
std::vector<torch::Tensor> ensemble_regularised(torch::Tensor x, torch::Tensor y,
                                                std::vector<std::vector<torch::Tensor>> layers,
                                                int64_t k, std::vector<std::vector<bool>> uniform,
                                                torch::Tensor lambdas, double l1, double entropy,
                                                std::vector<bool> which) {
  const int64_t depth = static_cast<int64_t>(layers.size());
  const int64_t members = layers[0][0].size(0);
  const bool all = which.empty();
  auto out = member_outputs(x, layers, members, 2, which);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "kanlab_ensemble_regularised", [&] {
    using T = scalar_t;
    const T tiny = T(1e-30);
    for (int64_t e = 0; e < members; ++e) {
      if (!all && !which[e]) continue;
      const T lam = static_cast<T>(lambdas[e].item<double>());
      std::vector<torch::Tensor> h(depth + 1);
      std::vector<EdgeLayer> fw(depth);
      h[0] = (x.dim() == 2 ? x : x[e]).contiguous();
      for (int64_t l = 0; l < depth; ++l) {
        const auto& t = layers[l];
        fw[l] = edge_forward<T>(h[l], t[0][e].contiguous(), t[1][e].contiguous(),
                                t[2][e].contiguous(),
                                t[3].numel() > 0 ? t[3][e].contiguous() : t[3],
                                t[4].numel() > 0 ? t[4][e].contiguous() : t[4],
                                t[5][e].contiguous(), k, uniform[l][e]);
        h[l + 1] = fw[l].y;
      }
      auto target = (y.dim() == 2 ? y : y[e]).contiguous();
      auto loss = at::mse_loss(h[depth], target);
      auto g = at::mse_loss_backward(torch::ones_like(loss), h[depth], target,
                                     at::Reduction::Mean).contiguous();
      T penalty = T(0);
      std::vector<std::vector<T>> dpen(depth);  // lambda * d penalty / d v, per layer (out, in)
      for (int64_t l = 0; l < depth; ++l) {
        const int64_t batch = h[l].size(0), n_out = layers[l][0].size(1);
        const int64_t n_in = layers[l][0].size(2), n_e = n_out * n_in;
        const T* php = fw[l].phi.data_ptr<T>();
        std::vector<T> v(n_e, T(0));
        for (int64_t b = 0; b < batch; ++b)
          for (int64_t j = 0; j < n_e; ++j) v[j] += std::abs(php[b * n_e + j]);
        T norm = T(0);
        for (int64_t j = 0; j < n_e; ++j) {
          v[j] /= T(batch);
          norm += v[j];
        }
        const T denom = norm + tiny;
        T ent = T(0), weighted = T(0);
        std::vector<T> dh_dp(n_e);
        for (int64_t j = 0; j < n_e; ++j) {
          const T p = v[j] / denom, lg = std::log(p + tiny);
          ent -= p * lg;
          dh_dp[j] = -(lg + p / (p + tiny));  // d(-p log(p + tiny)) / dp
          weighted += dh_dp[j] * v[j];
        }
        penalty += T(l1) * norm + T(entropy) * ent;
        dpen[l].resize(n_e);
        for (int64_t j = 0; j < n_e; ++j) {
          const T dent = dh_dp[j] / denom - weighted / (denom * denom);
          dpen[l][j] = lam * (T(l1) + T(entropy) * dent);
        }
      }
      out[0][e].copy_(loss);
      out[1][e].fill_(penalty);
      for (int64_t l = depth - 1; l >= 0; --l) {
        const auto& t = layers[l];
        auto c = t[0][e].contiguous(), ws = t[1][e].contiguous(), mask = t[2][e].contiguous();
        const bool silu = t[3].numel() > 0;
        auto wb = silu ? t[3][e].contiguous() : t[3];
        const int64_t batch = h[l].size(0), n_out = c.size(0), n_in = c.size(1), nb = c.size(2);
        const int64_t cols = n_in * nb + (silu ? n_in : 0), n_e = n_out * n_in;
        const T *ap = fw[l].a.data_ptr<T>(), *php = fw[l].phi.data_ptr<T>();
        const T *splp = fw[l].spl.data_ptr<T>(), *gp = g.data_ptr<T>();
        const T *cp = c.data_ptr<T>(), *sp = ws.data_ptr<T>(), *mp = mask.data_ptr<T>();
        const T* bp = silu ? wb.data_ptr<T>() : nullptr;
        auto gc = torch::zeros_like(c), gs = torch::zeros_like(ws);
        auto gb = silu ? torch::zeros_like(wb) : wb;
        auto gbias = torch::zeros({n_out}, c.options());
        auto grad_a = torch::zeros({batch, cols}, c.options());
        T *gcp = gc.data_ptr<T>(), *gsp = gs.data_ptr<T>(), *gbiasp = gbias.data_ptr<T>();
        T* gbp = silu ? gb.data_ptr<T>() : nullptr;
        T* gap = grad_a.data_ptr<T>();
        const T inv_b = T(1) / T(batch);
        for (int64_t b = 0; b < batch; ++b) {
          const T* row = ap + b * cols;
          T* grow = gap + b * cols;
          for (int64_t o = 0; o < n_out; ++o) {
            const T gy = gp[b * n_out + o];
            gbiasp[o] += gy;
            for (int64_t i = 0; i < n_in; ++i) {
              const int64_t j = o * n_in + i, at_ = b * n_e + j;
              const T ph = php[at_];
              const T sign = ph > T(0) ? T(1) : (ph < T(0) ? T(-1) : T(0));
              const T gphi = (gy + dpen[l][j] * sign * inv_b) * mp[j];
              if (gphi == T(0)) continue;
              const T* coef = cp + j * nb;
              const T* basis = row + i * nb;
              T* gcoef = gcp + j * nb;
              const T gspline = gphi * sp[j];
              for (int64_t m = 0; m < nb; ++m) {
                gcoef[m] += gspline * basis[m];
                grow[i * nb + m] += gspline * coef[m];
              }
              gsp[j] += gphi * splp[at_];
              if (silu) {
                gbp[j] += gphi * row[n_in * nb + i];
                grow[n_in * nb + i] += gphi * bp[j];
              }
            }
          }
        }
        out[2 + 4 * l][e].copy_(gc);
        out[3 + 4 * l][e].copy_(gs);
        if (silu) out[4 + 4 * l][e].copy_(gb);
        if (t[4].numel() > 0) out[5 + 4 * l][e].copy_(gbias);
        if (l > 0) {
          auto silu_values = silu ? fw[l].a.slice(1, n_in * nb, n_in * nb + n_in)
                                  : h[l].new_empty({0});
          g = gather_input_grad(grad_a, h[l], t[5][e].contiguous(), k, uniform[l][e],
                                silu_values);
        }
      }
    }
  });
  return out;
}
}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("fill", &fill, "the basis matrix A of a KAN layer");
  m.def("gather_input_grad", &gather_input_grad, "the input gradient from that of A");
  m.def("input_grad", &input_grad, "the input gradient from that of the output");
  m.def("layer_forward", &layer_forward, "the fused layer's forward: y, A, W");
  m.def("layer_param_grads", &layer_param_grads, "the fused layer's parameter gradients");
  m.def("ensemble_forward", &ensemble_forward, "an ensemble layer's forward, member by member");
  m.def("ensemble_backward", &ensemble_backward, "an ensemble layer's backward, member by member");
  m.def("ensemble_mse", &ensemble_mse, "an ensemble's squared errors and gradients, by member");
  m.def("ensemble_regularised", &ensemble_regularised,
        "an ensemble's regularised squared errors and gradients, by member");
}
