import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { registerCpuRepairKernels } from "../../src/backend/cpuKernels";
import { Rng } from "../../src/util/rng";

function random(shape: number[], seed: number): tf.Tensor {
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  new Rng(seed).fillNormal(values);
  return tf.tensor(values, shape);
}

/** Element (flat index) of a row-major array with `shape`, read at broadcast position. */
function at(values: Float32Array, shape: number[], outShape: number[], flat: number): number {
  let index = 0;
  let stride = 1;
  let rest = flat;
  const coords = new Array<number>(outShape.length);
  for (let d = outShape.length - 1; d >= 0; d--) {
    coords[d] = rest % outShape[d]!;
    rest = Math.floor(rest / outShape[d]!);
  }
  const offset = outShape.length - shape.length;
  for (let d = shape.length - 1; d >= 0; d--) {
    index += (shape[d] === 1 ? 0 : coords[d + offset]!) * stride;
    stride *= shape[d]!;
  }
  return values[index]!;
}

test("repaired cpu Slice, binary ops and UnsortedSegmentSum agree with a plain recomputation", async () => {
  await tf.setBackend("cpu");
  registerCpuRepairKernels();
  // Slice: contiguous and non-contiguous blocks, ranks 1–3.
  const x = random([5, 7, 3], 1);
  const xv = x.dataSync() as Float32Array;
  for (const [begin, size] of [[[1, 2, 0], [3, 4, 3]], [[0, 0, 1], [5, 7, 2]], [[4, 6, 2], [1, 1, 1]], [[2, 0, 0], [0, 7, 3]]] as const) {
    const s = tf.slice(x, [...begin], [...size]);
    const got = s.dataSync();
    let k = 0;
    for (let i = 0; i < size[0]; i++) for (let j = 0; j < size[1]; j++) for (let l = 0; l < size[2]; l++) {
      assert.equal(got[k++], xv[((begin[0] + i) * 7 + begin[1] + j) * 3 + begin[2] + l]);
    }
    assert.deepEqual(s.shape, [...size]);
    s.dispose();
  }
  // Binary ops under every broadcast the fast paths take, and one they hand back (middle-axis broadcast).
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, (p: number, q: number) => number][] = [
    ["add", tf.add, (p, q) => p + q],
    ["sub", tf.sub, (p, q) => p - q],
    ["mul", tf.mul, (p, q) => p * q],
    ["div", tf.div, (p, q) => p / q],
  ];
  const shapes: [number[], number[]][] = [[[4, 6], [4, 6]], [[4, 6], []], [[], [4, 6]], [[4, 6], [6]], [[1, 6], [4, 6]], [[4, 6], [4, 1]], [[4, 1], [4, 6]], [[2, 3, 4], [2, 1, 4]]];
  shapes.forEach(([sa, sb], c) => {
    const a = random(sa, 10 + c);
    const b = tf.add(tf.abs(random(sb, 20 + c)), 0.5); // no division by ~0
    const av = a.dataSync() as Float32Array;
    const bv = b.dataSync() as Float32Array;
    for (const [name, op, ref] of ops) {
      const out = op(a, b);
      const got = out.dataSync();
      for (let i = 0; i < got.length; i++) {
        const want = Math.fround(ref(at(av, sa, out.shape, i), at(bv, sb, out.shape, i)));
        assert.ok(Math.abs(got[i]! - want) <= 1e-6 * Math.max(1, Math.abs(want)), `${name} ${JSON.stringify([sa, sb])} at ${i}`);
      }
      out.dispose();
    }
    tf.dispose([a, b]);
  });
  // UnsortedSegmentSum through the gradient of gather, with repeated and absent rows.
  const table = random([6, 4], 3);
  const idx = tf.tensor1d([5, 0, 5, 2, 5], "int32");
  const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, idx), tf.range(0, 20).reshape([5, 4]))))(table);
  const g = grad.dataSync();
  const expected = new Float32Array(24);
  [5, 0, 5, 2, 5].forEach((row, i) => {
    for (let j = 0; j < 4; j++) expected[row * 4 + j]! += i * 4 + j;
  });
  assert.deepEqual(Array.from(g), Array.from(expected));
  tf.dispose([x, table, idx, grad]);
});
