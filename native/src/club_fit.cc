// clubFitAdam: the CLUB network's whole inner training loop (DESIGN §1 "Distance": after each encoder step,
// `steps` Adam steps of q(y|x)'s negative log-likelihood on detached pairs) in one call, so the trainer does
// not pay tfjs's per-op overhead 50 times per step. The TypeScript twin, which must stay in step with this
// file, is clubFitAdamJs in src/losses/clubFit.ts; the network is src/losses/club.ts:
//   mu     = W2ᵀ relu(W1ᵀ x + b1) + b2                   (W1: [xDim, h], W2: [h, yDim], stored [fanIn, fanOut])
//   logvar = s · tanh(W4ᵀ relu(W3ᵀ x + b3) + b4)
//   ll_i   = Σ_d [ −(mu_d − y_d)² / (2 exp(logvar_d)) − logvar_d / 2 ]
//   loss   = Σ_groups (−mean_{i in group} ll_i) = −(Σ_i ll_i) / rowsPerGroup
// Gradients are worked out by hand (below); Adam is tfjs's AdamOptimizer (the same as PyTorch's).
#include "common.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

// The block kernels below use SEA_AVX2_CLONES (common.h): AVX2 halves the instructions of the row loops
// (~25% of the step time here).

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

// Rows per block. Each thread repacks its rows feature-major in blocks of kBlockRows, so every inner loop
// runs over the rows of a block (contiguous, vectorisable) instead of over h = 8 hidden units; a block's
// activations (about (4·yDim + 4·h)·kBlockRows floats) stay in L1/L2.
constexpr int64_t kBlockRows = 64;

// Feature-major copy of rows [r0, r1) of a row-major [rows, dim] array: value (row r0 + b·B + i, feature k)
// at [(b·dim + k)·B + i] with B = kBlockRows (the last block may be short; its tail is never read). x and y are
// the same in every step, so this is paid once per call.
std::vector<float> PackBlocks(const float* rowMajor, int64_t dim, int64_t r0, int64_t r1) {
  const int64_t blocks = (r1 - r0 + kBlockRows - 1) / kBlockRows;
  std::vector<float> packed(static_cast<size_t>(blocks * dim * kBlockRows), 0.0f);
  for (int64_t r = r0; r < r1; r++) {
    const int64_t b = (r - r0) / kBlockRows, i = (r - r0) % kBlockRows;
    float* block = packed.data() + b * dim * kBlockRows;
    for (int64_t k = 0; k < dim; k++) block[k * kBlockRows + i] = rowMajor[r * dim + k];
  }
  return packed;
}

// One thread's rows (packed) and scratch. Activations are float, as in tfjs; the loss and gradient partial
// sums are double, since a thread sums thousands of rows and the threads' partials are added once more.
// Block arrays are feature-major [features, kBlockRows].
struct ThreadWork {
  int64_t rows;                      // rows of this thread
  std::vector<float> x, y;           // PackBlocks of the thread's rows of x and y
  std::vector<float> h1, h3;         // relu of the hidden layers of the mu and logvar nets [h, B]
  std::vector<float> gA1, gA3;       // ∂nll/∂(hidden pre-activation) [h, B]
  std::vector<float> mu, z;          // mu and the logvar net's pre-tanh output [yDim, B]
  std::vector<float> gMu, gZ;        // ∂nll/∂mu, ∂nll/∂z [yDim, B]
  std::vector<double> grad;          // Σ_rows ∂nll_i/∂params of the thread's rows, ClubLayout order
  double nll = 0;                    // Σ_rows nll_i = −Σ ll_i

  ThreadWork(const ClubLayout& l, const float* xAll, const float* yAll, int64_t r0, int64_t r1)
      : rows(r1 - r0), x(PackBlocks(xAll, l.xDim, r0, r1)), y(PackBlocks(yAll, l.yDim, r0, r1)),
        h1(l.hidden * kBlockRows), h3(l.hidden * kBlockRows), gA1(l.hidden * kBlockRows), gA3(l.hidden * kBlockRows),
        mu(l.yDim * kBlockRows), z(l.yDim * kBlockRows), gMu(l.yDim * kBlockRows), gZ(l.yDim * kBlockRows),
        grad(l.size, 0.0) {}
};

// y[0..n) += a·x[0..n)
inline void Axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

// Σ a[i]·b[i] over [0, n), in 8 interleaved float partial sums: vectorisable without letting the compiler
// reorder a float reduction, and the same order on every run.
inline double Dot(const float* a, const float* b, int64_t n) {
  constexpr int kLanes = 8;
  float lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; j++) lanes[j] += a[i + j] * b[i + j];
  }
  double sum = 0;
  for (int j = 0; j < kLanes; j++) sum += lanes[j];
  for (; i < n; i++) sum += a[i] * b[i];
  return sum;
}

// A linear layer on a block: out[o, :] = bias[o] + Σ_k w[k, o] · in[k, :] (w stored [inDim, outDim]).
SEA_AVX2_CLONES void DenseBlock(const float* in, int64_t inDim, const float* w, const float* bias, int64_t outDim, int64_t n, float* out) {
  for (int64_t o = 0; o < outDim; o++) std::fill(out + o * kBlockRows, out + o * kBlockRows + n, bias[o]);
  for (int64_t k = 0; k < inDim; k++) {
    for (int64_t o = 0; o < outDim; o++) Axpy(w[k * outDim + o], in + k * kBlockRows, out + o * kBlockRows, n);
  }
}

// Backward of DenseBlock: gW[k, o] += Σ_i in[k, i]·gOut[o, i], gBias[o] += Σ_i gOut[o, i] and, when gIn is
// given, gIn[k, :] = Σ_o w[k, o] · gOut[o, :].
SEA_AVX2_CLONES void DenseBlockBackward(const float* in, int64_t inDim, const float* w, const float* gOut, int64_t outDim, int64_t n,
                        double* gW, double* gBias, float* gIn) {
  for (int64_t o = 0; o < outDim; o++) {
    const float* g = gOut + o * kBlockRows;
    for (int64_t i = 0; i < n; i++) gBias[o] += g[i];
  }
  for (int64_t k = 0; k < inDim; k++) {
    for (int64_t o = 0; o < outDim; o++) gW[k * outDim + o] += Dot(in + k * kBlockRows, gOut + o * kBlockRows, n);
  }
  if (gIn == nullptr) return;
  for (int64_t k = 0; k < inDim; k++) {
    float* gk = gIn + k * kBlockRows;
    std::fill(gk, gk + n, 0.0f);
    for (int64_t o = 0; o < outDim; o++) Axpy(w[k * outDim + o], gOut + o * kBlockRows, gk, n);
  }
}

// In place: a = relu(a).
SEA_AVX2_CLONES void ReluBlock(float* a, int64_t features, int64_t n) {
  for (int64_t k = 0; k < features; k++) {
    float* ak = a + k * kBlockRows;
    for (int64_t i = 0; i < n; i++) ak[i] = std::max(ak[i], 0.0f);
  }
}

// In place: g = 0 where the unit was off. relu' = 1 only where the pre-activation is > 0, as in tfjs; that is
// exactly where h = relu(pre-activation) > 0.
SEA_AVX2_CLONES void ReluBackwardBlock(const float* h, float* g, int64_t features, int64_t n) {
  for (int64_t k = 0; k < features; k++) {
    for (int64_t i = 0; i < n; i++) {
      if (!(h[k * kBlockRows + i] > 0.0f)) g[k * kBlockRows + i] = 0.0f;
    }
  }
}

// The likelihood of a block and its gradient wrt mu and the logvar net's pre-tanh output z (lv = s·tanh z):
//   nll = Σ_d [ (mu − y)² e^{−lv} / 2 + lv / 2 ]
//   ∂nll/∂mu = (mu − y) e^{−lv};  ∂nll/∂lv = 1/2 − (mu − y)² e^{−lv} / 2;  ∂lv/∂z = s (1 − tanh² z).
// Returns the block's Σ nll.
SEA_AVX2_CLONES double LikelihoodBlock(ThreadWork& w, int64_t yDim, int64_t n, const float* y, float s) {
  double nll = 0;
  for (int64_t j = 0; j < yDim * kBlockRows; j += kBlockRows) {
    for (int64_t i = j; i < j + n; i++) {
      // tanh z = 1 − 2/(e^{2z} + 1): glibc's tanhf is ~4× slower than expf and was a third of the time; the
      // absolute error stays at float rounding (e^{2z} = inf gives 1, e^{2z} = 0 gives −1).
      const float t = 1.0f - 2.0f / (std::exp(2.0f * w.z[i]) + 1.0f);
      const float lv = s * t;
      const float invVar = std::exp(-lv);
      const float diff = w.mu[i] - y[i];
      const float quad = diff * diff * invVar;
      nll += 0.5 * static_cast<double>(quad) + 0.5 * static_cast<double>(lv);
      w.gMu[i] = diff * invVar;
      w.gZ[i] = (0.5f - 0.5f * quad) * s * (1.0f - t * t);
    }
  }
  return nll;
}

// Forward and backward of the thread's rows at `params`, block by block: sets w.nll = Σ nll_i and
// w.grad = Σ ∂nll_i/∂params.
void AccumulateRows(const FitProblem& p, const float* params, ThreadWork& w) {
  const ClubLayout& l = p.layout;
  const int64_t h = l.hidden;
  std::fill(w.grad.begin(), w.grad.end(), 0.0);
  w.nll = 0;
  for (int64_t start = 0, b = 0; start < w.rows; start += kBlockRows, b++) {
    const int64_t n = std::min(kBlockRows, w.rows - start);
    const float* x = w.x.data() + b * l.xDim * kBlockRows;
    const float* y = w.y.data() + b * l.yDim * kBlockRows;
    // Forward: hidden layers, relu, then mu and z.
    DenseBlock(x, l.xDim, params + l.w1, params + l.b1, h, n, w.h1.data());
    DenseBlock(x, l.xDim, params + l.w3, params + l.b3, h, n, w.h3.data());
    ReluBlock(w.h1.data(), h, n);
    ReluBlock(w.h3.data(), h, n);
    DenseBlock(w.h1.data(), h, params + l.w2, params + l.b2, l.yDim, n, w.mu.data());
    DenseBlock(w.h3.data(), h, params + l.w4, params + l.b4, l.yDim, n, w.z.data());
    w.nll += LikelihoodBlock(w, l.yDim, n, y, p.logvarScale);
    // Backward: output layers (and into the hidden units), relu, input layers.
    double* g = w.grad.data();
    DenseBlockBackward(w.h1.data(), h, params + l.w2, w.gMu.data(), l.yDim, n, g + l.w2, g + l.b2, w.gA1.data());
    DenseBlockBackward(w.h3.data(), h, params + l.w4, w.gZ.data(), l.yDim, n, g + l.w4, g + l.b4, w.gA3.data());
    ReluBackwardBlock(w.h1.data(), w.gA1.data(), h, n);
    ReluBackwardBlock(w.h3.data(), w.gA3.data(), h, n);
    DenseBlockBackward(x, l.xDim, params + l.w1, w.gA1.data(), h, n, g + l.w1, g + l.b1, nullptr);
    DenseBlockBackward(x, l.xDim, params + l.w3, w.gA3.data(), h, n, g + l.w3, g + l.b3, nullptr);
  }
}

// Below this many multiply-adds per thread, starting a thread (tens of microseconds) costs more than it saves.
constexpr int64_t kMinWorkPerThread = 1 << 17;

int ThreadsFor(const FitProblem& p) {
  const ClubLayout& l = p.layout;
  const int64_t perRow = 6 * l.hidden * (l.xDim + l.yDim);  // forward + backward of both nets, roughly
  const int64_t byWork = p.rows * perRow / kMinWorkPerThread;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({static_cast<int64_t>(gThreads), byWork, p.rows})));
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
