import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { loadNativeAddon, nativeAllowed, type SeaNativeAddon } from "../../src/backend/addon";
import { Rng } from "../../src/util/rng";

/**
 * The addon when native kernels are allowed and built. CI sets SEA_EXPECT_NATIVE=1 so a missing
 * addon fails there instead of quietly testing only the JS paths.
 */
export function availableAddon(): SeaNativeAddon | null {
  const addon = nativeAllowed() ? loadNativeAddon() : null;
  if (process.env.SEA_EXPECT_NATIVE === "1") assert.ok(addon, "SEA_EXPECT_NATIVE=1 but the native addon is not available (node scripts/build-native.js)");
  return addon;
}

export const NATIVE_SKIP = "native addon unavailable (build: node scripts/build-native.js; CI sets SEA_EXPECT_NATIVE=1)";

export function randomArray(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  rng.fillNormal(out);
  return out;
}

/** max |got - want| / max(1e-30, max |want|): the relative error used throughout (≤ 1e-5 required). */
export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length, "length mismatch");
  let diff = 0;
  let scale = 1e-30;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return want.length === 0 ? 0 : diff / scale;
}

export function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tolerance = 1e-5): void {
  const err = relativeError(got, want);
  assert.ok(err <= tolerance, `${what}: relative error ${err.toExponential(2)} > ${tolerance}`);
}

/**
 * Float64 reference for a batched matMul with numpy broadcasting of the batch dims, independent of
 * tfjs and BLAS. Returns the values and the output shape.
 */
export function referenceMatMul(
  a: Float32Array,
  aShape: number[],
  b: Float32Array,
  bShape: number[],
  transA: boolean,
  transB: boolean,
): { values: Float64Array; shape: number[] } {
  const ar = aShape.length;
  const br = bShape.length;
  const m = transA ? aShape[ar - 1]! : aShape[ar - 2]!;
  const k = transA ? aShape[ar - 2]! : aShape[ar - 1]!;
  const n = transB ? bShape[br - 2]! : bShape[br - 1]!;
  const aOuter = aShape.slice(0, -2);
  const bOuter = bShape.slice(0, -2);
  const rank = Math.max(aOuter.length, bOuter.length);
  const outOuter: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = aOuter[aOuter.length - rank + i] ?? 1;
    const db = bOuter[bOuter.length - rank + i] ?? 1;
    outOuter.push(Math.max(da, db));
  }
  const count = outOuter.reduce((p, d) => p * d, 1);
  const values = new Float64Array(count * m * n);
  const flatIndex = (outer: number[], coords: number[]): number => {
    let idx = 0;
    for (let i = 0; i < outer.length; i++) {
      const c = coords[coords.length - outer.length + i]!;
      idx = idx * outer[i]! + (outer[i] === 1 ? 0 : c);
    }
    return idx;
  };
  for (let o = 0; o < count; o++) {
    const coords: number[] = [];
    let rest = o;
    for (let d = rank - 1; d >= 0; d--) {
      coords.unshift(rest % outOuter[d]!);
      rest = Math.floor(rest / outOuter[d]!);
    }
    const aBase = flatIndex(aOuter, coords) * m * k;
    const bBase = flatIndex(bOuter, coords) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) {
          const av = a[aBase + (transA ? t * m + i : i * k + t)]!;
          const bv = b[bBase + (transB ? j * k + t : t * n + j)]!;
          s += av * bv;
        }
        values[o * m * n + i * n + j] = s;
      }
    }
  }
  return { values, shape: [...outOuter, m, n] };
}

/** Runs `body` and checks it leaves no tensor behind. */
export function assertNoLeak(what: string, body: () => void): void {
  const before = tf.memory().numTensors;
  body();
  assert.equal(tf.memory().numTensors, before, `${what} leaked tensors`);
}

/** Bit-for-bit equality of a native kernel's output with its JS twin's (same operations, same roundings). */
export function assertSameBits(native: Float32Array, js: Float32Array, what: string): void {
  assert.equal(native.length, js.length, `${what}: length`);
  const a = new Uint32Array(native.buffer, native.byteOffset, native.length);
  const b = new Uint32Array(js.buffer, js.byteOffset, js.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) assert.fail(`${what}[${i}]: native ${native[i]} vs JS ${js[i]} (bits differ)`);
  }
}

/** body() with the addon's thread count set to `threads` (an uneven split shows row/column ranges at work), restored after. */
export function withAddonThreads<T>(addon: SeaNativeAddon, threads: number, body: () => T): T {
  const before = addon.getThreads();
  addon.setThreads(threads);
  try {
    return body();
  } finally {
    addon.setThreads(before);
  }
}
