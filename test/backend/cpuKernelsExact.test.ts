import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { CPU_REPAIR_KERNEL_NAMES, registerCpuRepairKernels, restoreOriginalCpuKernels } from "../../src/backend/cpuKernels";
import { planBroadcast } from "../../src/backend/cpuBinary";
import { Rng } from "../../src/util/rng";

/**
 * Every repaired cpu kernel against tfjs's own kernel: each case runs twice, once through the repairs
 * and once with the originals put back, and the results must be identical value for value (Object.is:
 * NaN equals NaN, +0 differs from -0). The originals are wrapped in counting spies before the repairs
 * capture them, so each case also checks that the repair really handled it (no call to the original)
 * or, for the cases meant to fall through, that it did hand them over.
 */

const fallbacks = new Map<string, number>();

before(async () => {
  await tf.setBackend("cpu");
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  for (const name of CPU_REPAIR_KERNEL_NAMES) {
    const config = tf.getKernel(name, "cpu");
    assert.ok(config, `tfjs has no cpu kernel ${name}`);
    const inner = config.kernelFunc;
    tf.unregisterKernel(name, "cpu");
    tf.registerKernel({
      kernelName: name,
      backendName: "cpu",
      kernelFunc: (args) => {
        fallbacks.set(name, (fallbacks.get(name) ?? 0) + 1);
        return inner(args);
      },
    });
  }
  registerCpuRepairKernels();
});

type Result = { shape: number[]; dtype: string; values: number[] }[];

function run(body: () => tf.Tensor | tf.Tensor[]): Result {
  return tf.tidy(() => {
    const out = body();
    return (Array.isArray(out) ? out : [out]).map((t) => ({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync()) }));
  });
}

function fallbackCounts(): Map<string, number> {
  return new Map(fallbacks);
}

/** The kernels called through their originals since `before` (name → calls). */
function fallbacksSince(before: Map<string, number>): string[] {
  return [...fallbacks].filter(([name, n]) => n > (before.get(name) ?? 0)).map(([name, n]) => `${name} ×${n - (before.get(name) ?? 0)}`);
}

/**
 * Runs `body` through the repairs and through the originals, asserts identical results and no leaked
 * tensor; `handled` says whether the repairs must serve it without calling an original kernel.
 */
function same(what: string, body: () => tf.Tensor | tf.Tensor[], handled = true): void {
  const tensorsBefore = tf.memory().numTensors;
  const fallbacksBefore = fallbackCounts();
  const repaired = run(body);
  const fellBack = fallbacksSince(fallbacksBefore);
  if (handled) assert.deepEqual(fellBack, [], `${what}: handed to the original kernel`);
  else assert.ok(fellBack.length > 0, `${what}: expected to be handed to the original kernel`);
  restoreOriginalCpuKernels();
  let original: Result;
  try {
    original = run(body);
  } finally {
    registerCpuRepairKernels();
  }
  assert.equal(tf.memory().numTensors, tensorsBefore, `${what}: leaked tensors`);
  assert.equal(repaired.length, original.length, `${what}: output count`);
  repaired.forEach((r, k) => {
    const o = original[k]!;
    assert.deepEqual(r.shape, o.shape, `${what}: shape of output ${k}`);
    assert.equal(r.dtype, o.dtype, `${what}: dtype of output ${k}`);
    assert.equal(r.values.length, o.values.length, `${what}: size of output ${k}`);
    for (let i = 0; i < o.values.length; i++) {
      if (!Object.is(r.values[i], o.values[i])) assert.fail(`${what}: output ${k} differs at ${i}: ${r.values[i]} vs original ${o.values[i]}`);
    }
  });
}

/** Normal values with the float32 edge cases sprinkled in (NaN, ±Inf, ±0, subnormal, huge). */
const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -3e38, 3e38, 1, -1];
function values(shape: number[], seed: number, special = true): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const rng = new Rng(seed);
  rng.fillNormal(out);
  // About one value in five special, anywhere (a NaN late in a column must still win a max).
  if (special) for (let i = 0; i < n; i++) if (rng.int(5) === 0) out[i] = SPECIAL[rng.int(SPECIAL.length)]!;
  return out;
}
const rand = (shape: number[], seed: number, special = true): tf.Tensor => tf.tensor(values(shape, seed, special), shape);
const ints = (shape: number[], seed: number): tf.Tensor => tf.tensor(Int32Array.from(values(shape, seed, false), (v) => Math.round(v * 5)), shape, "int32");

test("broadcast plans merge dimensions into runs", () => {
  assert.deepEqual(planBroadcast([4, 6], [4, 6]), { outShape: [4, 6], size: 24, dims: [24], aStrides: [1], bStrides: [1] });
  assert.deepEqual(planBroadcast([4, 6], []), { outShape: [4, 6], size: 24, dims: [24], aStrides: [1], bStrides: [0] });
  assert.deepEqual(planBroadcast([4, 6], [4, 1]), { outShape: [4, 6], size: 24, dims: [4, 6], aStrides: [6, 1], bStrides: [1, 0] });
  assert.deepEqual(planBroadcast([4, 1], [1, 6]), { outShape: [4, 6], size: 24, dims: [4, 6], aStrides: [1, 0], bStrides: [0, 1] });
  assert.deepEqual(planBroadcast([2, 3, 4], [2, 1, 4]), { outShape: [2, 3, 4], size: 24, dims: [2, 3, 4], aStrides: [12, 4, 1], bStrides: [4, 0, 1] });
  assert.deepEqual(planBroadcast([5, 2, 3], [2, 3]), { outShape: [5, 2, 3], size: 30, dims: [5, 6], aStrides: [6, 1], bStrides: [0, 1] });
  assert.deepEqual(planBroadcast([], []), { outShape: [], size: 1, dims: [1], aStrides: [1], bStrides: [1] });
  assert.equal(planBroadcast([2, 3], [3, 2]), null);
});

test("binary kernels equal tfjs's under every broadcast", () => {
  const shapes: [number[], number[]][] = [
    [[4, 6], [4, 6]], [[4, 6], []], [[], [4, 6]], [[4, 6], [6]], [[6], [4, 6]], [[1, 6], [4, 6]], [[4, 6], [4, 1]], [[4, 1], [4, 6]],
    [[4, 1], [1, 6]], [[1, 6], [4, 1]], [[2, 3, 4], [2, 1, 4]], [[2, 1, 4], [3, 1]], [[3, 1, 5], [1, 4, 1]], [[2, 3, 4], [4]],
    [[2, 3, 4], [3, 1]], [[], []], [[1], [1]], [[1, 1], [1]], [[5], [5]], [[7, 1], [1, 1]], [[0, 3], [1, 3]], [[0, 3], [3]], [[3, 0], []],
  ];
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ["add", tf.add], ["sub", tf.sub], ["mul", tf.mul], ["div", tf.div], ["maximum", tf.maximum], ["minimum", tf.minimum],
    ["squaredDifference", tf.squaredDifference], ["pow", tf.pow], ["greater", tf.greater], ["greaterEqual", tf.greaterEqual],
    ["less", tf.less], ["lessEqual", tf.lessEqual], ["equal", tf.equal], ["notEqual", tf.notEqual],
  ];
  shapes.forEach(([sa, sb], c) => {
    const a = rand(sa, 10 + c);
    // Some equal values so that the comparisons see ties.
    const bv = values(sb, 40 + c);
    const av = a.dataSync();
    for (let i = 0; i < bv.length && i < av.length; i += 3) bv[i] = av[i]!;
    const b = tf.tensor(bv, sb);
    for (const [name, op] of ops) same(`${name} ${JSON.stringify([sa, sb])}`, () => op(a, b));
    tf.dispose([a, b]);
  });
  // pow(x, 2) as tf.norm uses it, and other integer and fractional exponents.
  const x = rand([9, 5], 3);
  same("pow by 2", () => tf.pow(x, tf.scalar(2)));
  same("pow by 1", () => tf.pow(x, tf.scalar(1)));
  same("pow by -1", () => tf.pow(x, tf.scalar(-1)));
  same("pow by an int32 2 (tf.norm)", () => tf.pow(x, tf.scalar(2, "int32")));
  // Squares of arbitrary float32 bit patterns (every exponent, subnormals, NaN payloads).
  const patterns = new Int32Array(4096);
  const rng = new Rng(77);
  for (let k = 0; k < patterns.length; k++) patterns[k] = rng.nextUint32() | 0;
  const anyFloat = tf.tensor(new Float32Array(patterns.buffer), [4096]);
  same("pow of any float32 by 2", () => tf.pow(anyFloat, tf.scalar(2)));
  anyFloat.dispose();
  same("pow by 0.5", () => tf.pow(tf.abs(x), tf.scalar(0.5)));
  // float32 tensors cast from int32 and bool keep their Int32Array/Uint8Array storage in tfjs.
  const i = ints([4, 6], 5);
  const fromInt = tf.cast(i, "float32");
  const fromBool = tf.cast(tf.greater(rand([4, 6], 8), 0), "float32");
  const y = rand([4, 6], 9);
  for (const [name, op] of ops) {
    same(`${name} of casts`, () => [op(fromInt, y), op(y, fromBool), op(fromBool, fromInt)]);
  }
  same("unary of a cast", () => tf.exp(fromInt));
  same("structural of a cast", () => tf.concat([tf.transpose(fromBool), tf.transpose(fromInt)], 0));
  // Left to tfjs: an int that float32 cannot hold (tfjs computes with it as it is), int32 operands,
  // and shapes that do not broadcast (tfjs's own error).
  const big = tf.cast(tf.tensor1d([16777217, 3], "int32"), "float32");
  same("float32 holding 2^24 + 1", () => tf.add(big, tf.scalar(1)), false);
  // (int32 div is tf.floorDiv, another kernel)
  for (const [name, op] of ops) if (name !== "div") same(`${name} int32`, () => op(i, i), false);
  assert.throws(() => tf.add(rand([2, 3], 1), rand([3, 2], 2)), /could not be broadcast/);
  tf.dispose([x, y, i, fromInt, fromBool, big]);
});

test("unary kernels equal tfjs's", () => {
  const ops: [string, (x: tf.Tensor) => tf.Tensor][] = [
    ["neg", tf.neg], ["exp", tf.exp], ["log", tf.log], ["log1p", tf.log1p], ["sqrt", tf.sqrt], ["rsqrt", tf.rsqrt],
    ["reciprocal", tf.reciprocal], ["sign", tf.sign], ["relu", tf.relu], ["relu6", tf.relu6],
    ["elu", tf.elu], ["tanh", tf.tanh], ["sigmoid", tf.sigmoid], ["softplus", tf.softplus],
    ["leakyRelu", (x) => tf.leakyRelu(x, 0.2)], ["leakyRelu -0.5", (x) => tf.leakyRelu(x, -0.5)], ["leakyRelu 0", (x) => tf.leakyRelu(x, 0)],
    ["leakyRelu 1e-300", (x) => tf.leakyRelu(x, 1e-300)], ["leakyRelu 1e300", (x) => tf.leakyRelu(x, 1e300)],
    ["step", (x) => tf.step(x, 0.3)], ["step0", (x) => tf.step(x)], ["step -0", (x) => tf.step(x, -0)], ["step Inf", (x) => tf.step(x, -Infinity)],
    ["clipByValue", (x) => tf.clipByValue(x, -0.5, 0.7)],
  ];
  const shapes = [[0], [1], [], [9], [3, 4], [2, 3, 4]];
  // Around softplus's cut-offs (±13.9) and the ranges where exp over- and underflows in float32.
  const wide = tf.tensor([-120, -90, -20, -13.9, -13.8, -5, 5, 13.8, 13.9, 20, 90, 120, 0.5, -0.5, 6, 6.5]);
  shapes.forEach((shape, c) => {
    const x = rand(shape, 70 + c);
    for (const [name, op] of ops) same(`${name} ${JSON.stringify(shape)}`, () => op(x));
    x.dispose();
  });
  for (const [name, op] of ops) same(`${name} wide range`, () => op(wide));
  const i = ints([3, 4], 6);
  same("neg int32", () => tf.neg(i), false);
  same("relu int32", () => tf.relu(i), false);
  tf.dispose([wide, i]);
});

test("reductions equal tfjs's over leading and trailing axes", () => {
  const cases: [number[], (number | number[] | undefined)[]][] = [
    [[6, 5], [0, 1, -1, -2, undefined, [0, 1]]],
    [[2, 3, 4], [0, [0, 1], 2, [1, 2], -1, undefined]],
    [[7], [0, undefined]],
    [[], [undefined]],
    [[0, 5], [1]],
    [[5, 0], [0]],
    [[1, 1, 3], [0, [0, 1], 2]],
  ];
  const ops: [string, (x: tf.Tensor, axis: number | number[] | undefined, keepDims: boolean) => tf.Tensor][] = [
    ["sum", (x, a, k) => tf.sum(x, a, k)],
    ["mean", (x, a, k) => tf.mean(x, a, k)],
    ["max", (x, a, k) => tf.max(x, a, k)],
    ["min", (x, a, k) => tf.min(x, a, k)],
  ];
  cases.forEach(([shape, axes], c) => {
    // Max/Min also on NaN-free data, where NaN does not short-cut the comparison.
    for (const special of [true, false]) {
      const x = rand(shape, 90 + c, special);
      for (const axis of axes) {
        for (const keepDims of [false, true]) {
          for (const [name, op] of ops) same(`${name} ${JSON.stringify([shape, axis, keepDims, special])}`, () => op(x, axis, keepDims));
        }
      }
      x.dispose();
    }
  });
  // Left to tfjs: middle and unsorted axes (tfjs sums those in another order), empty max, int32.
  const x = rand([2, 3, 4], 9);
  for (const [name, op] of ops) {
    same(`${name} middle axis`, () => op(x, 1, false), false);
    same(`${name} unsorted axes`, () => op(x, [1, 0], false), false);
    same(`${name} outer and inner axes`, () => op(x, [0, 2], true), false);
  }
  const empty = rand([5, 0], 1);
  same("max over an empty axis", () => tf.max(empty, 1), false);
  same("min over an empty axis", () => tf.min(empty, 1), false);
  same("sum over an empty axis", () => tf.sum(empty, 1));
  same("mean over an empty leading axis", () => tf.mean(tf.transpose(empty), 0));
  const i = ints([3, 4], 7);
  same("sum int32", () => tf.sum(i, 0), false);
  tf.dispose([x, empty, i]);
});

test("structural kernels equal tfjs's", () => {
  const x = rand([5, 7, 3], 1);
  const m = rand([37, 45], 2);
  const i = ints([6, 4], 3);
  // Slice
  for (const [begin, size] of [[[1, 2, 0], [3, 4, 3]], [[0, 0, 1], [5, 7, 2]], [[4, 6, 2], [1, 1, 1]], [[2, 0, 0], [0, 7, 3]], [[1, 0, 0], [-1, -1, -1]]]) {
    same(`slice ${JSON.stringify([begin, size])}`, () => tf.slice(x, begin!, size!));
  }
  same("slice int32", () => tf.slice(i, [1, 1], [3, 2]));
  same("slice rank 1", () => tf.slice(tf.range(0, 10), 3, 4));
  // SplitV
  same("split in 2 along axis 1", () => tf.split(m.slice([0, 0], [37, 44]), 2, 1));
  same("split by sizes along the last axis", () => tf.split(m, [10, 3, -1, 0], -1));
  same("split along axis 0", () => tf.split(m, [30, 7], 0));
  same("split a middle axis", () => tf.split(x, [3, 4], 1));
  same("split int32", () => tf.split(i, 2, 1));
  for (const sizes of [[-1, 3], [2, 2], [-1, -1]]) {
    assert.throws(() => tf.split(m.slice([0, 0], [3, 5]), sizes, 1), /sum of sizes|one negative/, `split by ${JSON.stringify(sizes)}`);
  }
  assert.throws(() => tf.split(m, 2, 1), /evenly divide/);
  // Concat
  same("concat axis 0", () => tf.concat([m, m.slice([0, 0], [3, 45])], 0));
  same("concat axis 1", () => tf.concat([m, m.slice([0, 0], [37, 5]), m], 1));
  same("concat axis -1 rank 3", () => tf.concat([x, x.slice([0, 0, 0], [5, 7, 1])], -1));
  same("concat middle axis", () => tf.concat([x, x], 1));
  same("concat rank 1", () => tf.concat([tf.range(0, 4), tf.range(5, 8)]));
  same("concat with an empty input", () => tf.concat([m, tf.zeros([37, 0]), m], 1));
  same("concat int32", () => tf.concat([i, i], 1));
  same("concat of one non-empty input", () => tf.concat([m, tf.zeros([0, 45])], 0), false);
  // PadV2
  same("pad 2-D", () => tf.pad(m, [[1, 2], [0, 3]]));
  same("pad with a constant", () => tf.pad(m, [[0, 0], [4, 1]], 1.5));
  same("pad rank 3", () => tf.pad(x, [[1, 0], [0, 2], [3, 1]], -2));
  same("pad rank 1", () => tf.pad(tf.range(0, 5), [[2, 3]]));
  same("pad an empty tensor", () => tf.pad(tf.zeros([0, 3]), [[1, 1], [0, 2]], 7));
  same("pad int32", () => tf.pad(i, [[1, 0], [2, 2]], 3));
  // Transpose
  same("transpose 2-D", () => tf.transpose(m));
  same("transpose identity", () => tf.transpose(m, [0, 1]));
  for (const perm of [[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0], [0, 1, 2]]) {
    same(`transpose ${JSON.stringify(perm)}`, () => tf.transpose(x, perm));
  }
  same("transpose with unit dims", () => tf.transpose(rand([1, 5, 1, 3], 4), [3, 2, 0, 1]));
  same("transpose big tiles", () => tf.transpose(rand([70, 33], 5)));
  same("transpose int32", () => tf.transpose(i));
  same("transpose empty", () => tf.transpose(tf.zeros([0, 4])));
  // Select (tf.where broadcasts its operands to one shape before the kernel)
  const mask = tf.greater(m, 0);
  same("where", () => tf.where(mask, m, tf.neg(m)));
  same("where with a broadcast condition", () => tf.where(tf.greater(m.slice([0, 0], [37, 1]), 0), m, tf.exp(m)));
  const iNeg = tf.mul(i, tf.scalar(-1, "int32"));
  same("where int32", () => tf.where(tf.greater(i, 0), i, iNeg));
  same("where rank 1", () => tf.where(tf.tensor1d([true, false, true], "bool"), tf.tensor1d([1, 2, 3]), tf.tensor1d([NaN, -0, 6])));
  same("where of an empty tensor", () => tf.where(tf.zeros([0, 2], "bool"), tf.zeros([0, 2]), tf.ones([0, 2])));
  tf.dispose([mask, iNeg]);
  // GatherV2
  const ids = tf.tensor1d([6, 0, 6, 2, 36, 1], "int32");
  same("gather rows", () => tf.gather(m, ids));
  same("gather columns", () => tf.gather(m, ids, 1));
  same("gather a middle axis", () => tf.gather(x, tf.tensor1d([2, 2, 0], "int32"), 1));
  same("gather with 2-D indices", () => tf.gather(m, tf.tensor2d([[1, 2], [3, 36]], [2, 2], "int32")));
  same("gather rank 1", () => tf.gather(tf.range(0, 9), tf.tensor1d([8, 0], "int32")));
  same("gather int32", () => tf.gather(i, tf.tensor1d([5, 5, 0], "int32")));
  same("gather nothing", () => tf.gather(m, tf.tensor1d([], "int32")));
  assert.throws(() => tf.gather(m, tf.tensor1d([37], "int32")), /not in \[0, 36\]/);
  tf.dispose([x, m, i, ids]);
});

test("large operands (the addon's copies, arithmetic and column sums when it is built) equal tfjs's", () => {
  // Above the sizes where the repairs hand the work to native/src/array_ops.cc and row_ops.cc's columnSums.
  const m = rand([300, 130], 11);
  const other = rand([300, 130], 12);
  const row = rand([130], 13);
  const column = rand([300, 1], 14);
  const long = rand([70001], 15);
  const longOther = rand([70001], 16);
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [["add", tf.add], ["sub", tf.sub], ["mul", tf.mul], ["div", tf.div]];
  for (const [name, op] of ops) {
    same(`${name} same shape`, () => op(m, other));
    same(`${name} bias row`, () => op(m, row));
    same(`${name} bias row on the left`, () => op(row, m));
    same(`${name} row scale`, () => op(m, column));
    same(`${name} outer product`, () => op(column, tf.reshape(row, [1, 130])));
    same(`${name} scalar`, () => op(m, tf.scalar(-1.5)));
    same(`${name} scalar on the left`, () => op(tf.scalar(0.25), m));
    same(`${name} one long run`, () => op(long, longOther));
    same(`${name} one long run and a scalar`, () => op(long, tf.scalar(3)));
    same(`${name} three broadcast levels`, () => op(tf.reshape(m, [300, 1, 130]), tf.reshape(other.slice([0, 0], [2, 130]), [1, 2, 130])));
  }
  same("sum over the leading axis", () => tf.sum(m, 0));
  same("sum over the leading axes, kept", () => tf.sum(tf.reshape(m, [30, 10, 130]), [0, 1], true));
  same("slice columns", () => tf.slice(m, [1, 7], [299, 100]));
  same("slice of a rank-3 block", () => tf.slice(tf.reshape(m, [30, 10, 130]), [2, 1, 3], [27, 8, 120]));
  same("split by sizes along the last axis", () => tf.split(m, [64, 32, 34], 1));
  same("concat along the last axis", () => tf.concat([m, other, m.slice([0, 0], [300, 5])], 1));
  const i = ints([400, 90], 17);
  same("split int32", () => tf.split(i, [40, 50], 1));
  same("concat int32", () => tf.concat([i, i], 1));
  tf.dispose([m, other, row, column, long, longOther, i]);
});

test("UnsortedSegmentSum (the gradient of gather) equals tfjs's for finite values", () => {
  // Many rows per segment, so that rounding after every addition would show.
  const rng = new Rng(5);
  const x = rand([300, 7], 21, false);
  const ids = tf.tensor1d(Int32Array.from({ length: 300 }, () => rng.int(12) - 1), "int32"); // -1: dropped
  same("segment sum", () => tf.unsortedSegmentSum(x, ids, 10));
  same("segment sum rank 3", () => tf.unsortedSegmentSum(x.reshape([300, 7, 1]), ids, 11));
  const rows = tf.tensor1d(Int32Array.from({ length: 300 }, () => rng.int(12)), "int32");
  const table = rand([12, 7], 22);
  same("gather gradient", () => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, rows), x)))(table));
  tf.dispose([x, ids, rows, table]);
});

test("gradients through the repaired kernels equal those through tfjs's", () => {
  const x = rand([6, 4], 11, false);
  const w = rand([4], 12, false);
  const c = rand([6, 1], 13, false);
  const f = (xs: tf.Tensor, ws: tf.Tensor, cs: tf.Tensor): tf.Scalar => {
    const y = tf.leakyRelu(tf.add(tf.mul(xs, ws), cs), 0.2);
    const z = tf.div(tf.sub(tf.tanh(y), tf.sigmoid(y)), tf.add(tf.norm(xs, "euclidean", 1, true), 1));
    const { mean, variance } = tf.moments(z, 0);
    const both = tf.concat([z, tf.exp(tf.neg(z))], 1);
    const [left, right] = tf.split(tf.pad(tf.transpose(both), [[1, 0], [0, 2]]), [3, 6], 0);
    const picked = tf.gather(right!, tf.tensor1d([0, 5, 5], "int32"));
    return tf.addN([
      tf.sum(variance),
      tf.mean(mean),
      tf.sum(tf.max(z, 1)),
      tf.sum(tf.mul(left!, left!)),
      tf.sum(tf.relu(tf.sqrt(tf.add(tf.exp(picked), 1)))),
      tf.sum(tf.maximum(tf.softplus(z), tf.scalar(0.4))),
    ]) as tf.Scalar;
  };
  same("gradients", () => tf.grads(f)([x, w, c]));
  tf.dispose([x, w, c]);
});
