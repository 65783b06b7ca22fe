// adamUpdate: one Adam step of one parameter array (PyTorch's formula, the reference's optimiser), fused into
// a single pass over memory and split across threads. The TypeScript twin, which must stay in step with this
// file, is hostAdamUpdate in src/train/adam.ts: arithmetic in double, each stored value rounded once.
//   m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  out ← p − stepSize·m / (√(v·invCorrection2) + ε)
// with stepSize = lr/(1−β₁ᵗ) and invCorrection2 = 1/(1−β₂ᵗ) computed by the caller.
#include "common.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

namespace sea {
namespace {

struct AdamArgs {
  const float* params;
  const float* grad;
  float* m;
  float* v;
  float* out;
  double stepSize, invCorrection2, beta1, beta2, eps;
};

void AdamRange(const AdamArgs& a, int64_t begin, int64_t end) {
  const double c1 = 1.0 - a.beta1, c2 = 1.0 - a.beta2;
  for (int64_t i = begin; i < end; i++) {
    const double g = a.grad[i];
    const double mi = a.beta1 * a.m[i] + c1 * g;
    const double vi = a.beta2 * a.v[i] + c2 * g * g;
    a.m[i] = static_cast<float>(mi);
    a.v[i] = static_cast<float>(vi);
    a.out[i] = static_cast<float>(a.params[i] - a.stepSize * mi / (std::sqrt(vi * a.invCorrection2) + a.eps));
  }
}

// Below this many elements per thread, a thread start costs more than the work.
constexpr int64_t kMinElementsPerThread = 1 << 16;

// adamUpdate(params, grad, m, v, out, stepSize, invCorrection2, beta1, beta2, eps): m and v in place, the new
// parameters into `out`, which may be params itself (each element is read before it is written).
Napi::Value AdamUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 10) return Fail(env, "adamUpdate expects 10 arguments"), env.Undefined();
  float *params, *grad, *m, *v, *out;
  size_t n, nGrad, nM, nV, nOut;
  if (!GetF32(info, 0, "params", &params, &n) || !GetF32(info, 1, "grad", &grad, &nGrad) || !GetF32(info, 2, "m", &m, &nM) ||
      !GetF32(info, 3, "v", &v, &nV) || !GetF32(info, 4, "out", &out, &nOut)) {
    return env.Undefined();
  }
  if (nGrad != n || nM != n || nV != n || nOut != n) return Fail(env, "adamUpdate: params, grad, m, v and out must have the same length"), env.Undefined();
  for (size_t i = 5; i < 10; i++) {
    if (!info[i].IsNumber()) return Fail(env, "adamUpdate: stepSize, invCorrection2, beta1, beta2 and eps must be numbers"), env.Undefined();
  }
  const AdamArgs a{params, grad, m, v, out,
                   info[5].As<Napi::Number>().DoubleValue(), info[6].As<Napi::Number>().DoubleValue(),
                   info[7].As<Napi::Number>().DoubleValue(), info[8].As<Napi::Number>().DoubleValue(),
                   info[9].As<Napi::Number>().DoubleValue()};
  const int64_t total = static_cast<int64_t>(n);
  const int threads = ThreadsForValues(total, total, kMinElementsPerThread);
  ForEachRange(total, threads, [&a](int64_t begin, int64_t end) { AdamRange(a, begin, end); });
  return env.Undefined();
}

}  // namespace

void RegisterAdam(Napi::Env env, Napi::Object exports) {
  exports.Set("adamUpdate", Napi::Function::New(env, AdamUpdate, "adamUpdate"));
}

}  // namespace sea
