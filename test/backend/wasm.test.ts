import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { csrFromCoo, csrTranspose } from "../../src/util/csr";
import { selectBackend } from "../../src/backend/select";
import { jsSpmm, SparseMatrix } from "../../src/backend/sparse";
import { Rng } from "../../src/util/rng";
import { assertClose, randomArray, referenceMatMul } from "./helpers";

// The wasm backend is the automatic choice when native kernels are unavailable; these tests check
// the repairs registered for it (src/backend/wasmKernels.ts) and the sparse product on it.
before(async () => {
  const info = await selectBackend({ backend: "wasm", quiet: true });
  assert.equal(info.name, "wasm");
  assert.equal(tf.getBackend(), "wasm");
});

describe("wasm backend", () => {
  test("gather's gradient (UnsortedSegmentSum) sums the rows picked more than once", () => {
    const g = tf.tidy(() => {
      const table = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
      const idx = tf.tensor1d([2, 0, 2, 2], "int32");
      return tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, idx)))(table).dataSync();
    });
    assert.deepEqual(Array.from(g), [1, 1, 0, 0, 3, 3]);
  });

  test("fused matMul with bias and transposes matches float64", () => {
    const rng = new Rng(51);
    for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const a = randomArray(rng, 20);
      const b = randomArray(rng, 30);
      const bias = randomArray(rng, 6);
      const aShape = tA ? [5, 4] : [4, 5];
      const bShape = tB ? [6, 5] : [5, 6];
      const want = referenceMatMul(a, aShape, b, bShape, tA, tB).values.map((v, i) => Math.max(0, v + bias[i % 6]!));
      const got = tf.tidy(() =>
        tf.fused.matMul({ a: tf.tensor2d(a, aShape as [number, number]), b: tf.tensor2d(b, bShape as [number, number]), transposeA: tA, transposeB: tB, bias: tf.tensor1d(bias), activation: "relu" }).dataSync(),
      );
      assertClose(got, want, `fused tA=${tA} tB=${tB}`);
    }
  });

  test("SparseMatrix forward and gradient, host (auto) and tf-ops strategies", () => {
    const rng = new Rng(52);
    const rows: number[] = [];
    const cols: number[] = [];
    const vals: number[] = [];
    for (let k = 0; k < 60; k++) {
      rows.push(rng.int(15));
      cols.push(rng.int(11));
      vals.push(rng.normal());
    }
    const csr = csrFromCoo(15, 11, rows, cols, vals);
    const x = randomArray(rng, 11 * 3);
    const w = randomArray(rng, 15 * 3);
    const want = new Float32Array(15 * 3);
    const wantGrad = new Float32Array(11 * 3);
    jsSpmm(csr, x, 3, want);
    jsSpmm(csrTranspose(csr), w, 3, wantGrad);
    for (const strategy of ["auto", "ops"] as const) {
      const a = SparseMatrix.fromCsr(csr, { strategy });
      tf.tidy(() => {
        const xt = tf.tensor2d(x, [11, 3]);
        assertClose(a.matMul(xt).dataSync(), want, `${strategy} forward`);
        const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(a.matMul(t as tf.Tensor2D), tf.tensor2d(w, [15, 3]))))(xt);
        assertClose(grad.dataSync(), wantGrad, `${strategy} gradient`);
      });
    }
  });
});
