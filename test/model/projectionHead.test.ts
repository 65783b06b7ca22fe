import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { projectionHeadRest, type ProjectionHeadParams } from "../../src/model/projectionHead";
import { nativeProjectionHeadPasses, projectionHeadFused, type ProjectionHeadPasses } from "../../src/backend/fused/projectionHead";
import { withImplementation } from "../../src/backend/implementation";
import { lookUpNativeFunction } from "../../src/backend/addon";
import { assertSameBits, availableAddon, withAddonThreads } from "../backend/helpers";
import { Rng } from "../../src/util/rng";

/** "fused": the fast kernel (through the dispatch for "auto" passes, so shapes are checked); "tfjs": the readable composition. */
type ProjectionHeadPath = "fused" | "tfjs";

function projectionHeadRestWith(h1: tf.Tensor2D, params: ProjectionHeadParams, path: ProjectionHeadPath, passes: ProjectionHeadPasses = "auto"): tf.Tensor2D {
  if (path === "tfjs") return withImplementation("reference", () => projectionHeadRest(h1, params));
  if (passes !== "auto") return projectionHeadFused(h1, params, passes);
  return withImplementation("fast", () => projectionHeadRest(h1, params));
}

const HIDDEN = 64;
const OUT = 32;

interface Setup {
  readonly h1: tf.Variable;
  readonly params: ProjectionHeadParams;
  /** Fixed weights of the random linear functional Σ R ⊙ output that the gradients differentiate. */
  readonly functional: tf.Tensor2D;
  readonly vars: tf.Variable[];
}

interface Overrides {
  /** Columns of h1 set to a constant (zero batch variance: BN's eps is all that divides). */
  readonly constantColumns?: readonly number[];
  readonly beta2?: number;
  readonly zeroBias3?: boolean;
}

function randomValues(rng: Rng, n: number, mean = 0, std = 1): Float32Array {
  const v = new Float32Array(n);
  rng.fillNormal(v, mean, std);
  return v;
}

function setUp(n: number, seed: number, o: Overrides = {}): Setup {
  const rng = new Rng(seed);
  const h1Values = randomValues(rng, n * HIDDEN, 0.3, 1.5);
  // 0.75 sums and divides exactly in float32, so both paths see a variance of exactly zero.
  for (const c of o.constantColumns ?? []) for (let i = 0; i < n; i++) h1Values[i * HIDDEN + c] = 0.75;
  const variable = (values: Float32Array, shape: number[]) => tf.variable(tf.tensor(values, shape, "float32"));
  const bound = 1 / Math.sqrt(HIDDEN);
  const params: ProjectionHeadParams = {
    bn1: { gamma: variable(randomValues(rng, HIDDEN, 1, 0.3), [HIDDEN]), beta: variable(randomValues(rng, HIDDEN, 0, 0.3), [HIDDEN]) },
    l2: { w: variable(randomValues(rng, HIDDEN * HIDDEN, 0, bound), [HIDDEN, HIDDEN]), b: variable(randomValues(rng, HIDDEN, 0, bound), [HIDDEN]) },
    bn2: {
      gamma: variable(randomValues(rng, HIDDEN, 1, 0.3), [HIDDEN]),
      beta: variable(o.beta2 === undefined ? randomValues(rng, HIDDEN, 0, 0.3) : new Float32Array(HIDDEN).fill(o.beta2), [HIDDEN]),
    },
    l3: {
      w: variable(randomValues(rng, HIDDEN * OUT, 0, bound), [HIDDEN, OUT]),
      b: variable(o.zeroBias3 ? new Float32Array(OUT) : randomValues(rng, OUT, 0, bound), [OUT]),
    },
  };
  const h1 = variable(h1Values, [n, HIDDEN]);
  const functional = tf.tensor2d(randomValues(rng, n * OUT), [n, OUT]);
  const p = params;
  const vars = [h1, p.bn1.gamma, p.bn1.beta, p.l2.w, p.l2.b, p.bn2.gamma, p.bn2.beta, p.l3.w, p.l3.b] as tf.Variable[];
  return { h1, params, functional, vars };
}

function tearDown(s: Setup): void {
  for (const v of s.vars) v.dispose();
  s.functional.dispose();
}

const NAMES = ["h1", "bn1.gamma", "bn1.beta", "l2.w", "l2.b", "bn2.gamma", "bn2.beta", "l3.w", "l3.b"];

/** Output and the gradients of Σ R ⊙ output w.r.t. h1 and the eight parameters, as host arrays. */
function run(s: Setup, path: ProjectionHeadPath, passes: ProjectionHeadPasses = "auto"): { out: Float32Array; grads: Float32Array[] } {
  const out = tf.tidy(() => projectionHeadRestWith(s.h1 as tf.Tensor as tf.Tensor2D, s.params, path, passes).dataSync() as Float32Array);
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.mul(projectionHeadRestWith(s.h1 as tf.Tensor as tf.Tensor2D, s.params, path, passes), s.functional)) as tf.Scalar,
    s.vars,
  );
  const arrays = s.vars.map((v) => {
    const g = grads[v.name];
    assert.ok(g, `no gradient for ${v.name}`);
    return g.dataSync() as Float32Array;
  });
  value.dispose();
  for (const g of Object.values(grads)) g.dispose();
  return { out: Float32Array.from(out), grads: arrays };
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

/** max |a − b| over max(|a|, |b|): one scale per tensor. */
function relDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  return diff / Math.max(maxAbs(a), maxAbs(b), 1e-30);
}

function assertAllFinite(name: string, a: Float32Array): void {
  for (let i = 0; i < a.length; i++) assert.ok(Number.isFinite(a[i]!), `${name}[${i}] = ${a[i]} is not finite`);
}

/**
 * Compares the fused op with the tfjs composition. l2.b's exact gradient is zero (BN removes any column
 * shift), so both paths give rounding noise there: it is checked against the scale of bn2.beta's gradient
 * (the same column sums before BN's backward), not against itself.
 */
function assertPathsAgree(s: Setup, tolerance: number): { out: Float32Array; grads: Float32Array[] } {
  const fused = run(s, "fused");
  const ref = run(s, "tfjs");
  assert.ok(relDiff(fused.out, ref.out) < tolerance, `output: rel. diff ${relDiff(fused.out, ref.out)}`);
  for (let k = 0; k < NAMES.length; k++) {
    assertAllFinite(`fused d${NAMES[k]}`, fused.grads[k]!);
    if (NAMES[k] === "l2.b") {
      const scale = Math.max(maxAbs(fused.grads[6]!), maxAbs(ref.grads[6]!), 1e-30);
      assert.ok(maxAbs(fused.grads[k]!) < 1e-4 * scale, `fused dl2.b ${maxAbs(fused.grads[k]!)} vs scale ${scale}`);
      assert.ok(maxAbs(ref.grads[k]!) < 1e-4 * scale, `tfjs dl2.b ${maxAbs(ref.grads[k]!)} vs scale ${scale}`);
      continue;
    }
    const d = relDiff(fused.grads[k]!, ref.grads[k]!);
    assert.ok(d < tolerance, `gradient w.r.t. ${NAMES[k]}: rel. diff ${d}`);
    assert.ok(maxAbs(ref.grads[k]!) > 0, `gradient w.r.t. ${NAMES[k]} is identically zero (the test exercises nothing)`);
  }
  return fused;
}

test("fused projection head equals the tfjs composition in output and all nine gradients", async () => {
  await tf.setBackend("cpu");
  for (const [i, n] of [2, 5, 300, 2000].entries()) {
    const s = setUp(n, 11 + i);
    // At N = 2 each BN column holds x̂ = ±(1 − O(eps/Δ²)), so BN's backward subtracts nearly equal terms and
    // every gradient upstream of BN2 keeps only a few float32 digits on either path: checked loosely here,
    // and tightly against float64 finite differences below.
    const fused = assertPathsAgree(s, n === 2 ? 2e-4 : n <= 5 ? 1e-5 : 2e-5);
    // Every output row has unit norm.
    for (let r = 0; r < n; r++) {
      let sq = 0;
      for (let j = 0; j < OUT; j++) sq += fused.out[r * OUT + j]! ** 2;
      assert.ok(Math.abs(sq - 1) < 1e-5, `row ${r} of N = ${n}: squared norm ${sq}`);
    }
    tearDown(s);
  }
});

test("a zero-variance column (BN eps path) gives the same output and gradients on both paths", async () => {
  await tf.setBackend("cpu");
  const s = setUp(300, 21, { constantColumns: [0, 17, 63] });
  assertPathsAgree(s, 2e-5);
  tearDown(s);
});

test("rows that ReLU zeroes completely give a zero output row and the same finite gradients on both paths", async () => {
  await tf.setBackend("cpu");
  // β₂ = −3: a row survives the second ReLU only where some x̂ > 3, so most rows are all zero; with l3.b = 0
  // their pre-normalisation row is exactly zero and normalisation's eps divides.
  const s = setUp(300, 31, { beta2: -3, zeroBias3: true });
  const fused = assertPathsAgree(s, 2e-5);
  let zeroRows = 0;
  for (let r = 0; r < 300; r++) if (maxAbs(fused.out.subarray(r * OUT, (r + 1) * OUT)) === 0) zeroRows++;
  assert.ok(zeroRows > 0 && zeroRows < 300, `expected a mix of zero and unit rows, got ${zeroRows} zero rows of 300`);
  // A zero row's gradient is dy/eps (tf.maximum sends it to the constant branch): huge but finite.
  assert.ok(maxAbs(fused.grads[8]!) > 1e6, `l3.b gradient ${maxAbs(fused.grads[8]!)} should carry the 1/eps rows`);
  tearDown(s);
});

test("no tensor leaks over repeated variableGrads; the default path on cpu is the fused one", async () => {
  await tf.setBackend("cpu");
  const s = setUp(50, 41);
  const loss = () => tf.sum(tf.mul(projectionHeadRest(s.h1 as tf.Tensor as tf.Tensor2D, s.params), s.functional)) as tf.Scalar;
  const once = () => {
    const { value, grads } = tf.variableGrads(loss, s.vars);
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
  };
  once();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) once();
  tf.tidy(() => {
    projectionHeadRest(s.h1 as tf.Tensor as tf.Tensor2D, s.params); // a forward without a tape
  });
  assert.equal(tf.memory().numTensors, before);
  const viaDefault = tf.tidy(() => projectionHeadRest(s.h1 as tf.Tensor as tf.Tensor2D, s.params).dataSync() as Float32Array);
  const viaFused = tf.tidy(() => projectionHeadRestWith(s.h1 as tf.Tensor as tf.Tensor2D, s.params, "fused").dataSync() as Float32Array);
  assert.deepEqual(Array.from(viaDefault), Array.from(viaFused));
  tearDown(s);
});

test("inconsistent shapes are refused with the shapes in the message", async () => {
  await tf.setBackend("cpu");
  const s = setUp(4, 51);
  const wrong = tf.zeros([4, 10]) as tf.Tensor2D;
  assert.throws(() => projectionHeadRestWith(wrong, s.params, "fused"), /projectionHeadRest: inconsistent shapes \(h1 \[4,10\]/);
  wrong.dispose();
  tearDown(s);
});

/** The head in float64, written out directly, and Σ R ⊙ output: the reference for finite differences. */
function functional64(x: Float64Array, n: number, p: Record<string, Float64Array>, r: Float64Array): number {
  const bnRelu = (z: Float64Array, gamma: Float64Array, beta: Float64Array): Float64Array => {
    const o = new Float64Array(n * HIDDEN);
    for (let j = 0; j < HIDDEN; j++) {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += z[i * HIDDEN + j]! / n;
      let variance = 0;
      for (let i = 0; i < n; i++) variance += (z[i * HIDDEN + j]! - mean) ** 2 / n;
      for (let i = 0; i < n; i++) o[i * HIDDEN + j] = Math.max(0, (gamma[j]! * (z[i * HIDDEN + j]! - mean)) / Math.sqrt(variance + 1e-5) + beta[j]!);
    }
    return o;
  };
  const linear = (a: Float64Array, w: Float64Array, b: Float64Array, k: number, m: number): Float64Array => {
    const o = new Float64Array(n * m);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        let sum = b[j]!;
        for (let t = 0; t < k; t++) sum += a[i * k + t]! * w[t * m + j]!;
        o[i * m + j] = sum;
      }
    }
    return o;
  };
  const a = bnRelu(x, p["bn1.gamma"]!, p["bn1.beta"]!);
  const b = bnRelu(linear(a, p["l2.w"]!, p["l2.b"]!, HIDDEN, HIDDEN), p["bn2.gamma"]!, p["bn2.beta"]!);
  const y = linear(b, p["l3.w"]!, p["l3.b"]!, HIDDEN, OUT);
  let total = 0;
  for (let i = 0; i < n; i++) {
    let sq = 0;
    for (let j = 0; j < OUT; j++) sq += y[i * OUT + j]! ** 2;
    const inv = 1 / Math.sqrt(Math.max(sq, 1e-24));
    for (let j = 0; j < OUT; j++) total += y[i * OUT + j]! * inv * r[i * OUT + j]!;
  }
  return total;
}

test("N = 2: the fused gradients match float64 central differences of a direct float64 head", async () => {
  await tf.setBackend("cpu");
  const n = 2;
  const s = setUp(n, 11);
  const fused = run(s, "fused");
  const values = s.vars.map((v) => Float64Array.from(v.dataSync() as Float32Array));
  const p: Record<string, Float64Array> = {};
  for (let k = 1; k < NAMES.length; k++) p[NAMES[k]!] = values[k]!;
  const r = Float64Array.from(s.functional.dataSync() as Float32Array);
  const step = 1e-5;
  for (let k = 0; k < NAMES.length; k++) {
    if (NAMES[k] === "l2.b") continue; // exactly zero (BN cancels the shift): compared with the tfjs path above
    const x = values[k]!;
    const stride = x.length > 128 ? 13 : 1; // a strided sample of the weight matrices keeps this fast
    let diff = 0;
    let scale = maxAbs(fused.grads[k]!);
    for (let i = 0; i < x.length; i += stride) {
      const saved = x[i]!;
      x[i] = saved + step;
      const up = functional64(values[0]!, n, p, r);
      x[i] = saved - step;
      const down = functional64(values[0]!, n, p, r);
      x[i] = saved;
      const reference = (up - down) / (2 * step);
      scale = Math.max(scale, Math.abs(reference));
      diff = Math.max(diff, Math.abs(reference - fused.grads[k]![i]!));
    }
    assert.ok(diff < 1e-5 * scale, `d${NAMES[k]}: fused vs float64 finite differences ${diff} at scale ${scale}`);
  }
  tearDown(s);
});

// ---------- the addon's row passes (native/src/row_ops.cc) against the JS loops they replace ----------

test("native row passes give the same bits as the JS loops: output and all nine gradients, odd N, eps and ReLU-zero cases", async (t) => {
  await tf.setBackend("cpu");
  const lookup = nativeProjectionHeadPasses();
  if (!lookup.passes) {
    assert.notEqual(process.env.SEA_EXPECT_NATIVE, "1", `SEA_EXPECT_NATIVE=1 but the native projection-head passes are unavailable: ${lookup.reason}`);
    t.diagnostic(`native row passes unavailable (${lookup.reason}); checked only that the native choice refuses`);
    const s = setUp(3, 50);
    assert.throws(() => run(s, "fused", "native"), /native row passes requested but unavailable/);
    tearDown(s);
    return;
  }
  const cases: [number, number, Overrides][] = [
    [1, 51, {}], // one row: variance 0 in every column
    [7, 52, { constantColumns: [3] }],
    [301, 53, { beta2: -3, zeroBias3: true }], // rows zeroed by ReLU: normalisation's eps branch
    [1001, 54, {}],
    [2501, 55, {}], // > 2·2^16 values: rows and columns split over the addon's threads (3 here, an uneven split)
  ];
  const addon = availableAddon()!;
  for (const [n, seed, overrides] of cases) {
    const s = setUp(n, seed, overrides);
    const native = n === 2501 ? withAddonThreads(addon, 3, () => run(s, "fused", "native")) : run(s, "fused", "native");
    const js = run(s, "fused", "js");
    assertSameBits(native.out, js.out, `N = ${n} output`);
    NAMES.forEach((name, k) => assertSameBits(native.grads[k]!, js.grads[k]!, `N = ${n} d${name}`));
    // (At N = 1 BN's output is β whatever h1 is: dh1 is zero there.)
    assert.ok(maxAbs(js.out) > 0 && maxAbs(js.grads[7]!) > 0 && (n === 1 || maxAbs(js.grads[0]!) > 0), `N = ${n}: the comparison exercises nothing`);
    tearDown(s);
  }
});

test("the native row passes refuse wrong lengths and types with a message naming the function and argument", (t) => {
  const bn = lookUpNativeFunction("bnReluForward");
  const norm = lookUpNativeFunction("headNormalizeRows");
  if (!bn.fn || !norm.fn) {
    assert.notEqual(process.env.SEA_EXPECT_NATIVE, "1", `SEA_EXPECT_NATIVE=1 but bnReluForward/headNormalizeRows are unavailable: ${bn.reason ?? norm.reason}`);
    t.diagnostic(`native row passes unavailable (${bn.reason ?? norm.reason})`);
    return;
  }
  const f32 = (n: number) => new Float32Array(n);
  assert.throws(() => bn.fn(f32(6), 2, 3, f32(3), f32(3), 1e-5, f32(6), f32(5), new Float64Array(3)), /bnReluForward: xHat has 5 values, expected 6 \(2 rows × h 3\)/);
  assert.throws(() => bn.fn(f32(6), 2, 3, f32(3), f32(3), 1e-5, f32(6), f32(6), f32(3) as unknown as Float64Array), /invStd must be a Float64Array/);
  assert.throws(() => norm.fn(f32(6), 2, 3, f32(3), 1e-24, f32(2), new Uint8Array(3)), /headNormalizeRows: active has 3 values, expected 2/);
  assert.throws(() => norm.fn(f32(6), 2.5, 3, f32(3), 1e-24, f32(2), new Uint8Array(2)), /n must be an integer/);
});
