import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { loadNativeAddon, lookUpNativeFunction } from "../../src/backend/addon";
import { disableNativeKernels, enableNativeKernels } from "../../src/backend/kernels";
import { solosimLoss } from "../../src/losses/solosim";
import { fusedSolosimApplies, type SolosimKernel } from "../../src/backend/fused/solosim";
import { fastKernelCalls, resetFastKernelCalls, withImplementation } from "../../src/backend/implementation";
import { Rng } from "../../src/util/rng";
import { assertClose, normalizeRows64 } from "./helpers";

// The fused kernel is native code: CI sets SEA_EXPECT_NATIVE=1 so a missing or stale addon fails there; elsewhere
// the native cases report why they could not run and check that the fused path refuses with that reason.
const lookup = lookUpNativeFunction("solosimForwardBackward");
const kernel: SolosimKernel | null = lookup.fn;

before(async () => {
  await tf.setBackend("cpu");
});

after(() => disableNativeKernels());

/** "fused": solosimLoss under the fast implementation with the native kernels active (so the kernel applies); "tfjs": under "reference". */
type SolosimPath = "fused" | "tfjs";

function solosimLossWith(a: tf.Tensor2D, b: tf.Tensor2D, tau: number, path: SolosimPath): tf.Scalar {
  if (path === "tfjs") return withImplementation("reference", () => solosimLoss(a, b, tau));
  const addon = loadNativeAddon();
  assert.ok(addon, "the fused path needs the addon");
  enableNativeKernels(addon);
  try {
    resetFastKernelCalls();
    const loss = withImplementation("fast", () => solosimLoss(a, b, tau));
    assert.equal(fastKernelCalls().get("solosimOfNormalized"), 1, "the fast kernel ran");
    return loss;
  } finally {
    disableNativeKernels();
  }
}

/** Runs `body` with the kernel, or (no kernel) fails under SEA_EXPECT_NATIVE=1 / reports and checks the refusal. */
function withKernel(t: test.TestContext, body: (k: SolosimKernel) => void): void {
  if (kernel) return body(kernel);
  assert.notEqual(process.env.SEA_EXPECT_NATIVE, "1", `SEA_EXPECT_NATIVE=1 but the fused Solosim kernel is unavailable: ${lookup.reason}`);
  t.diagnostic(`native solosimForwardBackward unavailable (${lookup.reason}); checked only that "fast" falls back to the readable composition`);
  tf.tidy(() => {
    const a = tf.ones([2, 3]) as tf.Tensor2D;
    assert.equal(fusedSolosimApplies(), false);
    resetFastKernelCalls();
    assert.ok(Number.isFinite(withImplementation("fast", () => solosimLoss(a, a, 0.2)).dataSync()[0]!));
    assert.equal(fastKernelCalls().get("solosimOfNormalized") ?? 0, 0);
  });
}

// ---------- float64 reference, independent of the library ----------

interface Reference {
  loss: number;
  dA: Float64Array; // ∂loss/∂a for the rows as given (no normalisation inside)
  dB: Float64Array;
}

/** The full n×n score matrix, its row softmax and G = (P − I)/n, all in float64. */
function solosimOfRows64(a: ArrayLike<number>, b: ArrayLike<number>, n: number, d: number, tau: number): Reference {
  const s = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += a[i * d + k]! * b[j * d + k]!;
      s[i * n + j] = dot / tau;
    }
  }
  let loss = 0;
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) max = Math.max(max, s[i * n + j]!);
    let sum = 0;
    for (let j = 0; j < n; j++) sum += Math.exp(s[i * n + j]! - max);
    const lse = max + Math.log(sum);
    loss += lse - s[i * n + i]!;
    for (let j = 0; j < n; j++) g[i * n + j] = (Math.exp(s[i * n + j]! - lse) - (i === j ? 1 : 0)) / n;
  }
  const dA = new Float64Array(n * d);
  const dB = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const gij = g[i * n + j]! / tau;
      for (let k = 0; k < d; k++) {
        dA[i * d + k] += gij * b[j * d + k]!;
        dB[j * d + k] += gij * a[i * d + k]!;
      }
    }
  }
  return { loss: loss / n, dA, dB };
}

/** Gradient wrt the unnormalised rows x from the gradient wrt u = x/‖x‖: (g − (g·u)u)/‖x‖ per row. */
function throughNormalization64(x: ArrayLike<number>, gradU: Float64Array, n: number, d: number): Float64Array {
  const u = normalizeRows64(Float64Array.from(x), n, d);
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    let dot = 0;
    for (let k = 0; k < d; k++) {
      norm += x[i * d + k]! ** 2;
      dot += gradU[i * d + k]! * u[i * d + k]!;
    }
    norm = Math.sqrt(norm);
    for (let k = 0; k < d; k++) out[i * d + k] = (gradU[i * d + k]! - dot * u[i * d + k]!) / norm;
  }
  return out;
}

/** max |got − want| / max |want| ≤ tol (the scale of a gradient is its largest entry). */
function assertRelative(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = 1e-5): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let diff = 0;
  let scale = 1e-30;
  for (let i = 0; i < want.length; i++) {
    assert.ok(Number.isFinite(got[i]!), `${what}[${i}] = ${got[i]}`);
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  assert.ok(diff <= tol * scale, `${what}: max error ${diff.toExponential(2)} vs scale ${scale.toExponential(2)}`);
}

function randomRows(rng: Rng, n: number, d: number, scale = 1): Float32Array {
  const out = new Float32Array(n * d);
  rng.fillNormal(out, 0, scale);
  return out;
}

/** Float32 rows normalised in float64 and rounded: the kernel's input, and exactly what the reference sees. */
function unitRows(rng: Rng, n: number, d: number): Float32Array {
  return Float32Array.from(normalizeRows64(Float64Array.from(randomRows(rng, n, d)), n, d));
}

function runKernel(k: SolosimKernel, a: Float32Array, b: Float32Array, n: number, d: number, tau: number): { loss: number; dA: Float32Array; dB: Float32Array } {
  const dA = new Float32Array(n * d).fill(Number.NaN); // every entry must be written
  const dB = new Float32Array(n * d).fill(Number.NaN);
  const loss = k(a, b, n, d, 1 / tau, dA, dB);
  return { loss, dA, dB };
}

// ---------- the native kernel on normalised rows ----------

test("kernel: loss and both gradients match the float64 n×n computation (blocks, small tau, n = 1, d = 1)", (t) => {
  withKernel(t, (k) => {
    const rng = new Rng(11);
    // 256 rows per block in the kernel: 300 and 257 end on a partial block, 256 on a full one.
    const cases: [number, number, number][] = [[50, 4, 0.2], [257, 32, 0.1], [300, 8, 0.05], [256, 16, 1], [200, 32, 0.01], [1, 4, 0.2], [60, 1, 0.1], [1, 1, 0.5]];
    for (const [n, d, tau] of cases) {
      const a = unitRows(rng, n, d);
      const b = unitRows(rng, n, d);
      const want = solosimOfRows64(a, b, n, d, tau);
      const got = runKernel(k, a, b, n, d, tau);
      const what = `n=${n} d=${d} tau=${tau}`;
      assertClose(got.loss, want.loss, `${what} loss`, 1e-5, 1e-6);
      if (n === 1) {
        // One row: the softmax is [1], so the loss and both gradients are exactly zero.
        assert.equal(got.loss, 0, `${what} loss`);
        assert.deepEqual(Array.from(got.dA), new Array<number>(d).fill(0), `${what} dA`);
        assert.deepEqual(Array.from(got.dB), new Array<number>(d).fill(0), `${what} dB`);
        continue;
      }
      assertRelative(got.dA, want.dA, `${what} dA`);
      assertRelative(got.dB, want.dB, `${what} dB`);
    }
  });
});

test("kernel: confident rows (a = b, tau = 0.02) keep the loss and the small gradients accurate", (t) => {
  withKernel(t, (k) => {
    // Logits up to 50 with the positive on top: P_ii ≈ 1, so G's diagonal is a small difference.
    const rng = new Rng(12);
    const [n, d, tau] = [120, 16, 0.02];
    const a = unitRows(rng, n, d);
    const want = solosimOfRows64(a, a, n, d, tau);
    const got = runKernel(k, a, a, n, d, tau);
    assertClose(got.loss, want.loss, "loss", 1e-5, 1e-7);
    assertRelative(got.dA, want.dA, "dA");
    assertRelative(got.dB, want.dB, "dB");
  });
});

test("kernel: same inputs give bit-identical outputs, and a NaN score makes the loss NaN", (t) => {
  withKernel(t, (k) => {
    const rng = new Rng(13);
    const [n, d] = [300, 8];
    const a = unitRows(rng, n, d);
    const b = unitRows(rng, n, d);
    const first = runKernel(k, a, b, n, d, 0.1);
    const second = runKernel(k, a, b, n, d, 0.1);
    assert.equal(second.loss, first.loss);
    assert.deepEqual(second.dA, first.dA);
    assert.deepEqual(second.dB, first.dB);
    a[5 * d + 2] = Number.NaN;
    const poisoned = runKernel(k, a, b, n, d, 0.1);
    assert.ok(Number.isNaN(poisoned.loss), `loss ${poisoned.loss}`);
    assert.ok(Number.isNaN(poisoned.dA[5 * d]!), "the NaN row's gradient is NaN");
  });
});

// The kernel has one version per instruction set (AVX-512: hand-tiled fused products on 64-column padded rows
// in blocks of 32; AVX2 and baseline: sgemm blocks of 256 with a vector exp pass); SEA_SOLOSIM_ISA picks one,
// so every version this CPU can run is checked here, whatever the default on this machine is.
const ISAS = ["avx512", "avx2", "baseline"] as const;
const UNSUPPORTED_ISA = /asks for an instruction set this CPU \(or this build\) does not have/;

/** Runs `body` with SEA_SOLOSIM_ISA = isa; false (and a diagnostic) when this CPU cannot run that version. */
function withIsa(t: test.TestContext, isa: (typeof ISAS)[number], body: () => void): boolean {
  const before = process.env.SEA_SOLOSIM_ISA;
  process.env.SEA_SOLOSIM_ISA = isa;
  try {
    body();
    return true;
  } catch (e) {
    if (!UNSUPPORTED_ISA.test((e as Error).message)) throw e;
    t.diagnostic(`SEA_SOLOSIM_ISA=${isa}: not on this CPU, not checked`);
    return false;
  } finally {
    if (before === undefined) delete process.env.SEA_SOLOSIM_ISA;
    else process.env.SEA_SOLOSIM_ISA = before;
  }
}

test("kernel: every instruction-set version matches float64 (padding, tile and block edges, confident rows)", (t) => {
  withKernel(t, (k) => {
    // n around the fused path's 64-column padding, 4-row tiles and 32-row blocks (1, 2, 31, 63, 64, 65, 97) and
    // past the sgemm path's 256-row block (300); d around the fused tiles' 4 and 8 features (1, 3, 9, 33).
    const cases: [number, number, number][] = [[1, 3, 0.2], [2, 9, 0.1], [31, 33, 0.2], [63, 1, 0.5], [64, 8, 0.05], [65, 4, 0.2], [97, 32, 0.1], [130, 17, 0.3], [300, 6, 0.1]];
    const checked: string[] = [];
    for (const isa of ISAS) {
      const ran = withIsa(t, isa, () => {
        const rng = new Rng(14);
        for (const [n, d, tau] of cases) {
          const a = unitRows(rng, n, d);
          const b = unitRows(rng, n, d);
          const want = solosimOfRows64(a, b, n, d, tau);
          const got = runKernel(k, a, b, n, d, tau);
          const what = `${isa} n=${n} d=${d} tau=${tau}`;
          assertClose(got.loss, want.loss, `${what} loss`, 1e-5, 1e-6);
          if (n === 1) {
            assert.deepEqual([got.loss, ...got.dA, ...got.dB], new Array<number>(1 + 2 * d).fill(0), `${what}: all zero`);
            continue;
          }
          assertRelative(got.dA, want.dA, `${what} dA`);
          assertRelative(got.dB, want.dB, `${what} dB`);
        }
        // Confident rows (P_ii ≈ 1): the small diagonal of G must survive on every version. Scores up to 50 are
        // float32 to ±ulp(50)/2 ≈ 2e-6, which alone moves the gradients by up to ~2e-5 of their scale (seen on
        // the sgemm path as on the fused one); the float cancellation this guards against costs ~3e-3.
        const [n, d, tau] = [75, 16, 0.02];
        const a = unitRows(rng, n, d);
        const want = solosimOfRows64(a, a, n, d, tau);
        const got = runKernel(k, a, a, n, d, tau);
        assertClose(got.loss, want.loss, `${isa} confident loss`, 1e-5, 1e-7);
        assertRelative(got.dA, want.dA, `${isa} confident dA`, 5e-5);
        assertRelative(got.dB, want.dB, `${isa} confident dB`, 5e-5);
        // A NaN score (row 40 of a, past the first block of 32) makes the loss and that row's gradient NaN.
        a[40 * d + 3] = Number.NaN;
        const poisoned = runKernel(k, a, unitRows(rng, n, d), n, d, tau);
        assert.ok(Number.isNaN(poisoned.loss) && Number.isNaN(poisoned.dA[40 * d]!), `${isa}: NaN propagates`);
      });
      if (ran) checked.push(isa);
    }
    assert.ok(checked.includes("baseline"), "every CPU runs the baseline version");
    t.diagnostic(`checked: ${checked.join(", ")}`);
  });
});

test("kernel: the loss does not depend on the thread count (every version); gradients agree to float rounding", (t) => {
  withKernel(t, (k) => {
    const addon = loadNativeAddon()!;
    const threadsBefore = addon.getThreads();
    const rng = new Rng(15);
    const [n, d, tau] = [600, 12, 0.1]; // enough rows for two threads on both paths
    const a = unitRows(rng, n, d);
    const b = unitRows(rng, n, d);
    try {
      for (const isa of ISAS) {
        withIsa(t, isa, () => {
          addon.setThreads(1);
          const one = runKernel(k, a, b, n, d, tau);
          addon.setThreads(2);
          const two = runKernel(k, a, b, n, d, tau);
          assert.equal(two.loss, one.loss, `${isa}: loss with 1 and 2 threads`);
          assertRelative(two.dA, one.dA, `${isa} dA, 2 vs 1 threads`, 1e-6);
          assertRelative(two.dB, one.dB, `${isa} dB, 2 vs 1 threads`, 1e-6);
        });
      }
    } finally {
      addon.setThreads(threadsBefore);
    }
  });
});

test("kernel: an unknown SEA_SOLOSIM_ISA is refused with a message naming the variable", (t) => {
  withKernel(t, (k) => {
    const before = process.env.SEA_SOLOSIM_ISA;
    process.env.SEA_SOLOSIM_ISA = "sse9";
    try {
      const a = new Float32Array([1, 0, 0, 1]);
      assert.throws(() => runKernel(k, a, a, 2, 2, 0.5), /SEA_SOLOSIM_ISA must be avx512, avx2 or baseline \(got "sse9"\)/);
    } finally {
      if (before === undefined) delete process.env.SEA_SOLOSIM_ISA;
      else process.env.SEA_SOLOSIM_ISA = before;
    }
  });
});

test("kernel: bad arguments throw a message naming the argument", (t) => {
  withKernel(t, (k) => {
    const [n, d] = [4, 3];
    const a = new Float32Array(n * d).fill(0.5);
    const b = new Float32Array(n * d).fill(0.5);
    const dA = new Float32Array(n * d);
    const dB = new Float32Array(n * d);
    const call = (...args: unknown[]): number => (k as unknown as (...x: unknown[]) => number)(...args);
    assert.throws(() => call(a, b, n, d, 5, dA), /solosimForwardBackward: expects 7 arguments/);
    assert.throws(() => call(new Float32Array(n * d - 1), b, n, d, 5, dA, dB), /a must have n·d = 12 entries \(got 11\)/);
    assert.throws(() => call(a, new Float32Array(n * d + 3), n, d, 5, dA, dB), /b must have n·d = 12 entries \(got 15\)/);
    assert.throws(() => call(a, b, n, d, 5, new Float32Array(2), dB), /dA must have n·d = 12 entries/);
    assert.throws(() => call(a, b, n, d, 5, dA, new Float32Array(20)), /dB must have n·d = 12 entries/);
    assert.throws(() => call(new Float64Array(n * d), b, n, d, 5, dA, dB), /a must be a Float32Array/);
    assert.throws(() => call(a, b, 0, d, 5, new Float32Array(0), new Float32Array(0)), /n must be at least 1/);
    assert.throws(() => call(a, b, 2.5, d, 5, dA, dB), /n must be an integer/);
    assert.throws(() => call(a, b, n, -1, 5, dA, dB), /d must be an integer/);
    for (const invTau of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 1e39]) {
      assert.throws(() => call(a, b, n, d, invTau, dA, dB), /invTau must be a positive finite number/, `invTau ${invTau}`);
    }
    assert.throws(() => call(a, b, n, d, "5", dA, dB), /invTau must be a number/);
    assert.throws(() => call(a, b, n, d, 5, a, dB), /must not share memory/);
    assert.throws(() => call(a, b, n, d, 5, dA, dA), /must not share memory/);
    const shared = new Float32Array(2 * n * d);
    assert.throws(() => call(shared.subarray(0, n * d), b, n, d, 5, dA, shared.subarray(n * d - 1, 2 * n * d - 1)), /must not share memory/);
    // a and b may be the same array (Solosim of a view with itself).
    assert.ok(Number.isFinite(call(a, a, n, d, 5, dA, dB)));
  });
});

// ---------- solosimLoss on the fused path: through the normalisation, against tfjs and float64 ----------

function lossAndGrads(a: Float32Array, b: Float32Array, n: number, d: number, tau: number, path: SolosimPath): { loss: number; ga: Float32Array; gb: Float32Array } {
  return tf.tidy(() => {
    const f = (x: tf.Tensor, y: tf.Tensor): tf.Scalar => solosimLossWith(x as tf.Tensor2D, y as tf.Tensor2D, tau, path);
    const { value, grads } = tf.valueAndGrads(f)([tf.tensor2d(a, [n, d]), tf.tensor2d(b, [n, d])]);
    return { loss: value.dataSync()[0]!, ga: grads[0]!.dataSync() as Float32Array, gb: grads[1]!.dataSync() as Float32Array };
  });
}

test("solosimLoss's fast kernel: loss and gradients wrt the unnormalised rows match float64 and the tfjs path", (t) => {
  withKernel(t, () => {
    const rng = new Rng(21);
    for (const [n, d, tau] of [[90, 12, 0.2], [270, 32, 0.1], [1, 5, 0.2], [40, 1, 0.3]] as const) {
      const a = randomRows(rng, n, d, 3); // not unit rows: the normalisation and its gradient are part of the loss
      const b = randomRows(rng, n, d, 0.5);
      const fused = lossAndGrads(a, b, n, d, tau, "fused");
      const viaTfjs = lossAndGrads(a, b, n, d, tau, "tfjs");
      const ref = solosimOfRows64(normalizeRows64(Float64Array.from(a), n, d), normalizeRows64(Float64Array.from(b), n, d), n, d, tau);
      const wantGa = throughNormalization64(a, ref.dA, n, d);
      const wantGb = throughNormalization64(b, ref.dB, n, d);
      const what = `n=${n} d=${d} tau=${tau}`;
      assertClose(fused.loss, ref.loss, `${what} loss vs float64`, 1e-5, 1e-6);
      assertClose(fused.loss, viaTfjs.loss, `${what} loss vs tfjs`, 1e-5, 1e-6);
      if (n === 1) {
        // One row: the softmax is [1], G = 0, and so are both gradients.
        assert.ok(fused.ga.every((v) => v === 0) && fused.gb.every((v) => v === 0), `${what} gradients are zero`);
        continue;
      }
      if (d === 1) {
        // Every unit row is ±1, where the normalisation's Jacobian vanishes: zero up to float rounding.
        assert.ok([...fused.ga, ...fused.gb].every((v) => Math.abs(v) <= 1e-6), `${what} gradients are ~0`);
        continue;
      }
      assertRelative(fused.ga, wantGa, `${what} d/da vs float64`);
      assertRelative(fused.gb, wantGb, `${what} d/db vs float64`);
      assertRelative(fused.ga, viaTfjs.ga, `${what} d/da vs tfjs`);
      assertRelative(fused.gb, viaTfjs.gb, `${what} d/db vs tfjs`);
    }
    tf.tidy(() => {
      const empty = tf.zeros([0, 3]) as tf.Tensor2D;
      assert.throws(() => solosimLossWith(empty, empty, 0.2, "fused"), /solosimLoss: expected at least one row/);
    });
  });
});

test("under \"fast\", solosimLoss runs the fused kernel exactly when the native kernels are active on the cpu backend", (t) => {
  withKernel(t, () => {
    const addon = loadNativeAddon();
    assert.ok(addon, "the kernel came from the addon");
    const rng = new Rng(22);
    const [n, d] = [30, 6];
    const a = randomRows(rng, n, d);
    const b = randomRows(rng, n, d);
    const loss = (path: SolosimPath | "default"): number =>
      tf.tidy(() => {
        const [x, y] = [tf.tensor2d(a, [n, d]), tf.tensor2d(b, [n, d])];
        return (path === "default" ? solosimLoss(x, y, 0.2) : solosimLossWith(x, y, 0.2, path)).dataSync()[0]!;
      });
    disableNativeKernels();
    assert.equal(fusedSolosimApplies(), false);
    resetFastKernelCalls();
    assert.equal(loss("default"), loss("tfjs"));
    assert.equal(fastKernelCalls().get("solosimOfNormalized") ?? 0, 0);
    const fused = loss("fused");
    enableNativeKernels(addon);
    try {
      assert.equal(fusedSolosimApplies(), true);
      assert.equal(loss("default"), fused);
    } finally {
      disableNativeKernels();
    }
  });
});

test("fused path: no tensors leak over repeated variableGrads steps, and loss-only calls hold none", (t) => {
  withKernel(t, () => {
    const rng = new Rng(23);
    const [n, d] = [64, 8];
    const va = tf.variable(tf.tensor2d(randomRows(rng, n, d), [n, d]));
    const vb = tf.variable(tf.tensor2d(randomRows(rng, n, d), [n, d]));
    const counts: number[] = [];
    for (let step = 0; step < 4; step++) {
      const { value, grads } = tf.variableGrads(() => solosimLossWith(va, vb, 0.2, "fused"), [va, vb]);
      const next = tf.tidy(() => tf.sub(va, tf.mul(grads[va.name]!, 0.1)) as tf.Tensor2D);
      va.assign(next);
      tf.dispose([next, value, ...Object.values(grads)]);
      const lossOnly = solosimLossWith(va, vb, 0.2, "fused");
      lossOnly.dispose();
      counts.push(tf.memory().numTensors);
    }
    assert.ok(counts.every((c) => c === counts[0]), `tensor counts ${counts}`);
    tf.dispose([va, vb]);
  });
});

test("solosimLoss keeps its argument checks under both implementations", () => {
  tf.tidy(() => {
    const a = tf.ones([3, 2]) as tf.Tensor2D;
    for (const path of (loadNativeAddon() ? ["fused", "tfjs"] : ["tfjs"]) as SolosimPath[]) {
      assert.throws(() => solosimLossWith(a, a, -1, path), /tau must be a positive number/);
      assert.throws(() => solosimLossWith(a, tf.ones([3, 3]) as tf.Tensor2D, 0.2, path), /same shape/);
    }
  });
});
