// clubUpperBoundGrad: the CLUB upper bound term of the encoder's loss (docs/method.md §3.3) and its gradient
// wrt the encoder's maps x (generic) and y (unique) in one call, instead of ~100 small tfjs kernels forward and
// backward per step. The CLUB net's weights are constants here: the encoder's optimiser never updates them
// (the net trains in clubFitAdam, club_fit.cc). The TypeScript twin, which must stay in step with this file,
// is clubUpperBoundGradJs in src/backend/fused/clubBound.ts; the network is src/losses/club/club.ts:
//   mu     = W2ᵀ relu(W1ᵀ x + b1) + b2,  lv = s · tanh(W4ᵀ relu(W3ᵀ x + b3) + b4),  iv = e^{−lv}
//   ll(x, y) = Σ_d [ −(mu_d − y_d)² iv_d / 2 − lv_d / 2 ]
//   D = ½ · mean_i [ ll(x_i, y_i) − ll(x_i, y_perm(i)) ] = (1/2N) Σ_i T_i,
//   T_i = Σ_d ½ iv_d [ (mu_d − y_perm(i),d)² − (mu_d − y_i,d)² ]   (the lv/2 terms cancel exactly)
//   B = max(0, D); the gradient is zero unless D > 0 (tfjs's relu gradient is 0 at 0).
// Everything is computed in double with a fixed summation order per output, so the result does not depend on
// the thread count and the JS twin (float64 too) matches it up to the last bits of exp.
#include "common.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

// The row kernel is built for AVX2 and the baseline (SEA_AVX2_CLONES, common.h).

namespace sea {
namespace {

// The CLUB net's weights in double, plus transposed copies of the four weight matrices for the backward pass
// (so that every inner loop runs over contiguous memory). Built once per call from the flat float vector in
// Club.variables order: mu1.w [xDim, h], mu1.b [h], mu2.w [h, yDim], mu2.b [yDim], then the logvar net's four.
struct BoundNet {
  int64_t xDim, yDim, h;
  double s;
  std::vector<double> w1, b1, w2, b2, w3, b3, w4, b4;  // as stored: w [fanIn, fanOut]
  std::vector<double> w1t, w2t, w3t, w4t;              // transposed: [fanOut, fanIn]

  BoundNet(const float* p, int64_t xDim_, int64_t yDim_, int64_t h_, double s_) : xDim(xDim_), yDim(yDim_), h(h_), s(s_) {
    const auto take = [&p](int64_t n) { std::vector<double> v(p, p + n); p += n; return v; };
    w1 = take(xDim * h), b1 = take(h), w2 = take(h * yDim), b2 = take(yDim);
    w3 = take(xDim * h), b3 = take(h), w4 = take(h * yDim), b4 = take(yDim);
    w1t = Transpose(w1, xDim, h), w2t = Transpose(w2, h, yDim), w3t = Transpose(w3, xDim, h), w4t = Transpose(w4, h, yDim);
  }

  static std::vector<double> Transpose(const std::vector<double>& a, int64_t rows, int64_t cols) {
    std::vector<double> t(a.size());
    for (int64_t r = 0; r < rows; r++) {
      for (int64_t c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
    }
    return t;
  }
};

struct BoundProblem {
  const BoundNet* net;
  const float* x;      // [rows, xDim]
  const float* y;      // [rows, yDim]
  const int32_t* perm; // [rows], each in [0, rows)
  int64_t rows;
  // Outputs, unscaled (the 1/2N and the clamp are applied once D is known), one row per input row:
  double* term;  // T_i
  double* gX;    // ∂T_i/∂x_i [rows, xDim]
  double* gY;    // ∂T_i/∂y_i [rows, yDim]  (the positive term's y)
  double* gYn;   // ∂T_i/∂y_perm(i) [rows, yDim], scattered to row perm(i) afterwards in row order
};

// Per-thread scratch for one row.
struct RowScratch {
  std::vector<double> x, a1, a3, h1, h3, mu, z, gMu, gZ, gA1, gA3;
  explicit RowScratch(const BoundNet& n)
      : x(n.xDim), a1(n.h), a3(n.h), h1(n.h), h3(n.h), mu(n.yDim), z(n.yDim), gMu(n.yDim), gZ(n.yDim), gA1(n.h), gA3(n.h) {}
};

// out[o] = bias[o] + Σ_k in[k]·w[k, o], k ascending (w is [inDim, outDim]); vectorises over o.
inline void Dense(const double* in, int64_t inDim, const double* w, const double* bias, int64_t outDim, double* out) {
  for (int64_t o = 0; o < outDim; o++) out[o] = bias[o];
  for (int64_t k = 0; k < inDim; k++) {
    const double v = in[k];
    const double* wk = w + k * outDim;
    for (int64_t o = 0; o < outDim; o++) out[o] += v * wk[o];
  }
}

// out[k] += Σ_o wT[o, k]·g[o], o ascending (wT is the [outDim, inDim] transpose of w); vectorises over k.
inline void DenseBackward(const double* wT, const double* g, int64_t outDim, int64_t inDim, double* out) {
  for (int64_t o = 0; o < outDim; o++) {
    const double v = g[o];
    const double* wo = wT + o * inDim;
    for (int64_t k = 0; k < inDim; k++) out[k] += v * wo[k];
  }
}

// Forward and backward of rows [r0, r1): T_i and the unscaled gradients.
SEA_AVX2_CLONES void BoundRows(const BoundProblem& p, int64_t r0, int64_t r1) {
  const BoundNet& n = *p.net;
  const int64_t xDim = n.xDim, yDim = n.yDim, h = n.h;
  RowScratch w(n);
  for (int64_t i = r0; i < r1; i++) {
    const float* xi = p.x + i * xDim;
    const float* yPos = p.y + i * yDim;
    const float* yNeg = p.y + static_cast<int64_t>(p.perm[i]) * yDim;
    for (int64_t j = 0; j < xDim; j++) w.x[j] = xi[j];
    // Forward: hidden layers, relu (NaN passes, as tfjs's relu), output layers.
    Dense(w.x.data(), xDim, n.w1.data(), n.b1.data(), h, w.a1.data());
    Dense(w.x.data(), xDim, n.w3.data(), n.b3.data(), h, w.a3.data());
    for (int64_t k = 0; k < h; k++) {
      w.h1[k] = w.a1[k] < 0 ? 0.0 : w.a1[k];
      w.h3[k] = w.a3[k] < 0 ? 0.0 : w.a3[k];
    }
    Dense(w.h1.data(), h, n.w2.data(), n.b2.data(), yDim, w.mu.data());
    Dense(w.h3.data(), h, n.w4.data(), n.b4.data(), yDim, w.z.data());
    // The row's term and its gradient wrt mu, z and both y rows:
    //   T_d = ½ iv (dn² − dp²), dp = mu − y_i, dn = mu − y_perm(i)
    //   ∂T/∂mu = iv (y_i − y_perm(i));  ∂T/∂lv = −T_d;  ∂lv/∂z = s (1 − tanh² z)
    //   ∂T/∂y_i = iv·dp;  ∂T/∂y_perm(i) = −iv·dn
    double t = 0;
    double* gY = p.gY + i * yDim;
    double* gYn = p.gYn + i * yDim;
    for (int64_t d = 0; d < yDim; d++) {
      // tanh z = 1 − 2/(e^{2z} + 1), as club_fit.cc (and cheaper than tanh); e^{2z} = inf gives 1.
      const double th = 1.0 - 2.0 / (std::exp(2.0 * w.z[d]) + 1.0);
      const double iv = std::exp(-(n.s * th));
      const double q = yPos[d], r = yNeg[d];
      const double dp = w.mu[d] - q, dn = w.mu[d] - r;
      const double td = 0.5 * iv * (dn * dn - dp * dp);
      t += td;
      w.gMu[d] = iv * (q - r);  // q − r of two floats is exact in double
      w.gZ[d] = -td * n.s * (1.0 - th * th);
      gY[d] = iv * dp;
      gYn[d] = -(iv * dn);
    }
    p.term[i] = t;
    // Backward: into the hidden units (zero where relu was off: relu' = 1 only where a > 0), then into x.
    std::fill(w.gA1.begin(), w.gA1.end(), 0.0);
    std::fill(w.gA3.begin(), w.gA3.end(), 0.0);
    DenseBackward(n.w2t.data(), w.gMu.data(), yDim, h, w.gA1.data());
    DenseBackward(n.w4t.data(), w.gZ.data(), yDim, h, w.gA3.data());
    for (int64_t k = 0; k < h; k++) {
      if (!(w.a1[k] > 0)) w.gA1[k] = 0;
      if (!(w.a3[k] > 0)) w.gA3[k] = 0;
    }
    double* gX = p.gX + i * xDim;
    std::fill(gX, gX + xDim, 0.0);
    DenseBackward(n.w1t.data(), w.gA1.data(), h, xDim, gX);
    DenseBackward(n.w3t.data(), w.gA3.data(), h, xDim, gX);
  }
}

// Below this many multiply-adds per thread, starting a thread (tens of microseconds) costs more than it saves.
constexpr int64_t kMinWorkPerThread = 1 << 17;

int ThreadsFor(const BoundProblem& p) {
  const BoundNet& n = *p.net;
  const int64_t perRow = 4 * n.h * (n.xDim + n.yDim);  // both nets forward, and back into x
  return ThreadsForValues(p.rows * perRow, p.rows, kMinWorkPerThread);
}

// Rows split into one contiguous range per thread. Each row's outputs depend on that row only, so the split
// does not change any bit of the result.
void RunRows(const BoundProblem& p) {
  ForEachRange(p.rows, ThreadsFor(p), [&p](int64_t begin, int64_t end) { BoundRows(p, begin, end); });
}

constexpr const char* kFn = "clubUpperBoundGrad";  // names the function in argument errors

// clubUpperBoundGrad(x, y, perm, rows, xDim, yDim, hiddenUnits, logvarScale, params, dx, dy) -> B
// (src/backend/addon.ts documents the arguments).
Napi::Value ClubUpperBoundGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 11) return Fail(env, "clubUpperBoundGrad expects 11 arguments"), env.Undefined();
  // (initialised only to quiet -Wmaybe-uninitialized: every path that reads them has set them)
  float *x = nullptr, *y = nullptr, *params = nullptr, *dx = nullptr, *dy = nullptr;
  const int32_t* perm = nullptr;
  size_t xLen = 0, yLen = 0, permLen = 0, pLen = 0, dxLen = 0, dyLen = 0;
  int64_t rows = 0, xDim = 0, yDim = 0, hidden = 0;
  double logvarScale = 0;
  if (!GetF32(info, 0, "x", &x, &xLen) || !GetF32(info, 1, "y", &y, &yLen) || !GetI32(info, 2, "perm", &perm, &permLen) ||
      !GetDim(info, 3, "rows", &rows) || !GetDim(info, 4, "xDim", &xDim) || !GetDim(info, 5, "yDim", &yDim) ||
      !GetDim(info, 6, "hiddenUnits", &hidden) || !GetFiniteNumber(info, 7, kFn, "logvarScale", &logvarScale) ||
      !GetF32(info, 8, "params", &params, &pLen) || !GetF32(info, 9, "dx", &dx, &dxLen) || !GetF32(info, 10, "dy", &dy, &dyLen)) {
    return env.Undefined();
  }
  if (rows < 1 || xDim < 1 || yDim < 1 || hidden < 1) {
    return Fail(env, "clubUpperBoundGrad: rows, xDim, yDim and hiddenUnits must be positive"), env.Undefined();
  }
  if (!(logvarScale > 0)) return Fail(env, "clubUpperBoundGrad: logvarScale must be > 0"), env.Undefined();
  const std::string xShape = std::to_string(rows) + " rows × xDim " + std::to_string(xDim);
  const std::string yShape = std::to_string(rows) + " rows × yDim " + std::to_string(yDim);
  const int64_t paramCount = 2 * (xDim * hidden + hidden + hidden * yDim + yDim);
  const std::string netShape = "xDim " + std::to_string(xDim) + ", yDim " + std::to_string(yDim) + ", hiddenUnits " + std::to_string(hidden);
  if (!CheckLength(env, kFn, "x", xLen, rows * xDim, xShape) || !CheckLength(env, kFn, "y", yLen, rows * yDim, yShape) ||
      !CheckLength(env, kFn, "perm", permLen, rows, "one entry per row") || !CheckLength(env, kFn, "params", pLen, paramCount, netShape) ||
      !CheckLength(env, kFn, "dx", dxLen, rows * xDim, xShape) || !CheckLength(env, kFn, "dy", dyLen, rows * yDim, yShape)) {
    return env.Undefined();
  }
  for (int64_t i = 0; i < rows; i++) {
    if (perm[i] < 0 || perm[i] >= rows) {
      return Fail(env, "clubUpperBoundGrad: perm[" + std::to_string(i) + "] = " + std::to_string(perm[i]) + " is outside [0, " +
                           std::to_string(rows) + ")"), env.Undefined();
    }
  }

  const BoundNet net(params, xDim, yDim, hidden, logvarScale);
  std::vector<double> term(rows), gX(rows * xDim), gY(rows * yDim), gYn(rows * yDim);
  const BoundProblem problem{&net, x, y, perm, rows, term.data(), gX.data(), gY.data(), gYn.data()};
  RunRows(problem);

  // D in row order (independent of the thread count), then the clamp.
  double sum = 0;
  for (int64_t i = 0; i < rows; i++) sum += term[i];
  const double c = 0.5 / static_cast<double>(rows);
  const double bound = c * sum;
  // dB/dD: 1 above 0, 0 at or below 0 (tfjs's relu gradient), NaN for NaN (as tfjs's step).
  const double scale = std::isnan(bound) ? bound : bound > 0 ? c : 0.0;
  // The negative term's y gradient belongs to row perm(i): added in row order (perm need not be a bijection).
  for (int64_t i = 0; i < rows; i++) {
    double* to = gY.data() + static_cast<int64_t>(perm[i]) * yDim;
    const double* from = gYn.data() + i * yDim;
    for (int64_t d = 0; d < yDim; d++) to[d] += from[d];
  }
  for (int64_t j = 0; j < rows * xDim; j++) dx[j] = static_cast<float>(scale * gX[j]);
  for (int64_t j = 0; j < rows * yDim; j++) dy[j] = static_cast<float>(scale * gY[j]);
  return Napi::Number::New(env, bound > 0 || std::isnan(bound) ? bound : 0.0);
}

}  // namespace

void RegisterClubBound(Napi::Env env, Napi::Object exports) {
  exports.Set("clubUpperBoundGrad", Napi::Function::New(env, ClubUpperBoundGrad, "clubUpperBoundGrad"));
}

}  // namespace sea
