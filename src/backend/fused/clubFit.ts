import { lookUpNativeFunction, type SeaNativeAddon } from "../addon";
import { registerFastKernel } from "../implementation";
import { clubParameterCount, concatFloat32, flattenClubWeights, unflattenClubWeights, type ClubNet } from "./clubLayout";
import { chooseNativeOrTwin, type NativeChoice } from "./nativeChoice";

/**
 * The fast kernel of the op "clubFit", the CLUB network's inner training loop (readable version: fitClubReadable
 * in src/losses/club/fit.ts, docs/method.md §3.4: after each encoder step, `steps` Adam steps of q(y|x)'s negative
 * log-likelihood on the step's detached generic/unique pairs) as one call on flat arrays: native/src/club_fit.cc
 * when the addon has it, else `clubFitAdamJs` below, its twin (the same math in float64; the native code computes
 * activations in float32, as tfjs). Both replace `steps` × (autodiff of the learning loss + Adam) by gradients
 * worked out by hand, without tfjs's per-op overhead; Adam's beta^t in float64, as PyTorch and the readable loop.
 * It reads the weights and writes them back through getWeights/setWeights, so it applies on every backend.
 */

/** The arguments as src/losses/club/fit.ts declares them (ClubAdamState, ClubPair, ClubFitSettings). */
interface FlatAdamState {
  m: Float32Array;
  v: Float32Array;
  step: number;
}

interface FlatPair {
  x: Float32Array;
  y: Float32Array;
}

interface FitSettings {
  steps: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

/** Who runs the loop: "native" the addon (an error when it cannot be used), "js" the twin, "auto" native when available. */
export type ClubFitPasses = NativeChoice;

registerFastKernel("clubFit", {
  applies: () => true,
  run: (club: ClubNet, pairs: readonly FlatPair[], state: FlatAdamState, settings: FitSettings) => fitClubFusedWith(club, pairs, state, settings),
});

/**
 * Runs `settings.steps` Adam steps of the club's learning loss (sum over pairs of each pair's mean NLL) on the
 * club's weights and advances `state` in place; returns the last step's loss, computed before its update. The
 * arguments are checked by fitClub (src/losses/club/fit.ts); tests call this directly to choose the runner.
 */
export function fitClubFusedWith(club: ClubNet, pairs: readonly FlatPair[], state: FlatAdamState, settings: FitSettings, passes: ClubFitPasses = "auto"): number {
  const fit = chooseRunner(passes);
  const rowsPerGroup = pairs[0]!.x.length / club.xDim;
  const x = pairs.length === 1 ? pairs[0]!.x : concatFloat32(pairs.map((p) => p.x));
  const y = pairs.length === 1 ? pairs[0]!.y : concatFloat32(pairs.map((p) => p.y));
  const weights = club.getWeights();
  const params = flattenClubWeights(weights);
  const { steps, lr, beta1, beta2, eps } = settings;
  const loss = fit(x, y, rowsPerGroup, club.xDim, club.yDim, club.hiddenUnits, club.logvarScale, params, state.m, state.v, state.step, steps, lr, beta1, beta2, eps);
  club.setWeights(unflattenClubWeights(params, weights));
  state.step += steps;
  return loss;
}

type ClubFitAdam = SeaNativeAddon["clubFitAdam"];

function chooseRunner(passes: ClubFitPasses): ClubFitAdam {
  const lookUp = () => {
    const native = lookUpNativeFunction("clubFitAdam");
    return { found: native.fn, reason: native.reason };
  };
  return chooseNativeOrTwin(passes, lookUp, clubFitAdamJs, "fitClub: native implementation");
}

// ---------------------------------------------------------------------------------------- the JS twin

/**
 * Same arguments, checks and result as the addon's clubFitAdam (src/backend/addon.ts), in plain JS: forward
 * and backward row by row in float64 (one scratch array per quantity, no per-element closures), Adam in
 * float64, parameters and moments stored back as float32. Mirrors native/src/club_fit.cc.
 */
export function clubFitAdamJs(...args: Parameters<ClubFitAdam>): number {
  const rows = checkFitArguments(...args);
  const [x, y, rowsPerGroup, xDim, yDim, hiddenUnits, logvarScale, params, m, v, adamStep, steps, lr, beta1, beta2, eps] = args;
  const grad = new Float64Array(params.length);
  const paramArrays = clubArrays(params, xDim, yDim, hiddenUnits);
  const gradArrays = clubArrays(grad, xDim, yDim, hiddenUnits);
  const scratch = newScratch(hiddenUnits, yDim);
  let loss = Number.NaN; // no step, no loss
  for (let s = 0; s < steps; s++) {
    grad.fill(0);
    // loss = Σ_groups mean_group nll = Σ_all nll / rowsPerGroup (every group has rowsPerGroup rows).
    const nll = accumulateRowsJs(x, y, rows, xDim, yDim, hiddenUnits, logvarScale, paramArrays, gradArrays, scratch);
    const scale = 1 / rowsPerGroup;
    for (let j = 0; j < grad.length; j++) grad[j]! *= scale;
    loss = nll * scale;
    adamUpdateJs(grad, params, m, v, adamStep + s + 1, lr, beta1, beta2, eps);
  }
  return loss;
}

interface RowScratch {
  a1: Float64Array; // hidden pre-activations [h]
  a3: Float64Array;
  gA1: Float64Array; // ∂nll/∂(hidden pre-activation) [h]
  gA3: Float64Array;
  mu: Float64Array; // [yDim]
  z: Float64Array; // the logvar net's pre-tanh output [yDim]
  gMu: Float64Array; // ∂nll/∂mu [yDim]
  gZ: Float64Array; // ∂nll/∂z [yDim]
}

function newScratch(h: number, yDim: number): RowScratch {
  return {
    a1: new Float64Array(h),
    a3: new Float64Array(h),
    gA1: new Float64Array(h),
    gA3: new Float64Array(h),
    mu: new Float64Array(yDim),
    z: new Float64Array(yDim),
    gMu: new Float64Array(yDim),
    gZ: new Float64Array(yDim),
  };
}

/** The 8 arrays of a flat parameter (or gradient) vector as views, in Club.variables order. */
interface ClubArrays<T extends Float32Array | Float64Array> {
  w1: T;
  b1: T;
  w2: T;
  b2: T;
  w3: T;
  b3: T;
  w4: T;
  b4: T;
}

function clubArrays<T extends Float32Array | Float64Array>(flat: T, xDim: number, yDim: number, h: number): ClubArrays<T> {
  let at = 0;
  const take = (n: number): T => flat.subarray(at, (at += n)) as T;
  // (object literal properties are evaluated in source order: this is the layout order)
  return { w1: take(xDim * h), b1: take(h), w2: take(h * yDim), b2: take(yDim), w3: take(xDim * h), b3: take(h), w4: take(h * yDim), b4: take(yDim) };
}

/**
 * Forward and backward of every row at `params`: adds ∂nll_i/∂params into grad, returns Σ_i nll_i.
 *   nll = Σ_d [(mu − y)² e^{−lv} / 2 + lv / 2],  lv = s·tanh z
 *   ∂nll/∂mu = (mu − y) e^{−lv};  ∂nll/∂z = (1/2 − (mu − y)² e^{−lv} / 2) · s (1 − tanh² z)
 * then back through the output layers, relu (derivative 1 where the pre-activation is > 0) and the input layers.
 */
function accumulateRowsJs(
  x: Float32Array,
  y: Float32Array,
  rows: number,
  xDim: number,
  yDim: number,
  h: number,
  s: number,
  p: ClubArrays<Float32Array>,
  g: ClubArrays<Float64Array>,
  ws: RowScratch,
): number {
  const { w1, b1, w2, b2, w3, b3, w4, b4 } = p;
  const { a1, a3, gA1, gA3, mu, z, gMu, gZ } = ws;
  let nll = 0;
  for (let i = 0; i < rows; i++) {
    const xi = i * xDim;
    const yi = i * yDim;
    // Hidden pre-activations of both nets.
    for (let k = 0; k < h; k++) {
      a1[k] = b1[k]!;
      a3[k] = b3[k]!;
    }
    for (let j = 0; j < xDim; j++) {
      const xv = x[xi + j]!;
      const r = j * h;
      for (let k = 0; k < h; k++) {
        a1[k]! += xv * w1[r + k]!;
        a3[k]! += xv * w3[r + k]!;
      }
    }
    // Output layers on relu(a).
    for (let d = 0; d < yDim; d++) {
      mu[d] = b2[d]!;
      z[d] = b4[d]!;
    }
    for (let k = 0; k < h; k++) {
      const r = k * yDim;
      const h1 = a1[k]!;
      const h3 = a3[k]!;
      // relu: a unit that is off (≤ 0; about half are) adds nothing; NaN goes through, as in tfjs.
      if (!(h1 <= 0)) for (let d = 0; d < yDim; d++) mu[d]! += h1 * w2[r + d]!;
      if (!(h3 <= 0)) for (let d = 0; d < yDim; d++) z[d]! += h3 * w4[r + d]!;
    }
    // The likelihood and its gradient wrt mu and z.
    for (let d = 0; d < yDim; d++) {
      // tanh z = 1 − 2/(e^{2z} + 1), as the native code: V8's Math.tanh costs several Math.exp (exact in
      // float64 up to rounding; e^{2z} = Infinity gives 1).
      const t = 1 - 2 / (Math.exp(2 * z[d]!) + 1);
      const lv = s * t;
      const invVar = Math.exp(-lv);
      const diff = mu[d]! - y[yi + d]!;
      const quad = diff * diff * invVar;
      nll += 0.5 * quad + 0.5 * lv;
      gMu[d] = diff * invVar;
      gZ[d] = (0.5 - 0.5 * quad) * s * (1 - t * t);
      g.b2[d]! += gMu[d]!;
      g.b4[d]! += gZ[d]!;
    }
    // Output layers: weight gradients and the gradient into the hidden units (zero where relu is off, i.e.
    // relu' = 1 only where the pre-activation is > 0).
    for (let k = 0; k < h; k++) {
      const r = k * yDim;
      const h1 = a1[k]!;
      const h3 = a3[k]!;
      let g1 = 0;
      let g3 = 0;
      if (h1 > 0) {
        for (let d = 0; d < yDim; d++) {
          g1 += w2[r + d]! * gMu[d]!;
          g.w2[r + d]! += h1 * gMu[d]!;
        }
      }
      if (h3 > 0) {
        for (let d = 0; d < yDim; d++) {
          g3 += w4[r + d]! * gZ[d]!;
          g.w4[r + d]! += h3 * gZ[d]!;
        }
      }
      gA1[k] = g1;
      gA3[k] = g3;
      g.b1[k]! += g1;
      g.b3[k]! += g3;
    }
    // Input layers.
    for (let j = 0; j < xDim; j++) {
      const xv = x[xi + j]!;
      const r = j * h;
      for (let k = 0; k < h; k++) {
        g.w1[r + k]! += xv * gA1[k]!;
        g.w3[r + k]! += xv * gA3[k]!;
      }
    }
  }
  return nll;
}

/** One Adam step as tfjs's AdamOptimizer (= PyTorch's), t the 1-based step; float64 math, float32 storage. */
function adamUpdateJs(grad: Float64Array, params: Float32Array, m: Float32Array, v: Float32Array, t: number, lr: number, beta1: number, beta2: number, eps: number): void {
  const correction1 = 1 - Math.pow(beta1, t);
  const correction2 = 1 - Math.pow(beta2, t);
  for (let j = 0; j < grad.length; j++) {
    const g = grad[j]!;
    const mj = beta1 * m[j]! + (1 - beta1) * g;
    const vj = beta2 * v[j]! + (1 - beta2) * g * g;
    m[j] = mj;
    v[j] = vj;
    params[j] = params[j]! - (lr * (mj / correction1)) / (Math.sqrt(vj / correction2) + eps);
  }
}

/** The addon's argument checks (same conditions, same wording); returns the number of rows. */
function checkFitArguments(...args: Parameters<ClubFitAdam>): number {
  const [x, y, rowsPerGroup, xDim, yDim, hiddenUnits, logvarScale, params, m, v, adamStep, steps, lr, beta1, beta2, eps] = args;
  const fail = (message: string): never => {
    throw new TypeError(`clubFitAdam: ${message}`);
  };
  const arrays = { x, y, params, m, v };
  for (const [name, a] of Object.entries(arrays)) if (!(a instanceof Float32Array)) fail(`${name} must be a Float32Array`);
  const counts = { rowsPerGroup, xDim, yDim, hiddenUnits, adamStep, steps };
  for (const [name, n] of Object.entries(counts)) if (!Number.isInteger(n) || n < 0 || n > 2147483647) fail(`${name} must be an integer in [0, 2^31)`);
  const reals = { logvarScale, lr, beta1, beta2, eps };
  for (const [name, r] of Object.entries(reals)) if (typeof r !== "number" || !Number.isFinite(r)) fail(`${name} must be finite`);
  if (rowsPerGroup < 1 || xDim < 1 || yDim < 1 || hiddenUnits < 1) fail("rowsPerGroup, xDim, yDim and hiddenUnits must be positive");
  if (x.length === 0 || x.length % xDim !== 0) fail(`x has ${x.length} values, not a positive multiple of xDim = ${xDim}`);
  const rows = x.length / xDim;
  if (rows % rowsPerGroup !== 0) fail(`x has ${rows} rows, not a multiple of rowsPerGroup = ${rowsPerGroup}`);
  const size = clubParameterCount(xDim, yDim, hiddenUnits);
  const shape = `xDim ${xDim}, yDim ${yDim}, hiddenUnits ${hiddenUnits}`;
  const lengths: [string, number, number, string][] = [
    ["y", y.length, rows * yDim, `${rows} rows × yDim ${yDim}`],
    ["params", params.length, size, shape],
    ["m", m.length, size, shape],
    ["v", v.length, size, shape],
  ];
  for (const [name, got, want, what] of lengths) if (got !== want) fail(`${name} has ${got} values, expected ${want} (${what})`);
  if (!(logvarScale > 0)) fail("logvarScale must be > 0");
  if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) fail("beta1 and beta2 must be in [0, 1)");
  if (!(lr >= 0 && eps >= 0)) fail("lr and eps must be ≥ 0");
  return rows;
}
