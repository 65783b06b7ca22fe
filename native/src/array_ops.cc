// Value moves and element-wise arithmetic for the kit's tfjs cpu kernels (src/backend/cpuStructural.ts,
// src/backend/cpuBinary.ts), for large arrays only: there a JS loop costs ~1–3 ns per value (scalar, one core) and
// a TypedArray.set per short run ~100 ns for its view. Results are the JS loops' bits: a copy is a copy, and one
// float32 +, −, × or ÷ rounds exactly as JS's double operation rounded to float32 (the exact result fits a double
// or rounds innocuously), so the JS kernels stay the fallback with the same values.
#include "common.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace sea {
namespace {

// Values per thread: copies and single operations are memory-bound, so threads pay off only on large arrays.
constexpr int64_t kMinValuesPerThread = 1 << 17;

// A Float32Array or an Int32Array (4-byte values moved unchanged), as raw 4-byte words.
bool GetWords(const Napi::CallbackInfo& info, size_t i, const char* name, uint32_t** data, size_t* length, napi_typedarray_type* type) {
  Napi::Value v = info[i];
  if (v.IsTypedArray()) {
    Napi::TypedArray arr = v.As<Napi::TypedArray>();
    if (arr.TypedArrayType() == napi_float32_array || arr.TypedArrayType() == napi_int32_array) {
      *type = arr.TypedArrayType();
      *data = reinterpret_cast<uint32_t*>(static_cast<uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset());
      *length = arr.ElementLength();
      return true;
    }
  }
  return Fail(info.Env(), std::string(name) + " must be a Float32Array or an Int32Array");
}

// True when offset + (count − 1)·stride + run ≤ length (every run inside the array).
bool RunsFit(const Napi::Env& env, const char* fn, const char* name, int64_t offset, int64_t stride, int64_t run, int64_t count, size_t length) {
  if (count == 0 || run == 0 || offset + (count - 1) * stride + run <= static_cast<int64_t>(length)) return true;
  return Fail(env, std::string(fn) + ": " + std::to_string(count) + " runs of " + std::to_string(run) + " from offset " + std::to_string(offset) +
                       " with stride " + std::to_string(stride) + " exceed " + name + "'s " + std::to_string(length) + " values");
}

// copyStrided(dst, dstOffset, dstStride, src, srcOffset, srcStride, run, count): for r < count,
// dst[dstOffset + r·dstStride + j] = src[srcOffset + r·srcStride + j], j < run. Same element type on both sides.
Napi::Value CopyStrided(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "copyStrided";
  uint32_t *dst, *src;
  size_t nDst, nSrc;
  napi_typedarray_type dstType, srcType;
  int64_t dstOffset, dstStride, srcOffset, srcStride, run, count;
  if (info.Length() != 8 || !GetWords(info, 0, "dst", &dst, &nDst, &dstType) || !GetDim(info, 1, "dstOffset", &dstOffset) ||
      !GetDim(info, 2, "dstStride", &dstStride) || !GetWords(info, 3, "src", &src, &nSrc, &srcType) || !GetDim(info, 4, "srcOffset", &srcOffset) ||
      !GetDim(info, 5, "srcStride", &srcStride) || !GetDim(info, 6, "run", &run) || !GetDim(info, 7, "count", &count)) {
    if (!env.IsExceptionPending()) Fail(env, std::string(fn) + " expects 8 arguments");
    return env.Undefined();
  }
  if (dstType != srcType) return Fail(env, std::string(fn) + ": dst and src must be of the same type"), env.Undefined();
  if (!RunsFit(env, fn, "dst", dstOffset, dstStride, run, count, nDst) || !RunsFit(env, fn, "src", srcOffset, srcStride, run, count, nSrc)) {
    return env.Undefined();
  }
  // The runs are copied in any order, on several threads: the two ranges must not overlap (views of one buffer can).
  if (count > 0 && run > 0) {
    const auto at = [](const uint32_t* p, int64_t i) { return reinterpret_cast<uintptr_t>(p + i); };
    const uintptr_t dstBegin = at(dst, dstOffset), dstEnd = at(dst, dstOffset + (count - 1) * dstStride + run);
    const uintptr_t srcBegin = at(src, srcOffset), srcEnd = at(src, srcOffset + (count - 1) * srcStride + run);
    if (dstBegin < srcEnd && srcBegin < dstEnd) return Fail(env, std::string(fn) + ": dst and src overlap"), env.Undefined();
  }
  ForEachRange(count, ThreadsForValues(run * count, count, kMinValuesPerThread), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      std::memcpy(dst + dstOffset + r * dstStride, src + srcOffset + r * srcStride, static_cast<size_t>(run) * sizeof(uint32_t));
    }
  });
  return env.Undefined();
}

enum class BinaryOp { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3 };

template <BinaryOp op>
inline float Apply(float a, float b) {
  if constexpr (op == BinaryOp::kAdd) return a + b;
  if constexpr (op == BinaryOp::kSub) return a - b;
  if constexpr (op == BinaryOp::kMul) return a * b;
  return a / b;
}

struct Binary2d {
  float* out;
  const float* a;
  const float* b;
  int64_t aOuter, aInner, bOuter, bInner, inner;
};

// Rows [begin, end) of the output, each `inner` long; an operand's inner stride is 0 (held) or 1 (advancing), and
// each case is its own loop so the compiler vectorises it.
template <BinaryOp op>
void BinaryRows(const Binary2d& p, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; i++) {
    float* o = p.out + i * p.inner;
    const float* a = p.a + i * p.aOuter;
    const float* b = p.b + i * p.bOuter;
    const int64_t n = p.inner;
    if (p.aInner == 1 && p.bInner == 1) {
      for (int64_t j = 0; j < n; j++) o[j] = Apply<op>(a[j], b[j]);
    } else if (p.aInner == 1) {
      const float s = b[0];
      for (int64_t j = 0; j < n; j++) o[j] = Apply<op>(a[j], s);
    } else {
      const float s = a[0];
      for (int64_t j = 0; j < n; j++) o[j] = Apply<op>(s, b[j]);
    }
  }
}

// Rows [0, outer) on as many threads as the values justify.
void RunBinary(BinaryOp op, const Binary2d& p, int64_t outer) {
  ForEachRange(outer, ThreadsForValues(outer * p.inner, outer, kMinValuesPerThread), [&](int64_t begin, int64_t end) {
    switch (op) {
      case BinaryOp::kAdd: BinaryRows<BinaryOp::kAdd>(p, begin, end); break;
      case BinaryOp::kSub: BinaryRows<BinaryOp::kSub>(p, begin, end); break;
      case BinaryOp::kMul: BinaryRows<BinaryOp::kMul>(p, begin, end); break;
      case BinaryOp::kDiv: BinaryRows<BinaryOp::kDiv>(p, begin, end); break;
    }
  });
}

// binary2d(op, out, a, aOuter, aInner, b, bOuter, bInner, outer, inner): out[i·inner + j] =
// a[i·aOuter + j·aInner] op b[i·bOuter + j·bInner] (op 0 +, 1 −, 2 ×, 3 ÷; inner strides 0 or 1, not both 0).
Napi::Value BinaryTwoLevel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "binary2d";
  float *out, *a, *b;
  size_t nOut, nA, nB;
  int64_t opCode, aOuter, aInner, bOuter, bInner, outer, inner;
  if (info.Length() != 10 || !GetDim(info, 0, "op", &opCode) || !GetF32(info, 1, "out", &out, &nOut) || !GetF32(info, 2, "a", &a, &nA) ||
      !GetDim(info, 3, "aOuter", &aOuter) || !GetDim(info, 4, "aInner", &aInner) || !GetF32(info, 5, "b", &b, &nB) ||
      !GetDim(info, 6, "bOuter", &bOuter) || !GetDim(info, 7, "bInner", &bInner) || !GetDim(info, 8, "outer", &outer) ||
      !GetDim(info, 9, "inner", &inner)) {
    if (!env.IsExceptionPending()) Fail(env, std::string(fn) + " expects 10 arguments");
    return env.Undefined();
  }
  if (opCode > 3 || aInner > 1 || bInner > 1 || (aInner == 0 && bInner == 0)) {
    return Fail(env, std::string(fn) + ": op must be 0–3 and the inner strides 0 or 1, not both 0"), env.Undefined();
  }
  if (!RunsFit(env, fn, "out", 0, inner, inner, outer, nOut) || !RunsFit(env, fn, "a", 0, aOuter, aInner == 1 ? inner : 1, outer, nA) ||
      !RunsFit(env, fn, "b", 0, bOuter, bInner == 1 ? inner : 1, outer, nB)) {
    return env.Undefined();
  }
  const BinaryOp op = static_cast<BinaryOp>(opCode);
  constexpr int64_t kRow = 1 << 14;
  if (outer == 1 && inner > 2 * kRow) {
    // One long run (same shapes, or a scalar operand) is cut into rows so that threads can share it.
    const int64_t rows = inner / kRow;
    const int64_t done = rows * kRow;
    RunBinary(op, Binary2d{out, a, b, aInner * kRow, aInner, bInner * kRow, bInner, kRow}, rows);
    RunBinary(op, Binary2d{out + done, a + aInner * done, b + bInner * done, 0, aInner, 0, bInner, inner - done}, 1);
  } else {
    RunBinary(op, Binary2d{out, a, b, aOuter, aInner, bOuter, bInner, inner}, outer);
  }
  return env.Undefined();
}

}  // namespace

void RegisterArrayOps(Napi::Env env, Napi::Object exports) {
  exports.Set("copyStrided", Napi::Function::New(env, CopyStrided, "copyStrided"));
  exports.Set("binary2d", Napi::Function::New(env, BinaryTwoLevel, "binary2d"));
}

}  // namespace sea
