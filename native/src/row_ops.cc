// Row-wise passes of two fused custom ops, moved out of JS typed-array loops: the graph encoders
// (src/backend/fused/graphEncoders.ts) and the Solosim projection head (src/backend/fused/projectionHead.ts). Each function here
// is the twin of a JS function there, which stays as the fallback and must stay in step with this file.
//
// The arithmetic is the JS arithmetic, so both give the same bits: a JS number is a double, so a Float32Array
// read becomes (double)x, a JS sum or product is one double operation, and a store to a Float32Array (or
// Math.fround) is one static_cast<float>. Sums run in the JS order (per row left to right, column sums over rows
// in row order). Threads split rows for row-wise passes and columns for column sums, so every value is computed
// by the same operations in the same order whatever the thread count. A float32 add or multiply of two floats here is
// the same as JS's double operation rounded once (the exact result fits a double's 53 bits or rounds innocuously).
// Relies on no a·b + c being contracted into an FMA (the x86-64 baseline has none, but GCC on arm64 and clang
// would contract), hence the pragmas.
#include "common.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace sea {
namespace {

// ---------------------------------------------------------------- argument helpers (this file's extra types)

// A Float32Array, or null/undefined (then *data = nullptr, *length = 0).
bool GetOptionalF32(const Napi::CallbackInfo& info, size_t i, const char* name, float** data, size_t* length) {
  if (info[i].IsNull() || info[i].IsUndefined()) {
    *data = nullptr;
    *length = 0;
    return true;
  }
  return GetF32(info, i, name, data, length);
}

bool CheckArgCount(const Napi::CallbackInfo& info, const char* fn, size_t want) {
  if (info.Length() == want) return true;
  return Fail(info.Env(), std::string(fn) + " expects " + std::to_string(want) + " arguments, got " + std::to_string(info.Length()));
}

// Values per thread below which a pass stays on one thread.
constexpr int64_t kMinValuesPerThread = 1 << 16;

// body(begin, end) over row (or column) ranges of [0, parts), on as many threads as the values justify.
template <typename Body>
void ForParts(int64_t parts, int64_t values, const Body& body) {
  ForEachRange(parts, ThreadsForValues(values, parts, kMinValuesPerThread), body);
}

std::string Shape(int64_t rows, int64_t cols, const char* what) {
  return std::to_string(rows) + " rows × " + what + " " + std::to_string(cols);
}

// The layer-sum terms of the graph encoder: base, and next and last (each may be null), all [rows, k].
struct Terms {
  const float* base;
  const float* next;
  const float* last;
};

bool GetTerms(const Napi::CallbackInfo& info, size_t i, const char* fn, int64_t want, const std::string& what, Terms* t) {
  float *base, *next, *last;
  size_t nBase, nNext, nLast;
  if (!GetF32(info, i, "base", &base, &nBase) || !GetOptionalF32(info, i + 1, "next", &next, &nNext) ||
      !GetOptionalF32(info, i + 2, "last", &last, &nLast) || !CheckLength(info.Env(), fn, "base", nBase, want, what) ||
      (next && !CheckLength(info.Env(), fn, "next", nNext, want, what)) ||
      (last && !CheckLength(info.Env(), fn, "last", nLast, want, what))) {
    return false;
  }
  if (last && !next) return Fail(info.Env(), std::string(fn) + ": last given without next");
  *t = Terms{base, next, last};
  return true;
}

// row ← the float32 sum ((base + next) + last) of the terms' row at offset o (sumRow in graphEncoder.ts).
inline void SumRow(const Terms& t, int64_t o, int64_t k, float* row) {
  if (t.last) {
    for (int64_t j = 0; j < k; j++) row[j] = (t.base[o + j] + t.next[o + j]) + t.last[o + j];
  } else if (t.next) {
    for (int64_t j = 0; j < k; j++) row[j] = t.base[o + j] + t.next[o + j];
  } else {
    for (int64_t j = 0; j < k; j++) row[j] = t.base[o + j];
  }
}

// ---------------------------------------------------------------- LeakyReLU

// leakyRelu(x, slope, out): out = x < 0 ? slope·x : x, the product in double rounded once (tfjs's kernel; the JS
// twin's branch-free form gives the same values).
Napi::Value LeakyRelu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "leakyRelu";
  float *x, *out;
  size_t n, nOut;
  double slope;
  if (!CheckArgCount(info, fn, 3) || !GetF32(info, 0, "x", &x, &n) || !GetNumber(info, 1, fn, "slope", &slope) ||
      !GetF32(info, 2, "out", &out, &nOut) || !CheckLength(env, fn, "out", nOut, static_cast<int64_t>(n), "x's length")) {
    return env.Undefined();
  }
  const int64_t count = static_cast<int64_t>(n);
  // The factor is selected and the product always taken (v·1 rounds back to v exactly, −0 and NaN included),
  // with the slope read from a local rather than through the lambda's captured reference: GCC then vectorises
  // the loop. As a branch it stayed scalar and mispredicted on every other value of a random-signed layer
  // (~9 ns → 0.7 ns per value on one core).
  ForParts(count, count, [&](int64_t begin, int64_t end) {
    const double negative = slope;
    for (int64_t i = begin; i < end; i++) {
      const float v = x[i];
      const double factor = v < 0.0f ? negative : 1.0;
      out[i] = static_cast<float>(v * factor);
    }
  });
  return env.Undefined();
}

// leakyReluGrad(dOut, positiveTest, slope32, dx): dx = dOut·(p + (1 − p)·slope32), p = positiveTest > 0 ? 1 : 0
// (the JS twin's expression: 1 or slope32 for a finite slope32).
Napi::Value LeakyReluGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "leakyReluGrad";
  float *dOut, *test, *dx;
  size_t n, nTest, nDx;
  double slope32;
  if (!CheckArgCount(info, fn, 4) || !GetF32(info, 0, "dOut", &dOut, &n) || !GetF32(info, 1, "positiveTest", &test, &nTest) ||
      !GetNumber(info, 2, fn, "slope32", &slope32) || !GetF32(info, 3, "dx", &dx, &nDx) ||
      !CheckLength(env, fn, "positiveTest", nTest, static_cast<int64_t>(n), "dOut's length") ||
      !CheckLength(env, fn, "dx", nDx, static_cast<int64_t>(n), "dOut's length")) {
    return env.Undefined();
  }
  const int64_t count = static_cast<int64_t>(n);
  ForParts(count, count, [&](int64_t begin, int64_t end) {
    // The factor's two values, p + (1 − p)·slope32 at p = 1 and p = 0 (so a non-finite slope gives the same NaN),
    // hoisted and selected per element: vectorised, as in LeakyRelu.
    const double positive = 1.0 + (1.0 - 1.0) * slope32, negative = 0.0 + (1.0 - 0.0) * slope32;
    for (int64_t i = begin; i < end; i++) {
      const double factor = test[i] > 0.0f ? positive : negative;
      dx[i] = static_cast<float>(dOut[i] * factor);
    }
  });
  return env.Undefined();
}

// ---------------------------------------------------------------- graph encoder

// encoderNormalizeRows(source, bias|null, x0, first, n, k, eps2, invNorm, active): rows [first, first + n) of x0
// (rows × k) ← source row i (+ bias, rounded to float32) scaled by r = float32(1/√max(‖·‖², eps2)), the squared
// norm summed in double and rounded to float32 before the comparison; invNorm[row] = r, active[row] = ‖·‖² ≥ eps2.
Napi::Value EncoderNormalizeRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "encoderNormalizeRows";
  float *source, *bias, *x0, *invNorm;
  uint8_t* active;
  size_t nSource, nBias, nX0, nInv, nActive;
  int64_t first, n, k;
  double eps2;
  if (!CheckArgCount(info, fn, 9) || !GetF32(info, 0, "source", &source, &nSource) || !GetOptionalF32(info, 1, "bias", &bias, &nBias) ||
      !GetF32(info, 2, "x0", &x0, &nX0) || !GetDim(info, 3, "first", &first) || !GetDim(info, 4, "n", &n) || !GetDim(info, 5, "k", &k) ||
      !GetNumber(info, 6, fn, "eps2", &eps2) || !GetF32(info, 7, "invNorm", &invNorm, &nInv) || !GetU8(info, 8, "active", &active, &nActive)) {
    return env.Undefined();
  }
  if (k < 1) return Fail(env, std::string(fn) + ": k must be ≥ 1"), env.Undefined();
  const int64_t rows = static_cast<int64_t>(nX0) / k;
  if (!CheckLength(env, fn, "source", nSource, n * k, Shape(n, k, "k")) || (bias && !CheckLength(env, fn, "bias", nBias, k, "k")) ||
      !CheckLength(env, fn, "x0", nX0, rows * k, "a multiple of k " + std::to_string(k)) ||
      !CheckLength(env, fn, "invNorm", nInv, rows, "x0's rows") || !CheckLength(env, fn, "active", nActive, rows, "x0's rows")) {
    return env.Undefined();
  }
  if (first + n > rows) {
    return Fail(env, std::string(fn) + ": rows [" + std::to_string(first) + ", " + std::to_string(first + n) + ") exceed x0's " + std::to_string(rows) + " rows"), env.Undefined();
  }
  ForParts(n, n * k, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
      const float* s = source + i * k;
      float* o = x0 + (first + i) * k;
      double sq = 0;
      for (int64_t j = 0; j < k; j++) {
        // itemIn = product + b2 is a float32 tensor on the tfjs path: rounded before squaring.
        const float v = bias ? static_cast<float>(static_cast<double>(s[j]) + bias[j]) : s[j];
        o[j] = v;
        sq += static_cast<double>(v) * v;
      }
      const float sq32 = static_cast<float>(sq);
      const bool isActive = sq32 >= eps2;
      const float r = static_cast<float>(1.0 / std::sqrt(isActive ? static_cast<double>(sq32) : eps2));
      active[first + i] = isActive ? 1 : 0;
      invNorm[first + i] = r;
      for (int64_t j = 0; j < k; j++) o[j] = o[j] * r;
    }
  });
  return env.Undefined();
}

// encoderWriteOutputs(base, next|null, last|null, sumUsers, weights, m, M, out, U, N, k): sum = ((base + next) + last)
// per row of [U+N, k]; user rows into sumUsers [U, k] and, times weights[i·M + m], into out's columns
// [m·k, (m+1)·k) (out is [U+N, M·k]); item rows into out as they are.
Napi::Value EncoderWriteOutputs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "encoderWriteOutputs";
  Terms t;
  float *sumUsers, *weights, *out;
  size_t nSum, nWeights, nOut;
  int64_t m, M, U, N, k;
  if (!CheckArgCount(info, fn, 11) || !GetF32(info, 3, "sumUsers", &sumUsers, &nSum) || !GetF32(info, 4, "weights", &weights, &nWeights) ||
      !GetDim(info, 5, "m", &m) || !GetDim(info, 6, "M", &M) || !GetF32(info, 7, "out", &out, &nOut) || !GetDim(info, 8, "U", &U) ||
      !GetDim(info, 9, "N", &N) || !GetDim(info, 10, "k", &k)) {
    return env.Undefined();
  }
  if (m >= M) return Fail(env, std::string(fn) + ": m = " + std::to_string(m) + " must be < M = " + std::to_string(M)), env.Undefined();
  const int64_t rows = U + N, width = M * k;
  if (!GetTerms(info, 0, fn, rows * k, Shape(rows, k, "k"), &t) || !CheckLength(env, fn, "sumUsers", nSum, U * k, Shape(U, k, "k")) ||
      !CheckLength(env, fn, "weights", nWeights, U * M, Shape(U, M, "M")) || !CheckLength(env, fn, "out", nOut, rows * width, Shape(rows, width, "M·k"))) {
    return env.Undefined();
  }
  ForParts(rows, rows * k, [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t i = begin; i < std::min(end, U); i++) {
      SumRow(t, i * k, k, row.data());
      const float w = weights[i * M + m];
      float* su = sumUsers + i * k;
      float* o = out + i * width + m * k;
      for (int64_t j = 0; j < k; j++) {
        su[j] = row[j];
        o[j] = row[j] * w;
      }
    }
    for (int64_t i = std::max(begin, U); i < end; i++) SumRow(t, i * k, k, out + i * width + m * k);
  });
  return env.Undefined();
}

// encoderLayerSumGradient(dy, weights, sumUsers, m, M, g, dWeights, U, N, k): g [U+N, k] = user rows
// dy_m·weights[i·M + m], item rows dy_m (dy_m = columns [m·k, (m+1)·k) of dy [U+N, M·k]);
// dWeights[i·M + m] = Σ_j dy_m·sumUsers, summed in double.
Napi::Value EncoderLayerSumGradient(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "encoderLayerSumGradient";
  float *dy, *weights, *sumUsers, *g, *dWeights;
  size_t nDy, nWeights, nSum, nG, nDWeights;
  int64_t m, M, U, N, k;
  if (!CheckArgCount(info, fn, 10) || !GetF32(info, 0, "dy", &dy, &nDy) || !GetF32(info, 1, "weights", &weights, &nWeights) ||
      !GetF32(info, 2, "sumUsers", &sumUsers, &nSum) || !GetDim(info, 3, "m", &m) || !GetDim(info, 4, "M", &M) ||
      !GetF32(info, 5, "g", &g, &nG) || !GetF32(info, 6, "dWeights", &dWeights, &nDWeights) || !GetDim(info, 7, "U", &U) ||
      !GetDim(info, 8, "N", &N) || !GetDim(info, 9, "k", &k)) {
    return env.Undefined();
  }
  if (m >= M) return Fail(env, std::string(fn) + ": m = " + std::to_string(m) + " must be < M = " + std::to_string(M)), env.Undefined();
  const int64_t rows = U + N, width = M * k;
  if (!CheckLength(env, fn, "dy", nDy, rows * width, Shape(rows, width, "M·k")) || !CheckLength(env, fn, "weights", nWeights, U * M, Shape(U, M, "M")) ||
      !CheckLength(env, fn, "sumUsers", nSum, U * k, Shape(U, k, "k")) || !CheckLength(env, fn, "g", nG, rows * k, Shape(rows, k, "k")) ||
      !CheckLength(env, fn, "dWeights", nDWeights, U * M, Shape(U, M, "M"))) {
    return env.Undefined();
  }
  ForParts(rows, rows * k, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < std::min(end, U); i++) {
      const float w = weights[i * M + m];
      const float* d = dy + i * width + m * k;
      const float* su = sumUsers + i * k;
      float* gi = g + i * k;
      double dot = 0;
      for (int64_t j = 0; j < k; j++) {
        gi[j] = d[j] * w;
        dot += static_cast<double>(d[j]) * su[j];
      }
      dWeights[i * M + m] = static_cast<float>(dot);
    }
    for (int64_t i = std::max(begin, U); i < end; i++) {
      const float* d = dy + i * width + m * k;
      float* gi = g + i * k;
      for (int64_t j = 0; j < k; j++) gi[j] = d[j];
    }
  });
  return env.Undefined();
}

// normalizeRowsBackward(base, next|null, last|null, y, invNorm, active, dx, first, n, k): for rows
// [first, first + n) of the unit rows y [rows, k], with d = ((base + next) + last) of that row (float32) and
// dot = Σ d·y in double (0 where the norm was not active), dx row i = r·(d − y·dot), r = invNorm[row]. The
// graph encoder's normalizeBackward, and the projection head's with next = last = null and first = 0.
Napi::Value NormalizeRowsBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "normalizeRowsBackward";
  Terms t;
  float *y, *invNorm, *dx;
  uint8_t* active;
  size_t nY, nInv, nActive, nDx;
  int64_t first, n, k;
  if (!CheckArgCount(info, fn, 10) || !GetF32(info, 3, "y", &y, &nY) || !GetF32(info, 4, "invNorm", &invNorm, &nInv) ||
      !GetU8(info, 5, "active", &active, &nActive) || !GetF32(info, 6, "dx", &dx, &nDx) || !GetDim(info, 7, "first", &first) ||
      !GetDim(info, 8, "n", &n) || !GetDim(info, 9, "k", &k)) {
    return env.Undefined();
  }
  if (k < 1) return Fail(env, std::string(fn) + ": k must be ≥ 1"), env.Undefined();
  const int64_t rows = static_cast<int64_t>(nY) / k;
  if (!CheckLength(env, fn, "y", nY, rows * k, "a multiple of k " + std::to_string(k)) || !GetTerms(info, 0, fn, rows * k, Shape(rows, k, "k"), &t) ||
      !CheckLength(env, fn, "invNorm", nInv, rows, "y's rows") || !CheckLength(env, fn, "active", nActive, rows, "y's rows") ||
      !CheckLength(env, fn, "dx", nDx, n * k, Shape(n, k, "k"))) {
    return env.Undefined();
  }
  if (first + n > rows) {
    return Fail(env, std::string(fn) + ": rows [" + std::to_string(first) + ", " + std::to_string(first + n) + ") exceed y's " + std::to_string(rows) + " rows"), env.Undefined();
  }
  ForParts(n, n * k, [&](int64_t begin, int64_t end) {
    std::vector<float> d(static_cast<size_t>(k));
    for (int64_t i = begin; i < end; i++) {
      const int64_t row = first + i;
      const float* yr = y + row * k;
      SumRow(t, row * k, k, d.data());
      double dot = 0;
      if (active[row]) {
        for (int64_t j = 0; j < k; j++) dot += static_cast<double>(d[j]) * yr[j];
      }
      const double r = invNorm[row];
      float* o = dx + i * k;
      for (int64_t j = 0; j < k; j++) o[j] = static_cast<float>(r * (static_cast<double>(d[j]) - static_cast<double>(yr[j]) * dot));
    }
  });
  return env.Undefined();
}

// columnSums(x, n, w, out): out[j] = Σ_i x[i·w + j], summed in double over rows in order, rounded once.
Napi::Value ColumnSums(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "columnSums";
  float *x, *out;
  size_t nX, nOut;
  int64_t n, w;
  if (!CheckArgCount(info, fn, 4) || !GetF32(info, 0, "x", &x, &nX) || !GetDim(info, 1, "n", &n) || !GetDim(info, 2, "w", &w) ||
      !GetF32(info, 3, "out", &out, &nOut) || !CheckLength(env, fn, "x", nX, n * w, Shape(n, w, "w")) || !CheckLength(env, fn, "out", nOut, w, "w")) {
    return env.Undefined();
  }
  std::vector<double> sums(static_cast<size_t>(w), 0.0);
  ForParts(w, n * w, [&](int64_t j0, int64_t j1) {
    for (int64_t i = 0; i < n; i++) {
      const float* xr = x + i * w;
      for (int64_t j = j0; j < j1; j++) sums[j] += xr[j];
    }
  });
  for (int64_t j = 0; j < w; j++) out[j] = static_cast<float>(sums[j]);
  return env.Undefined();
}

// ---------------------------------------------------------------- projection head

// bnReluForward(x, n, h, gamma, beta, eps, out, xHat, invStd): batch-statistics BatchNorm then ReLU over the
// columns of x [n, h]: mean and biased variance (mean of squared deviations) in double, invStd[j] = 1/√(var + eps)
// (a Float64Array), xHat = (x − mean)·invStd, out = max(0, γ·x̂ + β) with the unrounded x̂.
Napi::Value BnReluForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "bnReluForward";
  float *x, *gamma, *beta, *out, *xHat;
  double* invStd;
  size_t nX, nGamma, nBeta, nOut, nXHat, nInv;
  int64_t n, h;
  double eps;
  if (!CheckArgCount(info, fn, 9) || !GetF32(info, 0, "x", &x, &nX) || !GetDim(info, 1, "n", &n) || !GetDim(info, 2, "h", &h) ||
      !GetF32(info, 3, "gamma", &gamma, &nGamma) || !GetF32(info, 4, "beta", &beta, &nBeta) || !GetNumber(info, 5, fn, "eps", &eps) ||
      !GetF32(info, 6, "out", &out, &nOut) || !GetF32(info, 7, "xHat", &xHat, &nXHat) || !GetF64(info, 8, "invStd", &invStd, &nInv)) {
    return env.Undefined();
  }
  const std::string shape = Shape(n, h, "h");
  if (!CheckLength(env, fn, "x", nX, n * h, shape) || !CheckLength(env, fn, "gamma", nGamma, h, "h") || !CheckLength(env, fn, "beta", nBeta, h, "h") ||
      !CheckLength(env, fn, "out", nOut, n * h, shape) || !CheckLength(env, fn, "xHat", nXHat, n * h, shape) || !CheckLength(env, fn, "invStd", nInv, h, "h")) {
    return env.Undefined();
  }
  const double count = static_cast<double>(n);
  std::vector<double> mean(static_cast<size_t>(h), 0.0), variance(static_cast<size_t>(h), 0.0);
  ForParts(h, n * h, [&](int64_t j0, int64_t j1) {
    for (int64_t i = 0; i < n; i++) {
      const float* xr = x + i * h;
      for (int64_t j = j0; j < j1; j++) mean[j] += xr[j];
    }
    for (int64_t j = j0; j < j1; j++) mean[j] /= count;
    for (int64_t i = 0; i < n; i++) {
      const float* xr = x + i * h;
      for (int64_t j = j0; j < j1; j++) {
        const double d = xr[j] - mean[j];
        variance[j] += d * d;
      }
    }
    for (int64_t j = j0; j < j1; j++) invStd[j] = 1.0 / std::sqrt(variance[j] / count + eps);
  });
  ForParts(n, n * h, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
      const float* xr = x + i * h;
      float* xh = xHat + i * h;
      float* o = out + i * h;
      for (int64_t j = 0; j < h; j++) {
        const double v0 = (xr[j] - mean[j]) * invStd[j];
        xh[j] = static_cast<float>(v0);
        const double v = static_cast<double>(gamma[j]) * v0 + static_cast<double>(beta[j]);
        o[j] = static_cast<float>(v > 0 ? v : 0.0);
      }
    }
  });
  return env.Undefined();
}

// bnReluBackward(d, relued, xHat, invStd, gamma, n, h, dGamma, dBeta): backward of ReLU(BN(x)), d [n, h] is
// d(out) in and dx out. g = relued > 0 ? d : 0; dBeta = Σ g, dGamma = Σ g·x̂ (double, rounded once);
// dx = γ·invStd·((g − mean g) − x̂·mean(g·x̂)) per column.
Napi::Value BnReluBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "bnReluBackward";
  float *d, *relued, *xHat, *gamma, *dGamma, *dBeta;
  double* invStd;
  size_t nD, nRelued, nXHat, nInv, nGamma, nDGamma, nDBeta;
  int64_t n, h;
  if (!CheckArgCount(info, fn, 9) || !GetF32(info, 0, "d", &d, &nD) || !GetF32(info, 1, "relued", &relued, &nRelued) ||
      !GetF32(info, 2, "xHat", &xHat, &nXHat) || !GetF64(info, 3, "invStd", &invStd, &nInv) || !GetF32(info, 4, "gamma", &gamma, &nGamma) ||
      !GetDim(info, 5, "n", &n) || !GetDim(info, 6, "h", &h) || !GetF32(info, 7, "dGamma", &dGamma, &nDGamma) ||
      !GetF32(info, 8, "dBeta", &dBeta, &nDBeta)) {
    return env.Undefined();
  }
  const std::string shape = Shape(n, h, "h");
  if (!CheckLength(env, fn, "d", nD, n * h, shape) || !CheckLength(env, fn, "relued", nRelued, n * h, shape) ||
      !CheckLength(env, fn, "xHat", nXHat, n * h, shape) || !CheckLength(env, fn, "invStd", nInv, h, "h") ||
      !CheckLength(env, fn, "gamma", nGamma, h, "h") || !CheckLength(env, fn, "dGamma", nDGamma, h, "h") || !CheckLength(env, fn, "dBeta", nDBeta, h, "h")) {
    return env.Undefined();
  }
  const double count = static_cast<double>(n);
  std::vector<double> sumG(static_cast<size_t>(h), 0.0), sumGx(static_cast<size_t>(h), 0.0);
  ForParts(h, n * h, [&](int64_t j0, int64_t j1) {
    for (int64_t i = 0; i < n; i++) {
      float* dr = d + i * h;
      const float* rr = relued + i * h;
      const float* xr = xHat + i * h;
      for (int64_t j = j0; j < j1; j++) {
        const float g = rr[j] > 0.0f ? dr[j] : 0.0f;
        dr[j] = g;
        sumG[j] += g;
        sumGx[j] += static_cast<double>(g) * xr[j];
      }
    }
  });
  std::vector<double> scale(static_cast<size_t>(h)), meanG(static_cast<size_t>(h)), meanGx(static_cast<size_t>(h));
  for (int64_t j = 0; j < h; j++) {
    scale[j] = static_cast<double>(gamma[j]) * invStd[j];
    meanG[j] = sumG[j] / count;
    meanGx[j] = sumGx[j] / count;
  }
  ForParts(n, n * h, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
      float* dr = d + i * h;
      const float* xr = xHat + i * h;
      for (int64_t j = 0; j < h; j++) {
        dr[j] = static_cast<float>(scale[j] * ((static_cast<double>(dr[j]) - meanG[j]) - static_cast<double>(xr[j]) * meanGx[j]));
      }
    }
  });
  for (int64_t j = 0; j < h; j++) {
    dGamma[j] = static_cast<float>(sumGx[j]);
    dBeta[j] = static_cast<float>(sumG[j]);
  }
  return env.Undefined();
}

// headNormalizeRows(z, n, w, bias, eps2, invNorm, active): in place, z [n, w] ← (z + bias)·r per row, where the
// sum z + bias stays a double for the squared norm (summed in double, rounded to float32 for the comparison
// with eps2) and r = 1/√max(‖·‖², eps2) is applied unrounded; invNorm[i] = float32(r).
Napi::Value HeadNormalizeRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "headNormalizeRows";
  float *z, *bias, *invNorm;
  uint8_t* active;
  size_t nZ, nBias, nInv, nActive;
  int64_t n, w;
  double eps2;
  if (!CheckArgCount(info, fn, 7) || !GetF32(info, 0, "z", &z, &nZ) || !GetDim(info, 1, "n", &n) || !GetDim(info, 2, "w", &w) ||
      !GetF32(info, 3, "bias", &bias, &nBias) || !GetNumber(info, 4, fn, "eps2", &eps2) || !GetF32(info, 5, "invNorm", &invNorm, &nInv) ||
      !GetU8(info, 6, "active", &active, &nActive) || !CheckLength(env, fn, "z", nZ, n * w, Shape(n, w, "w")) ||
      !CheckLength(env, fn, "bias", nBias, w, "w") || !CheckLength(env, fn, "invNorm", nInv, n, "n") || !CheckLength(env, fn, "active", nActive, n, "n")) {
    return env.Undefined();
  }
  ForParts(n, n * w, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) {
      float* zr = z + i * w;
      double sq = 0;
      for (int64_t j = 0; j < w; j++) {
        const double v = static_cast<double>(zr[j]) + bias[j];
        zr[j] = static_cast<float>(v);
        sq += v * v;
      }
      const float sq32 = static_cast<float>(sq);
      const bool isActive = sq32 >= eps2;
      active[i] = isActive ? 1 : 0;
      const double r = 1.0 / std::sqrt(isActive ? static_cast<double>(sq32) : eps2);
      invNorm[i] = static_cast<float>(r);
      for (int64_t j = 0; j < w; j++) zr[j] = static_cast<float>(zr[j] * r);
    }
  });
  return env.Undefined();
}

}  // namespace

void RegisterRowOps(Napi::Env env, Napi::Object exports) {
  exports.Set("leakyRelu", Napi::Function::New(env, LeakyRelu, "leakyRelu"));
  exports.Set("leakyReluGrad", Napi::Function::New(env, LeakyReluGrad, "leakyReluGrad"));
  exports.Set("encoderNormalizeRows", Napi::Function::New(env, EncoderNormalizeRows, "encoderNormalizeRows"));
  exports.Set("encoderWriteOutputs", Napi::Function::New(env, EncoderWriteOutputs, "encoderWriteOutputs"));
  exports.Set("encoderLayerSumGradient", Napi::Function::New(env, EncoderLayerSumGradient, "encoderLayerSumGradient"));
  exports.Set("normalizeRowsBackward", Napi::Function::New(env, NormalizeRowsBackward, "normalizeRowsBackward"));
  exports.Set("columnSums", Napi::Function::New(env, ColumnSums, "columnSums"));
  exports.Set("bnReluForward", Napi::Function::New(env, BnReluForward, "bnReluForward"));
  exports.Set("bnReluBackward", Napi::Function::New(env, BnReluBackward, "bnReluBackward"));
  exports.Set("headNormalizeRows", Napi::Function::New(env, HeadNormalizeRows, "headNormalizeRows"));
}

}  // namespace sea
