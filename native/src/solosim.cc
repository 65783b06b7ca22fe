// Solosim (docs/method.md §4) loss and gradients in one call, without ever holding the n×n score matrix.
//
//   solosimForwardBackward(a, b, n, d, invTau, dA, dB) -> loss
//
// a, b: [n, d] row-major, rows already L2-normalised. S = a·bᵀ·invTau, P = row softmax of S,
// loss = (1/n) Σ_i [lse_i − S_ii], G = ∂loss/∂S = (P − I)/n, dA = invTau·G·b, dB = invTau·Gᵀ·a.
//
// Rows go in blocks. Each row of a block's scores is replaced in place by E_ij = exp(S_ij − max_i) off the
// diagonal and E_ii = −Σ_{j≠i} E_ij on it, so that G_i = c_i·E_i with the row scale
// c_i = 1/(n·Σ_j exp(S_ij − max_i)). The diagonal is left out of the row's sum and that off-diagonal sum
// itself is stored: (P_ii − 1) is a small difference once training makes P_ii ≈ 1, and forming it by
// subtraction would lose it to float cancellation. The scale goes on the thin [rows × d] operands rather
// than the wide block: dA_blk = invTau·diag(c)·(E_blk·b), dB += invTau·E_blkᵀ·(diag(c)·a_blk).
//
// Two ways to run a block, chosen by the CPU (or SEA_SOLOSIM_ISA, below):
// * AVX-512 ("fused"): each thread takes a contiguous share of the rows and works through it in blocks of
//   kFusedBlockRows = 32 rows (~0.9 MB of scores at n = 7,050, which stays in a core's L2 across the passes),
//   with hand-written register-tiled kernels for S = (invTau·a)·bᵀ (row max taken as the tile is stored),
//   E·b and Eᵀ·(c·a); each thread adds its rows' share of dB into its own [d × n] buffer, and the shares
//   are summed at the end. One thread start per call, no per-block hand-offs.
// * Otherwise ("blas"): blocks of kBlasBlockRows = 256 rows, three sgemms per block (BLAS threads split
//   each), the row pass split between the addon's threads.
// Both run the exp pass as vector code of the widest unit (AVX-512, AVX2, else SSE2/NEON), summing in float
// within chunks of kChunkVectors vectors and across chunks in double.
// Measured at Baby scale (n = 7,050, d = 32, random unit rows, tau 0.2; 2-core AMD EPYC Zen 4, OpenBLAS
// 0.3.21): the previous version (blas path, SSE2 exp with a double add per vector) took ~210 ms on one
// thread (three sgemms ~40 ms each, the exp pass ~85 ms) and ~120 ms on two with the machine quiet; the
// fused path takes ~120 ms on one (~35 ms per product, ~16 ms of exps) and ~60 ms on two.
//
// Memory: per thread one block of scores plus (fused) a [d × n] share of dB; nothing n×n.
// Threads: each row is computed the same way whatever the thread count and the per-row losses are summed in
// row order, so the loss does not depend on the threads; neither does dA on the fused path. dB (and dA on
// the blas path, where OpenBLAS may split the long inner dimension between its threads) is the same for the
// same thread count but can differ in the last bits between counts. The last bits also depend on the
// instruction set: compilers contract multiply-adds into FMAs where the target has them.
//
// SEA_SOLOSIM_ISA=avx512|avx2|baseline (read at every call) picks a narrower version than the CPU's best,
// so tests can check every version on one machine; asking for more than the CPU has is an error.
#include "common.h"

#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <vector>

// x86-64 with GCC or Clang: the vector code is compiled for AVX-512F, AVX2 + FMA and the baseline (SSE2),
// and the widest the CPU supports runs. Elsewhere (arm64: NEON) there is only the baseline, 4 lanes.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SEA_SOLOSIM_X86 1
#else
#define SEA_SOLOSIM_X86 0
#endif

// The vector helpers return vectors wider than the baseline's registers; they are always inlined into a
// function compiled for their width, so GCC's warning that such a return's ABI differs between targets is
// moot.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace sea {
namespace {

// Blas path: 256 rows × 7,050 items × 4 bytes ≈ 7 MB, large enough that the sgemms run at full speed.
constexpr int64_t kBlasBlockRows = 256;
// Fused path: 32 rows × 7,050 items × 4 bytes ≈ 0.9 MB, the L2 of one core (16 and 64 rows measured no
// faster).
constexpr int64_t kFusedBlockRows = 32;
// The fused path pads score rows with columns of −inf to a multiple of its widest column strip, so its
// kernels have no column tails (exp turns the padding into zeros, which add nothing to the products).
constexpr int64_t kFusedColumnAlign = 64;
// Below this many score entries per thread a thread start costs more than the work it would share.
constexpr int64_t kMinEntriesPerThread = 1 << 16;
// Exps are summed in float over chunks of kChunkVectors vectors, each chunk then into double: converting
// every vector to double cost as much as the exp itself. 8 floats ≤ 1 summed in float are off by at most
// ~7 float ulps of the chunk, so the row sum stays within float rounding of the exact one.
constexpr int kChunkVectors = 8;

#define SEA_INLINE inline __attribute__((always_inline))

// ---------- W-lane vectors (GCC/Clang vector extensions) ----------

// Spelled out per W because GCC ignores a vector_size that depends on a template parameter.
template <int W>
struct VectorTypes;
template <>
struct VectorTypes<4> {
  typedef float F __attribute__((vector_size(16)));
  typedef int32_t I __attribute__((vector_size(16)));
  typedef double D __attribute__((vector_size(32)));
};
template <>
struct VectorTypes<8> {
  typedef float F __attribute__((vector_size(32)));
  typedef int32_t I __attribute__((vector_size(32)));
  typedef double D __attribute__((vector_size(64)));
};
template <>
struct VectorTypes<16> {
  typedef float F __attribute__((vector_size(64)));
  typedef int32_t I __attribute__((vector_size(64)));
  typedef double D __attribute__((vector_size(128)));
};

// The loops work on W floats at a time: W = 16 (AVX-512), 8 (AVX2) or 4 (SSE2/NEON). Written out because
// the auto-vectoriser leaves the exp loop scalar (under the default -ftrapping-math it will not if-convert
// the float compare of the range clamp) and does not keep the products' tiles in registers.
template <int W>
struct Lanes {
  typedef typename VectorTypes<W>::F F;
  typedef typename VectorTypes<W>::I I;
  typedef typename VectorTypes<W>::D D;

  // Written so that it compiles to one broadcast: GCC turns F{} + v into a scalar add of 0.0f and a
  // broadcast (0 + −0 is +0, so the add cannot be dropped) and v − F{} inside an inlined template into a
  // lane-by-lane build, but leaves a shuffle of lane 0 alone. (LLVM folds v − 0 to v.)
#if defined(__clang__)
  static SEA_INLINE F Splat(float v) { return v - F{}; }
#else
  static SEA_INLINE F Splat(float v) { return __builtin_shuffle(F{v}, I{}); }
#endif
  // mask ? x : y, lane by lane (mask lanes are all ones or all zeros, as vector compares produce).
  static SEA_INLINE F Select(const I& mask, const F& x, const F& y) { return reinterpret_cast<F>((mask & reinterpret_cast<I>(x)) | (~mask & reinterpret_cast<I>(y))); }
  static SEA_INLINE F Load(const float* s) {
    F v;
    std::memcpy(&v, s, sizeof v);  // an unaligned vector load
    return v;
  }
  static SEA_INLINE void Store(float* s, const F& v) { std::memcpy(s, &v, sizeof v); }
  // The first count < W entries at s; the missing lanes are `fill`.
  static SEA_INLINE F LoadTail(const float* s, int64_t count, float fill) {
    F v = Splat(fill);
    for (int64_t t = 0; t < count; t++) v[t] = s[t];
    return v;
  }
  static SEA_INLINE void StoreTail(float* s, const F& v, int64_t count) {
    for (int64_t t = 0; t < count; t++) s[t] = v[t];
  }
  // Σ of the lanes, pairwise in a fixed order.
  static SEA_INLINE float Sum(const F& v) {
    float lane[W];
    std::memcpy(lane, &v, sizeof lane);
    for (int width = W / 2; width >= 1; width /= 2) {
      for (int t = 0; t < width; t++) lane[t] += lane[t + width];
    }
    return lane[0];
  }

  // exp(x) for cutoff ≤ x ≤ 0 (x: a score minus its row max), 0 below the cutoff. exp(x) = 2^k · exp(r) with
  // k = round(x / ln 2), |r| ≤ ln2/2; ln 2 is split in two so r is exact, and exp(r) is its degree-7 Taylor
  // polynomial (truncation ≤ 0.35^8/8! ≈ 5e-9, below float rounding: a few float ulps in all). The cutoff
  // (≥ −87, see RowCutoff) keeps 2^k a normal float.
  // Inputs here are never NaN (rows with a non-finite score are handled before); −inf gives 0.
  static SEA_INLINE F ExpAboveCutoff(const F& x, const F& cutoff) {
    const float kLog2e = 1.44269504088896341f;
    const float kLn2Hi = 0.693359375f;     // few mantissa bits: k·kLn2Hi is exact
    const float kLn2Lo = -2.12194440e-4f;  // ln 2 − kLn2Hi
    const I keep = x >= cutoff;
    const F xc = Select(keep, x, cutoff);
    // Truncating y − 0.5 for y = x·log2(e) ≤ 0 rounds y to the nearest integer.
    const I k = __builtin_convertvector(xc * kLog2e - 0.5f, I);
    const F kf = __builtin_convertvector(k, F);
    const F r = (xc - kf * kLn2Hi) - kf * kLn2Lo;
    // Estrin's scheme: a dependency chain of 4 multiply-adds instead of Horner's 7.
    const F r2 = r * r;
    const F r4 = r2 * r2;
    const F p01 = r + 1.0f;
    const F p23 = r * (1.0f / 6.0f) + 0.5f;
    const F p45 = r * (1.0f / 120.0f) + 1.0f / 24.0f;
    const F p67 = r * (1.0f / 5040.0f) + 1.0f / 720.0f;
    const F p = (p01 + r2 * p23) + r4 * (p45 + r2 * p67);
    const F twoToK = reinterpret_cast<F>((k + 127) << 23);  // k ∈ [−126, 0]: a normal float's exponent
    return Select(keep, p * twoToK, Splat(0.0f));
  }
};

// ---------- the row pass, shared: S_i → E_i ----------

// Entries more than −cutoff below their row max are dropped (exp → 0): with cutoff = ln(1e-20 / n) the at most
// n dropped terms weigh < 1e-20 of their row sum (which is ≥ 1), far below float resolution, and every kept
// entry is ≥ 1e-20/n, so neither the block nor its products come near the subnormal range (slow on some
// CPUs). ≥ −87 for any n that fits in memory, as ExpAboveCutoff needs.
float RowCutoff(int64_t n) { return static_cast<float>(std::max(-87.0, std::log(1e-20 / static_cast<double>(n)))); }

struct RowMaxResult {
  float max;
  bool finite;  // a usable max: no NaN, no +inf, not all −inf (single −inf entries are fine: exp → 0)
};

// s_j = exp(s_j − max) in place for j < count; returns Σ_j s_j: float lane sums per chunk of kChunkVectors·W
// entries, the chunks added in double, the W lanes in a fixed tree at the end (so the result depends only on
// the row, not on the thread that computes it). Padding lanes are −inf → exp = 0.
template <int W>
SEA_INLINE double ExpInPlaceAndSum(float* s, int64_t count, float max, float cutoff) {
  using L = Lanes<W>;
  typedef typename L::F F;
  constexpr int64_t kChunk = kChunkVectors * W;
  const F maxV = L::Splat(max), cutoffV = L::Splat(cutoff);
  typename L::D total = {};
  const int64_t full = count - count % kChunk;
  for (int64_t j0 = 0; j0 < full; j0 += kChunk) {
    F part = {};
    for (int64_t j = j0; j < j0 + kChunk; j += W) {
      const F e = L::ExpAboveCutoff(L::Load(s + j) - maxV, cutoffV);
      L::Store(s + j, e);
      part += e;
    }
    total += __builtin_convertvector(part, typename L::D);
  }
  F part = {};  // the last, partial chunk
  for (int64_t j = full; j < count; j += W) {
    const int64_t lanes = std::min<int64_t>(W, count - j);
    const F e = L::ExpAboveCutoff(L::LoadTail(s + j, lanes, -INFINITY) - maxV, cutoffV);
    L::StoreTail(s + j, e, lanes);
    part += e;
  }
  total += __builtin_convertvector(part, typename L::D);
  double lane[W];
  std::memcpy(lane, &total, sizeof lane);
  for (int width = W / 2; width >= 1; width /= 2) {  // pairwise: lane[t] += lane[t + width]
    for (int t = 0; t < width; t++) lane[t] += lane[t + width];
  }
  return lane[0];
}

// The score row s of item `item` (count entries: n, or n plus −inf padding) with its max → E_i in place;
// *rowLoss = lse_i − S_ii (double), *rowScale = c_i, so that G_i = c_i·E_i. A row with a NaN or infinite
// score becomes all NaN (loss and gradients NaN, as the unfused tfjs computation gives).
template <int W>
SEA_INLINE void ExpRow(float* s, int64_t count, int64_t n, int64_t item, const RowMaxResult& m, float cutoff, double* rowLoss, float* rowScale) {
  using L = Lanes<W>;
  if (!m.finite) {
    std::fill(s, s + count, NAN);
    *rowLoss = NAN;
    *rowScale = NAN;
    return;
  }
  float& diag = s[item];
  const float diagScore = diag;
  // The diagonal is kept out of the sum (−inf → exp 0), so `others` = Σ_{j≠i} exp(S_ij − max) is free of the
  // cancellation that (sum − exp(S_ii − max)) would suffer when P_ii ≈ 1.
  diag = -INFINITY;
  const double others = ExpInPlaceAndSum<W>(s, count, m.max, cutoff);
  const double own = L::ExpAboveCutoff(L::Splat(diagScore) - L::Splat(m.max), L::Splat(cutoff))[0];
  const double sum = own + others;
  // lse_i − S_ii = (max − S_ii) + log Σ exp(S_ij − max), in double; sum ≥ 1 (the max entry gives exp(0) = 1).
  *rowLoss = (static_cast<double>(m.max) - static_cast<double>(diagScore)) + std::log(sum);
  *rowScale = static_cast<float>(1.0 / (static_cast<double>(n) * sum));
  // G_ii = c_i·(exp(S_ii − max) − sum) = −c_i·others = (P_ii − 1)/n. (0 − others: +0, not −0, for n = 1.)
  diag = static_cast<float>(0.0 - others);
}

// ---------- blas path ----------

template <int W>
SEA_INLINE RowMaxResult RowMax(const float* s, int64_t n) {
  using L = Lanes<W>;
  typename L::F m = L::Splat(-INFINITY);
  typename L::I nan = typename L::I{};
  const int64_t full = n - n % W;
  for (int64_t j = 0; j < full; j += W) {
    const typename L::F v = L::Load(s + j);
    m = L::Select(v > m, v, m);
    nan |= v != v;
  }
  const typename L::F v = L::LoadTail(s + full, n - full, -INFINITY);
  m = L::Select(v > m, v, m);
  nan |= v != v;
  float best = m[0];
  bool anyNan = false;
  for (int t = 0; t < W; t++) {
    best = m[t] > best ? m[t] : best;
    anyNan = anyNan || nan[t] != 0;
  }
  return {best, !anyNan && std::isfinite(best)};
}

// Rows [i0, i1) of the block (its first row is item r0, rows of n scores): S_i → E_i (ExpRow).
template <int W>
SEA_INLINE void ExpRowsOf(float* block, int64_t n, int64_t r0, int64_t i0, int64_t i1, double* rowLoss, float* rowScale) {
  const float cutoff = RowCutoff(n);
  for (int64_t i = i0; i < i1; i++) {
    float* s = block + i * n;
    ExpRow<W>(s, n, n, r0 + i, RowMax<W>(s, n), cutoff, &rowLoss[i], &rowScale[i]);
  }
}

typedef void (*ExpRows)(float* block, int64_t n, int64_t r0, int64_t i0, int64_t i1, double* rowLoss, float* rowScale);

void ExpRows4(float* block, int64_t n, int64_t r0, int64_t i0, int64_t i1, double* rowLoss, float* rowScale) {
  ExpRowsOf<4>(block, n, r0, i0, i1, rowLoss, rowScale);
}
#if SEA_SOLOSIM_X86
__attribute__((target("avx2,fma"))) void ExpRows8(float* block, int64_t n, int64_t r0, int64_t i0, int64_t i1, double* rowLoss, float* rowScale) {
  ExpRowsOf<8>(block, n, r0, i0, i1, rowLoss, rowScale);
}
#endif

struct BlasScratch {
  std::vector<float> block;     // [kBlasBlockRows × n]: S, then E
  std::vector<float> rowScale;  // [kBlasBlockRows]
  std::vector<float> scaledA;   // [kBlasBlockRows × d]: diag(rowScale)·a_blk
  std::vector<double> rowLoss;  // [n]
};

double BlasForwardBackward(const float* a, const float* b, int64_t n, int64_t d, float invTau, float* dA, float* dB, ExpRows expRows) {
  const int64_t blockRows = std::min(kBlasBlockRows, n);
  BlasScratch w;
  w.block.resize(static_cast<size_t>(blockRows * n));
  w.rowScale.resize(static_cast<size_t>(blockRows));
  w.scaledA.resize(static_cast<size_t>(blockRows * d));
  w.rowLoss.resize(static_cast<size_t>(n));
  const int N = static_cast<int>(n), D = static_cast<int>(d);
  float* block = w.block.data();
  for (int64_t r0 = 0; r0 < n; r0 += blockRows) {
    const int64_t rows = std::min(blockRows, n - r0);
    const int R = static_cast<int>(rows);
    const float* aBlk = a + r0 * d;
    float* dABlk = dA + r0 * d;
    // S_blk [rows × n] = invTau · a_blk · bᵀ, then E_blk in place, the rows split between threads.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, N, D, invTau, aBlk, D, b, D, 0.0f, block, N);
    const int threads = ThreadsForValues(rows * n, rows, kMinEntriesPerThread);
    double* rowLoss = w.rowLoss.data() + r0;
    float* rowScale = w.rowScale.data();
    ForEachRange(rows, threads, [=](int64_t i0, int64_t i1) { expRows(block, n, r0, i0, i1, rowLoss, rowScale); });
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

// ---------- fused path (AVX-512, W = 16) ----------

#if SEA_SOLOSIM_X86

// Register tiles (AVX-512 has 32 vector registers; these measured fastest of the shapes tried):
// scores: kScoreRows rows × kScoreVectors·16 columns; E·b: kDotRows rows × kDotFeatures features;
// Eᵀ·(c·a): kOuterFeatures features × kOuterVectors·16 columns.
constexpr int kFusedWidth = 16;
constexpr int kScoreRows = 4, kScoreVectors = 4;
constexpr int kDotRows = 4, kDotFeatures = 4;
constexpr int kOuterFeatures = 8, kOuterVectors = 2;
static_assert(kFusedColumnAlign % (kScoreVectors * kFusedWidth) == 0 && kFusedColumnAlign % (kOuterVectors * kFusedWidth) == 0,
              "the padded rows are whole column strips");

typedef Lanes<kFusedWidth> L16;
typedef L16::F F16;

// What every thread reads, and the per-row outputs (each row written by one thread).
struct FusedProblem {
  const float* a;           // [n × d]
  const float* bT;          // [d × nPad]: bᵀ, zero in the padding columns
  const float* columnBias;  // [nPad]: 0, and −inf in the padding columns (so max and exp skip them)
  int64_t n, d, nPad;
  float invTau;
  float* dA;        // [n × d]
  double* rowLoss;  // [n]: lse_i − S_ii
};

// One thread's working memory.
struct FusedThreadScratch {
  std::vector<float> block;         // [kFusedBlockRows × nPad]: S, then E
  std::vector<float> scaledA;       // [kFusedBlockRows × d]: invTau·a_blk, then invTau·diag(c)·a_blk
  std::vector<float> rowScale;      // [kFusedBlockRows]: c_i
  std::vector<RowMaxResult> maxes;  // [kFusedBlockRows]
  std::vector<float> dBT;           // [d × nPad]: this thread's rows' share of dBᵀ
};

// RG rows of scores from rows aS (invTau·a, stride d): s[r][j] = columnBias[j] + Σ_k aS[r][k]·bT[k][j] for
// all nPad columns, and each row's max and whether it is finite.
template <int RG>
SEA_INLINE void ScoreRows(const FusedProblem& p, const float* aS, float* s, RowMaxResult* out) {
  constexpr int CV = kScoreVectors, W = kFusedWidth;
  // nan[r] turns NaN at the row's first NaN score. (Both updates are selects: nan |= v != v needs an int
  // vector made from an AVX-512 compare mask, which GCC builds lane by lane with AVX-512F alone.)
  F16 best[RG], nan[RG];
  for (int r = 0; r < RG; r++) {
    best[r] = L16::Splat(-INFINITY);
    nan[r] = F16{};
  }
  for (int64_t j = 0; j < p.nPad; j += CV * W) {
    F16 acc[RG][CV];
    for (int c = 0; c < CV; c++) acc[0][c] = L16::Load(p.columnBias + j + c * W);
    for (int r = 1; r < RG; r++) {
      for (int c = 0; c < CV; c++) acc[r][c] = acc[0][c];
    }
    for (int64_t k = 0; k < p.d; k++) {
      F16 bv[CV];
      for (int c = 0; c < CV; c++) bv[c] = L16::Load(p.bT + k * p.nPad + j + c * W);
      for (int r = 0; r < RG; r++) {
        const F16 av = L16::Splat(aS[r * p.d + k]);
        for (int c = 0; c < CV; c++) acc[r][c] += av * bv[c];
      }
    }
    for (int r = 0; r < RG; r++) {
      for (int c = 0; c < CV; c++) {
        L16::Store(s + r * p.nPad + j + c * W, acc[r][c]);
        best[r] = L16::Select(acc[r][c] > best[r], acc[r][c], best[r]);
        nan[r] = L16::Select(acc[r][c] != acc[r][c], acc[r][c], nan[r]);
      }
    }
  }
  for (int r = 0; r < RG; r++) {
    float m = best[r][0];
    bool anyNan = false;
    for (int t = 0; t < W; t++) {
      m = best[r][t] > m ? best[r][t] : m;
      anyNan = anyNan || nan[r][t] != nan[r][t];
    }
    out[r] = {m, !anyNan && std::isfinite(m)};
  }
}

// out[r][q] = Σ_j e[r][j]·bT[q][j] for RG rows e and FG features bT (both stride nPad); out stride d.
template <int RG, int FG>
SEA_INLINE void DotTile(const FusedProblem& p, const float* e, const float* bT, float* out) {
  F16 acc[RG][FG] = {};
  for (int64_t j = 0; j < p.nPad; j += kFusedWidth) {
    F16 ev[RG], bv[FG];
    for (int r = 0; r < RG; r++) ev[r] = L16::Load(e + r * p.nPad + j);
    for (int q = 0; q < FG; q++) bv[q] = L16::Load(bT + q * p.nPad + j);
    for (int r = 0; r < RG; r++) {
      for (int q = 0; q < FG; q++) acc[r][q] += ev[r] * bv[q];
    }
  }
  for (int r = 0; r < RG; r++) {
    for (int q = 0; q < FG; q++) out[r * p.d + q] = L16::Sum(acc[r][q]);
  }
}

// out[r][·] = e[r]·b for RG rows, all d features.
template <int RG>
SEA_INLINE void DotRows(const FusedProblem& p, const float* e, float* out) {
  int64_t k = 0;
  for (; k + kDotFeatures <= p.d; k += kDotFeatures) DotTile<RG, kDotFeatures>(p, e, p.bT + k * p.nPad, out + k);
  for (; k < p.d; k++) DotTile<RG, 1>(p, e, p.bT + k * p.nPad, out + k);
}

// dBT[q][0, CV·16) += Σ_i ca[i][q]·e[i][0, CV·16) over the block's rows, FG features (ca stride d). The
// block's sum is formed in registers and then added: float sums of ~n/32 block sums of 32 rows each, rather
// than one running sum over all n rows (which had 2–3 times the rounding error at n = 7,050).
template <int FG>
SEA_INLINE void OuterTile(const FusedProblem& p, int64_t rows, const float* e, const float* ca, float* dBT) {
  constexpr int CV = kOuterVectors, W = kFusedWidth;
  F16 acc[FG][CV] = {};
  for (int64_t i = 0; i < rows; i++) {
    F16 ev[CV];
    for (int c = 0; c < CV; c++) ev[c] = L16::Load(e + i * p.nPad + c * W);
    for (int q = 0; q < FG; q++) {
      const F16 cv = L16::Splat(ca[i * p.d + q]);
      for (int c = 0; c < CV; c++) acc[q][c] += cv * ev[c];
    }
  }
  for (int q = 0; q < FG; q++) {
    for (int c = 0; c < CV; c++) L16::Store(dBT + q * p.nPad + c * W, L16::Load(dBT + q * p.nPad + c * W) + acc[q][c]);
  }
}

// Rows [i0, i1) in blocks of kFusedBlockRows: scores, exps, dA rows, and their share of dBᵀ into w.dBT.
__attribute__((target("avx512f"))) void FusedSolveRows(const FusedProblem& p, FusedThreadScratch& w, int64_t i0, int64_t i1) {
  const float cutoff = RowCutoff(p.n);
  const int64_t d = p.d, nPad = p.nPad;
  for (int64_t r0 = i0; r0 < i1; r0 += kFusedBlockRows) {
    const int64_t rows = std::min(kFusedBlockRows, i1 - r0);
    const float* aBlk = p.a + r0 * d;
    float* dABlk = p.dA + r0 * d;
    for (int64_t x = 0; x < rows * d; x++) w.scaledA[x] = p.invTau * aBlk[x];
    // S_blk (with each row's max), then E_blk in place.
    int64_t i = 0;
    for (; i + kScoreRows <= rows; i += kScoreRows) ScoreRows<kScoreRows>(p, &w.scaledA[i * d], &w.block[i * nPad], &w.maxes[i]);
    for (; i < rows; i++) ScoreRows<1>(p, &w.scaledA[i * d], &w.block[i * nPad], &w.maxes[i]);
    for (i = 0; i < rows; i++) ExpRow<kFusedWidth>(&w.block[i * nPad], nPad, p.n, r0 + i, w.maxes[i], cutoff, &p.rowLoss[r0 + i], &w.rowScale[i]);
    // dA_blk = invTau·diag(c)·(E_blk·b); then scaledA = invTau·diag(c)·a_blk for dB.
    for (i = 0; i + kDotRows <= rows; i += kDotRows) DotRows<kDotRows>(p, &w.block[i * nPad], dABlk + i * d);
    for (; i < rows; i++) DotRows<1>(p, &w.block[i * nPad], dABlk + i * d);
    for (i = 0; i < rows; i++) {
      const float scale = p.invTau * w.rowScale[i];
      for (int64_t k = 0; k < d; k++) {
        dABlk[i * d + k] *= scale;
        w.scaledA[i * d + k] = scale * aBlk[i * d + k];
      }
    }
    // dBT += E_blkᵀ·scaledA, column strip by column strip (the block's rows × one strip stay in L1 over the
    // features).
    for (int64_t j = 0; j < nPad; j += kOuterVectors * kFusedWidth) {
      int64_t k = 0;
      for (; k + kOuterFeatures <= d; k += kOuterFeatures) OuterTile<kOuterFeatures>(p, rows, &w.block[j], &w.scaledA[k], &w.dBT[k * nPad + j]);
      for (; k < d; k++) OuterTile<1>(p, rows, &w.block[j], &w.scaledA[k], &w.dBT[k * nPad + j]);
    }
  }
}

// Thread t takes the contiguous rows [n·t/T, n·(t+1)/T) and accumulates their share of dBᵀ in its own
// buffer; dB is the sum of the shares in thread order.
double FusedForwardBackward(const float* a, const float* b, int64_t n, int64_t d, float invTau, float* dA, float* dB) {
  const int64_t nPad = (n + kFusedColumnAlign - 1) / kFusedColumnAlign * kFusedColumnAlign;
  const int threads = ThreadsForValues(n * n, n, kMinEntriesPerThread);
  const size_t blockRows = static_cast<size_t>(std::min(kFusedBlockRows, n));
  // Vectors come zeroed, as bT's padding and the dB shares must be.
  std::vector<float> bT(static_cast<size_t>(d * nPad)), columnBias(static_cast<size_t>(nPad));
  std::vector<double> rowLoss(static_cast<size_t>(n));
  std::vector<FusedThreadScratch> work(static_cast<size_t>(threads));
  for (FusedThreadScratch& w : work) {
    w.block.resize(blockRows * static_cast<size_t>(nPad));
    w.scaledA.resize(blockRows * static_cast<size_t>(d));
    w.rowScale.resize(blockRows);
    w.maxes.resize(blockRows);
    w.dBT.resize(static_cast<size_t>(d * nPad));
  }
  for (int64_t j = 0; j < n; j++) {
    for (int64_t k = 0; k < d; k++) bT[k * nPad + j] = b[j * d + k];
  }
  std::fill(columnBias.begin() + n, columnBias.end(), -INFINITY);
  const FusedProblem p{a, bT.data(), columnBias.data(), n, d, nPad, invTau, dA, rowLoss.data()};
  RunOnThreads(threads, [&](int t) { FusedSolveRows(p, work[t], n * t / threads, n * (t + 1) / threads); });
  for (int64_t j = 0; j < n; j++) {
    for (int64_t k = 0; k < d; k++) {
      float sum = work[0].dBT[k * nPad + j];
      for (int t = 1; t < threads; t++) sum += work[t].dBT[k * nPad + j];
      dB[j * d + k] = sum;
    }
  }
  double total = 0.0;
  for (int64_t i = 0; i < n; i++) total += rowLoss[i];
  return total / static_cast<double>(n);
}
#endif  // SEA_SOLOSIM_X86

// ---------- which version ----------

enum class Isa { kBaseline, kAvx2, kAvx512 };

// The widest instruction set this CPU runs (__builtin_cpu_supports also checks that the OS saves the
// registers); AVX2 counts only with FMA, which every AVX2 CPU has.
Isa CpuIsa() {
#if SEA_SOLOSIM_X86
  static const Isa isa = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return Isa::kAvx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
    return Isa::kBaseline;
  }();
  return isa;
#else
  return Isa::kBaseline;
#endif
}

// The version to run: the CPU's best, or SEA_SOLOSIM_ISA's if set; false with *error set if that is not a
// known name or asks for more than the CPU has.
bool PickIsa(Isa* isa, std::string* error) {
  const Isa best = CpuIsa();
  const char* asked = std::getenv("SEA_SOLOSIM_ISA");
  if (asked == nullptr || *asked == '\0') {
    *isa = best;
    return true;
  }
  const std::string name = asked;
  if (name == "avx512") {
    *isa = Isa::kAvx512;
  } else if (name == "avx2") {
    *isa = Isa::kAvx2;
  } else if (name == "baseline") {
    *isa = Isa::kBaseline;
  } else {
    *error = "SEA_SOLOSIM_ISA must be avx512, avx2 or baseline (got \"" + name + "\")";
    return false;
  }
  if (static_cast<int>(*isa) > static_cast<int>(best)) {
    *error = "SEA_SOLOSIM_ISA=" + name + " asks for an instruction set this CPU (or this build) does not have";
    return false;
  }
  return true;
}

double ForwardBackward(Isa isa, const float* a, const float* b, int64_t n, int64_t d, float invTau, float* dA, float* dB) {
#if SEA_SOLOSIM_X86
  if (isa == Isa::kAvx512) return FusedForwardBackward(a, b, n, d, invTau, dA, dB);
  if (isa == Isa::kAvx2) return BlasForwardBackward(a, b, n, d, invTau, dA, dB, ExpRows8);
#else
  (void)isa;  // PickIsa gives only the baseline here
#endif
  return BlasForwardBackward(a, b, n, d, invTau, dA, dB, ExpRows4);
}

// ---------- the N-API function ----------

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
  Isa isa;
  std::string isaError;
  if (!PickIsa(&isa, &isaError)) return Fail(env, std::string(fn) + isaError), env.Undefined();
  double loss;
  try {
    loss = ForwardBackward(isa, a, b, n, d, static_cast<float>(invTau), dA, dB);
  } catch (const std::bad_alloc&) {  // the working memory is allocated before any output is written
    return Fail(env, std::string(fn) + "out of memory for the score blocks of n = " + std::to_string(n)), env.Undefined();
  }
  return Napi::Number::New(env, loss);
}

}  // namespace

void RegisterSolosim(Napi::Env env, Napi::Object exports) {
  exports.Set("solosimForwardBackward", Napi::Function::New(env, SolosimForwardBackward, "solosimForwardBackward"));
}

}  // namespace sea
