import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { bprLoss } from "../../src/losses/bpr";
import { solosimLoss } from "../../src/losses/solosim";
import { diagonalCrossEntropy } from "../../src/losses/diagonalCrossEntropy";
import "../../src/backend/fused/diagonalCrossEntropy"; // registers the fast kernel (no selectBackend here)
import { IMPLEMENTATIONS, withImplementation } from "../../src/backend/implementation";
import { orthogonalPenalty } from "../../src/losses/orthogonal";
import { negL2 } from "../../src/losses/negL2";
import { Rng } from "../../src/util/rng";
import { assertAllClose, assertClose, finiteDifferences, normalizeRows64, randomMatrix } from "./helpers";

before(async () => {
  await tf.setBackend("cpu");
});

// ---------- float64 references, written independently of the library ----------

function bpr64(pos: ArrayLike<number>, neg: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < pos.length; i++) s += -Math.log2(1 / (1 + Math.exp(-(pos[i]! - neg[i]!))));
  return s / pos.length;
}

/** Brute force: the full N×N log-softmax matrix (rows, or columns too), then its diagonal. */
function diagonalCe64(s: Float64Array, n: number, both: boolean): number {
  const logSoftmaxDiag = (rowsAlong: boolean): number => {
    let total = 0;
    for (let i = 0; i < n; i++) {
      const logp = new Float64Array(n);
      let sum = 0;
      for (let j = 0; j < n; j++) sum += Math.exp(rowsAlong ? s[i * n + j]! : s[j * n + i]!);
      for (let j = 0; j < n; j++) logp[j] = (rowsAlong ? s[i * n + j]! : s[j * n + i]!) - Math.log(sum);
      total += -logp[i]!;
    }
    return total / n;
  };
  return both ? (logSoftmaxDiag(true) + logSoftmaxDiag(false)) / 2 : logSoftmaxDiag(true);
}

function solosim64(a: Float64Array, b: Float64Array, n: number, d: number, tau: number): number {
  const an = normalizeRows64(a, n, d);
  const bn = normalizeRows64(b, n, d);
  const s = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += an[i * d + k]! * bn[j * d + k]!;
      s[i * n + j] = dot / tau;
    }
  }
  return diagonalCe64(s, n, false);
}

function tensor2d(v: Float64Array, rows: number, cols: number): tf.Tensor2D {
  return tf.tensor2d(Float32Array.from(v), [rows, cols]);
}

// ---------- BPR ----------

test("bprLoss equals −mean(log2 σ(pos − neg)) computed in float64", () => {
  const rng = new Rng(1);
  const pos = randomMatrix(rng, 1, 50, 3);
  const neg = randomMatrix(rng, 1, 50, 3);
  const value = tf.tidy(() => bprLoss(tf.tensor1d(Float32Array.from(pos)), tf.tensor1d(Float32Array.from(neg))).dataSync()[0]!);
  assertClose(value, bpr64(pos, neg), "bpr");
});

test("bprLoss stays finite at pos − neg = −200, where the reference's log2(sigmoid) is +inf in float32", () => {
  const { stable, naive, gradPos } = tf.tidy(() => {
    const pos = tf.tensor1d([-100, 3]);
    const neg = tf.tensor1d([100, 3]); // differences −200 and an exact tie
    const naiveForm = tf.neg(tf.mean(tf.div(tf.log(tf.sigmoid(tf.sub(pos, neg))), Math.LN2)));
    const g = tf.grad((p: tf.Tensor) => bprLoss(p as tf.Tensor1D, neg))(pos);
    return { stable: bprLoss(pos, neg).dataSync()[0]!, naive: naiveForm.dataSync()[0]!, gradPos: Array.from(g.dataSync()) };
  });
  assert.equal(naive, Infinity, "the naive float32 form overflows (this is what the stable form avoids)");
  // mean of softplus(200)/ln2 and softplus(0)/ln2 = (200 + ln 2)/(2 ln 2)
  assertClose(stable, (200 + Math.LN2) / (2 * Math.LN2), "bpr at −200 and a tie");
  // d/dpos_i = −σ(neg_i − pos_i)/(N ln 2): σ(200) = 1, σ(0) = ½ (the tie gets the true derivative, not 0)
  assertAllClose(gradPos, [-1 / (2 * Math.LN2), -0.5 / (2 * Math.LN2)], "bpr gradient");
});

test("bprLoss gradient matches the analytic −σ(neg − pos)/(N ln 2) and +σ(neg − pos)/(N ln 2)", () => {
  const rng = new Rng(2);
  const pos = Float32Array.from(randomMatrix(rng, 1, 20, 4));
  const neg = Float32Array.from(randomMatrix(rng, 1, 20, 4));
  const [gp, gn] = tf.tidy(() => tf.grads((p: tf.Tensor, q: tf.Tensor) => bprLoss(p as tf.Tensor1D, q as tf.Tensor1D))([tf.tensor1d(pos), tf.tensor1d(neg)]).map((g) => Array.from(g.dataSync())));
  const sig = Array.from(pos, (p, i) => 1 / (1 + Math.exp(-(neg[i]! - p))) / (20 * Math.LN2));
  assertAllClose(gp!, sig.map((v) => -v), "d/dpos");
  assertAllClose(gn!, sig, "d/dneg");
});

test("bprLoss rejects mismatched inputs", () => {
  tf.tidy(() => assert.throws(() => bprLoss(tf.tensor1d([1, 2]), tf.tensor1d([1])), /equal length/));
});

// ---------- Solosim and the diagonal cross-entropy ----------

test("solosimLoss equals the brute-force N×N log-softmax diagonal (float64)", () => {
  const rng = new Rng(3);
  for (const [n, d, tau] of [[7, 5, 0.2], [12, 3, 0.046], [1, 4, 1]] as const) {
    const a = randomMatrix(rng, n, d);
    const b = randomMatrix(rng, n, d, 10); // scale must not matter (rows are normalised)
    const value = tf.tidy(() => solosimLoss(tensor2d(a, n, d), tensor2d(b, n, d), tau).dataSync()[0]!);
    assertClose(value, solosim64(a, b, n, d, tau), `solosim n=${n} d=${d} tau=${tau}`);
  }
});

test("solosimLoss gradients match float64 finite differences", () => {
  const rng = new Rng(4);
  const [n, d, tau] = [6, 4, 0.2];
  const a = randomMatrix(rng, n, d);
  const b = randomMatrix(rng, n, d);
  const [ga, gb] = tf.tidy(() =>
    tf.grads((x: tf.Tensor, y: tf.Tensor) => solosimLoss(x as tf.Tensor2D, y as tf.Tensor2D, tau))([tensor2d(a, n, d), tensor2d(b, n, d)]).map((g) => Array.from(g.dataSync())),
  );
  // float32 forward/backward vs float64 differences: agreement to ~1e-4 relative is what float32 allows.
  assertAllClose(ga!, finiteDifferences((x) => solosim64(x, b, n, d, tau), a), "d/da", 1e-3, 1e-5);
  assertAllClose(gb!, finiteDifferences((y) => solosim64(a, y, n, d, tau), b), "d/db", 1e-3, 1e-5);
});

test("solosimLoss: a zero row gives a finite loss and finite gradients (eps-guarded normalisation)", () => {
  const { value, grad } = tf.tidy(() => {
    const a = tf.tensor2d([[0, 0, 0], [1, 2, 3], [3, -1, 0]]);
    const b = tf.tensor2d([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    const g = tf.grad((x: tf.Tensor) => solosimLoss(x as tf.Tensor2D, b, 0.2))(a);
    return { value: solosimLoss(a, b, 0.2).dataSync()[0]!, grad: Array.from(g.dataSync()) };
  });
  assert.ok(Number.isFinite(value));
  assert.ok(grad.every(Number.isFinite), `gradient ${grad}`);
});

for (const implementation of IMPLEMENTATIONS) test(`diagonalCrossEntropy ('rows' and 'both') matches brute force, including its gradient (${implementation})`, () => withImplementation(implementation, () => {
  const rng = new Rng(5);
  const n = 5;
  const s = randomMatrix(rng, n, n, 3);
  s[7] = 120; // large scores must not overflow (max-shifted log-sum-exp)
  for (const direction of ["rows", "both"] as const) {
    const { value, grad } = tf.tidy(() => {
      const t = tensor2d(s, n, n);
      return {
        value: diagonalCrossEntropy(t, direction).dataSync()[0]!,
        grad: Array.from(tf.grad((x: tf.Tensor) => diagonalCrossEntropy(x as tf.Tensor2D, direction))(t).dataSync()),
      };
    });
    assertClose(value, diagonalCe64(s, n, direction === "both"), `loss ${direction}`);
    assertAllClose(grad, finiteDifferences((x) => diagonalCe64(x, n, direction === "both"), s), `gradient ${direction}`, 1e-4, 1e-6);
  }
  tf.tidy(() => assert.throws(() => diagonalCrossEntropy(tf.zeros([2, 3]) as tf.Tensor2D, "rows"), /square/));
}));

test("solosimLoss rejects a bad temperature and mismatched shapes", () => {
  tf.tidy(() => {
    const a = tf.ones([3, 2]) as tf.Tensor2D;
    assert.throws(() => solosimLoss(a, a, 0), /tau/);
    assert.throws(() => solosimLoss(a, tf.ones([3, 3]) as tf.Tensor2D, 0.2), /same shape/);
  });
});

// ---------- orthogonality and −L2 ----------

test("orthogonalPenalty: frobenius = ‖gᵀu‖²_F / n and cosine = mean cos²(g_i, u_i), against float64", () => {
  const rng = new Rng(6);
  const [n, dg, du] = [9, 4, 3];
  const g = randomMatrix(rng, n, dg);
  const u = randomMatrix(rng, n, du);
  let frob = 0;
  for (let a = 0; a < dg; a++) {
    for (let b = 0; b < du; b++) {
      let c = 0;
      for (let i = 0; i < n; i++) c += g[i * dg + a]! * u[i * du + b]!;
      frob += c * c;
    }
  }
  const value = tf.tidy(() => orthogonalPenalty(tensor2d(g, n, dg), tensor2d(u, n, du), "frobenius").dataSync()[0]!);
  assertClose(value, frob / n, "frobenius");

  const u2 = randomMatrix(rng, n, dg);
  const gn = normalizeRows64(g, n, dg);
  const un = normalizeRows64(u2, n, dg);
  let cos2 = 0;
  for (let i = 0; i < n; i++) {
    let c = 0;
    for (let k = 0; k < dg; k++) c += gn[i * dg + k]! * un[i * dg + k]!;
    cos2 += c * c;
  }
  const cosine = tf.tidy(() => orthogonalPenalty(tensor2d(g, n, dg), tensor2d(u2, n, dg), "cosine").dataSync()[0]!);
  assertClose(cosine, cos2 / n, "cosine");
});

test("orthogonalPenalty is 0 for orthogonal parts and 1 (cosine) for parallel ones", () => {
  const [orth, parallel] = tf.tidy(() => {
    const g = tf.tensor2d([[1, 0], [0, 2]]);
    const u = tf.tensor2d([[0, 3], [-1, 0]]);
    return [orthogonalPenalty(g, u, "cosine").dataSync()[0]!, orthogonalPenalty(g, tf.mul(g, -5) as tf.Tensor2D, "cosine").dataSync()[0]!];
  });
  assertClose(orth, 0, "orthogonal rows", 0, 1e-7);
  assertClose(parallel, 1, "parallel rows");
});

test("negL2 = −mean((g − u)²) against float64", () => {
  const rng = new Rng(7);
  const g = randomMatrix(rng, 5, 3);
  const u = randomMatrix(rng, 5, 3);
  let s = 0;
  for (let i = 0; i < g.length; i++) s += (g[i]! - u[i]!) ** 2;
  const value = tf.tidy(() => negL2(tensor2d(g, 5, 3), tensor2d(u, 5, 3)).dataSync()[0]!);
  assertClose(value, -s / g.length, "negL2");
});

test("losses and their gradients leak no tensors", () => {
  const a = tf.randomNormal([8, 4], 0, 1, "float32", 1) as tf.Tensor2D;
  const b = tf.randomNormal([8, 4], 0, 1, "float32", 2) as tf.Tensor2D;
  const p = tf.randomNormal([8], 0, 1, "float32", 3) as tf.Tensor1D;
  const q = tf.neg(p) as tf.Tensor1D;
  const s = tf.matMul(a, b, false, true);
  const before = tf.memory().numTensors;
  const outputs = [
    bprLoss(p, q),
    solosimLoss(a, b, 0.2),
    orthogonalPenalty(a, b, "frobenius"),
    orthogonalPenalty(a, b, "cosine"),
    negL2(a, b),
    diagonalCrossEntropy(s as tf.Tensor2D, "both"),
    ...tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.addN([solosimLoss(x as tf.Tensor2D, y as tf.Tensor2D, 0.5), orthogonalPenalty(x as tf.Tensor2D, y as tf.Tensor2D, "cosine")]))([a, b]),
    ...tf.grads((x: tf.Tensor, y: tf.Tensor) => bprLoss(x as tf.Tensor1D, y as tf.Tensor1D))([p, q]),
  ];
  assert.equal(tf.memory().numTensors, before + outputs.length, "only the returned tensors remain");
  tf.dispose(outputs);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([a, b, p, q, s]);
});
