// sea_native: the SEA kit's fast-compute addon. Thin N-API wrappers around CBLAS sgemm plus a CSR
// sparse x dense product. Every kernel reads and writes caller-owned Float32Array/Int32Array memory in
// place (no copies); the TypeScript side (src/backend/native.ts) allocates the outputs.
//
// Exports:
//   sgemmBatched(transA, transB, m, n, k, a, b, c, aBatch, bBatch)   C[i] = op(A[aBatch[i]]) op(B[bBatch[i]])
//   biasActivation(c, bias|null, activationCode, alpha)            c = act(c + bias broadcast over rows)
//   spmm(indptr, indices, values, nCols, x, d, out)                 out = A x      (threads over rows)
//   spmmTranspose(indptr, indices, values, nCols, x, d, out)        out = A^T x    (single thread, scatter)
//   setThreads(n) / getThreads() / info()
#include <napi.h>

#include "common.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>


#if defined(SEA_OPENBLAS)
// OpenBLAS extensions, declared weak so the addon still loads against a CBLAS that lacks them.
extern "C" {
void openblas_set_num_threads(int) __attribute__((weak));
char* openblas_get_config(void) __attribute__((weak));
int openblas_get_parallel(void) __attribute__((weak));
}
#endif

namespace {

using sea::Fail;
using sea::GetDim;
using sea::GetF32;
using sea::GetI32;
int& gThreads = sea::gThreads;

// ---------------------------------------------------------------- dense: sgemm

Napi::Value SgemmBatched(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 10) return Fail(env, "sgemmBatched expects 10 arguments"), env.Undefined();
  const bool transA = info[0].ToBoolean();
  const bool transB = info[1].ToBoolean();
  int64_t m, n, k;
  float *a, *b, *c;
  size_t aLen, bLen, cLen, naIdx, nbIdx;
  const int32_t *aIdx, *bIdx;
  if (!GetDim(info, 2, "m", &m) || !GetDim(info, 3, "n", &n) || !GetDim(info, 4, "k", &k) ||
      !GetF32(info, 5, "a", &a, &aLen) || !GetF32(info, 6, "b", &b, &bLen) || !GetF32(info, 7, "c", &c, &cLen) ||
      !GetI32(info, 8, "aBatch", &aIdx, &naIdx) || !GetI32(info, 9, "bBatch", &bIdx, &nbIdx)) {
    return env.Undefined();
  }
  if (naIdx != nbIdx) return Fail(env, "aBatch and bBatch differ in length"), env.Undefined();
  const size_t count = naIdx;
  const size_t aSize = static_cast<size_t>(m) * k, bSize = static_cast<size_t>(k) * n, cSize = static_cast<size_t>(m) * n;
  if (cLen != count * cSize) return Fail(env, "c has the wrong length"), env.Undefined();
  if (cSize == 0) return env.Undefined();
  if (k == 0) {  // an empty inner dimension: the product is all zeros (and BLAS rejects lda = 0)
    std::fill(c, c + cLen, 0.0f);
    return env.Undefined();
  }
  const size_t aCount = aLen / aSize, bCount = bLen / bSize;
  for (size_t i = 0; i < count; i++) {
    if (aIdx[i] < 0 || static_cast<size_t>(aIdx[i]) >= aCount) return Fail(env, "aBatch index out of range"), env.Undefined();
    if (bIdx[i] < 0 || static_cast<size_t>(bIdx[i]) >= bCount) return Fail(env, "bBatch index out of range"), env.Undefined();
  }
  // Row-major: A is m x k (k x m when transposed), B is k x n (n x k when transposed), C is m x n.
  const int lda = static_cast<int>(transA ? m : k);
  const int ldb = static_cast<int>(transB ? k : n);
  for (size_t i = 0; i < count; i++) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f, a + aIdx[i] * aSize, lda,
                b + bIdx[i] * bSize, ldb, 0.0f, c + i * cSize, static_cast<int>(n));
  }
  return env.Undefined();
}

// ---------------------------------------------------------------- bias + activation (in place)

enum Activation { kLinear = 0, kRelu = 1, kRelu6 = 2, kElu = 3, kLeakyRelu = 4, kSigmoid = 5 };

// Matches the tfjs cpu kernels element for element (NaN stays NaN; sigmoid/elu in double like JS Math).
inline float Activate(float v, int act, float alpha) {
  switch (act) {
    case kRelu: return v < 0.0f ? 0.0f : v;
    case kRelu6: return v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
    case kElu: return v >= 0.0f ? v : static_cast<float>(std::expm1(static_cast<double>(v)));
    case kLeakyRelu: return v < 0.0f ? alpha * v : v;
    case kSigmoid: return static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(v))));
    default: return v;
  }
}

Napi::Value BiasActivation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4) return Fail(env, "biasActivation expects 4 arguments"), env.Undefined();
  float* c;
  size_t cLen;
  if (!GetF32(info, 0, "c", &c, &cLen)) return env.Undefined();
  float* bias = nullptr;
  size_t biasLen = 0;
  if (!info[1].IsNull() && !info[1].IsUndefined()) {
    if (!GetF32(info, 1, "bias", &bias, &biasLen)) return env.Undefined();
    if (biasLen == 0 ? cLen != 0 : cLen % biasLen != 0) return Fail(env, "bias length must divide c's length"), env.Undefined();
  }
  if (!info[2].IsNumber() || !info[3].IsNumber()) return Fail(env, "activation and alpha must be numbers"), env.Undefined();
  const int act = info[2].As<Napi::Number>().Int32Value();
  if (act < kLinear || act > kSigmoid) return Fail(env, "unknown activation code"), env.Undefined();
  const float alpha = info[3].As<Napi::Number>().FloatValue();
  if (bias != nullptr) {
    for (size_t base = 0; base < cLen; base += biasLen) {
      float* row = c + base;
      for (size_t j = 0; j < biasLen; j++) row[j] += bias[j];
    }
  }
  if (act != kLinear) {
    for (size_t i = 0; i < cLen; i++) c[i] = Activate(c[i], act, alpha);
  }
  return env.Undefined();
}

// ---------------------------------------------------------------- sparse: CSR x dense

struct CsrArgs {
  const int32_t* indptr;
  const int32_t* indices;
  const float* values;
  int64_t nRows;
  int64_t nCols;
  int64_t nnz;
  const float* x;
  int64_t d;
  float* out;
};

// Reads (indptr, indices, values, nCols, x, d, out); `transpose` swaps which side x and out live on.
bool GetCsrArgs(const Napi::CallbackInfo& info, bool transpose, CsrArgs* s) {
  Napi::Env env = info.Env();
  if (info.Length() != 7) return Fail(env, "spmm expects 7 arguments");
  size_t ptrLen, idxLen, valLen, xLen, outLen;
  float *values, *x;
  if (!GetI32(info, 0, "indptr", &s->indptr, &ptrLen) || !GetI32(info, 1, "indices", &s->indices, &idxLen) ||
      !GetF32(info, 2, "values", &values, &valLen) || !GetDim(info, 3, "nCols", &s->nCols) ||
      !GetF32(info, 4, "x", &x, &xLen) || !GetDim(info, 5, "d", &s->d) || !GetF32(info, 6, "out", &s->out, &outLen)) {
    return false;
  }
  s->values = values;
  s->x = x;
  if (ptrLen < 1) return Fail(env, "indptr must have nRows + 1 entries");
  s->nRows = static_cast<int64_t>(ptrLen) - 1;
  s->nnz = s->indptr[s->nRows];
  if (s->indptr[0] != 0 || s->nnz < 0 || static_cast<size_t>(s->nnz) > idxLen || idxLen != valLen) {
    return Fail(env, "indptr/indices/values are inconsistent");
  }
  const size_t rowsSide = static_cast<size_t>(s->nRows * s->d), colsSide = static_cast<size_t>(s->nCols * s->d);
  if (xLen != (transpose ? rowsSide : colsSide)) return Fail(env, "x has the wrong length");
  if (outLen != (transpose ? colsSide : rowsSide)) return Fail(env, "out has the wrong length");
  return true;
}

// Rows [r0, r1) of out = A x. Returns false on a malformed row (indptr decreasing or column out of range).
bool SpmmRows(const CsrArgs& s, int64_t r0, int64_t r1) {
  const int64_t d = s.d;
  bool ok = true;
  for (int64_t i = r0; i < r1; i++) {
    float* o = s.out + i * d;
    std::memset(o, 0, sizeof(float) * d);
    const int32_t p0 = s.indptr[i], p1 = s.indptr[i + 1];
    if (p0 < 0 || p1 < p0 || p1 > s.nnz) { ok = false; continue; }
    for (int32_t p = p0; p < p1; p++) {
      const int32_t col = s.indices[p];
      if (col < 0 || col >= s.nCols) { ok = false; continue; }
      const float v = s.values[p];
      const float* xr = s.x + static_cast<int64_t>(col) * d;
      for (int64_t j = 0; j < d; j++) o[j] += v * xr[j];
    }
  }
  return ok;
}

// Below this many multiply-adds a thread start (~tens of microseconds) costs more than it saves.
constexpr int64_t kMinWorkPerThread = 1 << 17;

Napi::Value Spmm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CsrArgs s;
  if (!GetCsrArgs(info, false, &s)) return env.Undefined();
  const int64_t work = s.nnz * s.d + s.nRows * s.d;
  const int threads = sea::ThreadsForValues(work, s.nRows, kMinWorkPerThread);
  std::atomic<bool> ok{true};
  if (threads <= 1) {
    ok = SpmmRows(s, 0, s.nRows);
  } else {
    // Split rows so each thread gets about the same number of non-zeros (degree skew is large in
    // interaction graphs). indptr is non-decreasing for valid input, so lower_bound finds the splits.
    std::vector<int64_t> bounds(threads + 1, s.nRows);
    bounds[0] = 0;
    for (int t = 1; t < threads; t++) {
      const int32_t target = static_cast<int32_t>(s.nnz * t / threads);
      const int32_t* it = std::lower_bound(s.indptr, s.indptr + s.nRows + 1, target);
      bounds[t] = std::max(bounds[t - 1], std::min<int64_t>(it - s.indptr, s.nRows));
    }
    sea::RunOnThreads(threads, [&](int t) { if (!SpmmRows(s, bounds[t], bounds[t + 1])) ok = false; });
  }
  if (!ok) return Fail(env, "malformed CSR (decreasing indptr or column index out of range)"), env.Undefined();
  return env.Undefined();
}

Napi::Value SpmmTranspose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CsrArgs s;
  if (!GetCsrArgs(info, true, &s)) return env.Undefined();
  const int64_t d = s.d;
  std::fill(s.out, s.out + s.nCols * d, 0.0f);
  bool ok = true;
  for (int64_t i = 0; i < s.nRows; i++) {
    const float* xr = s.x + i * d;
    const int32_t p0 = s.indptr[i], p1 = s.indptr[i + 1];
    if (p0 < 0 || p1 < p0 || p1 > s.nnz) { ok = false; continue; }
    for (int32_t p = p0; p < p1; p++) {
      const int32_t col = s.indices[p];
      if (col < 0 || col >= s.nCols) { ok = false; continue; }
      const float v = s.values[p];
      float* o = s.out + static_cast<int64_t>(col) * d;
      for (int64_t j = 0; j < d; j++) o[j] += v * xr[j];
    }
  }
  if (!ok) return Fail(env, "malformed CSR (decreasing indptr or column index out of range)"), env.Undefined();
  return env.Undefined();
}

// ---------------------------------------------------------------- threads and build info

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t n;
  if (info.Length() != 1 || !GetDim(info, 0, "threads", &n)) return env.Undefined();
  gThreads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(n, 1024)));
#if defined(SEA_OPENBLAS)
  if (openblas_set_num_threads != nullptr) openblas_set_num_threads(gThreads);
#endif
  return Napi::Number::New(env, gThreads);
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), gThreads); }

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  std::string vendor = "cblas", config, parallel = "unknown";
#if defined(SEA_ACCELERATE)
  vendor = "accelerate";
#elif defined(SEA_OPENBLAS)
  vendor = "openblas";
  if (openblas_get_config != nullptr) config = openblas_get_config();
  if (openblas_get_parallel != nullptr) {
    const int p = openblas_get_parallel();
    parallel = p == 0 ? "sequential" : p == 1 ? "pthreads" : p == 2 ? "openmp" : "unknown";
  }
#endif
  o.Set("vendor", vendor);
  o.Set("config", config);
  o.Set("parallel", parallel);
  o.Set("threads", gThreads);
  o.Set("hardwareThreads", static_cast<double>(std::thread::hardware_concurrency()));
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("sgemmBatched", Napi::Function::New(env, SgemmBatched, "sgemmBatched"));
  exports.Set("biasActivation", Napi::Function::New(env, BiasActivation, "biasActivation"));
  exports.Set("spmm", Napi::Function::New(env, Spmm, "spmm"));
  exports.Set("spmmTranspose", Napi::Function::New(env, SpmmTranspose, "spmmTranspose"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads, "getThreads"));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  sea::RegisterClubFit(env, exports);
  sea::RegisterSolosim(env, exports);
  sea::RegisterAdam(env, exports);
  sea::RegisterClubBound(env, exports);
  sea::RegisterRowOps(env, exports);
  sea::RegisterArrayOps(env, exports);
  return exports;
}

}  // namespace

namespace sea {
int gThreads = 1;
}  // namespace sea

NODE_API_MODULE(sea_native, Init)
