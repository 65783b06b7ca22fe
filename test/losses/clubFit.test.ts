import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { Club } from "../../src/losses/club";
import { checkClubFitInputs, fitClub, newClubAdamState, type ClubAdamState, type ClubFitSettings, type ClubPair } from "../../src/losses/club/fit";
import { clubFitAdamJs, fitClubFusedWith, type ClubFitPasses } from "../../src/backend/fused/clubFit";
import { clubParameterCount, flattenClubWeights } from "../../src/backend/fused/clubLayout";
import { withImplementation } from "../../src/backend/implementation";
import { loadNativeAddon, nativeAllowed, type SeaNativeAddon } from "../../src/backend/addon";
import { Rng } from "../../src/util/rng";

/** The CLUB network's own objective: negative log-likelihood on detached pairs, summed over modalities. */
function clubLearningLoss(club: Club, pairs: readonly { generic: tf.Tensor2D; unique: tf.Tensor2D }[]): tf.Scalar {
  return tf.addN(pairs.map((p) => club.learningLoss(p.generic, p.unique))) as tf.Scalar;
}

before(async () => {
  await tf.setBackend("cpu");
});

/** The fast kernel with a chosen runner, after fitClub's argument checks (as the op's dispatch would run it). */
function fitClubFused(club: Club, pairs: readonly ClubPair[], state: ClubAdamState, settings: ClubFitSettings, options: { implementation?: ClubFitPasses } = {}): number {
  checkClubFitInputs(club, pairs, state);
  return fitClubFusedWith(club, pairs, state, settings, options.implementation);
}

const ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

/** Pairs with y = 0.7·(first yDim columns of x, cycled) + 0.5·noise, so q has something to learn. */
function correlatedPairs(rng: Rng, groups: number, rows: number, xDim: number, yDim: number): ClubPair[] {
  return Array.from({ length: groups }, () => {
    const x = new Float32Array(rows * xDim);
    rng.fillNormal(x);
    const y = new Float32Array(rows * yDim);
    for (let i = 0; i < rows; i++) {
      for (let d = 0; d < yDim; d++) y[i * yDim + d] = 0.7 * x[i * xDim + (d % xDim)]! + 0.5 * rng.normal();
    }
    return { x, y };
  });
}

function pairTensors(pairs: readonly ClubPair[], xDim: number, yDim: number): { generic: tf.Tensor2D; unique: tf.Tensor2D }[] {
  return pairs.map((p) => ({
    generic: tf.tensor2d(p.x, [p.x.length / xDim, xDim]),
    unique: tf.tensor2d(p.y, [p.y.length / yDim, yDim]),
  }));
}

/** tfjs's own path (what the trainer did before): `steps` × Adam.minimize of clubLearningLoss. Returns the last loss. */
function tfjsSteps(club: Club, optimizer: tf.Optimizer, pairs: readonly ClubPair[], steps: number): number {
  const tensors = pairTensors(pairs, club.xDim, club.yDim);
  let last = Number.NaN;
  for (let s = 0; s < steps; s++) {
    const cost = optimizer.minimize(() => clubLearningLoss(club, tensors), true, club.variables);
    last = cost!.dataSync()[0]!;
    cost!.dispose();
  }
  tensors.forEach((p) => (p.generic.dispose(), p.unique.dispose()));
  return last;
}

/** tfjs Adam's first and second moments, flattened in Club.variables order like ClubAdamState. */
async function tfjsMoments(optimizer: tf.Optimizer): Promise<{ m: Float32Array; v: Float32Array }> {
  const weights = await optimizer.getWeights(); // [iterations, m of each variable…, v of each variable…]
  const moments = weights.slice(1).map((w) => Float32Array.from(w.tensor.dataSync()));
  weights[0]!.tensor.dispose(); // the iteration count is a fresh tensor; the rest are the optimiser's own
  const half = moments.length / 2;
  return { m: flattenClubWeights(moments.slice(0, half)), v: flattenClubWeights(moments.slice(half)) };
}

/** |got − want| ≤ abs + rel·|want| element-wise, naming the worst element. */
function assertNear(got: ArrayLike<number>, want: ArrayLike<number>, what: string, abs: number, rel: number): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    assert.ok(Math.abs(g - w) <= abs + rel * Math.abs(w), `${what}[${i}]: got ${g}, expected ${w}`);
  }
}

/** max |got − want| / max |want|: the backend tests' relative error. */
function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length);
  let diff = 0;
  let scale = 1e-30;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return diff / scale;
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

interface TwinCase {
  name: string;
  logvarScale: number;
  groups: number;
  /** Steps before the compared run (both sides), then the steps compared. */
  warmSteps: number;
  steps: number;
}

const twinCases: TwinCase[] = [
  { name: "logvarScale 1, 2 groups, fresh Adam", logvarScale: 1, groups: 2, warmSteps: 0, steps: 15 },
  { name: "logvarScale 3, 2 groups, continuing after 10 steps", logvarScale: 3, groups: 2, warmSteps: 10, steps: 8 },
  { name: "logvarScale 0.5, 1 group, continuing after 4 steps", logvarScale: 0.5, groups: 1, warmSteps: 4, steps: 11 },
];

for (const c of twinCases) {
  test(`JS twin = tfjs Adam on autodiff of clubLearningLoss (${c.name}): weights, moments, last loss`, async () => {
    const [xDim, yDim, hidden, rows, lr] = [6, 5, 8, 40, 0.01];
    const pairs = correlatedPairs(new Rng(7), c.groups, rows, xDim, yDim);
    const reference = new Club({ xDim, yDim, hidden, seed: 21, logvarScale: c.logvarScale });
    const fused = new Club({ xDim, yDim, hidden, seed: 21, logvarScale: c.logvarScale });
    const start = reference.getWeights();
    const optimizer = tf.train.adam(lr, ADAM.beta1, ADAM.beta2, ADAM.eps);
    const state = newClubAdamState(fused);
    const settings = (steps: number): ClubFitSettings => ({ steps, lr, ...ADAM });

    // tfjs runs warmSteps + steps in one go; the fused side runs them as two calls that carry the Adam state.
    const wantLoss = tfjsSteps(reference, optimizer, pairs, c.warmSteps + c.steps);
    if (c.warmSteps > 0) fitClubFused(fused, pairs, state, settings(c.warmSteps), { implementation: "js" });
    const gotLoss = fitClubFused(fused, pairs, state, settings(c.steps), { implementation: "js" });

    // Tolerance: tfjs keeps beta^t in float32 (float(0.999) = 0.99900001…), which shrinks its early Adam
    // updates by ~6e-6 relative; the twin computes beta^t in float64 (as PyTorch). With lr 0.01 that is
    // ~1e-6 absolute after 15 steps, well inside 1e-5; the weights move by > 0.05.
    assert.equal(state.step, c.warmSteps + c.steps, "state.step counts every step taken");
    const want = reference.getWeights();
    const got = fused.getWeights();
    want.forEach((w, i) => assertNear(got[i]!, w, `weights[${i}]`, 1e-5, 1e-4));
    assert.ok(maxAbsDifference(flattenClubWeights(want), flattenClubWeights(start)) > 0.05, "the weights moved: the comparison is not trivially at the start");
    const moments = await tfjsMoments(optimizer);
    assert.ok(relativeError(state.m, moments.m) < 1e-4, `m: relative error ${relativeError(state.m, moments.m)}`);
    assert.ok(relativeError(state.v, moments.v) < 1e-4, `v: relative error ${relativeError(state.v, moments.v)}`);
    assertNear([gotLoss], [wantLoss], "last loss", 1e-6, 1e-5);
    optimizer.dispose();
    reference.dispose();
    fused.dispose();
  });
}

test("one step returns the loss at the starting weights: Σ over groups of the mean NLL, as clubLearningLoss", () => {
  const [xDim, yDim] = [4, 3];
  const pairs = correlatedPairs(new Rng(3), 3, 17, xDim, yDim);
  const club = new Club({ xDim, yDim, hidden: 6, seed: 5, logvarScale: 2 });
  const tensors = pairTensors(pairs, xDim, yDim);
  const want = tf.tidy(() => clubLearningLoss(club, tensors).dataSync()[0]!);
  tensors.forEach((p) => (p.generic.dispose(), p.unique.dispose()));
  const got = fitClubFused(club, pairs, newClubAdamState(club), { steps: 1, lr: 1e-3, ...ADAM }, { implementation: "js" });
  assertNear([got], [want], "loss", 1e-6, 1e-6);
  club.dispose();
});

test("the loss decreases on correlated pairs (auto implementation), without leaking tensors", () => {
  const [xDim, yDim] = [8, 8];
  const pairs = correlatedPairs(new Rng(11), 2, 300, xDim, yDim);
  const club = new Club({ xDim, yDim, hidden: 16, seed: 9 });
  const state = newClubAdamState(club);
  const before = tf.memory().numTensors;
  const first = fitClubFused(club, pairs, state, { steps: 1, lr: 0.01, ...ADAM });
  const later = fitClubFused(club, pairs, state, { steps: 200, lr: 0.01, ...ADAM });
  assert.equal(tf.memory().numTensors, before, "fitClubFused leaves no tensor behind");
  // Two groups of ~N(0.7·x, 0.25) targets: the NLL per group starts near yDim·(0.5·E[(mu−y)²]) and must fall well below it.
  assert.ok(later < first - 2, `loss fell from ${first} to ${later}`);
  const tensors = pairTensors(pairs, xDim, yDim);
  const after = tf.tidy(() => clubLearningLoss(club, tensors).dataSync()[0]!);
  tensors.forEach((p) => (p.generic.dispose(), p.unique.dispose()));
  assert.ok(after <= later + 0.05, `the written-back weights are the fitted ones (tfjs loss ${after}, last fused loss ${later})`);
  club.dispose();
});

/** The addon if it has clubFitAdam; fails under SEA_EXPECT_NATIVE=1 when it does not, else says why it is absent. */
function nativeClubFit(t: { diagnostic: (message: string) => void }): SeaNativeAddon | null {
  const addon = nativeAllowed() ? loadNativeAddon() : null;
  const usable = addon !== null && typeof addon.clubFitAdam === "function";
  if (process.env.SEA_EXPECT_NATIVE === "1") assert.ok(usable, "SEA_EXPECT_NATIVE=1 but the addon lacks clubFitAdam (node scripts/build-native.js)");
  if (!usable) t.diagnostic("native clubFitAdam unavailable (SEA_NATIVE=0, addon not built, or built before clubFitAdam): only the JS twin was tested");
  return usable ? addon : null;
}

interface FlatRun {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  loss: number;
}

function runFlat(fit: SeaNativeAddon["clubFitAdam"], x: Float32Array, y: Float32Array, rowsPerGroup: number, dims: [number, number, number], start: Float32Array, steps: number, adamStep = 0): FlatRun {
  const [xDim, yDim, h] = dims;
  const params = start.slice();
  const m = new Float32Array(params.length);
  const v = new Float32Array(params.length);
  const loss = fit(x, y, rowsPerGroup, xDim, yDim, h, 1.5, params, m, v, adamStep, steps, 2e-3, ADAM.beta1, ADAM.beta2, ADAM.eps);
  return { params, m, v, loss };
}

test("native clubFitAdam = JS twin on 2 groups × 3000 rows × 32 (and is deterministic per thread count)", (t) => {
  const addon = nativeClubFit(t);
  if (!addon) return;
  const [rows, dim, h, steps] = [3000, 32, 8, 12];
  const pairs = correlatedPairs(new Rng(5), 2, rows, dim, dim);
  const x = flattenClubWeights(pairs.map((p) => p.x));
  const y = flattenClubWeights(pairs.map((p) => p.y));
  const club = new Club({ xDim: dim, yDim: dim, hidden: 2 * h, seed: 4 });
  const start = flattenClubWeights(club.getWeights());
  club.dispose();
  const native = addon.clubFitAdam.bind(addon);

  const js = runFlat(clubFitAdamJs, x, y, rows, [dim, dim, h], start, steps, 3);
  const threadsBefore = addon.getThreads();
  try {
    for (const threads of [1, 2]) {
      addon.setThreads(threads);
      const a = runFlat(native, x, y, rows, [dim, dim, h], start, steps, 3);
      const b = runFlat(native, x, y, rows, [dim, dim, h], start, steps, 3);
      assert.deepEqual(b.params, a.params, `${threads} thread(s): the same result twice`);
      assert.equal(b.loss, a.loss);
      assert.ok(relativeError(a.params, js.params) < 1e-5, `${threads} thread(s): params relative error ${relativeError(a.params, js.params)}`);
      assert.ok(relativeError(a.m, js.m) < 1e-4, `${threads} thread(s): m relative error ${relativeError(a.m, js.m)}`);
      assert.ok(relativeError(a.v, js.v) < 1e-4, `${threads} thread(s): v relative error ${relativeError(a.v, js.v)}`);
      assertNear([a.loss], [js.loss], `${threads} thread(s): loss`, 0, 1e-6);
    }
  } finally {
    addon.setThreads(threadsBefore);
  }
  assert.ok(maxAbsDifference(js.params, start) > 0.01, "the weights moved");
});

test("native clubFitAdam = JS twin where blocks and vectors are partly empty and layer widths are not tile multiples", (t) => {
  const addon = nativeClubFit(t);
  if (!addon) return;
  // [rows per group, groups, xDim, yDim, hidden units]. The native code works on blocks of 64 rows in vectors
  // of 8: 2 × 13 rows is one block whose 4th vector holds 2 rows and whose last 4 are empty; 2 × 70 is a
  // full block and 12 rows; 3 × 1 rows is a single vector with 3. Widths 1, 3, 5, 7, 9 and 11 = 8 + 3 leave
  // remainders after the 8-output gradient tiles and the 2- and 4-output layer tiles.
  const shapes: [number, number, number, number, number][] = [
    [13, 2, 5, 11, 3],
    [70, 2, 9, 8, 7],
    [1, 3, 2, 1, 1],
  ];
  for (const [rows, groups, xDim, yDim, h] of shapes) {
    const what = `${groups} × ${rows} rows, xDim ${xDim}, yDim ${yDim}, h ${h}`;
    const pairs = correlatedPairs(new Rng(31), groups, rows, xDim, yDim);
    const x = flattenClubWeights(pairs.map((p) => p.x));
    const y = flattenClubWeights(pairs.map((p) => p.y));
    const club = new Club({ xDim, yDim, hidden: 2 * h, seed: 6 });
    const start = flattenClubWeights(club.getWeights());
    club.dispose();
    const js = runFlat(clubFitAdamJs, x, y, rows, [xDim, yDim, h], start, 10);
    const native = runFlat(addon.clubFitAdam.bind(addon), x, y, rows, [xDim, yDim, h], start, 10);
    assert.ok(relativeError(native.params, js.params) < 1e-5, `${what}: params relative error ${relativeError(native.params, js.params)}`);
    assert.ok(relativeError(native.m, js.m) < 1e-4, `${what}: m relative error ${relativeError(native.m, js.m)}`);
    assert.ok(relativeError(native.v, js.v) < 1e-4, `${what}: v relative error ${relativeError(native.v, js.v)}`);
    assertNear([native.loss], [js.loss], `${what}: loss`, 0, 1e-6);
    assert.ok(maxAbsDifference(js.params, start) > 0.01, `${what}: the weights moved`);
  }
});

test("fitClubFused native = js on a Club (weights and Adam state), no leaked tensors", (t) => {
  const addon = nativeClubFit(t);
  if (!addon) return;
  const pairs = correlatedPairs(new Rng(8), 2, 500, 10, 7);
  const clubs = [new Club({ xDim: 10, yDim: 7, hidden: 9, seed: 2 }), new Club({ xDim: 10, yDim: 7, hidden: 9, seed: 2 })];
  const states: ClubAdamState[] = clubs.map((c) => newClubAdamState(c));
  const before = tf.memory().numTensors;
  const losses = (["native", "js"] as const).map((implementation, i) =>
    fitClubFused(clubs[i]!, pairs, states[i]!, { steps: 20, lr: 5e-3, ...ADAM }, { implementation }),
  );
  assert.equal(tf.memory().numTensors, before, "no tensors leaked");
  const [native, js] = clubs.map((c) => flattenClubWeights(c.getWeights()));
  assert.ok(relativeError(native!, js!) < 1e-5, `weights relative error ${relativeError(native!, js!)}`);
  assert.ok(relativeError(states[0]!.m, states[1]!.m) < 1e-4);
  assert.equal(states[0]!.step, 20);
  assertNear([losses[0]!], [losses[1]!], "loss", 0, 1e-6);
  clubs.forEach((c) => c.dispose());
});

test("argument errors: the native call and the JS twin reject bad lengths and values with the same message", (t) => {
  const [xDim, yDim, h] = [3, 2, 4];
  const size = clubParameterCount(xDim, yDim, h);
  const ok = {
    x: new Float32Array(6 * xDim),
    y: new Float32Array(6 * yDim),
    params: new Float32Array(size),
    m: new Float32Array(size),
    v: new Float32Array(size),
  };
  type Args = Parameters<SeaNativeAddon["clubFitAdam"]>;
  const args = (over: Partial<typeof ok> & { rowsPerGroup?: number; beta1?: number; steps?: number } = {}): Args => {
    const a = { ...ok, ...over };
    return [a.x, a.y, over.rowsPerGroup ?? 3, xDim, yDim, h, 1, a.params, a.m, a.v, 0, over.steps ?? 1, 1e-3, over.beta1 ?? 0.9, 0.999, 1e-8];
  };
  const cases: [string, Args, RegExp][] = [
    ["y too short", args({ y: new Float32Array(5) }), /clubFitAdam: y has 5 values, expected 12 \(6 rows × yDim 2\)/],
    ["x not whole rows", args({ x: new Float32Array(7) }), /clubFitAdam: x has 7 values, not a positive multiple of xDim = 3/],
    ["rows not a multiple of rowsPerGroup", args({ rowsPerGroup: 4 }), /clubFitAdam: x has 6 rows, not a multiple of rowsPerGroup = 4/],
    ["params sized for another club", args({ params: new Float32Array(size + 1) }), new RegExp(`clubFitAdam: params has ${size + 1} values, expected ${size} \\(xDim 3, yDim 2, hiddenUnits 4\\)`)],
    ["v wrong", args({ v: new Float32Array(1) }), /clubFitAdam: v has 1 values, expected/],
    ["beta1 = 1", args({ beta1: 1 }), /clubFitAdam: beta1 and beta2 must be in \[0, 1\)/],
    ["rowsPerGroup 0", args({ rowsPerGroup: 0 }), /clubFitAdam: rowsPerGroup, xDim, yDim and hiddenUnits must be positive/],
  ];
  const addon = nativeClubFit(t);
  const implementations: [string, SeaNativeAddon["clubFitAdam"]][] = [["js", clubFitAdamJs]];
  if (addon) implementations.push(["native", addon.clubFitAdam.bind(addon)]);
  for (const [impl, fit] of implementations) {
    for (const [what, a, message] of cases) assert.throws(() => fit(...a), message, `${impl}: ${what}`);
    const params = Float32Array.from(ok.params, (_, i) => 0.01 * i);
    assert.ok(Number.isNaN(fit(...args({ params: params, steps: 0 }))), `${impl}: no step, no loss`);
    assert.deepEqual(params, Float32Array.from(ok.params, (_, i) => 0.01 * i), `${impl}: steps = 0 leaves the parameters alone`);
  }
});

test("fitClubFused rejects mismatched pairs and state, and an unavailable native implementation", () => {
  const club = new Club({ xDim: 3, yDim: 2, hidden: 4, seed: 1 });
  const settings: ClubFitSettings = { steps: 1, lr: 1e-3, ...ADAM };
  const pair = (rows: number): ClubPair => ({ x: new Float32Array(rows * 3), y: new Float32Array(rows * 2) });
  assert.throws(() => fitClubFused(club, [], newClubAdamState(club), settings), /no pairs to fit/);
  assert.throws(() => fitClubFused(club, [{ x: new Float32Array(7), y: new Float32Array(4) }], newClubAdamState(club), settings), /pair 0: x has 7 values, not a positive whole number of rows of xDim 3/);
  assert.throws(() => fitClubFused(club, [pair(4), pair(5)], newClubAdamState(club), settings), /pair 1: x has 15 values and y 10; expected 4 rows \(as pair 0\) × xDim 3 and × yDim 2/);
  assert.throws(() => fitClubFused(club, [{ x: new Float32Array(12), y: new Float32Array(7) }], newClubAdamState(club), settings), /pair 0: x has 12 values and y 7; expected 4 rows/);
  const state = newClubAdamState(club);
  assert.throws(() => fitClubFused(club, [pair(4)], { ...state, m: new Float32Array(3) }, settings), /Adam state has 3\/\d+ moments, the club has \d+ parameters/);
  const saved = process.env.SEA_NATIVE;
  process.env.SEA_NATIVE = "0";
  try {
    assert.throws(() => fitClubFused(club, [pair(4)], state, settings, { implementation: "native" }), /native implementation requested but unavailable: native code is disabled by SEA_NATIVE=0/);
  } finally {
    if (saved === undefined) delete process.env.SEA_NATIVE;
    else process.env.SEA_NATIVE = saved;
  }
  assert.equal(state.step, 0, "failed calls take no step");
  club.dispose();
});

test("fitClub under \"reference\" (autodiff + tensor Adam) = the fast kernel's JS twin: weights, moments, step, last loss", () => {
  const pairs = correlatedPairs(new Rng(31), 2, 300, 6, 5);
  const clubs = [new Club({ xDim: 6, yDim: 5, hidden: 8, seed: 4 }), new Club({ xDim: 6, yDim: 5, hidden: 8, seed: 4 })];
  const states = clubs.map((c) => newClubAdamState(c));
  const settings: ClubFitSettings = { steps: 12, lr: 5e-3, ...ADAM };
  const before = tf.memory().numTensors;
  const readable = withImplementation("reference", () => fitClub(clubs[0]!, pairs, states[0]!, settings));
  assert.equal(tf.memory().numTensors, before, "the readable loop leaks no tensors");
  const fused = fitClubFused(clubs[1]!, pairs, states[1]!, settings, { implementation: "js" });
  // float32 tfjs ops against the twin's float64 arithmetic: relative differences of ~1e-6 per step, grown by 12 Adam steps.
  const [a, b] = clubs.map((c) => flattenClubWeights(c.getWeights()));
  assert.ok(relativeError(a!, b!) < 1e-4, `weights relative error ${relativeError(a!, b!)}`);
  assert.ok(relativeError(states[0]!.m, states[1]!.m) < 1e-3, `m relative error ${relativeError(states[0]!.m, states[1]!.m)}`);
  assert.equal(states[0]!.step, 12);
  assertNear([readable], [fused], "last loss", 0, 1e-5);
  clubs.forEach((c) => c.dispose());
});
