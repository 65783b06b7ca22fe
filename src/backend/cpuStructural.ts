import * as tf from "@tensorflow/tfjs";
import {
  allocLike,
  copyRun,
  copyRuns,
  cpuBackendOf,
  numericValues,
  parseAxes,
  sizeOf,
  stridesOf,
  type KernelArgs,
  type KernelResult,
  type NumericArray,
} from "./cpuBackendAccess";

/**
 * Kernels that only move values (Slice, SplitV, Concat, PadV2, Transpose, GatherV2, Select) for the
 * tfjs `cpu` backend, float32 and int32.
 *
 * What tfjs-backend-cpu 4.22 does slowly: Slice (and SplitV, which slices each piece through it),
 * PadV2, Transpose and GatherV2 place every element through index arithmetic — indexToLoc/locToIndex
 * with a fresh coordinate array per element, ~150–400 ns per element (a [1500, 128] → 2 × [1500, 64]
 * split cost 80 ms in a `small` training step). Here the innermost contiguous runs are copied whole
 * (the many runs of a large copy in one addon call, see copyRuns), and transposes go through cache-sized
 * tiles. Values are copied, never recomputed, so results are identical; anything else (other dtypes,
 * invalid attributes, whose errors tfjs reports) goes to the original kernel.
 */

// ------------------------------------------------------------------------------------------- Slice

/** Slice of float32/int32 by contiguous runs (shared by Slice and SplitV). */
function sliceValues(values: NumericArray, shape: readonly number[], begin: readonly number[], size: readonly number[]): NumericArray {
  const rank = shape.length;
  const total = sizeOf(size);
  const out = allocLike(values, total);
  if (total === 0) return out;
  const strides = stridesOf(shape);
  // Trailing dimensions taken whole are contiguous in the source as in the output, so they join the run:
  // a row block of [n, d] (SplitV along axis 0) is one copy, not n.
  let inner = Math.max(rank - 1, 0);
  while (inner > 0 && size[inner] === shape[inner]) inner--;
  const run = rank > 0 ? sizeOf(size.slice(inner)) : 1;
  let src = 0;
  for (let i = 0; i < rank; i++) src += begin[i]! * strides[i]!;
  if (inner === 0) {
    copyRun(out, 0, values, src, run);
    return out;
  }
  // The runs along the last walked dim are one strided copy; the dims before it are walked one index at a time.
  const last = inner - 1;
  const count = size[last]!;
  const index = new Array<number>(last).fill(0);
  for (let o = 0; o < total; o += run * count) {
    copyRuns(out, o, run, values, src, strides[last]!, run, count);
    src = advanceIndex(index, size, strides, src);
  }
  return out;
}

/**
 * Steps the multi-index `index` over the leading `index.length` dims (last fastest) by one and returns the
 * offset moved with it through `strides`; Slice, PadV2 and Transpose walk their runs with it.
 */
function advanceIndex(index: number[], dims: readonly number[], strides: readonly number[], offset: number): number {
  for (let d = index.length - 1; d >= 0; d--) {
    offset += strides[d]!;
    if (++index[d]! < dims[d]!) return offset;
    offset -= strides[d]! * dims[d]!;
    index[d] = 0;
  }
  return offset;
}

function numberList(value: unknown, rank: number, fill: number): number[] | null {
  const list = typeof value === "number" ? [value] : Array.isArray(value) ? (value as unknown[]) : [];
  const out = Array.from({ length: rank }, (_, i) => list[i] ?? fill);
  return out.every((v): v is number => typeof v === "number" && Number.isInteger(v)) ? out : null;
}

/** Slice (tf.slice; the gradient of tf.pad). */
export function makeSliceKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs): KernelResult => {
    const backend = cpuBackendOf(args);
    const x = args.inputs.x;
    const values = numericValues(backend, x);
    if (!values) return original(args);
    const rank = x!.shape.length;
    const begin = numberList(args.attrs?.begin, rank, 0);
    const sizeAttr = numberList(args.attrs?.size, rank, -1);
    if (!begin || !sizeAttr) return original(args);
    const size = sizeAttr.map((s, i) => (s === -1 ? x!.shape[i]! - begin[i]! : s));
    if (begin.some((b, i) => b < 0 || size[i]! < 0 || b + size[i]! > x!.shape[i]!)) return original(args);
    return backend.makeTensorInfo(size, x!.dtype, sliceValues(values, x!.shape, begin, size));
  };
}

// ------------------------------------------------------------------------------------------ SplitV

/** The piece sizes of tf.split's attribute (a count of equal pieces, or sizes with at most one -1). */
function splitSizes(attr: unknown, length: number): number[] | null {
  if (typeof attr === "number") {
    if (!Number.isInteger(attr) || attr <= 0 || length % attr !== 0) return null;
    return new Array<number>(attr).fill(length / attr);
  }
  if (!Array.isArray(attr) || !attr.every((s): s is number => typeof s === "number" && Number.isInteger(s) && s >= -1)) return null;
  const sizes = [...(attr as number[])];
  const unknown = sizes.filter((s) => s === -1).length;
  if (unknown > 1) return null;
  // tfjs's own arithmetic, quirk included: without an initial value a leading -1 counts as a size, so
  // the sizes then fail the total check and the original kernel reports it.
  const known = sizes.length > 0 ? sizes.reduce((a, s) => (s > 0 ? a + s : a)) : 0;
  if (unknown === 1) sizes[sizes.indexOf(-1)] = length - known;
  return sizes.every((s) => s >= 0) && sizes.reduce((a, s) => a + s, 0) === length ? sizes : null;
}

export function makeSplitVKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs): KernelResult => {
    const backend = cpuBackendOf(args);
    const x = args.inputs.x;
    const values = numericValues(backend, x);
    if (!values) return original(args);
    const shape = x!.shape;
    const axes = parseAxes(args.attrs?.axis, shape.length);
    if (!axes || axes.length !== 1) return original(args);
    const axis = axes[0]!;
    const sizes = splitSizes(args.attrs?.numOrSizeSplits, shape[axis]!);
    if (!sizes) return original(args);
    const begin = new Array<number>(shape.length).fill(0);
    return sizes.map((s) => {
      const size = [...shape];
      size[axis] = s;
      const piece = backend.makeTensorInfo(size, x!.dtype, sliceValues(values, shape, begin, size));
      begin[axis]! += s;
      return piece;
    });
  };
}

// ------------------------------------------------------------------------------------------ Concat

export function makeConcatKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs): KernelResult => {
    const backend = cpuBackendOf(args);
    // Concat's inputs arrive as an array of tensors.
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    if (!Array.isArray(inputs) || inputs.length === 0) return original(args);
    const first = inputs[0]!;
    const rank = first.shape.length;
    const axes = parseAxes(args.attrs?.axis, rank);
    if (!axes || axes.length !== 1) return original(args);
    const axis = axes[0]!;
    const parts: { values: NumericArray; run: number }[] = [];
    let axisLength = 0;
    for (const t of inputs) {
      const values = numericValues(backend, t);
      const consistent = t.dtype === first.dtype && t.shape.length === rank && t.shape.every((d, i) => i === axis || d === first.shape[i]);
      if (!values || !consistent) return original(args);
      axisLength += t.shape[axis]!;
      if (values.length > 0) parts.push({ values, run: sizeOf(t.shape.slice(axis)) });
    }
    const outShape = [...first.shape];
    outShape[axis] = axisLength;
    const total = sizeOf(outShape);
    // Empty and single-input results: tfjs's own cheap paths (an empty tensor, or the input itself).
    if (total === 0 || parts.length < 2) return original(args);
    const out = allocLike(parts[0]!.values, total);
    const rows = sizeOf(first.shape.slice(0, axis));
    const outRun = total / rows;
    // Each input fills its column block of every output row: one strided copy per input.
    let offset = 0;
    for (const p of parts) {
      copyRuns(out, offset, outRun, p.values, 0, p.run, p.run, rows);
      offset += p.run;
    }
    return backend.makeTensorInfo(outShape, first.dtype, out);
  };
}

// ------------------------------------------------------------------------------------------- PadV2

export function makePadV2Kernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs): KernelResult => {
    const backend = cpuBackendOf(args);
    const x = args.inputs.x;
    const values = numericValues(backend, x);
    const paddings = args.attrs?.paddings as unknown;
    const constantValue = args.attrs?.constantValue;
    if (!values || typeof constantValue !== "number" || !Array.isArray(paddings)) return original(args);
    const shape = x!.shape;
    const rank = shape.length;
    const valid = (p: unknown): p is [number, number] =>
      Array.isArray(p) && p.length === 2 && p.every((v) => typeof v === "number" && Number.isInteger(v) && v >= 0);
    if (rank === 0 || paddings.length !== rank || !paddings.every(valid)) return original(args);
    const pads = paddings as [number, number][];
    const outShape = shape.map((d, i) => pads[i]![0] + d + pads[i]![1]);
    const out = allocLike(values, sizeOf(outShape));
    if (constantValue !== 0) out.fill(constantValue);
    const total = values.length;
    if (total > 0) {
      const outStrides = stridesOf(outShape);
      const run = shape[rank - 1]!;
      const index = new Array<number>(rank - 1).fill(0);
      let dst = 0;
      for (let i = 0; i < rank; i++) dst += pads[i]![0] * outStrides[i]!;
      for (let src = 0; src < total; src += run) {
        copyRun(out, dst, values, src, run);
        dst = advanceIndex(index, shape, outStrides, dst);
      }
    }
    return backend.makeTensorInfo(outShape, x!.dtype, out);
  };
}

// --------------------------------------------------------------------------------------- Transpose

const TILE = 32;

/**
 * out = the permuted copy of `values`: output dims (outermost first) with the source stride of each;
 * dims of size 1 dropped and dims adjacent in both merged.
 */
function transposeValues(values: NumericArray, shape: readonly number[], perm: readonly number[]): NumericArray {
  const out = allocLike(values, values.length);
  if (values.length === 0) return out;
  const xStrides = stridesOf(shape);
  const dims: number[] = [];
  const strides: number[] = [];
  for (const p of perm) {
    const d = shape[p]!;
    if (d === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strides[last] === xStrides[p]! * d) {
      dims[last] = dims[last]! * d;
      strides[last] = xStrides[p]!;
    } else {
      dims.push(d);
      strides.push(xStrides[p]!);
    }
  }
  const r = dims.length;
  if (r === 0 || (r === 1 && strides[0] === 1)) {
    out.set(values);
    return out;
  }
  // Innermost block: a [P, Q] matrix read at p·sp + q·sq; tiled when sp = 1 (a true transpose).
  const twoD = r >= 2;
  const p = twoD ? dims[r - 2]! : 1;
  const q = dims[r - 1]!;
  const sp = twoD ? strides[r - 2]! : 0;
  const sq = strides[r - 1]!;
  const outer = r - (twoD ? 2 : 1);
  const index = new Array<number>(outer).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o += p * q) {
    if (sq === 1) for (let i = 0; i < p; i++) copyRun(out, o + i * q, values, src + i * sp, q);
    else if (sp === 1) transposeTile(values, src, sq, out, o, p, q);
    else for (let i = 0; i < p; i++) for (let j = 0, s = src + i * sp, d = o + i * q; j < q; j++, s += sq) out[d + j] = values[s]!;
    src = advanceIndex(index, dims, strides, src);
  }
  return out;
}

/** out[o + i·q + j] = x[src + i + j·sq] for a [p, q] block, through TILE × TILE tiles (both sides stay in cache). */
function transposeTile(x: NumericArray, src: number, sq: number, out: NumericArray, o: number, p: number, q: number): void {
  for (let i0 = 0; i0 < p; i0 += TILE) {
    const i1 = Math.min(i0 + TILE, p);
    for (let j0 = 0; j0 < q; j0 += TILE) {
      const j1 = Math.min(j0 + TILE, q);
      for (let i = i0; i < i1; i++) {
        for (let j = j0, d = o + i * q + j0, s = src + i + j0 * sq; j < j1; j++, d++, s += sq) out[d] = x[s]!;
      }
    }
  }
}

export function makeTransposeKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs): KernelResult => {
    const backend = cpuBackendOf(args);
    const x = args.inputs.x;
    const values = numericValues(backend, x);
    const perm = args.attrs?.perm as unknown;
    const rank = x ? x.shape.length : 0;
    const isPerm = Array.isArray(perm) && perm.length === rank && [...perm].sort((a, b) => a - b).every((v, i) => v === i);
    if (!values || !isPerm) return original(args);
    const order = perm as number[];
    const outShape = order.map((p) => x!.shape[p]!);
    return backend.makeTensorInfo(outShape, x!.dtype, transposeValues(values, x!.shape, order));
  };
}

// ---------------------------------------------------------------------------------------- GatherV2

/** Gather along one axis without batch dims (every embedding lookup and row permutation). */
export function makeGatherV2Kernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs): KernelResult => {
    const backend = cpuBackendOf(args);
    const { x, indices } = args.inputs;
    const values = numericValues(backend, x);
    const ids = indices && indices.dtype === "int32" ? backend.data.get(indices.dataId).values : null;
    const batchDims = args.attrs?.batchDims ?? 0;
    if (!values || !(ids instanceof Int32Array) || batchDims !== 0) return original(args);
    const shape = x!.shape;
    const axes = parseAxes(args.attrs?.axis ?? 0, shape.length);
    if (!axes || axes.length !== 1) return original(args);
    const axis = axes[0]!;
    const dim = shape[axis]!;
    // Out-of-range ids: the original kernel throws tfjs's own message.
    for (let i = 0; i < ids.length; i++) if (!(ids[i]! >= 0 && ids[i]! < dim)) return original(args);
    const outShape = [...shape.slice(0, axis), ...indices!.shape, ...shape.slice(axis + 1)];
    const out = allocLike(values, sizeOf(outShape));
    const outer = sizeOf(shape.slice(0, axis));
    const inner = sizeOf(shape.slice(axis + 1));
    const n = ids.length;
    for (let o = 0, d = 0; o < outer; o++) {
      for (let i = 0; i < n; i++, d += inner) copyRun(out, d, values, (o * dim + ids[i]!) * inner, inner);
    }
    return backend.makeTensorInfo(outShape, x!.dtype, out);
  };
}

// ------------------------------------------------------------------------------------------ Select

/**
 * Select (tf.where; LeakyRelu's gradient) on same-shape operands, which is all tf.where hands the
 * kernel after broadcasting. tfjs branches per element on the mask, which mispredicts half the time on
 * a random-signed mask (~10 ns per value); here each value's 32 bits are picked through a mask
 * (-1 where the condition is 1, else 0), which moves the same values without a branch.
 */
export function makeSelectKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs): KernelResult => {
    const backend = cpuBackendOf(args);
    const { condition, t, e } = args.inputs;
    const cond = condition ? backend.data.get(condition.dataId).values : null;
    const tv = numericValues(backend, t);
    const ev = numericValues(backend, e);
    if (!(cond instanceof Uint8Array) || !tv || !ev || t!.dtype !== e!.dtype || tv.length !== ev.length || cond.length !== tv.length) return original(args);
    // tfjs repeats each condition value over a row only for a rank-1 condition and a higher-rank t; with
    // equal sizes that row has one value, so element i always picks by condition i.
    const sameShape = t!.shape.length === e!.shape.length && t!.shape.every((d, i) => d === e!.shape[i]);
    if (!sameShape) return original(args);
    const out = allocLike(tv, tv.length);
    const o32 = bits(out);
    const t32 = bits(tv);
    const e32 = bits(ev);
    for (let i = 0; i < o32.length; i++) {
      const m = -+(cond[i] === 1);
      o32[i] = (t32[i]! & m) | (e32[i]! & ~m);
    }
    return backend.makeTensorInfo([...t!.shape], t!.dtype, out);
  };
}

/** The same memory as 32-bit integers. */
function bits(values: NumericArray): Int32Array {
  return values instanceof Int32Array ? values : new Int32Array(values.buffer, values.byteOffset, values.length);
}
