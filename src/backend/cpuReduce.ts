import * as tf from "@tensorflow/tfjs";
import { nativeFunctionOnce } from "./addon";
import { columnSums } from "../util/rowMajor";
import { cpuBackendOf, float32Values, parseAxes, sizeOf, type KernelArgs, type KernelResult } from "./cpuBackendAccess";

/**
 * Float32 Sum, Mean, Max and Min over leading or trailing axes for the tfjs `cpu` backend.
 *
 * What tfjs-backend-cpu 4.22 does slowly: a reduction over leading axes (column sums: the gradient of
 * every bias and row broadcast, batch means) first transposes the input through per-element index
 * arithmetic (~150 ns per element), and Mean additionally divides the whole input by n through the
 * generic broadcasting RealDiv before summing. Here leading-axis reductions accumulate whole rows into
 * per-column accumulators, in the same order tfjs sums the transposed rows, and trailing-axis
 * reductions are plain row loops.
 *
 * Exactness: tfjs sums in a float64 variable, one row after the other, and rounds once on the float32
 * store; Mean sums the float32-rounded quotients x / n. The accumulators here are float64 and add in
 * the same order, so results are bit-identical. Max/Min keep tfjs's NaN rule (any NaN wins). Reductions
 * over other axis sets (middle axes, unsorted axis lists — which tfjs sums in another order) and other
 * dtypes go to the original kernel.
 */

/** How the input is reduced: `outer` × `inner` values; `leading` = reduce the outer part. */
interface ReducePlan {
  outer: number;
  inner: number;
  leading: boolean;
  outShape: number[];
}

/**
 * The plan for reducing `shape` over the axes in `attr`, or null when the axes are neither a leading
 * nor a trailing block in ascending order (or are invalid).
 */
function planReduce(shape: readonly number[], attr: unknown, keepDims: boolean): ReducePlan | null {
  const rank = shape.length;
  const axes = parseAxes(attr, rank);
  if (!axes) return null;
  const k = axes.length;
  const trailing = axes.every((a, i) => a === rank - k + i);
  const leading = !trailing && axes.every((a, i) => a === i);
  if (!trailing && !leading) return null;
  const reduced = new Set(axes);
  const outShape = keepDims ? shape.map((d, i) => (reduced.has(i) ? 1 : d)) : shape.filter((_, i) => !reduced.has(i));
  const reducedSize = sizeOf(axes.map((a) => shape[a]!));
  const keptSize = sizeOf(shape.filter((_, i) => !reduced.has(i)));
  return leading ? { outer: reducedSize, inner: keptSize, leading, outShape } : { outer: keptSize, inner: reducedSize, leading, outShape };
}

/** Leading sums of at least this many values go to the addon's columnSums (the same sums, on its threads). */
const NATIVE_COLUMN_SUMS_MIN_VALUES = 1 << 15;
const nativeColumnSums = nativeFunctionOnce("columnSums");

/** out[i] = Σ_j x[i·inner + j] (trailing) or out[j] = Σ_i x[i·inner + j] (leading), in float64. */
function sumInto(x: Float32Array, plan: ReducePlan, out: Float32Array): void {
  const { outer, inner } = plan;
  if (plan.leading) {
    const native = outer * inner >= NATIVE_COLUMN_SUMS_MIN_VALUES ? nativeColumnSums() : null;
    (native ?? columnSums)(x, outer, inner, out);
  } else {
    for (let i = 0, r = 0; i < outer; i++, r += inner) {
      let s = 0;
      for (let j = 0; j < inner; j++) s += x[r + j]!;
      out[i] = s;
    }
  }
}

/** As sumInto, of the float32-rounded quotients x / n (tfjs's Mean divides first, then sums). */
function meanInto(x: Float32Array, plan: ReducePlan, n: number, out: Float32Array): void {
  const { outer, inner } = plan;
  if (plan.leading) {
    const acc = new Float64Array(inner);
    for (let i = 0, r = 0; i < outer; i++, r += inner) for (let j = 0; j < inner; j++) acc[j] += Math.fround(x[r + j]! / n);
    out.set(acc);
  } else {
    for (let i = 0, r = 0; i < outer; i++, r += inner) {
      let s = 0;
      for (let j = 0; j < inner; j++) s += Math.fround(x[r + j]! / n);
      out[i] = s;
    }
  }
}

// tfjs: start from the first value; a later value replaces it when it is NaN or greater (so any NaN wins).
function maxInto(x: Float32Array, plan: ReducePlan, out: Float32Array): void {
  const { outer, inner } = plan;
  if (plan.leading) {
    out.set(x.subarray(0, inner));
    for (let i = 0, r = 0; i < outer; i++, r += inner) {
      for (let j = 0; j < inner; j++) {
        const v = x[r + j]!;
        if (Number.isNaN(v) || v > out[j]!) out[j] = v;
      }
    }
  } else {
    for (let i = 0, r = 0; i < outer; i++, r += inner) {
      let m = x[r]!;
      for (let j = 0; j < inner; j++) {
        const v = x[r + j]!;
        if (Number.isNaN(v) || v > m) m = v;
      }
      out[i] = m;
    }
  }
}

function minInto(x: Float32Array, plan: ReducePlan, out: Float32Array): void {
  const { outer, inner } = plan;
  if (plan.leading) {
    out.set(x.subarray(0, inner));
    for (let i = 0, r = 0; i < outer; i++, r += inner) {
      for (let j = 0; j < inner; j++) {
        const v = x[r + j]!;
        if (Number.isNaN(v) || v < out[j]!) out[j] = v;
      }
    }
  } else {
    for (let i = 0, r = 0; i < outer; i++, r += inner) {
      let m = x[r]!;
      for (let j = 0; j < inner; j++) {
        const v = x[r + j]!;
        if (Number.isNaN(v) || v < m) m = v;
      }
      out[i] = m;
    }
  }
}

type Reducer = (x: Float32Array, plan: ReducePlan, out: Float32Array) => void;

const REDUCERS: Record<string, { axisAttr: string; reduce: Reducer; needsValues: boolean }> = {
  Sum: { axisAttr: "axis", reduce: sumInto, needsValues: false },
  // tfjs divides by n held in a float32 scalar, hence the fround.
  Mean: { axisAttr: "axis", reduce: (x, plan, out) => meanInto(x, plan, Math.fround(plan.leading ? plan.outer : plan.inner), out), needsValues: false },
  // An empty reduction has no first value: tfjs's result there is left to the original kernel.
  Max: { axisAttr: "reductionIndices", reduce: maxInto, needsValues: true },
  Min: { axisAttr: "axis", reduce: minInto, needsValues: true },
};

export const REDUCE_KERNEL_NAMES: readonly string[] = Object.keys(REDUCERS);

/** Replacement for reduction kernel `name` (one of REDUCE_KERNEL_NAMES), falling back to `original`. */
export function makeReduceKernel(name: string, original: tf.KernelFunc): tf.KernelFunc {
  const reducer = REDUCERS[name];
  if (!reducer) throw new Error(`no cpu reduction kernel for ${name}`);
  return (args: KernelArgs): KernelResult => {
    const backend = cpuBackendOf(args);
    const x = args.inputs.x;
    const values = float32Values(backend, x);
    if (!values) return original(args);
    const plan = planReduce(x!.shape, args.attrs?.[reducer.axisAttr], args.attrs?.keepDims === true);
    if (!plan) return original(args);
    if (reducer.needsValues && (plan.leading ? plan.outer : plan.inner) === 0) return original(args);
    const out = new Float32Array(plan.leading ? plan.inner : plan.outer);
    reducer.reduce(values, plan, out);
    return backend.makeTensorInfo(plan.outShape, "float32", out);
  };
}
