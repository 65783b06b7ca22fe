import * as tf from "@tensorflow/tfjs";
import { nativeFunctionOnce } from "./addon";
import { cpuBackendOf, float32Values, sizeOf, type KernelArgs, type KernelResult } from "./cpuBackendAccess";

/**
 * Float32 binary kernels (Add, Sub, Multiply, RealDiv, Maximum, Minimum, SquaredDifference, Pow and the
 * comparisons) for the tfjs `cpu` backend, any broadcast.
 *
 * What tfjs-backend-cpu 4.22 does slowly: every binary kernel is one shared loop calling the op's
 * closure per element. Sharing the loop makes that call megamorphic (not inlined: ~16 ns per element,
 * 7x a plain loop — 1.05 ms against 0.14 ms for a [1000, 64] product), and any broadcast other than a
 * scalar goes through per-element index arithmetic with array allocations (~150 ns per element). The
 * kit's first repair of Add/Sub/Multiply/RealDiv shared one loop over the op's closure the same way:
 * 4–6x slower than these loops once all four ran in a training step.
 *
 * Here each op has its own loop over one contiguous run (so the op is inlined), and a broadcast is
 * reduced to runs: adjacent dimensions that broadcast alike are merged, which leaves same-shape and
 * scalar operands as one run, a bias [n, d] + [d] as n runs with both operands advancing, a row scale
 * [n, d] · [n, 1] or an outer [n, 1] · [1, m] as n runs with one operand held. Each op computes exactly
 * what the original closure computes (in float64, rounded once on the float32 store), so results are
 * bit-identical; non-float32 inputs and shapes that do not broadcast go to the original kernel. Large
 * arithmetic of at most two levels goes to the addon (runPlanNatively), one float32 operation per value as here.
 */

/**
 * One run of `n` outputs from out[o]: a read at a[ai + j·as], b at b[bi + j·bs], the strides 0 (held)
 * or 1 (advancing); never both 0.
 */
type Run<O> = (out: O, o: number, a: Float32Array, ai: number, as: number, b: Float32Array, bi: number, bs: number, n: number) => void;

// One function per op (not a shared helper taking the op): the per-element operation must stay
// inlined, see the module comment.
const ARITHMETIC: Record<string, Run<Float32Array>> = {
  Add(out, o, a, ai, as, b, bi, bs, n) {
    if (bs === 0) { const s = b[bi]!; for (let j = 0; j < n; j++) out[o + j] = a[ai + j]! + s; }
    else if (as === 0) { const s = a[ai]!; for (let j = 0; j < n; j++) out[o + j] = s + b[bi + j]!; }
    else for (let j = 0; j < n; j++) out[o + j] = a[ai + j]! + b[bi + j]!;
  },
  Sub(out, o, a, ai, as, b, bi, bs, n) {
    if (bs === 0) { const s = b[bi]!; for (let j = 0; j < n; j++) out[o + j] = a[ai + j]! - s; }
    else if (as === 0) { const s = a[ai]!; for (let j = 0; j < n; j++) out[o + j] = s - b[bi + j]!; }
    else for (let j = 0; j < n; j++) out[o + j] = a[ai + j]! - b[bi + j]!;
  },
  Multiply(out, o, a, ai, as, b, bi, bs, n) {
    if (bs === 0) { const s = b[bi]!; for (let j = 0; j < n; j++) out[o + j] = a[ai + j]! * s; }
    else if (as === 0) { const s = a[ai]!; for (let j = 0; j < n; j++) out[o + j] = s * b[bi + j]!; }
    else for (let j = 0; j < n; j++) out[o + j] = a[ai + j]! * b[bi + j]!;
  },
  RealDiv(out, o, a, ai, as, b, bi, bs, n) {
    if (bs === 0) { const s = b[bi]!; for (let j = 0; j < n; j++) out[o + j] = a[ai + j]! / s; }
    else if (as === 0) { const s = a[ai]!; for (let j = 0; j < n; j++) out[o + j] = s / b[bi + j]!; }
    else for (let j = 0; j < n; j++) out[o + j] = a[ai + j]! / b[bi + j]!;
  },
  Maximum(out, o, a, ai, as, b, bi, bs, n) {
    if (bs === 0) { const s = b[bi]!; for (let j = 0; j < n; j++) out[o + j] = Math.max(a[ai + j]!, s); }
    else if (as === 0) { const s = a[ai]!; for (let j = 0; j < n; j++) out[o + j] = Math.max(s, b[bi + j]!); }
    else for (let j = 0; j < n; j++) out[o + j] = Math.max(a[ai + j]!, b[bi + j]!);
  },
  Minimum(out, o, a, ai, as, b, bi, bs, n) {
    if (bs === 0) { const s = b[bi]!; for (let j = 0; j < n; j++) out[o + j] = Math.min(a[ai + j]!, s); }
    else if (as === 0) { const s = a[ai]!; for (let j = 0; j < n; j++) out[o + j] = Math.min(s, b[bi + j]!); }
    else for (let j = 0; j < n; j++) out[o + j] = Math.min(a[ai + j]!, b[bi + j]!);
  },
  SquaredDifference(out, o, a, ai, as, b, bi, bs, n) {
    if (bs === 0) { const s = b[bi]!; for (let j = 0; j < n; j++) { const d = a[ai + j]! - s; out[o + j] = d * d; } }
    else if (as === 0) { const s = a[ai]!; for (let j = 0; j < n; j++) { const d = s - b[bi + j]!; out[o + j] = d * d; } }
    else for (let j = 0; j < n; j++) { const d = a[ai + j]! - b[bi + j]!; out[o + j] = d * d; }
  },
  Pow(out, o, a, ai, as, b, bi, bs, n) {
    // Math.pow costs ~20 ns. For float32 x, x·x and x are exact in float64, and pow returns an exactly
    // representable result exactly (fdlibm even special-cases y = 1 and y = 2), so these are identical.
    if (bs === 0 && b[bi] === 2) { for (let j = 0; j < n; j++) { const v = a[ai + j]!; out[o + j] = v * v; } }
    else if (bs === 0 && b[bi] === 1) { for (let j = 0; j < n; j++) out[o + j] = a[ai + j]!; }
    else if (bs === 0) { const s = b[bi]!; for (let j = 0; j < n; j++) out[o + j] = Math.pow(a[ai + j]!, s); }
    else if (as === 0) { const s = a[ai]!; for (let j = 0; j < n; j++) out[o + j] = Math.pow(s, b[bi + j]!); }
    else for (let j = 0; j < n; j++) out[o + j] = Math.pow(a[ai + j]!, b[bi + j]!);
  },
};

/**
 * Comparisons write 1/0 into a bool (Uint8Array) tensor, as tfjs does; +(a > b) rather than tfjs's
 * a > b ? 1 : 0 because it compiles without a branch (a mask on random data mispredicts half the time:
 * 3.7 against 14 ms for 1.7M values).
 */
const COMPARISON: Record<string, Run<Uint8Array>> = {
  Greater(out, o, a, ai, as, b, bi, bs, n) {
    if (bs === 0) { const s = b[bi]!; for (let j = 0; j < n; j++) out[o + j] = +(a[ai + j]! > s); }
    else if (as === 0) { const s = a[ai]!; for (let j = 0; j < n; j++) out[o + j] = +(s > b[bi + j]!); }
    else for (let j = 0; j < n; j++) out[o + j] = +(a[ai + j]! > b[bi + j]!);
  },
  GreaterEqual(out, o, a, ai, as, b, bi, bs, n) {
    if (bs === 0) { const s = b[bi]!; for (let j = 0; j < n; j++) out[o + j] = +(a[ai + j]! >= s); }
    else if (as === 0) { const s = a[ai]!; for (let j = 0; j < n; j++) out[o + j] = +(s >= b[bi + j]!); }
    else for (let j = 0; j < n; j++) out[o + j] = +(a[ai + j]! >= b[bi + j]!);
  },
  Less(out, o, a, ai, as, b, bi, bs, n) {
    if (bs === 0) { const s = b[bi]!; for (let j = 0; j < n; j++) out[o + j] = +(a[ai + j]! < s); }
    else if (as === 0) { const s = a[ai]!; for (let j = 0; j < n; j++) out[o + j] = +(s < b[bi + j]!); }
    else for (let j = 0; j < n; j++) out[o + j] = +(a[ai + j]! < b[bi + j]!);
  },
  LessEqual(out, o, a, ai, as, b, bi, bs, n) {
    if (bs === 0) { const s = b[bi]!; for (let j = 0; j < n; j++) out[o + j] = +(a[ai + j]! <= s); }
    else if (as === 0) { const s = a[ai]!; for (let j = 0; j < n; j++) out[o + j] = +(s <= b[bi + j]!); }
    else for (let j = 0; j < n; j++) out[o + j] = +(a[ai + j]! <= b[bi + j]!);
  },
  Equal(out, o, a, ai, as, b, bi, bs, n) {
    if (bs === 0) { const s = b[bi]!; for (let j = 0; j < n; j++) out[o + j] = +(a[ai + j]! === s); }
    else if (as === 0) { const s = a[ai]!; for (let j = 0; j < n; j++) out[o + j] = +(s === b[bi + j]!); }
    else for (let j = 0; j < n; j++) out[o + j] = +(a[ai + j]! === b[bi + j]!);
  },
  NotEqual(out, o, a, ai, as, b, bi, bs, n) {
    if (bs === 0) { const s = b[bi]!; for (let j = 0; j < n; j++) out[o + j] = +(a[ai + j]! !== s); }
    else if (as === 0) { const s = a[ai]!; for (let j = 0; j < n; j++) out[o + j] = +(s !== b[bi + j]!); }
    else for (let j = 0; j < n; j++) out[o + j] = +(a[ai + j]! !== b[bi + j]!);
  },
};

/** The kernels this module replaces. */
export const BINARY_KERNEL_NAMES: readonly string[] = [...Object.keys(ARITHMETIC), ...Object.keys(COMPARISON)];

/**
 * numpy broadcasting of two shapes as nested runs: `dims` (outermost first, at least one) with each
 * operand's element stride per dim (0 where it is broadcast). Output dims of size 1 are dropped and
 * adjacent dims that both operands traverse alike are merged.
 */
export interface BroadcastPlan {
  outShape: number[];
  size: number;
  dims: number[];
  aStrides: number[];
  bStrides: number[];
}

/** null when the shapes do not broadcast (the original kernel then throws tfjs's own error). */
export function planBroadcast(aShape: readonly number[], bShape: readonly number[]): BroadcastPlan | null {
  const rank = Math.max(aShape.length, bShape.length);
  const outShape: number[] = [];
  const dims: number[] = [];
  const aStrides: number[] = [];
  const bStrides: number[] = [];
  let aStride = 1;
  let bStride = 1;
  // Innermost first; unshift keeps outermost-first order.
  for (let k = 1; k <= rank; k++) {
    const da = aShape[aShape.length - k] ?? 1;
    const db = bShape[bShape.length - k] ?? 1;
    const d = da === db || db === 1 ? da : da === 1 ? db : -1;
    if (d < 0) return null;
    outShape.unshift(d);
    if (d !== 1) {
      const sa = da === 1 ? 0 : aStride;
      const sb = db === 1 ? 0 : bStride;
      // Mergeable with the run just inside when each operand steps across both alike (both held, or contiguous).
      if (dims.length > 0 && sa === aStrides[0]! * dims[0]! && sb === bStrides[0]! * dims[0]!) {
        dims[0] = dims[0]! * d;
      } else {
        dims.unshift(d);
        aStrides.unshift(sa);
        bStrides.unshift(sb);
      }
    }
    aStride *= da;
    bStride *= db;
  }
  if (dims.length === 0) {
    dims.push(1);
    aStrides.push(1);
    bStrides.push(1);
  }
  return { outShape, size: sizeOf(outShape), dims, aStrides, bStrides };
}

/** Calls `run` once per innermost run of the plan, advancing the operand offsets like an odometer. */
function runPlan<O>(plan: BroadcastPlan, out: O, a: Float32Array, b: Float32Array, run: Run<O>): void {
  const { dims, aStrides, bStrides, size } = plan;
  const inner = dims.length - 1;
  const n = dims[inner]!;
  const as = aStrides[inner]!;
  const bs = bStrides[inner]!;
  const index = new Array<number>(inner).fill(0);
  let ai = 0;
  let bi = 0;
  for (let o = 0; o < size; o += n) {
    run(out, o, a, ai, as, b, bi, bs, n);
    for (let d = inner - 1; d >= 0; d--) {
      ai += aStrides[d]!;
      bi += bStrides[d]!;
      if (++index[d]! < dims[d]!) break;
      ai -= aStrides[d]! * dims[d]!;
      bi -= bStrides[d]! * dims[d]!;
      index[d] = 0;
    }
  }
}

function binaryKernel<O extends Float32Array | Uint8Array>(
  original: tf.KernelFunc,
  run: Run<O>,
  outDtype: "float32" | "bool",
  alloc: (n: number) => O,
  nativeOp?: number,
): tf.KernelFunc {
  return (args: KernelArgs): KernelResult => {
    const backend = cpuBackendOf(args);
    const { a, b } = args.inputs;
    const av = float32Values(backend, a);
    const bv = float32Values(backend, b);
    if (!av || !bv) return original(args);
    const plan = planBroadcast(a!.shape, b!.shape);
    if (!plan) return original(args);
    const out = alloc(plan.size);
    if (plan.size > 0 && !(nativeOp !== undefined && out instanceof Float32Array && runPlanNatively(plan, nativeOp, out, av, bv))) {
      runPlan(plan, out, av, bv, run);
    }
    return backend.makeTensorInfo(plan.outShape, outDtype, out);
  };
}

/** The addon's binary2d op codes of the arithmetic it implements (one float32 operation each, as the loops above). */
const NATIVE_OPS: Record<string, number> = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3 };

/** Outputs of at least this many values go to the addon (SIMD, and its threads above ~128K values). */
const NATIVE_MIN_VALUES = 1 << 15;

const nativeBinary = nativeFunctionOnce("binary2d");

/**
 * Runs a plan of at most two levels (same shapes, a scalar, a bias row, a row scale, an outer product) in the
 * addon; false when it cannot (small, deeper broadcast, or native code unavailable), and the JS loop runs.
 */
function runPlanNatively(plan: BroadcastPlan, op: number, out: Float32Array, a: Float32Array, b: Float32Array): boolean {
  if (plan.size < NATIVE_MIN_VALUES || plan.dims.length > 2) return false;
  const binary2d = nativeBinary();
  if (!binary2d) return false;
  const two = plan.dims.length === 2;
  const inner = plan.dims.length - 1;
  binary2d(op, out, a, two ? plan.aStrides[0]! : 0, plan.aStrides[inner]!, b, two ? plan.bStrides[0]! : 0, plan.bStrides[inner]!, two ? plan.dims[0]! : 1, plan.dims[inner]!);
  return true;
}

/** Replacement for binary kernel `name` (one of BINARY_KERNEL_NAMES), falling back to `original`. */
export function makeBinaryKernel(name: string, original: tf.KernelFunc): tf.KernelFunc {
  const arithmetic = ARITHMETIC[name];
  if (arithmetic) return binaryKernel(original, arithmetic, "float32", (n) => new Float32Array(n), NATIVE_OPS[name]);
  const comparison = COMPARISON[name];
  if (comparison) return binaryKernel(original, comparison, "bool", (n) => new Uint8Array(n));
  throw new Error(`no cpu binary kernel for ${name}`);
}
