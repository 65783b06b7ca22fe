// Shared by the addon's source files: argument checks for N-API calls, the BLAS header, the thread count.
#pragma once

#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#if defined(SEA_ACCELERATE)
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

// SEA_AVX2_CLONES: a function compiled twice on x86-64 Linux with GCC, for AVX2 and for the baseline (SSE2),
// the loader picking one by CPU (an ifunc); binding.gyp builds for the baseline. With an explicit order for
// every sum both versions give bit-identical results: GCC contracts a·b + c into an FMA in C++ wherever the
// target has FMA, and neither target does ("avx2" does not include "fma"; do not add it here).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SEA_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SEA_AVX2_CLONES
#endif

namespace sea {

// Threads for BLAS and the addon's own loops (setThreads in sea_native.cc).
extern int gThreads;

inline bool Fail(const Napi::Env& env, const std::string& message) {
  Napi::TypeError::New(env, "sea_native: " + message).ThrowAsJavaScriptException();
  return false;
}

// What each typed-array argument must be: its N-API type and the name in the error message.
template <typename T>
struct TypedArrayKind;
template <>
struct TypedArrayKind<float> {
  static constexpr napi_typedarray_type kType = napi_float32_array;
  static constexpr const char* kName = "a Float32Array";
};
template <>
struct TypedArrayKind<double> {
  static constexpr napi_typedarray_type kType = napi_float64_array;
  static constexpr const char* kName = "a Float64Array";
};
template <>
struct TypedArrayKind<int32_t> {
  static constexpr napi_typedarray_type kType = napi_int32_array;
  static constexpr const char* kName = "an Int32Array";
};
template <>
struct TypedArrayKind<uint8_t> {
  static constexpr napi_typedarray_type kType = napi_uint8_array;
  static constexpr const char* kName = "a Uint8Array";
};

// Argument i as a typed array of T (exactly that type: a Uint8ClampedArray is not a Uint8Array).
template <typename T>
inline bool GetTypedArray(const Napi::CallbackInfo& info, size_t i, const char* name, T** data, size_t* length) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != TypedArrayKind<T>::kType) {
    return Fail(info.Env(), std::string(name) + " must be " + TypedArrayKind<T>::kName);
  }
  Napi::TypedArrayOf<T> arr = v.As<Napi::TypedArrayOf<T>>();
  *data = arr.Data();
  *length = arr.ElementLength();
  return true;
}

inline bool GetF32(const Napi::CallbackInfo& info, size_t i, const char* name, float** data, size_t* length) {
  return GetTypedArray(info, i, name, data, length);
}

inline bool GetF64(const Napi::CallbackInfo& info, size_t i, const char* name, double** data, size_t* length) {
  return GetTypedArray(info, i, name, data, length);
}

inline bool GetU8(const Napi::CallbackInfo& info, size_t i, const char* name, uint8_t** data, size_t* length) {
  return GetTypedArray(info, i, name, data, length);
}

inline bool GetI32(const Napi::CallbackInfo& info, size_t i, const char* name, const int32_t** data, size_t* length) {
  int32_t* values;
  if (!GetTypedArray(info, i, name, &values, length)) return false;
  *data = values;
  return true;
}

inline bool GetDim(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t* out) {
  if (!info[i].IsNumber()) return Fail(info.Env(), std::string(name) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  // cblas takes 32-bit int dimensions.
  if (!(d >= 0) || d > 2147483647.0 || std::floor(d) != d) {
    return Fail(info.Env(), std::string(name) + " must be an integer in [0, 2^31)");
  }
  *out = static_cast<int64_t>(d);
  return true;
}

// A number argument of `fn`, NaN and infinities included: the row passes take them wherever their JS twins
// do (messages name the function and the argument).
inline bool GetNumber(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, double* out) {
  if (!info[i].IsNumber()) return Fail(info.Env(), std::string(fn) + ": " + name + " must be a number");
  *out = info[i].As<Napi::Number>().DoubleValue();
  return true;
}

// A finite number argument of `fn`.
inline bool GetFiniteNumber(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, double* out) {
  if (!GetNumber(info, i, fn, name, out)) return false;
  if (!std::isfinite(*out)) return Fail(info.Env(), std::string(fn) + ": " + name + " must be finite");
  return true;
}

// An array argument of `fn` must have `want` values; `what` says what they are (e.g. "7050 rows × xDim 32").
inline bool CheckLength(const Napi::Env& env, const char* fn, const char* name, size_t got, int64_t want, const std::string& what) {
  if (static_cast<int64_t>(got) == want) return true;
  return Fail(env, std::string(fn) + ": " + name + " has " + std::to_string(got) + " values, expected " + std::to_string(want) + " (" + what + ")");
}

// Runs body(t) for every t in [0, threads): t = 0 on the calling thread, the others on fresh threads; returns
// when all are done.
template <typename Body>
void RunOnThreads(int threads, const Body& body) {
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; t++) pool.emplace_back([&body, t] { body(t); });
  body(0);
  for (auto& th : pool) th.join();
}

// Splits [0, total) into `threads` contiguous ranges (the same split for the same arguments) and runs
// body(begin, end) on each, one per thread (RunOnThreads).
template <typename Body>
void ForEachRange(int64_t total, int threads, const Body& body) {
  RunOnThreads(threads, [&](int t) { body(total * t / threads, total * (t + 1) / threads); });
}

// Threads for a pass over `values` values made of `parts` independent parts (rows or columns): one per
// `minPerThread` values (a thread start costs ~30 µs), at most gThreads and at most one per part.
inline int ThreadsForValues(int64_t values, int64_t parts, int64_t minPerThread) {
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({static_cast<int64_t>(gThreads), values / minPerThread, parts})));
}

// Each kernel family registers its functions on the addon's exports (sea_native.cc's Init calls these).
void RegisterClubFit(Napi::Env env, Napi::Object exports);  // club_fit.cc
void RegisterSolosim(Napi::Env env, Napi::Object exports);  // solosim.cc
void RegisterAdam(Napi::Env env, Napi::Object exports);     // adam.cc
void RegisterClubBound(Napi::Env env, Napi::Object exports);  // club_bound.cc
void RegisterRowOps(Napi::Env env, Napi::Object exports);     // row_ops.cc
void RegisterArrayOps(Napi::Env env, Napi::Object exports);   // array_ops.cc

}  // namespace sea
