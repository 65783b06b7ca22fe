import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { csrFromCoo, csrTranspose, type Csr } from "../../src/util/csr";
import { selectBackend } from "../../src/backend/select";
import { jsSpmm, SparseMatrix, type SparseStrategy } from "../../src/backend/sparse";
import { Rng } from "../../src/util/rng";
import { assertClose, assertNoLeak, availableAddon, NATIVE_SKIP, randomArray } from "./helpers";

const addon = availableAddon();

before(async () => {
  await selectBackend({ quiet: true, backend: addon ? "native" : "cpu" });
});

/** Random CSR with about `density` non-zeros per cell; row 0 is always empty (an isolated node). */
function randomCsr(rng: Rng, nRows: number, nCols: number, density: number): Csr {
  const rows: number[] = [];
  const cols: number[] = [];
  const vals: number[] = [];
  for (let i = 1; i < nRows; i++) {
    for (let j = 0; j < nCols; j++) {
      if (rng.next() < density) {
        rows.push(i);
        cols.push(j);
        vals.push(rng.normal());
      }
    }
  }
  return csrFromCoo(nRows, nCols, rows, cols, vals);
}

/** Float64 A·X straight from the CSR arrays. */
function referenceSpmm(m: Csr, x: Float32Array, d: number): Float64Array {
  const out = new Float64Array(m.nRows * d);
  for (let i = 0; i < m.nRows; i++) {
    for (let p = m.indptr[i]!; p < m.indptr[i + 1]!; p++) {
      for (let j = 0; j < d; j++) out[i * d + j]! += m.values[p]! * x[m.indices[p]! * d + j]!;
    }
  }
  return out;
}

const STRATEGIES: SparseStrategy[] = ["auto", "js", "ops", "native"];

describe("SparseMatrix", () => {
  for (const strategy of STRATEGIES) {
    test(`${strategy}: forward A·X and gradient Aᵀ·dy match float64 and dense matMul`, { skip: strategy === "native" && !addon && NATIVE_SKIP }, () => {
      const rng = new Rng(41);
      for (const [nRows, nCols, d, density] of [
        [23, 17, 5, 0.2],
        [1, 1, 1, 1],
        [9, 31, 1, 0.3],
        [12, 8, 16, 0],
      ] as const) {
        const csr = randomCsr(rng, nRows, nCols, density);
        const a = SparseMatrix.fromCsr(csr, { strategy });
        assert.deepEqual([a.nRows, a.nCols], [nRows, nCols]);
        const x = randomArray(rng, nCols * d);
        const w = randomArray(rng, nRows * d);
        const label = `${strategy} ${nRows}x${nCols} d=${d}`;
        tf.tidy(() => {
          const xt = tf.tensor2d(x, [nCols, d]);
          assertClose(a.matMul(xt).dataSync(), referenceSpmm(csr, x, d), `${label} forward`);
          // d/dX sum(W ∘ A·X) = Aᵀ·W: check against the float64 transpose product and dense tf.matMul's gradient.
          const loss = (s: (t: tf.Tensor2D) => tf.Tensor2D) => (t: tf.Tensor) => tf.sum(tf.mul(s(t as tf.Tensor2D), tf.tensor2d(w, [nRows, d])));
          const grad = tf.grad(loss((t) => a.matMul(t)))(xt);
          assertClose(grad.dataSync(), referenceSpmm(csrTranspose(csr), w, d), `${label} gradient`);
          const dense = a.toDense();
          const denseGrad = tf.grad(loss((t) => tf.matMul(dense, t)))(xt);
          assertClose(grad.dataSync(), denseGrad.dataSync(), `${label} gradient vs dense`);
          assertClose(a.transposeMatMul(tf.tensor2d(w, [nRows, d])).dataSync(), denseGrad.dataSync(), `${label} transposeMatMul`);
        });
      }
    });
  }

  test("an empty matrix and a zero-width operand give zeros of the right shape", () => {
    const empty = SparseMatrix.fromCsr(csrFromCoo(3, 4, [], [], []));
    tf.tidy(() => {
      const y = empty.matMul(tf.ones([4, 2]) as tf.Tensor2D);
      assert.deepEqual(y.shape, [3, 2]);
      assert.deepEqual(Array.from(y.dataSync()), [0, 0, 0, 0, 0, 0]);
      assert.deepEqual(empty.matMul(tf.zeros([4, 0]) as tf.Tensor2D).shape, [3, 0]);
    });
  });

  test("a hand-computed 2x3 product", () => {
    // A = [[1, 0, 2], [0, -1, 0]], X = [[1, 2], [3, 4], [5, 6]] → A·X = [[11, 14], [-3, -4]]
    const a = SparseMatrix.fromCsr(csrFromCoo(2, 3, [0, 0, 1], [0, 2, 1], [1, 2, -1]));
    const y = tf.tidy(() => a.matMul(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2])).dataSync());
    assert.deepEqual(Array.from(y), [11, 14, -3, -4]);
  });

  test("operands of the wrong shape are rejected with both shapes named", () => {
    const a = SparseMatrix.fromCsr(csrFromCoo(2, 3, [0], [1], [1]));
    const x = tf.zeros([2, 4]) as tf.Tensor2D;
    assert.throws(() => a.matMul(x), /operand of shape \[2,4\] does not fit a 2x3 sparse matrix \(need \[3, d\]\)/);
    x.dispose();
  });

  test("malformed CSR is a SeaError naming the problem", () => {
    const base = { nRows: 2, nCols: 3, indptr: Int32Array.of(0, 1, 2), indices: Int32Array.of(0, 2), values: Float32Array.of(1, 1) };
    assert.throws(() => SparseMatrix.fromCsr({ ...base, indices: Int32Array.of(0, 3) }), /SparseMatrix.fromCsr: column index 3 at entry 1 is outside \[0, 3\)/);
    assert.throws(() => SparseMatrix.fromCsr({ ...base, indptr: Int32Array.of(0, 2, 1) }), /indptr decreases at row 1/);
    assert.throws(() => SparseMatrix.fromCsr({ ...base, indptr: Int32Array.of(0, 2) }), /indptr must have nRows \+ 1 = 3 entries/);
    assert.throws(() => SparseMatrix.fromCsr({ ...base, indptr: Int32Array.of(0, 1, 5) }), /indptr ends at 5 but there are 2 indices/);
  });

  test("no tensor leaks across forward/backward loops", () => {
    const rng = new Rng(42);
    const a = SparseMatrix.fromCsr(randomCsr(rng, 30, 20, 0.1));
    const x = tf.variable(tf.randomNormal([20, 4]));
    const opt = tf.train.sgd(0.1);
    assertNoLeak("sparse training loop", () => {
      for (let i = 0; i < 10; i++) {
        tf.tidy(() => {
          opt.minimize(() => tf.sum(tf.square(a.matMul(x as unknown as tf.Tensor2D))));
        });
      }
    });
    x.dispose();
    opt.dispose();
  });
});

describe("native CSR kernels", () => {
  test("multithreaded spmm and the scatter transpose product equal the JS loop on a larger graph", { skip: !addon && NATIVE_SKIP }, () => {
    const rng = new Rng(43);
    // 4000 x 3000 with ~36k entries and d = 32: enough work for the kernel to use every thread.
    const csr = randomCsr(rng, 4000, 3000, 0.003);
    const d = 32;
    const x = randomArray(rng, 3000 * d);
    const got = new Float32Array(4000 * d);
    const want = new Float32Array(4000 * d);
    addon!.spmm(csr.indptr, csr.indices, csr.values, csr.nCols, x, d, got);
    jsSpmm(csr, x, d, want);
    assertClose(got, want, "spmm");
    const y = randomArray(rng, 4000 * d);
    const gotT = new Float32Array(3000 * d);
    const wantT = new Float32Array(3000 * d);
    addon!.spmmTranspose(csr.indptr, csr.indices, csr.values, csr.nCols, y, d, gotT);
    jsSpmm(csrTranspose(csr), y, d, wantT);
    assertClose(gotT, wantT, "spmmTranspose");
  });
});
