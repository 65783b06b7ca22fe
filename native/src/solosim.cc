// Solosim (DESIGN §1) loss and gradients in one call, without ever holding the n×n score matrix.
//
//   solosimForwardBackward(a, b, n, d, invTau, dA, dB) -> loss
//
// a, b: [n, d] row-major, rows already L2-normalised. S = a·bᵀ·invTau, P = row softmax of S,
// loss = (1/n) Σ_i [lse_i − S_ii], G = ∂loss/∂S = (P − I)/n, dA = invTau·G·b, dB = invTau·Gᵀ·a.
//
// Rows go in blocks of kBlockRows: S_blk = invTau·a_blk·bᵀ (sgemm); each row of the block is replaced in
// place by E_ij = exp(S_ij − max_i) off the diagonal and E_ii = exp(S_ii − max_i) − Σ_j exp(S_ij − max_i) on
// it, so that G_i = c_i·E_i with the row scale c_i = 1/(n·Σ_j exp(S_ij − max_i)) (threads split the rows).
// The diagonal is formed in double before rounding: (P_ii − 1) is a small difference once training makes
// P_ii ≈ 1, and subtracting the identity after the scaling would lose it to float cancellation. The scale is
// applied to the thin [rows × d] operands instead of another pass over the wide block:
//   dA_blk = invTau·diag(c)·(E_blk·b),   dB += invTau·E_blkᵀ·(diag(c)·a_blk).
// Memory: one kBlockRows × n float block. Each row is computed the same way whatever the thread count and the
// per-row losses are summed in row order, so the loss does not depend on the threads. The gradients come out
// of BLAS: the same for the same BLAS thread count, but OpenBLAS may split the long inner dimension between
// threads, so different counts can differ in the last bits.
#include "common.h"

#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

namespace sea {
namespace {

// 256 rows × 7,050 items × 4 bytes ≈ 7 MB: large enough that the sgemms run at full speed, small enough
// to stay out of the way of everything else in memory.
constexpr int64_t kBlockRows = 256;
// Below this many score entries per thread a thread start costs more than the exps it would share.
constexpr int64_t kMinEntriesPerThread = 1 << 16;

// The row loops work on 4 floats at a time with GCC/Clang vector extensions (SSE2 on x86-64, NEON on arm64).
// Written out because the auto-vectoriser leaves the exp loop scalar: under the default -ftrapping-math it
// will not if-convert the float compare of the range clamp. (8 lanes spill registers on baseline SSE2.)
typedef float F4 __attribute__((vector_size(16)));
typedef int32_t I4 __attribute__((vector_size(16)));
typedef double D4 __attribute__((vector_size(32)));
typedef double D2 __attribute__((vector_size(16)));
constexpr int64_t kLanes = 4;

inline F4 Splat(float v) { return F4{v, v, v, v}; }
// mask ? x : y, lane by lane (mask lanes are all ones or all zeros, as vector compares produce).
inline F4 Select(I4 mask, F4 x, F4 y) { return reinterpret_cast<F4>((mask & reinterpret_cast<I4>(x)) | (~mask & reinterpret_cast<I4>(y))); }
inline F4 Load(const float* s) {
  F4 v;
  std::memcpy(&v, s, sizeof v);  // an unaligned vector load
  return v;
}
inline void Store(float* s, F4 v) { std::memcpy(s, &v, sizeof v); }
// The last count < 4 entries of a row; the missing lanes are `fill`.
inline F4 LoadTail(const float* s, int64_t count, float fill) {
  F4 v = Splat(fill);
  for (int64_t t = 0; t < count; t++) v[t] = s[t];
  return v;
}
inline void StoreTail(float* s, F4 v, int64_t count) {
  for (int64_t t = 0; t < count; t++) s[t] = v[t];
}

// exp(x) for cutoff ≤ x ≤ 0 (x: a score minus its row max), 0 below the cutoff. exp(x) = 2^k · exp(r) with
// k = round(x / ln 2), |r| ≤ ln2/2; ln 2 is split in two so r is exact, and exp(r) is its degree-7 Taylor
// polynomial (truncation ≤ 0.35^8/8! ≈ 5e-9, below float rounding: a few float ulps in all). The cutoff
// (≥ −87, see RowCutoff) keeps 2^k a normal float.
// Inputs here are never NaN (rows with a non-finite score are handled before).
inline F4 ExpAboveCutoff(F4 x, float cutoff) {
  const float kLog2e = 1.44269504088896341f;
  const float kLn2Hi = 0.693359375f;     // few mantissa bits: k·kLn2Hi is exact
  const float kLn2Lo = -2.12194440e-4f;  // ln 2 − kLn2Hi
  const I4 keep = x >= Splat(cutoff);
  const F4 xc = Select(keep, x, Splat(cutoff));
  // Truncating y − 0.5 for y = x·log2(e) ≤ 0 rounds y to the nearest integer.
  const I4 k = __builtin_convertvector(xc * kLog2e - 0.5f, I4);
  const F4 kf = __builtin_convertvector(k, F4);
  const F4 r = (xc - kf * kLn2Hi) - kf * kLn2Lo;
  // Estrin's scheme: a dependency chain of 4 multiply-adds instead of Horner's 7 (the loop is latency-bound).
  const F4 r2 = r * r;
  const F4 r4 = r2 * r2;
  const F4 p01 = r + 1.0f;
  const F4 p23 = r * (1.0f / 6.0f) + 0.5f;
  const F4 p45 = r * (1.0f / 120.0f) + 1.0f / 24.0f;
  const F4 p67 = r * (1.0f / 5040.0f) + 1.0f / 720.0f;
  const F4 p = (p01 + r2 * p23) + r4 * (p45 + r2 * p67);
  const F4 twoToK = reinterpret_cast<F4>((k + 127) << 23);  // k ∈ [−126, 0]: a normal float's exponent
  return Select(keep, p * twoToK, Splat(0.0f));
}

// Entries more than −cutoff below their row max are dropped (exp → 0): with cutoff = ln(1e-20 / n) the at most
// n dropped terms weigh < 1e-20 of their row sum (which is ≥ 1), far below float resolution, and every kept
// entry is ≥ 1e-20/n, so neither the block nor its products in the sgemms come near the subnormal range
// (slow on some CPUs). ≥ −87 for any n that fits in memory, as ExpAboveCutoff needs.
float RowCutoff(int64_t n) { return static_cast<float>(std::max(-87.0, std::log(1e-20 / static_cast<double>(n)))); }

struct RowMaxResult {
  float max;
  bool finite;  // a usable max: no NaN, no +inf, not all −inf (single −inf entries are fine: exp → 0)
};

RowMaxResult RowMax(const float* s, int64_t n) {
  F4 m = Splat(-INFINITY);
  I4 nan = I4{0, 0, 0, 0};
  const int64_t full = n - n % kLanes;
  for (int64_t j = 0; j < full; j += kLanes) {
    const F4 v = Load(s + j);
    m = Select(v > m, v, m);
    nan |= v != v;
  }
  const F4 v = LoadTail(s + full, n - full, -INFINITY);
  m = Select(v > m, v, m);
  nan |= v != v;
  float best = m[0];
  bool anyNan = false;
  for (int t = 0; t < kLanes; t++) {
    best = m[t] > best ? m[t] : best;
    anyNan = anyNan || nan[t] != 0;
  }
  return {best, !anyNan && std::isfinite(best)};
}

// s_j = exp(s_j − max) in place; returns Σ_j s_j accumulated in double over four lanes in a fixed order (so the
// result depends only on n, not on the thread that computes the row). Padding lanes are −inf → exp = 0.
double ExpInPlaceAndSum(float* s, int64_t n, float max, float cutoff) {
  // Two double pairs (one SSE2 register each), so the accumulators stay in registers.
  D2 lo = {0, 0}, hi = {0, 0};
  const auto accumulate = [&lo, &hi](F4 e) {
    const D4 wide = __builtin_convertvector(e, D4);
    lo += D2{wide[0], wide[1]};
    hi += D2{wide[2], wide[3]};
  };
  const int64_t full = n - n % kLanes;
  for (int64_t j = 0; j < full; j += kLanes) {
    const F4 e = ExpAboveCutoff(Load(s + j) - max, cutoff);
    Store(s + j, e);
    accumulate(e);
  }
  const F4 e = ExpAboveCutoff(LoadTail(s + full, n - full, -INFINITY) - max, cutoff);
  StoreTail(s + full, e, n - full);
  accumulate(e);
  return (lo[0] + lo[1]) + (hi[0] + hi[1]);
}

// Rows [i0, i1) of the block (its first row is item r0): S_i → E_i in place (see the top of the file),
// rowLoss[i] = lse_i − S_ii (double) and rowScale[i] = c_i, so that G_i = c_i·E_i. A row with a NaN or
// infinite score becomes all NaN (loss and gradients NaN, as the unfused tfjs computation gives).
void ScoresToExpRows(float* block, int64_t n, int64_t r0, int64_t i0, int64_t i1, double* rowLoss, float* rowScale) {
  const float cutoff = RowCutoff(n);
  for (int64_t i = i0; i < i1; i++) {
    float* s = block + i * n;
    float& diag = s[r0 + i];
    const float diagScore = diag;
    const RowMaxResult m = RowMax(s, n);
    if (!m.finite) {
      std::fill(s, s + n, NAN);
      rowLoss[i] = NAN;
      rowScale[i] = NAN;
      continue;
    }
    const double sum = ExpInPlaceAndSum(s, n, m.max, cutoff);
    // lse_i − S_ii = (max − S_ii) + log Σ exp(S_ij − max), in double; sum ≥ 1 (the max entry gives exp(0) = 1).
    rowLoss[i] = (static_cast<double>(m.max) - static_cast<double>(diagScore)) + std::log(sum);
    rowScale[i] = static_cast<float>(1.0 / (static_cast<double>(n) * sum));
    // G_ii = c_i·(exp(S_ii − max) − sum) = (P_ii − 1)/n, the difference taken in double.
    diag = static_cast<float>(static_cast<double>(diag) - sum);
  }
}

// ScoresToExpRows over all `rows` rows of the block, split into contiguous row ranges per thread.
void ScoresToExpBlock(float* block, int64_t rows, int64_t n, int64_t r0, double* rowLoss, float* rowScale) {
  const int64_t byWork = rows * n / kMinEntriesPerThread;
  const int threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({static_cast<int64_t>(gThreads), byWork, rows})));
  ForEachRange(rows, threads, [=](int64_t i0, int64_t i1) { ScoresToExpRows(block, n, r0, i0, i1, rowLoss, rowScale); });
}

// Working memory of one call.
struct Scratch {
  std::vector<float> block;     // [kBlockRows × n]: S, then E
  std::vector<float> rowScale;  // [kBlockRows]
  std::vector<float> scaledA;   // [kBlockRows × d]: diag(rowScale)·a_blk
  std::vector<double> rowLoss;  // [n]
};

double ForwardBackward(const float* a, const float* b, int64_t n, int64_t d, float invTau, float* dA, float* dB, Scratch& w) {
  const int N = static_cast<int>(n), D = static_cast<int>(d);
  float* block = w.block.data();
  for (int64_t r0 = 0; r0 < n; r0 += kBlockRows) {
    const int64_t rows = std::min(kBlockRows, n - r0);
    const int R = static_cast<int>(rows);
    const float* aBlk = a + r0 * d;
    float* dABlk = dA + r0 * d;
    // S_blk [rows × n] = invTau · a_blk · bᵀ, then E_blk in place.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, N, D, invTau, aBlk, D, b, D, 0.0f, block, N);
    ScoresToExpBlock(block, rows, n, r0, w.rowLoss.data() + r0, w.rowScale.data());
    // dA_blk = invTau · diag(c) · (E_blk · b)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, D, N, 1.0f, block, N, b, D, 0.0f, dABlk, D);
    for (int64_t i = 0; i < rows; i++) {
      const float c = invTau * w.rowScale[i];
      for (int64_t k = 0; k < d; k++) dABlk[i * d + k] *= c;
    }
    // dB (+)= E_blkᵀ · (invTau · diag(c) · a_blk); the first block overwrites, so dB need not arrive zeroed.
    for (int64_t i = 0; i < rows; i++) {
      const float c = invTau * w.rowScale[i];
      for (int64_t k = 0; k < d; k++) w.scaledA[i * d + k] = c * aBlk[i * d + k];
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, D, R, 1.0f, block, N, w.scaledA.data(), D, r0 == 0 ? 0.0f : 1.0f, dB, D);
  }
  double total = 0.0;
  for (int64_t i = 0; i < n; i++) total += w.rowLoss[i];
  return total / static_cast<double>(n);
}

bool Overlaps(const float* p, size_t pLen, const float* q, size_t qLen) {
  return pLen != 0 && qLen != 0 && p < q + qLen && q < p + pLen;
}

Napi::Value SolosimForwardBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "solosimForwardBackward: ";
  if (info.Length() != 7) return Fail(env, std::string(fn) + "expects 7 arguments (a, b, n, d, invTau, dA, dB)"), env.Undefined();
  float *a, *b, *dA, *dB;
  size_t aLen, bLen, dALen, dBLen;
  int64_t n, d;
  if (!GetF32(info, 0, "a", &a, &aLen) || !GetF32(info, 1, "b", &b, &bLen) || !GetDim(info, 2, "n", &n) ||
      !GetDim(info, 3, "d", &d) || !GetF32(info, 5, "dA", &dA, &dALen) || !GetF32(info, 6, "dB", &dB, &dBLen)) {
    return env.Undefined();
  }
  if (!info[4].IsNumber()) return Fail(env, std::string(fn) + "invTau must be a number"), env.Undefined();
  const double invTau = info[4].As<Napi::Number>().DoubleValue();
  if (!(invTau > 0) || !(invTau <= FLT_MAX)) {  // also rejects NaN, inf and values float cannot hold
    return Fail(env, std::string(fn) + "invTau must be a positive finite number (got " + std::to_string(invTau) + ")"), env.Undefined();
  }
  if (n < 1) return Fail(env, std::string(fn) + "n must be at least 1 (got " + std::to_string(n) + ")"), env.Undefined();
  const size_t size = static_cast<size_t>(n) * static_cast<size_t>(d);
  const std::string expected = " must have n·d = " + std::to_string(size) + " entries (got ";
  if (aLen != size) return Fail(env, std::string(fn) + "a" + expected + std::to_string(aLen) + ")"), env.Undefined();
  if (bLen != size) return Fail(env, std::string(fn) + "b" + expected + std::to_string(bLen) + ")"), env.Undefined();
  if (dALen != size) return Fail(env, std::string(fn) + "dA" + expected + std::to_string(dALen) + ")"), env.Undefined();
  if (dBLen != size) return Fail(env, std::string(fn) + "dB" + expected + std::to_string(dBLen) + ")"), env.Undefined();
  // The outputs are written while the inputs are still being read.
  if (Overlaps(dA, size, a, size) || Overlaps(dA, size, b, size) || Overlaps(dB, size, a, size) ||
      Overlaps(dB, size, b, size) || Overlaps(dA, size, dB, size)) {
    return Fail(env, std::string(fn) + "dA and dB must not share memory with a, b or each other"), env.Undefined();
  }
  if (d == 0) return Napi::Number::New(env, std::log(static_cast<double>(n)));  // S = 0: every softmax is uniform
  const int64_t blockRows = std::min(kBlockRows, n);
  Scratch scratch;
  try {
    scratch.block.resize(static_cast<size_t>(blockRows) * static_cast<size_t>(n));
    scratch.rowScale.resize(static_cast<size_t>(blockRows));
    scratch.scaledA.resize(static_cast<size_t>(blockRows) * static_cast<size_t>(d));
    scratch.rowLoss.resize(static_cast<size_t>(n));
  } catch (const std::bad_alloc&) {
    return Fail(env, std::string(fn) + "out of memory for a " + std::to_string(blockRows) + " × " + std::to_string(n) + " score block"), env.Undefined();
  }
  const double loss = ForwardBackward(a, b, n, d, static_cast<float>(invTau), dA, dB, scratch);
  return Napi::Number::New(env, loss);
}

}  // namespace

void RegisterSolosim(Napi::Env env, Napi::Object exports) {
  exports.Set("solosimForwardBackward", Napi::Function::New(env, SolosimForwardBackward, "solosimForwardBackward"));
}

}  // namespace sea
