import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { Club } from "../../src/losses/club";
import { chooseClubBoundKernel, clubUpperBoundFused, clubUpperBoundGradJs, flatClubParameters, fusedClubBoundApplies, type ClubBoundKernel } from "../../src/backend/fused/clubBound";
import { withImplementation } from "../../src/backend/implementation";
import { registerCpuRepairKernels } from "../../src/backend/cpuKernels";
import { disableNativeKernels, enableNativeKernels, nativeKernelsActive } from "../../src/backend/kernels";
import { Rng } from "../../src/util/rng";
import { assertClose, assertNoLeak, availableAddon, NATIVE_SKIP, relativeError } from "../backend/helpers";

before(async () => {
  await tf.setBackend("cpu");
  // tfjs's own UnsortedSegmentSum (the gradient of the composition's tf.gather) is O(rows²): minutes at 3000 rows.
  registerCpuRepairKernels();
});

const addon = availableAddon();
const nativeKernel: ClubBoundKernel | null = addon ? addon.clubUpperBoundGrad.bind(addon) : null;
/** The fused op's kernel under test: native when built, else the JS twin (the wrapper is the same). */
const fusedMode = nativeKernel ? "native" : "js";

/** The bound by the fused op with the given kernel, or by the readable composition ("tfjs": Club.upperBound under "reference"). */
function upperBoundWith(club: Club, x: tf.Tensor2D, y: tf.Tensor2D, perm: Int32Array | tf.Tensor1D, mode: "native" | "js" | "tfjs"): tf.Scalar {
  if (mode === "tfjs") return withImplementation("reference", () => club.upperBound(x, y, perm));
  return clubUpperBoundFused(club, x, y, perm, chooseClubBoundKernel(mode));
}

interface Case {
  club: Club;
  x: Float32Array;
  y: Float32Array;
  perm: Int32Array;
  rows: number;
}

/**
 * rows pairs where y is q's own mean plus noise, aligned with x (bound > 0) or with x permuted so that the
 * shuffled pairs fit better (`against`: the raw bound is < 0 and clamps).
 */
function makeCase(rows: number, seed: number, options: { logvarScale?: number; xDim?: number; yDim?: number; against?: boolean; perm?: Int32Array } = {}): Case {
  const { logvarScale = 1, xDim = 12, yDim = 9 } = options;
  const rng = new Rng(seed);
  const club = new Club({ xDim, yDim, hidden: 16, seed: seed + 1, logvarScale });
  const x = new Float32Array(rows * xDim);
  rng.fillNormal(x);
  const perm = options.perm ?? rng.permutation(rows);
  const mu = tf.tidy(() => club.muLogvar(tf.tensor2d(x, [rows, xDim])).mu.dataSync() as Float32Array);
  const y = new Float32Array(rows * yDim);
  for (let i = 0; i < rows; i++) {
    const target = options.against ? perm[i]! : i; // against: y_perm(i) is built from x_i
    for (let d = 0; d < yDim; d++) y[target * yDim + d] = mu[i * yDim + d]! + 0.3 * rng.normal();
  }
  return { club, x, y, perm, rows };
}

/** The bound and its gradients wrt x and y through tf.grads, by the given implementation; seed scales the output. */
function boundAndGrads(c: Case, implementation: "native" | "js" | "tfjs", seed = 1): { bound: number; dx: Float32Array; dy: Float32Array } {
  return tf.tidy(() => {
    const xt = tf.tensor2d(c.x, [c.rows, c.club.xDim]);
    const yt = tf.tensor2d(c.y, [c.rows, c.club.yDim]);
    const bound = upperBoundWith(c.club, xt, yt, c.perm, implementation).dataSync()[0]!;
    const f = (a: tf.Tensor, b: tf.Tensor): tf.Scalar => tf.mul(upperBoundWith(c.club, a as tf.Tensor2D, b as tf.Tensor2D, c.perm, implementation), seed);
    const [gx, gy] = tf.grads(f)([xt, yt]);
    return { bound, dx: gx!.dataSync() as Float32Array, dy: gy!.dataSync() as Float32Array };
  });
}

/** Independent float64 value of the definition, logvar terms included: ½·mean_i[ll(x_i, y_i) − ll(x_i, y_perm(i))], unclamped. */
function rawBound64(c: Case): number {
  const { xDim, yDim, hiddenUnits: h, logvarScale: s } = c.club;
  const w = c.club.getWeights();
  let total = 0;
  for (let i = 0; i < c.rows; i++) {
    const net = (wa: Float32Array, ba: Float32Array, wb: Float32Array, bb: Float32Array, d: number): number => {
      let out = bb[d]!;
      for (let k = 0; k < h; k++) {
        let a = ba[k]!;
        for (let j = 0; j < xDim; j++) a += c.x[i * xDim + j]! * wa[j * h + k]!;
        out += Math.max(0, a) * wb[k * yDim + d]!;
      }
      return out;
    };
    for (let d = 0; d < yDim; d++) {
      const mu = net(w[0]!, w[1]!, w[2]!, w[3]!, d);
      const lv = s * Math.tanh(net(w[4]!, w[5]!, w[6]!, w[7]!, d));
      const ll = (yv: number): number => -((mu - yv) ** 2) / (2 * Math.exp(lv)) - lv / 2;
      total += ll(c.y[i * yDim + d]!) - ll(c.y[c.perm[i]! * yDim + d]!);
    }
  }
  return (0.5 * total) / c.rows;
}

function runKernel(kernel: ClubBoundKernel, c: Case): { bound: number; dx: Float32Array; dy: Float32Array } {
  const { xDim, yDim, hiddenUnits, logvarScale } = c.club;
  const dx = new Float32Array(c.rows * xDim);
  const dy = new Float32Array(c.rows * yDim);
  const bound = kernel(c.x, c.y, c.perm, c.rows, xDim, yDim, hiddenUnits, logvarScale, flatClubParameters(c.club), dx, dy);
  return { bound, dx, dy };
}

const sizes: { rows: number; logvarScale: number }[] = [
  { rows: 7, logvarScale: 1 },
  { rows: 300, logvarScale: 2.5 },
  { rows: 3000, logvarScale: 0.7 },
];

for (const { rows, logvarScale } of sizes) {
  test(`fused (${fusedMode}) = tfjs composition: bound and gradients wrt x, y (${rows} rows, logvarScale ${logvarScale})`, () => {
    const c = makeCase(rows, rows, { logvarScale });
    const raw = rawBound64(c);
    assert.ok(raw > 0.05, `the case should not clamp (raw bound ${raw})`);
    const fused = boundAndGrads(c, fusedMode, 3);
    const reference = boundAndGrads(c, "tfjs", 3);
    // The fused value (double inside, float32 out) against the float64 definition; tfjs's float32 sums of
    // per-row log-likelihoods (each ~yDim nats) lose more, hence its wider tolerance.
    assertClose([fused.bound], [raw], "fused bound vs float64 definition", 1e-6);
    assertClose([reference.bound], [raw], "tfjs bound vs float64 definition", 1e-4);
    assertClose(fused.dx, reference.dx, "∂B/∂x", 1e-5);
    assertClose(fused.dy, reference.dy, "∂B/∂y", 1e-5);
    c.club.dispose();
  });
}

test(`fused (${fusedMode}): one row (perm = identity) gives exactly 0 and zero gradients, as tfjs's relu at 0`, () => {
  const c = makeCase(1, 5, { perm: new Int32Array([0]) });
  for (const mode of [fusedMode, "tfjs"] as const) {
    const r = boundAndGrads(c, mode);
    assert.equal(r.bound, 0, mode);
    assert.ok(r.dx.every((v) => v === 0) && r.dy.every((v) => v === 0), `${mode}: gradients must be zero`);
  }
  c.club.dispose();
});

test(`fused (${fusedMode}): a negative raw bound clamps to 0 with zero gradients (tfjs agrees)`, () => {
  const c = makeCase(200, 6, { against: true, logvarScale: 1.5 });
  assert.ok(rawBound64(c) < -0.05, "the shuffled pairs should fit better");
  for (const mode of [fusedMode, "tfjs"] as const) {
    const r = boundAndGrads(c, mode);
    assert.equal(r.bound, 0, mode);
    assert.ok(r.dx.every((v) => v === 0) && r.dy.every((v) => v === 0), `${mode}: gradients must be zero`);
  }
  c.club.dispose();
});

test(`fused (${fusedMode}) = tfjs with a repeating index map (not a bijection: y gradients add up per row)`, () => {
  const base = makeCase(50, 8, { logvarScale: 2 });
  const perm = Int32Array.from({ length: 50 }, (_, i) => (i * i) % 7);
  const c = { ...base, perm };
  assert.ok(rawBound64(c) > 0);
  const fused = boundAndGrads(c, fusedMode);
  const reference = boundAndGrads(c, "tfjs");
  assertClose([fused.bound], [reference.bound], "bound", 1e-5);
  assertClose(fused.dx, reference.dx, "∂B/∂x", 1e-5);
  assertClose(fused.dy, reference.dy, "∂B/∂y", 1e-5);
  c.club.dispose();
});

test("fused path accepts the permutation as an int32 tensor", () => {
  const c = makeCase(20, 9);
  const viaTensor = tf.tidy(() =>
    upperBoundWith(c.club, tf.tensor2d(c.x, [20, 12]), tf.tensor2d(c.y, [20, 9]), tf.tensor1d(c.perm, "int32"), fusedMode).dataSync()[0]!,
  );
  assert.equal(viaTensor, boundAndGrads(c, fusedMode).bound);
  c.club.dispose();
});

test("native clubUpperBoundGrad = JS twin (bound ≤1e-12, gradients ≤1e-6 relative; counts bit-identical values)", (t) => {
  if (!nativeKernel) {
    t.diagnostic(NATIVE_SKIP);
    return;
  }
  for (const [rows, s, seed] of [[1, 1, 1], [7, 3, 2], [2000, 0.5, 3]] as const) {
    const c = makeCase(rows, seed, { logvarScale: s, xDim: 32, yDim: 32 });
    const native = runKernel(nativeKernel, c);
    const js = runKernel(clubUpperBoundGradJs, c);
    assertClose([native.bound], [js.bound], `${rows} rows: bound`, 1e-12);
    assert.ok(relativeError(native.dx, js.dx) <= 1e-6 && relativeError(native.dy, js.dy) <= 1e-6, `${rows} rows: gradients`);
    const identical = native.dx.filter((v, i) => Object.is(v, js.dx[i])).length + native.dy.filter((v, i) => Object.is(v, js.dy[i])).length;
    t.diagnostic(`${rows} rows: ${identical} of ${native.dx.length + native.dy.length} gradient values bit-identical; bound Δ ${Math.abs(native.bound - js.bound)}`);
    c.club.dispose();
  }
});

test("native clubUpperBoundGrad: the result does not depend on the thread count (bit for bit)", (t) => {
  if (!addon || !nativeKernel) {
    t.diagnostic(NATIVE_SKIP);
    return;
  }
  const c = makeCase(3000, 11, { xDim: 32, yDim: 32, logvarScale: 2 });
  const threads = addon.getThreads();
  try {
    addon.setThreads(1);
    const one = runKernel(nativeKernel, c);
    addon.setThreads(4);
    const four = runKernel(nativeKernel, c);
    assert.equal(four.bound, one.bound);
    assert.deepEqual(four.dx, one.dx);
    assert.deepEqual(four.dy, one.dy);
  } finally {
    addon.setThreads(threads);
    c.club.dispose();
  }
});

test("argument errors: native and JS twin reject the same inputs with the same message", (t) => {
  const c = makeCase(4, 12, { xDim: 3, yDim: 2 });
  const params = flatClubParameters(c.club);
  const f = (n: number): Float32Array => new Float32Array(n);
  type Args = Parameters<ClubBoundKernel>;
  const good: Args = [c.x, c.y, c.perm, 4, 3, 2, 8, 1, params, f(12), f(8)];
  const cases: [string, (a: Args) => void, RegExp][] = [
    ["x not Float32Array", (a) => (a[0] = new Float64Array(12) as unknown as Float32Array), /x must be a Float32Array/],
    ["perm not Int32Array", (a) => (a[2] = new Float32Array(4) as unknown as Int32Array), /perm must be an Int32Array/],
    ["rows fractional", (a) => (a[3] = 4.5), /rows must be an integer in \[0, 2\^31\)/],
    ["rows 0", (a) => (a[3] = 0), /clubUpperBoundGrad: rows, xDim, yDim and hiddenUnits must be positive/],
    ["logvarScale 0", (a) => (a[7] = 0), /clubUpperBoundGrad: logvarScale must be > 0/],
    ["logvarScale NaN", (a) => (a[7] = Number.NaN), /clubUpperBoundGrad: logvarScale must be finite/],
    ["y short", (a) => (a[1] = f(7)), /clubUpperBoundGrad: y has 7 values, expected 8 \(4 rows × yDim 2\)/],
    ["perm short", (a) => (a[2] = new Int32Array(3)), /clubUpperBoundGrad: perm has 3 values, expected 4 \(one entry per row\)/],
    ["params wrong", (a) => (a[8] = f(params.length - 1)), /clubUpperBoundGrad: params has \d+ values, expected \d+ \(xDim 3, yDim 2, hiddenUnits 8\)/],
    ["dx wrong", (a) => (a[9] = f(11)), /clubUpperBoundGrad: dx has 11 values, expected 12 \(4 rows × xDim 3\)/],
    ["perm out of range", (a) => (a[2] = Int32Array.from([0, 1, 4, 2])), /clubUpperBoundGrad: perm\[2\] = 4 is outside \[0, 4\)/],
    ["perm negative", (a) => (a[2] = Int32Array.from([0, -1, 3, 2])), /clubUpperBoundGrad: perm\[1\] = -1 is outside \[0, 4\)/],
  ];
  const kernels: [string, ClubBoundKernel][] = [["js", clubUpperBoundGradJs]];
  if (nativeKernel) kernels.push(["native", nativeKernel]);
  else t.diagnostic(NATIVE_SKIP);
  for (const [name, kernel] of kernels) {
    assert.ok(Number.isFinite(kernel(...good)), `${name}: good arguments`);
    for (const [what, spoil, message] of cases) {
      const args = [...good] as Args;
      spoil(args);
      assert.throws(() => kernel(...args), (e: Error) => e instanceof TypeError && message.test(e.message), `${name}: ${what}`);
    }
  }
  if (addon) assert.throws(() => (addon.clubUpperBoundGrad as (...a: unknown[]) => number)(c.x), /clubUpperBoundGrad expects 11 arguments/);
  c.club.dispose();
});

test("the fast kernel applies only with native kernels active on cpu; 'native' explains why it cannot run", (t) => {
  const c = makeCase(5, 13);
  const xt = tf.tensor2d(c.x, [5, 12]);
  const yt = tf.tensor2d(c.y, [5, 9]);
  const wasActive = nativeKernelsActive();
  const saved = process.env.SEA_NATIVE;
  try {
    disableNativeKernels();
    assert.equal(fusedClubBoundApplies(), false);
    assert.equal(chooseClubBoundKernel("js"), clubUpperBoundGradJs);
    if (addon) {
      enableNativeKernels(addon);
      assert.equal(fusedClubBoundApplies(), true);
      assert.notEqual(chooseClubBoundKernel("native"), clubUpperBoundGradJs);
    } else t.diagnostic(NATIVE_SKIP);
    process.env.SEA_NATIVE = "0";
    assert.equal(fusedClubBoundApplies(), false);
    assert.throws(() => upperBoundWith(c.club, xt, yt, c.perm, "native"), /native implementation requested but unavailable: native code is disabled by SEA_NATIVE=0/);
  } finally {
    if (saved === undefined) delete process.env.SEA_NATIVE;
    else process.env.SEA_NATIVE = saved;
    if (addon && wasActive) enableNativeKernels(addon);
    else disableNativeKernels();
    xt.dispose();
    yt.dispose();
    c.club.dispose();
  }
});

test("no tensor leaks: the fused bound alone, under tf.grads, and on a shape error", () => {
  const c = makeCase(30, 14);
  const xt = tf.tensor2d(c.x, [30, 12]);
  const yt = tf.tensor2d(c.y, [30, 9]);
  for (const mode of [fusedMode, "js", "tfjs"] as const) {
    assertNoLeak(`${mode} value`, () => upperBoundWith(c.club, xt, yt, c.perm, mode).dispose());
    assertNoLeak(`${mode} grads`, () => {
      const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => upperBoundWith(c.club, a as tf.Tensor2D, b as tf.Tensor2D, c.perm, mode))([xt, yt]);
      value.dispose();
      grads.forEach((g) => g.dispose());
    });
    assertNoLeak(`${mode} error`, () => assert.throws(() => upperBoundWith(c.club, xt, yt, c.perm.subarray(1), mode), /permutation has 29 entries for 30 rows/));
  }
  xt.dispose();
  yt.dispose();
  c.club.dispose();
});
