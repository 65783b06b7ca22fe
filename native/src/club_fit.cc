// clubFitAdam: the CLUB network's whole inner training loop (docs/method.md §3.4: after each encoder step,
// `steps` Adam steps of q(y|x)'s negative log-likelihood on detached pairs) in one call, so the trainer does
// not pay tfjs's per-op overhead 50 times per step. The TypeScript twin, which must stay in step with this
// file, is clubFitAdamJs in src/backend/fused/clubFit.ts; the network is src/losses/club/club.ts:
//   mu     = W2ᵀ relu(W1ᵀ x + b1) + b2                   (W1: [xDim, h], W2: [h, yDim], stored [fanIn, fanOut])
//   logvar = s · tanh(W4ᵀ relu(W3ᵀ x + b3) + b4)
//   ll_i   = Σ_d [ −(mu_d − y_d)² / (2 exp(logvar_d)) − logvar_d / 2 ]
//   loss   = Σ_groups (−mean_{i in group} ll_i) = −(Σ_i ll_i) / rowsPerGroup
// Gradients are worked out by hand (below); Adam is tfjs's AdamOptimizer (the same as PyTorch's).
//
// Speed. Each thread repacks its rows feature-major in blocks of 64 (8 vectors of 8 rows), and every
// kernel works on whole 8-row vectors: register tiles for the linear layers (several outputs × row vectors
// per pass), weight gradients summed in vector lanes and reduced 8 at a time, and exp evaluated on vectors
// (in double, correctly rounded to float but for ~1 case in 10^6; below) instead of one libm call per
// element. The vectors are GCC/Clang vector extensions in two shapes with the same 8 lanes: one 256-bit
// vector (F8, used on x86-64 CPUs with AVX2, picked at run time) or two 128-bit halves (F4x2, SSE2 or
// NEON, everywhere else). Both do the same IEEE operations per lane and reduce lanes in the same order, so
// they give bit-identical results. (A 256-bit vector type compiled for plain SSE2 goes through memory on
// every operation, slower than scalar code; that is why the portable shape is a pair.) Sums are in a fixed
// order, so results depend only on the thread count.
#include "common.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

namespace sea {
namespace {

// Layer sizes and where each of the 8 arrays starts in the flat parameter vector (Club.variables order:
// mu1.w, mu1.b, mu2.w, mu2.b, logvar1.w, logvar1.b, logvar2.w, logvar2.b). Gradients share the layout.
struct ClubLayout {
  int64_t xDim, yDim, hidden;
  int64_t w1, b1, w2, b2, w3, b3, w4, b4, size;

  ClubLayout(int64_t xDim_, int64_t yDim_, int64_t hidden_) : xDim(xDim_), yDim(yDim_), hidden(hidden_) {
    int64_t at = 0;
    const auto take = [&at](int64_t n) { const int64_t start = at; at += n; return start; };
    w1 = take(xDim * hidden);
    b1 = take(hidden);
    w2 = take(hidden * yDim);
    b2 = take(yDim);
    w3 = take(xDim * hidden);
    b3 = take(hidden);
    w4 = take(hidden * yDim);
    b4 = take(yDim);
    size = at;
  }
};

struct FitProblem {
  ClubLayout layout;
  const float* x;  // [rows, xDim]
  const float* y;  // [rows, yDim]
  int64_t rows;
  int64_t rowsPerGroup;
  float logvarScale;
};

// ------------------------------------------------------------------------------------------ 8-lane vectors

typedef float F4 __attribute__((vector_size(16)));
typedef float F8 __attribute__((vector_size(32)));
typedef int32_t I4 __attribute__((vector_size(16)));
typedef int32_t I8 __attribute__((vector_size(32)));
typedef double D2 __attribute__((vector_size(16)));
typedef double D4 __attribute__((vector_size(32)));

// Every helper and kernel is inlined into one of the two entry points (AccumulateRowsAvx2 and
// AccumulateRowsPortable, below), so it is compiled for that entry point's instruction set. No function
// taking or returning a vector is ever called, so the compilers' warning that a 256-bit vector is returned
// differently by AVX and baseline code does not apply. (F8 arguments are passed by reference: GCC notes
// their by-value ABI even where the pragma silences the warning.)
#define SEA_INLINE inline __attribute__((always_inline))
#pragma GCC diagnostic ignored "-Wpsabi"

// A lane shuffle (result lane i = lane idx_i of the concatenation a‖b). GCC has __builtin_shufflevector only
// from version 12.
#if defined(__clang__)
#define SEA_SHUFFLE(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define SEA_SHUFFLE(a, b, ...) __builtin_shuffle(a, b, decltype((a) < (a)){__VA_ARGS__})
#endif

// The portable 8-lane vector: lanes 0–3 in lo, 4–7 in hi; the same IEEE operations as F8, half by half.
struct F4x2 {
  F4 lo, hi;
};
SEA_INLINE F4x2 operator+(F4x2 a, F4x2 b) { return {a.lo + b.lo, a.hi + b.hi}; }
SEA_INLINE F4x2 operator-(F4x2 a, F4x2 b) { return {a.lo - b.lo, a.hi - b.hi}; }
SEA_INLINE F4x2 operator*(F4x2 a, F4x2 b) { return {a.lo * b.lo, a.hi * b.hi}; }
SEA_INLINE F4x2 operator+(float a, F4x2 b) { return {a + b.lo, a + b.hi}; }
SEA_INLINE F4x2 operator+(F4x2 a, float b) { return {a.lo + b, a.hi + b}; }
SEA_INLINE F4x2 operator-(float a, F4x2 b) { return {a - b.lo, a - b.hi}; }
SEA_INLINE F4x2 operator*(float a, F4x2 b) { return {a * b.lo, a * b.hi}; }
SEA_INLINE F4x2 operator*(F4x2 a, float b) { return {a.lo * b, a.hi * b}; }
SEA_INLINE F4x2 operator/(float a, F4x2 b) { return {a / b.lo, a / b.hi}; }
SEA_INLINE F4x2 operator-(F4x2 a) { return {-a.lo, -a.hi}; }
SEA_INLINE F4x2& operator+=(F4x2& a, F4x2 b) { return a = a + b; }

// max(v, 0) as tfjs's relu: NaN stays NaN.
SEA_INLINE F8 Relu(const F8& v) { return v < 0.0f ? F8{} : v; }
SEA_INLINE F4x2 Relu(F4x2 v) { return {v.lo < 0.0f ? F4{} : v.lo, v.hi < 0.0f ? F4{} : v.hi}; }

// g where h > 0, else 0.
SEA_INLINE F8 WherePositive(const F8& h, const F8& g) { return h > 0.0f ? g : F8{}; }
SEA_INLINE F4x2 WherePositive(F4x2 h, F4x2 g) { return {h.lo > 0.0f ? g.lo : F4{}, h.hi > 0.0f ? g.hi : F4{}}; }

// v in lanes [0, count), 0 in the others.
SEA_INLINE F8 FirstLanes(const F8& v, int32_t count) {
  const I8 lane = {0, 1, 2, 3, 4, 5, 6, 7};
  return lane < count ? v : F8{};
}
SEA_INLINE F4x2 FirstLanes(F4x2 v, int32_t count) {
  const I4 lane = {0, 1, 2, 3};
  return {lane < count ? v.lo : F4{}, lane + 4 < count ? v.hi : F4{}};
}

// Σ of a vector's lanes, pairwise: ((v0 + v1) + (v2 + v3)) + ((v4 + v5) + (v6 + v7)).
SEA_INLINE float LaneSum(const F8& v) { return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])); }
SEA_INLINE float LaneSum(F4x2 v) { return ((v.lo[0] + v.lo[1]) + (v.lo[2] + v.lo[3])) + ((v.hi[0] + v.hi[1]) + (v.hi[2] + v.hi[3])); }

// {LaneSum(a[0]), ..., LaneSum(a[7])} with the same additions, by rounds of pairwise shuffles.
SEA_INLINE F8 LaneSums8(const F8* a) {
  F8 u[4], v[2];
  for (int j = 0; j < 4; j++) {
    u[j] = SEA_SHUFFLE(a[2 * j], a[2 * j + 1], 0, 8, 2, 10, 4, 12, 6, 14) +
           SEA_SHUFFLE(a[2 * j], a[2 * j + 1], 1, 9, 3, 11, 5, 13, 7, 15);
  }
  for (int j = 0; j < 2; j++) {
    v[j] = SEA_SHUFFLE(u[2 * j], u[2 * j + 1], 0, 1, 8, 9, 4, 5, 12, 13) +
           SEA_SHUFFLE(u[2 * j], u[2 * j + 1], 2, 3, 10, 11, 6, 7, 14, 15);
  }
  return SEA_SHUFFLE(v[0], v[1], 0, 1, 2, 3, 8, 9, 10, 11) + SEA_SHUFFLE(v[0], v[1], 4, 5, 6, 7, 12, 13, 14, 15);
}
// ((x0 + x1) + (x2 + x3)) of each of p, q, r, s.
SEA_INLINE F4 QuadSums4(F4 p, F4 q, F4 r, F4 s) {
  const F4 pq = SEA_SHUFFLE(p, q, 0, 4, 2, 6) + SEA_SHUFFLE(p, q, 1, 5, 3, 7);
  const F4 rs = SEA_SHUFFLE(r, s, 0, 4, 2, 6) + SEA_SHUFFLE(r, s, 1, 5, 3, 7);
  return SEA_SHUFFLE(pq, rs, 0, 1, 4, 5) + SEA_SHUFFLE(pq, rs, 2, 3, 6, 7);
}
SEA_INLINE F4x2 LaneSums8(const F4x2* a) {
  F4 sums[2];
  for (int g = 0; g < 2; g++) {
    const F4x2* b = a + 4 * g;
    sums[g] = QuadSums4(b[0].lo, b[1].lo, b[2].lo, b[3].lo) + QuadSums4(b[0].hi, b[1].hi, b[2].hi, b[3].hi);
  }
  return {sums[0], sums[1]};
}

// Float lanes to and from doubles. (Written lane by lane: the form GCC 11, GCC 12 and Clang all compile to
// plain vcvtps2pd / vcvtpd2ps, where __builtin_convertvector between vectors of different sizes is not.)
SEA_INLINE void ToDoubles(const F8& v, D4* lo, D4* hi) {
  *lo = D4{v[0], v[1], v[2], v[3]};
  *hi = D4{v[4], v[5], v[6], v[7]};
}
SEA_INLINE F8 ToFloats(const D4& lo, const D4& hi) {
  return F8{static_cast<float>(lo[0]), static_cast<float>(lo[1]), static_cast<float>(lo[2]), static_cast<float>(lo[3]),
            static_cast<float>(hi[0]), static_cast<float>(hi[1]), static_cast<float>(hi[2]), static_cast<float>(hi[3])};
}
SEA_INLINE void ToDoubles(const F4& v, D2* lo, D2* hi) {
  *lo = D2{v[0], v[1]};
  *hi = D2{v[2], v[3]};
}
SEA_INLINE F4 ToFloats(const D2& lo, const D2& hi) {
  return F4{static_cast<float>(lo[0]), static_cast<float>(lo[1]), static_cast<float>(hi[0]), static_cast<float>(hi[1])};
}

// to[0..7] += the 8 lanes as doubles; `to` need not be aligned.
SEA_INLINE void AddTo(double* to, const D4& v) {
  D4 t;
  std::memcpy(&t, to, sizeof t);
  t += v;
  std::memcpy(to, &t, sizeof t);
}
SEA_INLINE void AddTo(double* to, D2 v) {
  D2 t;
  std::memcpy(&t, to, sizeof t);
  t += v;
  std::memcpy(to, &t, sizeof t);
}
SEA_INLINE void AddToDoubles(const F8& v, double* to) {
  D4 lo, hi;
  ToDoubles(v, &lo, &hi);
  AddTo(to, lo);
  AddTo(to + 4, hi);
}
SEA_INLINE void AddToDoubles(F4x2 v, double* to) {
  D2 d[4];
  ToDoubles(v.lo, &d[0], &d[1]);
  ToDoubles(v.hi, &d[2], &d[3]);
  for (int j = 0; j < 4; j++) AddTo(to + 2 * j, d[j]);
}

// Per-lane double sums of 8-lane vectors (8 doubles, lane order).
struct LaneTotals8 {
  D4 lo = {}, hi = {};
  SEA_INLINE void Add(const F8& v) {
    D4 vLo, vHi;
    ToDoubles(v, &vLo, &vHi);
    lo += vLo;
    hi += vHi;
  }
  double Lane(int j) const { return j < 4 ? lo[j] : hi[j - 4]; }
};
struct LaneTotals4x2 {
  D2 p0 = {}, p1 = {}, p2 = {}, p3 = {};
  SEA_INLINE void Add(F4x2 v) {
    D2 d[4];
    ToDoubles(v.lo, &d[0], &d[1]);
    ToDoubles(v.hi, &d[2], &d[3]);
    p0 += d[0];
    p1 += d[1];
    p2 += d[2];
    p3 += d[3];
  }
  double Lane(int j) const { return j < 2 ? p0[j] : j < 4 ? p1[j - 2] : j < 6 ? p2[j - 4] : p3[j - 6]; }
};

// e^x in double, for x in [−110, 100]: x = n·ln2 + r with |r| ≤ ln2/2; e^r by a degree-8 polynomial (a
// Chebyshev fit, relative error ≤ 1.1e-12 on that interval) evaluated by Estrin's scheme (powers r², r⁴, r⁸
// and pairs of terms: a third of Horner's dependency chain); 2^n built in the exponent bits.
template <class DV>
SEA_INLINE DV ExpDouble(const DV& x) {
  using LV = decltype(x < x);                // the int64 vector of DV's shape
  const double kShift = 6755399441055744.0;  // 1.5·2^52: t = y + kShift rounds y to an integer in t's low bits
  const DV t = x * 1.4426950408889634 + kShift;
  const DV n = t - kShift;
  const DV r = x - n * 0.6931471805599453;
  const DV r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
  const DV p = (((1.0 + r * 0.999999999979769) + r2 * (0.49999999999797773 + r * 0.16666666891180545)) +
                r4 * ((0.0416666668910917 + r * 0.008333266071022454) + r2 * (0.001388882165071769 + r * 0.00019915881871396035))) +
               r8 * 2.4876178959085513e-05;
  // 2^n: t's low 12 bits hold n mod 4096 (kShift's are 0), so (bits(t) + 1023) << 52 is the double 2^n.
  const LV scale = ((LV)t + 1023) << 52;
  return p * (DV)scale;
}

// e^x for float x, rounded once from the double above: the correctly rounded e^x in all but ~1 in 10^6
// cases (then one ulp off), over all floats with |x| < 120; glibc's expf, which std::exp(float) was, misses
// ~1 in 10^4. Clamping x to [−110, 100] changes no float result (e^−110 rounds to 0, e^100 to inf); NaN
// goes through.
SEA_INLINE F8 ClampForExp(const F8& x) {
  const F8 low = x < -110.0f ? F8{} + -110.0f : x;
  return low > 100.0f ? F8{} + 100.0f : low;
}
SEA_INLINE F4 ClampForExp(F4 x) {
  x = x < -110.0f ? F4{} + -110.0f : x;
  return x > 100.0f ? F4{} + 100.0f : x;
}
SEA_INLINE F8 Exp(const F8& x) {
  D4 lo, hi;
  ToDoubles(ClampForExp(x), &lo, &hi);
  return ToFloats(ExpDouble(lo), ExpDouble(hi));
}
SEA_INLINE F4 Exp(F4 x) {
  D2 lo, hi;
  ToDoubles(ClampForExp(x), &lo, &hi);
  return ToFloats(ExpDouble(lo), ExpDouble(hi));
}
SEA_INLINE F4x2 Exp(F4x2 x) { return {Exp(x.lo), Exp(x.hi)}; }

// What differs between the two vector shapes besides the operations above.
template <class V>
struct Shape;
template <>
struct Shape<F8> {
  using LaneTotals = LaneTotals8;
  static constexpr int kTileOutputs = 4;  // LinearTile: 4 outputs × 2 row vectors = 8 of the 16 AVX registers
};
template <>
struct Shape<F4x2> {
  using LaneTotals = LaneTotals4x2;
  static constexpr int kTileOutputs = 2;  // 2 × 2 vectors = 8 of the 16 SSE/NEON-sized registers
};

// ------------------------------------------------------------------------------------------ rows in blocks

constexpr int kLanes = 8;
// Rows per block. Each thread repacks its rows feature-major in blocks of kBlockRows, so every inner loop
// runs over the rows of a block (kBlockVecs vectors of 8 rows) instead of over h = 8 hidden units; a
// block's activations stay in L1/L2. Every kernel runs over whole blocks: the last block's padding rows
// (zeros) are computed too, but their ∂nll/∂mu and ∂nll/∂z are set to 0 and their nll is left out, so they
// add exact zeros to every gradient sum.
constexpr int64_t kBlockRows = 64;
constexpr int kBlockVecs = kBlockRows / kLanes;

// A zeroed float array, 64-byte aligned (the kernels read it as whole vectors).
class AlignedFloats {
 public:
  explicit AlignedFloats(int64_t count) {
    const size_t bytes = (static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(float) + 63) / 64 * 64;
    data_.reset(std::aligned_alloc(64, bytes));
    if (!data_) throw std::bad_alloc();
    std::memset(data_.get(), 0, bytes);
  }
  float* data() { return static_cast<float*>(data_.get()); }
  const float* data() const { return static_cast<const float*>(data_.get()); }
  template <class V>
  V* As() {
    return reinterpret_cast<V*>(data());
  }
  template <class V>
  const V* As() const {
    return reinterpret_cast<const V*>(data());
  }

 private:
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<void, Free> data_;
};

// Feature-major copy of rows [r0, r1) of a row-major [rows, dim] array: value (row r0 + b·B + i, feature k)
// at [(b·dim + k)·B + i] with B = kBlockRows; the last block's padding rows are 0. x and y are the same in
// every step, so this is paid once per call.
AlignedFloats PackBlocks(const float* rowMajor, int64_t dim, int64_t r0, int64_t r1) {
  const int64_t blocks = (r1 - r0 + kBlockRows - 1) / kBlockRows;
  AlignedFloats packed(blocks * dim * kBlockRows);
  float* out = packed.data();
  for (int64_t r = r0; r < r1; r++) {
    const int64_t b = (r - r0) / kBlockRows, i = (r - r0) % kBlockRows;
    float* block = out + b * dim * kBlockRows;
    for (int64_t k = 0; k < dim; k++) block[k * kBlockRows + i] = rowMajor[r * dim + k];
  }
  return packed;
}

// One thread's rows (packed) and scratch. Activations are float, as in tfjs; the loss and gradient partial
// sums are double, since a thread sums thousands of rows and the threads' partials are added once more.
// Block arrays are feature-major [features, kBlockRows].
struct ThreadWork {
  int64_t rows;                      // rows of this thread
  AlignedFloats x, y;                // PackBlocks of the thread's rows of x and y
  AlignedFloats h1, h3;              // relu of the hidden layers of the mu and logvar nets [h, B]
  AlignedFloats gA1, gA3;            // ∂nll/∂(hidden pre-activation) [h, B]
  AlignedFloats mu, z;               // mu and the logvar net's pre-tanh output [yDim, B]
  AlignedFloats gMu, gZ;             // ∂nll/∂mu, ∂nll/∂z [yDim, B]
  std::vector<double> grad;          // Σ_rows ∂nll_i/∂params of the thread's rows, ClubLayout order
  double nll = 0;                    // Σ_rows nll_i = −Σ ll_i

  ThreadWork(const ClubLayout& l, const float* xAll, const float* yAll, int64_t r0, int64_t r1)
      : rows(r1 - r0), x(PackBlocks(xAll, l.xDim, r0, r1)), y(PackBlocks(yAll, l.yDim, r0, r1)),
        h1(l.hidden * kBlockRows), h3(l.hidden * kBlockRows), gA1(l.hidden * kBlockRows), gA3(l.hidden * kBlockRows),
        mu(l.yDim * kBlockRows), z(l.yDim * kBlockRows), gMu(l.yDim * kBlockRows), gZ(l.yDim * kBlockRows),
        grad(l.size, 0.0) {}
};

// ------------------------------------------------------------------------------------------ block kernels
// V is F8 or F4x2; a block array of f features is f·kBlockVecs vectors, feature k's at [k·kBlockVecs, +kBlockVecs).

// A linear map on a block, kOut outputs from `first` at a time: out[o] = bias[o] + Σ_k w(k, o) · in[k], k
// ascending, w(k, o) = w[k·inStride + o·outStride] (no bias: the sum alone); relu applied when asked. Two
// row vectors per pass, so 2·kOut accumulators stay in registers.
template <class V, int kOut>
SEA_INLINE void LinearTile(const V* in, int64_t inDim, const float* w, int64_t inStride, int64_t outStride, const float* bias,
                           int64_t first, bool relu, V* out) {
  const float* wFirst = w + first * outStride;
  for (int c = 0; c < kBlockVecs; c += 2) {
    // (scalar · vector: GCC broadcasts the scalar straight from memory; a vector built from it, it may not)
    V acc[kOut][2];
    for (int j = 0; j < kOut; j++) {
      for (int q = 0; q < 2; q++) {
        acc[j][q] = wFirst[j * outStride] * in[c + q];
        if (bias != nullptr) acc[j][q] = bias[first + j] + acc[j][q];
      }
    }
    for (int64_t k = 1; k < inDim; k++) {
      const V a0 = in[k * kBlockVecs + c], a1 = in[k * kBlockVecs + c + 1];
      const float* wk = wFirst + k * inStride;
      for (int j = 0; j < kOut; j++) {
        acc[j][0] += wk[j * outStride] * a0;
        acc[j][1] += wk[j * outStride] * a1;
      }
    }
    for (int j = 0; j < kOut; j++) {
      for (int q = 0; q < 2; q++) out[(first + j) * kBlockVecs + c + q] = relu ? Relu(acc[j][q]) : acc[j][q];
    }
  }
}

template <class V>
SEA_INLINE void LinearBlock(const V* in, int64_t inDim, const float* w, int64_t inStride, int64_t outStride, const float* bias,
                            int64_t outDim, bool relu, V* out) {
  constexpr int kTile = Shape<V>::kTileOutputs;
  int64_t o = 0;
  for (; o + kTile <= outDim; o += kTile) LinearTile<V, kTile>(in, inDim, w, inStride, outStride, bias, o, relu, out);
  for (; o < outDim; o++) LinearTile<V, 1>(in, inDim, w, inStride, outStride, bias, o, relu, out);
}

// A layer's forward pass on a block: out[o] = bias[o] + Σ_k w[k, o] · in[k] (w stored [inDim, outDim]), the
// same additions in the same order as the per-row sum (bias first, then k ascending).
template <class V>
SEA_INLINE void DenseBlock(const V* in, int64_t inDim, const float* w, const float* bias, int64_t outDim, bool relu, V* out) {
  LinearBlock(in, inDim, w, outDim, 1, bias, outDim, relu, out);
}

// The gradient into a layer's input through relu: gIn[k] = Σ_o w[k, o] · gOut[o] where the unit was on
// (h[k] > 0: relu' = 1 only where the pre-activation is > 0, as in tfjs), else 0.
template <class V>
SEA_INLINE void HiddenGradBlock(const V* gOut, int64_t outDim, const float* w, int64_t inDim, const V* h, V* gIn) {
  LinearBlock(gOut, outDim, w, 1, outDim, static_cast<const float*>(nullptr), inDim, false, gIn);
  for (int64_t i = 0; i < inDim * kBlockVecs; i++) gIn[i] = WherePositive(h[i], gIn[i]);
}

// Weight and bias gradients of a layer on a block: gW[k, o] += Σ_rows in[k]·gOut[o] and gBias[o] +=
// Σ_rows gOut[o]. Each block's sum is float: each lane sums its rows in order, then LaneSum; it is added to
// the double totals. Tiles of 1 input × 8 outputs: 8 accumulators, reduced together (LaneSums8) into 8
// adjacent gW entries.
template <class V>
SEA_INLINE void WeightGradBlock(const V* in, int64_t inDim, const V* gOut, int64_t outDim, double* gW, double* gBias) {
  const int64_t tiled = outDim - outDim % 8;
  for (int64_t o = 0; o < tiled; o += 8) {
    const V* g = gOut + o * kBlockVecs;
    V acc[8];
    for (int j = 0; j < 8; j++) {
      acc[j] = g[j * kBlockVecs];
      for (int c = 1; c < kBlockVecs; c++) acc[j] += g[j * kBlockVecs + c];
    }
    AddToDoubles(LaneSums8(acc), gBias + o);
    for (int64_t k = 0; k < inDim; k++) {
      const V* a = in + k * kBlockVecs;
      for (int j = 0; j < 8; j++) acc[j] = a[0] * g[j * kBlockVecs];
      for (int c = 1; c < kBlockVecs; c++) {
        const V ac = a[c];
        for (int j = 0; j < 8; j++) acc[j] += ac * g[j * kBlockVecs + c];
      }
      AddToDoubles(LaneSums8(acc), gW + k * outDim + o);
    }
  }
  // The last outDim % 8 outputs, one at a time (the same sums).
  for (int64_t o = tiled; o < outDim; o++) {
    const V* g = gOut + o * kBlockVecs;
    V acc = g[0];
    for (int c = 1; c < kBlockVecs; c++) acc += g[c];
    gBias[o] += LaneSum(acc);
    for (int64_t k = 0; k < inDim; k++) {
      const V* a = in + k * kBlockVecs;
      acc = a[0] * g[0];
      for (int c = 1; c < kBlockVecs; c++) acc += a[c] * g[c];
      gW[k * outDim + o] += LaneSum(acc);
    }
  }
}

// The likelihood of a block's first n rows and its gradient wrt mu and the logvar net's pre-tanh output z
// (lv = s·tanh z):
//   nll = Σ_d [ (mu − y)² e^{−lv} / 2 + lv / 2 ]
//   ∂nll/∂mu = (mu − y) e^{−lv};  ∂nll/∂lv = 1/2 − (mu − y)² e^{−lv} / 2;  ∂lv/∂z = s (1 − tanh² z).
// With kPartial, rows from n on (padding) get zero gradients and add nothing. Adds the block's
// Σ (mu − y)² e^{−lv} and Σ lv, per lane, to quadSums and lvSums. Two passes over the block, each with one
// exp per vector and no dependency between vectors, so that the out-of-order core overlaps the exps.
template <class V, bool kPartial>
SEA_INLINE void LikelihoodBlock(const V* mu, const V* z, const V* y, int64_t yDim, int64_t n, float s, V* gMu, V* gZ,
                                typename Shape<V>::LaneTotals& quadSums, typename Shape<V>::LaneTotals& lvSums) {
  const int64_t count = yDim * kBlockVecs;
  // tanh z = 1 − 2/(e^{2z} + 1): glibc's tanhf is ~4× slower than expf; the absolute error stays at float
  // rounding (e^{2z} = inf gives 1, e^{2z} = 0 gives −1). Kept in gZ until the second pass.
  V* tanhZ = gZ;
  for (int64_t i = 0; i < count; i++) tanhZ[i] = 1.0f - 2.0f / (Exp(2.0f * z[i]) + 1.0f);
  for (int64_t d = 0; d < yDim; d++) {
    for (int c = 0; c < kBlockVecs; c++) {
      const int64_t i = d * kBlockVecs + c;
      const V t = tanhZ[i];
      V lv = s * t;
      const V invVar = Exp(-lv);
      const V diff = mu[i] - y[i];
      V quad = diff * diff * invVar;
      V gradMu = diff * invVar;
      V gradZ = (0.5f - 0.5f * quad) * s * (1.0f - t * t);
      if (kPartial) {
        const int32_t valid = static_cast<int32_t>(n) - c * kLanes;
        quad = FirstLanes(quad, valid);
        lv = FirstLanes(lv, valid);
        gradMu = FirstLanes(gradMu, valid);
        gradZ = FirstLanes(gradZ, valid);
      }
      gMu[i] = gradMu;
      gZ[i] = gradZ;
      quadSums.Add(quad);
      lvSums.Add(lv);
    }
  }
}

// Forward and backward of the thread's rows at `params`, block by block: sets w.nll = Σ nll_i and
// w.grad = Σ ∂nll_i/∂params.
template <class V>
SEA_INLINE void AccumulateRowsIn(const FitProblem& p, const float* params, ThreadWork& w) {
  const ClubLayout& l = p.layout;
  const int64_t h = l.hidden;
  std::fill(w.grad.begin(), w.grad.end(), 0.0);
  double* g = w.grad.data();
  V *h1 = w.h1.As<V>(), *h3 = w.h3.As<V>(), *gA1 = w.gA1.As<V>(), *gA3 = w.gA3.As<V>();
  V *mu = w.mu.As<V>(), *z = w.z.As<V>(), *gMu = w.gMu.As<V>(), *gZ = w.gZ.As<V>();
  typename Shape<V>::LaneTotals quadSums, lvSums;
  for (int64_t start = 0, b = 0; start < w.rows; start += kBlockRows, b++) {
    const int64_t n = std::min(kBlockRows, w.rows - start);
    const V* x = w.x.As<V>() + b * l.xDim * kBlockVecs;
    const V* y = w.y.As<V>() + b * l.yDim * kBlockVecs;
    // Forward: hidden layers (with relu), then mu and z.
    DenseBlock(x, l.xDim, params + l.w1, params + l.b1, h, true, h1);
    DenseBlock(x, l.xDim, params + l.w3, params + l.b3, h, true, h3);
    DenseBlock(h1, h, params + l.w2, params + l.b2, l.yDim, false, mu);
    DenseBlock(h3, h, params + l.w4, params + l.b4, l.yDim, false, z);
    if (n == kBlockRows) {
      LikelihoodBlock<V, false>(mu, z, y, l.yDim, n, p.logvarScale, gMu, gZ, quadSums, lvSums);
    } else {
      LikelihoodBlock<V, true>(mu, z, y, l.yDim, n, p.logvarScale, gMu, gZ, quadSums, lvSums);
    }
    // Backward: output layers, the gradient into the hidden units (through relu), input layers.
    WeightGradBlock(h1, h, gMu, l.yDim, g + l.w2, g + l.b2);
    WeightGradBlock(h3, h, gZ, l.yDim, g + l.w4, g + l.b4);
    HiddenGradBlock(gMu, l.yDim, params + l.w2, h, h1, gA1);
    HiddenGradBlock(gZ, l.yDim, params + l.w4, h, h3, gA3);
    WeightGradBlock(x, l.xDim, gA1, h, g + l.w1, g + l.b1);
    WeightGradBlock(x, l.xDim, gA3, h, g + l.w3, g + l.b3);
  }
  // nll = Σ [quad/2 + lv/2]; the lanes in order.
  double quad = 0, lv = 0;
  for (int j = 0; j < kLanes; j++) {
    quad += quadSums.Lane(j);
    lv += lvSums.Lane(j);
  }
  w.nll = 0.5 * quad + 0.5 * lv;
}

void AccumulateRowsPortable(const FitProblem& p, const float* params, ThreadWork& w) { AccumulateRowsIn<F4x2>(p, params, w); }

// The AVX2 entry point, on x86-64 Linux with GCC or Clang (both have the target attribute and
// __builtin_cpu_supports; other builds take the portable path). Its target is plain "avx2", without FMA:
// both compilers contract a·b + c into an FMA wherever the target has one (even in ISO C++ mode), which
// would round differently from the portable path.
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
#define SEA_CLUB_FIT_AVX2 1
__attribute__((target("avx2"))) void AccumulateRowsAvx2(const FitProblem& p, const float* params, ThreadWork& w) {
  AccumulateRowsIn<F8>(p, params, w);
}
#endif

void AccumulateRows(const FitProblem& p, const float* params, ThreadWork& w) {
#if defined(SEA_CLUB_FIT_AVX2)
  static const bool hasAvx2 = __builtin_cpu_supports("avx2");
  if (hasAvx2) return AccumulateRowsAvx2(p, params, w);
#endif
  AccumulateRowsPortable(p, params, w);
}

// Below this many multiply-adds per thread, starting a thread (tens of microseconds) costs more than it saves.
constexpr int64_t kMinWorkPerThread = 1 << 17;

int ThreadsFor(const FitProblem& p) {
  const ClubLayout& l = p.layout;
  const int64_t perRow = 6 * l.hidden * (l.xDim + l.yDim);  // forward + backward of both nets, roughly
  return ThreadsForValues(p.rows * perRow, p.rows, kMinWorkPerThread);
}

// Splits the rows into one contiguous range per thread (fixed for the whole call) and packs each range.
std::vector<ThreadWork> SplitRows(const FitProblem& p) {
  const int threads = ThreadsFor(p);
  std::vector<ThreadWork> work;
  work.reserve(threads);
  for (int t = 0; t < threads; t++) work.emplace_back(p.layout, p.x, p.y, p.rows * t / threads, p.rows * (t + 1) / threads);
  return work;
}

// The loss and its gradient at `params` (full batch). The threads' partials are summed in thread order, so
// the result depends only on the thread count.
double LossAndGradient(const FitProblem& p, const float* params, std::vector<ThreadWork>& work, std::vector<double>& grad) {
  RunOnThreads(static_cast<int>(work.size()), [&](int t) { AccumulateRows(p, params, work[t]); });
  // loss = Σ_groups mean_group nll = Σ_all nll / rowsPerGroup (every group has rowsPerGroup rows).
  const double scale = 1.0 / static_cast<double>(p.rowsPerGroup);
  std::fill(grad.begin(), grad.end(), 0.0);
  double nll = 0;
  for (const auto& w : work) {
    nll += w.nll;
    for (size_t j = 0; j < grad.size(); j++) grad[j] += w.grad[j];
  }
  for (double& g : grad) g *= scale;
  return nll * scale;
}

struct AdamSettings {
  double lr, beta1, beta2, eps;
};

// One Adam step, tfjs's AdamOptimizer (= PyTorch's): m, v are the raw moments; bias corrections use
// beta^t for the 1-based step t. Computed in double and stored as float, like the parameters.
void AdamUpdate(const AdamSettings& a, double t, const std::vector<double>& grad, float* params, float* m, float* v) {
  const double correction1 = 1.0 - std::pow(a.beta1, t);
  const double correction2 = 1.0 - std::pow(a.beta2, t);
  for (size_t j = 0; j < grad.size(); j++) {
    const double g = grad[j];
    const double mj = a.beta1 * m[j] + (1.0 - a.beta1) * g;
    const double vj = a.beta2 * v[j] + (1.0 - a.beta2) * g * g;
    m[j] = static_cast<float>(mj);
    v[j] = static_cast<float>(vj);
    params[j] = static_cast<float>(params[j] - a.lr * (mj / correction1) / (std::sqrt(vj / correction2) + a.eps));
  }
}

constexpr const char* kFn = "clubFitAdam";  // names the function in argument errors

// clubFitAdam(x, y, rowsPerGroup, xDim, yDim, hiddenUnits, logvarScale, params, m, v, adamStep, steps, lr,
//             beta1, beta2, eps) -> last loss (src/backend/addon.ts documents the arguments).
Napi::Value ClubFitAdam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 16) return Fail(env, "clubFitAdam expects 16 arguments"), env.Undefined();
  float *x, *y, *params, *m, *v;
  size_t xLen, yLen, pLen, mLen, vLen;
  int64_t rowsPerGroup, xDim, yDim, hidden, adamStep, steps;
  double logvarScale, lr, beta1, beta2, eps;
  if (!GetF32(info, 0, "x", &x, &xLen) || !GetF32(info, 1, "y", &y, &yLen) || !GetDim(info, 2, "rowsPerGroup", &rowsPerGroup) ||
      !GetDim(info, 3, "xDim", &xDim) || !GetDim(info, 4, "yDim", &yDim) || !GetDim(info, 5, "hiddenUnits", &hidden) ||
      !GetFiniteNumber(info, 6, kFn, "logvarScale", &logvarScale) || !GetF32(info, 7, "params", &params, &pLen) ||
      !GetF32(info, 8, "m", &m, &mLen) || !GetF32(info, 9, "v", &v, &vLen) || !GetDim(info, 10, "adamStep", &adamStep) ||
      !GetDim(info, 11, "steps", &steps) || !GetFiniteNumber(info, 12, kFn, "lr", &lr) ||
      !GetFiniteNumber(info, 13, kFn, "beta1", &beta1) || !GetFiniteNumber(info, 14, kFn, "beta2", &beta2) ||
      !GetFiniteNumber(info, 15, kFn, "eps", &eps)) {
    return env.Undefined();
  }
  if (rowsPerGroup < 1 || xDim < 1 || yDim < 1 || hidden < 1) {
    return Fail(env, "clubFitAdam: rowsPerGroup, xDim, yDim and hiddenUnits must be positive"), env.Undefined();
  }
  if (xLen == 0 || xLen % xDim != 0) {
    return Fail(env, "clubFitAdam: x has " + std::to_string(xLen) + " values, not a positive multiple of xDim = " +
                         std::to_string(xDim)), env.Undefined();
  }
  const int64_t rows = static_cast<int64_t>(xLen) / xDim;
  if (rows % rowsPerGroup != 0) {
    return Fail(env, "clubFitAdam: x has " + std::to_string(rows) + " rows, not a multiple of rowsPerGroup = " +
                         std::to_string(rowsPerGroup)), env.Undefined();
  }
  const ClubLayout layout(xDim, yDim, hidden);
  const std::string shape = "xDim " + std::to_string(xDim) + ", yDim " + std::to_string(yDim) + ", hiddenUnits " + std::to_string(hidden);
  if (!CheckLength(env, kFn, "y", yLen, rows * yDim, std::to_string(rows) + " rows × yDim " + std::to_string(yDim)) ||
      !CheckLength(env, kFn, "params", pLen, layout.size, shape) || !CheckLength(env, kFn, "m", mLen, layout.size, shape) ||
      !CheckLength(env, kFn, "v", vLen, layout.size, shape)) {
    return env.Undefined();
  }
  if (!(logvarScale > 0)) return Fail(env, "clubFitAdam: logvarScale must be > 0"), env.Undefined();
  if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) {
    return Fail(env, "clubFitAdam: beta1 and beta2 must be in [0, 1)"), env.Undefined();
  }
  if (!(lr >= 0 && eps >= 0)) return Fail(env, "clubFitAdam: lr and eps must be ≥ 0"), env.Undefined();

  const FitProblem problem{layout, x, y, rows, rowsPerGroup, static_cast<float>(logvarScale)};
  const AdamSettings adam{lr, beta1, beta2, eps};
  std::vector<ThreadWork> work = SplitRows(problem);
  std::vector<double> grad(layout.size);
  double loss = NAN;  // no step, no loss
  for (int64_t s = 0; s < steps; s++) {
    loss = LossAndGradient(problem, params, work, grad);
    AdamUpdate(adam, static_cast<double>(adamStep + s + 1), grad, params, m, v);
  }
  return Napi::Number::New(env, loss);
}

}  // namespace

void RegisterClubFit(Napi::Env env, Napi::Object exports) {
  exports.Set("clubFitAdam", Napi::Function::New(env, ClubFitAdam, "clubFitAdam"));
}

}  // namespace sea
