import * as tf from "@tensorflow/tfjs";
import { lookUpNativeFunction, type SeaNativeAddon } from "../addon";
import { nativeKernelsActive } from "../kernels";
import { readFloat32 } from "../../util/takeData";
import { registerFastKernel } from "../implementation";
import { clubParameterCount, flattenClubWeights, type ClubNet } from "./clubLayout";

/**
 * The fast kernel of the op "clubUpperBound", the CLUB upper bound term of the encoder's loss (readable version:
 * clubUpperBoundReadable in src/losses/club/club.ts, docs/method.md §3.3) as one op: its forward pass computes the
 * bound and its gradients wrt x and y in a single call on flat arrays, either native/src/club_bound.cc (the addon's
 * clubUpperBoundGrad) or `clubUpperBoundGradJs` below, its twin. The composition is ~100 small kernels forward and
 * backward; this is one pass over the rows.
 *
 * The CLUB net's weights are read as constants: the op has no gradient for them. That is all the trainer needs
 * (the encoder's optimiser never updates them; the net trains in its own loop, clubFit), but it is a difference
 * from the readable composition, through which tf.grads would also reach the net's variables.
 */

/** The addon's fused bound + gradient (same signature as `clubUpperBoundGradJs`). */
export type ClubBoundKernel = SeaNativeAddon["clubUpperBoundGrad"];

/**
 * Applies when the native kernels are active and tfjs runs on "cpu" (where the composition's element-wise work
 * runs in tfjs's JS loops) and the addon has the kernel. The JS twin is for tests: it is no faster than tfjs.
 */
export function fusedClubBoundApplies(): boolean {
  return nativeKernelsActive() && tf.getBackend() === "cpu" && lookUpNativeFunction("clubUpperBoundGrad").fn !== null;
}

registerFastKernel("clubUpperBound", {
  applies: fusedClubBoundApplies,
  run: (club: ClubNet, x: tf.Tensor2D, y: tf.Tensor2D, perm: Int32Array | tf.Tensor1D) => clubUpperBoundFused(club, x, y, perm, chooseClubBoundKernel("native")),
});

/** The kernel for "native" (throws when the addon cannot be used) or "js" (the twin). */
export function chooseClubBoundKernel(choice: "native" | "js"): ClubBoundKernel {
  if (choice === "js") return clubUpperBoundGradJs;
  const found = lookUpNativeFunction("clubUpperBoundGrad");
  if (!found.fn) throw new Error(`Club.upperBound: native implementation requested but unavailable: ${found.reason}`);
  return found.fn;
}

/**
 * B = max(0, ½·mean_i[ll(x_i, y_i) − ll(x_i, y_perm(i))]) as a scalar op differentiable wrt x and y. The
 * gradients are computed in the forward call (the training loss is always differentiated) and kept as plain
 * Float32Arrays, so evaluating the bound alone leaves no tensors behind. Shapes as Club.upperBound checks them.
 */
export function clubUpperBoundFused(club: ClubNet, x: tf.Tensor2D, y: tf.Tensor2D, perm: Int32Array | tf.Tensor1D, kernel: ClubBoundKernel): tf.Scalar {
  const rows = x.shape[0];
  const permValues = perm instanceof Int32Array ? perm : Int32Array.from(perm.dataSync());
  if (permValues.length !== rows) throw new Error(`Club.upperBound: permutation has ${permValues.length} entries for ${rows} rows`);
  const { xDim, yDim, hiddenUnits, logvarScale } = club;
  const params = flatClubParameters(club);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xt, yt] = args as tf.Tensor2D[];
    const dx = new Float32Array(rows * xDim);
    const dy = new Float32Array(rows * yDim);
    const bound = kernel(readFloat32(xt!), readFloat32(yt!), permValues, rows, xDim, yDim, hiddenUnits, logvarScale, params, dx, dy);
    return {
      value: tf.scalar(bound),
      gradFunc: (seed: tf.Tensor) => [tf.mul(seed, tf.tensor2d(dx, [rows, xDim])), tf.mul(seed, tf.tensor2d(dy, [rows, yDim]))],
    };
  });
  return op(x, y) as tf.Scalar;
}

/** The club's 8 variables concatenated in Club.variables order (the kernels' `params`). */
export function flatClubParameters(club: ClubNet): Float32Array {
  return flattenClubWeights(club.getWeights());
}

// ---------------------------------------------------------------------------------------- the JS twin

/**
 * Same arguments, checks and result as the addon's clubUpperBoundGrad (src/backend/addon.ts), in plain JS,
 * mirroring native/src/club_bound.cc operation for operation in float64 (same summation orders), so the two
 * agree to the last bits of exp: writes dx = ∂B/∂x, dy = ∂B/∂y and returns B.
 */
export function clubUpperBoundGradJs(...args: Parameters<ClubBoundKernel>): number {
  checkBoundArguments(...args);
  const [x, y, perm, rows, xDim, yDim, hiddenUnits, logvarScale, params, dx, dy] = args;
  const net = boundNet(params, xDim, yDim, hiddenUnits, logvarScale);
  const term = new Float64Array(rows);
  const gX = new Float64Array(rows * xDim);
  const gY = new Float64Array(rows * yDim);
  const gYn = new Float64Array(rows * yDim);
  boundRowsJs(net, x, y, perm, rows, term, gX, gY, gYn);
  let sum = 0;
  for (let i = 0; i < rows; i++) sum += term[i]!;
  const c = 0.5 / rows;
  const bound = c * sum;
  // dB/dD: 1 above 0, 0 at or below 0 (tfjs's relu gradient), NaN for NaN (as tfjs's step).
  const scale = Number.isNaN(bound) ? bound : bound > 0 ? c : 0;
  // The negative term's y gradient belongs to row perm(i): added in row order (perm need not be a bijection).
  for (let i = 0; i < rows; i++) {
    const to = perm[i]! * yDim;
    const from = i * yDim;
    for (let d = 0; d < yDim; d++) gY[to + d]! += gYn[from + d]!;
  }
  for (let j = 0; j < gX.length; j++) dx[j] = scale * gX[j]!;
  for (let j = 0; j < gY.length; j++) dy[j] = scale * gY[j]!;
  return bound > 0 || Number.isNaN(bound) ? bound : 0;
}

/** The net in float64 with transposed weight copies for the backward pass (as BoundNet in club_bound.cc). */
interface BoundNet {
  xDim: number;
  yDim: number;
  h: number;
  s: number;
  w1: Float64Array;
  b1: Float64Array;
  w2: Float64Array;
  b2: Float64Array;
  w3: Float64Array;
  b3: Float64Array;
  w4: Float64Array;
  b4: Float64Array;
  w1t: Float64Array;
  w2t: Float64Array;
  w3t: Float64Array;
  w4t: Float64Array;
}

function boundNet(params: Float32Array, xDim: number, yDim: number, h: number, s: number): BoundNet {
  let at = 0;
  const take = (n: number): Float64Array => Float64Array.from(params.subarray(at, (at += n)));
  const w1 = take(xDim * h);
  const b1 = take(h);
  const w2 = take(h * yDim);
  const b2 = take(yDim);
  const w3 = take(xDim * h);
  const b3 = take(h);
  const w4 = take(h * yDim);
  const b4 = take(yDim);
  return {
    xDim, yDim, h, s, w1, b1, w2, b2, w3, b3, w4, b4,
    w1t: transpose(w1, xDim, h),
    w2t: transpose(w2, h, yDim),
    w3t: transpose(w3, xDim, h),
    w4t: transpose(w4, h, yDim),
  };
}

function transpose(a: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c]!;
  return t;
}

/** out[o] = bias[o] + Σ_k input[k]·w[k, o], k ascending. */
function dense(input: Float64Array, inDim: number, w: Float64Array, bias: Float64Array, outDim: number, out: Float64Array): void {
  for (let o = 0; o < outDim; o++) out[o] = bias[o]!;
  for (let k = 0; k < inDim; k++) {
    const v = input[k]!;
    const r = k * outDim;
    for (let o = 0; o < outDim; o++) out[o]! += v * w[r + o]!;
  }
}

/** out[k] += Σ_o g[o]·wT[o, k], o ascending. */
function denseBackward(wT: Float64Array, g: Float64Array, outDim: number, inDim: number, out: Float64Array, outAt: number): void {
  for (let o = 0; o < outDim; o++) {
    const v = g[o]!;
    const r = o * inDim;
    for (let k = 0; k < inDim; k++) out[outAt + k]! += v * wT[r + k]!;
  }
}

/**
 * Every row's T_i = Σ_d ½ iv_d [(mu_d − y_perm(i),d)² − (mu_d − y_i,d)²] and its unscaled gradients wrt x_i,
 * y_i and y_perm(i) (the formulas are in club_bound.cc's BoundRows).
 */
function boundRowsJs(
  n: BoundNet,
  x: Float32Array,
  y: Float32Array,
  perm: Int32Array,
  rows: number,
  term: Float64Array,
  gX: Float64Array,
  gY: Float64Array,
  gYn: Float64Array,
): void {
  const { xDim, yDim, h, s } = n;
  const xi = new Float64Array(xDim);
  const [a1, a3, h1, h3, gA1, gA3] = Array.from({ length: 6 }, () => new Float64Array(h));
  const [mu, z, gMu, gZ] = Array.from({ length: 4 }, () => new Float64Array(yDim));
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < xDim; j++) xi[j] = x[i * xDim + j]!;
    dense(xi, xDim, n.w1, n.b1, h, a1!);
    dense(xi, xDim, n.w3, n.b3, h, a3!);
    for (let k = 0; k < h; k++) {
      h1![k] = a1![k]! < 0 ? 0 : a1![k]!;
      h3![k] = a3![k]! < 0 ? 0 : a3![k]!;
    }
    dense(h1!, h, n.w2, n.b2, yDim, mu!);
    dense(h3!, h, n.w4, n.b4, yDim, z!);
    const pos = i * yDim;
    const neg = perm[i]! * yDim;
    let t = 0;
    for (let d = 0; d < yDim; d++) {
      const th = 1 - 2 / (Math.exp(2 * z![d]!) + 1);
      const iv = Math.exp(-(s * th));
      const q = y[pos + d]!;
      const r = y[neg + d]!;
      const dp = mu![d]! - q;
      const dn = mu![d]! - r;
      const td = 0.5 * iv * (dn * dn - dp * dp);
      t += td;
      gMu![d] = iv * (q - r);
      gZ![d] = -td * s * (1 - th * th);
      gY[pos + d] = iv * dp;
      gYn[pos + d] = -(iv * dn);
    }
    term[i] = t;
    gA1!.fill(0);
    gA3!.fill(0);
    denseBackward(n.w2t, gMu!, yDim, h, gA1!, 0);
    denseBackward(n.w4t, gZ!, yDim, h, gA3!, 0);
    for (let k = 0; k < h; k++) {
      if (!(a1![k]! > 0)) gA1![k] = 0;
      if (!(a3![k]! > 0)) gA3![k] = 0;
    }
    // gX's row i starts at zero (fresh array).
    denseBackward(n.w1t, gA1!, h, xDim, gX, i * xDim);
    denseBackward(n.w3t, gA3!, h, xDim, gX, i * xDim);
  }
}

/** The addon's argument checks (same conditions, same wording, without the addon's "sea_native: " prefix). */
function checkBoundArguments(...args: Parameters<ClubBoundKernel>): void {
  const [x, y, perm, rows, xDim, yDim, hiddenUnits, logvarScale, params, dx, dy] = args;
  const fail = (message: string): never => {
    throw new TypeError(message);
  };
  const floats = { x, y };
  for (const [name, a] of Object.entries(floats)) if (!(a instanceof Float32Array)) fail(`${name} must be a Float32Array`);
  if (!(perm instanceof Int32Array)) fail("perm must be an Int32Array");
  const counts = { rows, xDim, yDim, hiddenUnits };
  for (const [name, n] of Object.entries(counts)) {
    if (typeof n !== "number") fail(`${name} must be a number`);
    if (!Number.isInteger(n) || n < 0 || n > 2147483647) fail(`${name} must be an integer in [0, 2^31)`);
  }
  if (typeof logvarScale !== "number") fail("clubUpperBoundGrad: logvarScale must be a number");
  if (!Number.isFinite(logvarScale)) fail("clubUpperBoundGrad: logvarScale must be finite");
  const outputs = { params, dx, dy };
  for (const [name, a] of Object.entries(outputs)) if (!(a instanceof Float32Array)) fail(`${name} must be a Float32Array`);
  if (rows < 1 || xDim < 1 || yDim < 1 || hiddenUnits < 1) fail("clubUpperBoundGrad: rows, xDim, yDim and hiddenUnits must be positive");
  if (!(logvarScale > 0)) fail("clubUpperBoundGrad: logvarScale must be > 0");
  const xShape = `${rows} rows × xDim ${xDim}`;
  const yShape = `${rows} rows × yDim ${yDim}`;
  const netShape = `xDim ${xDim}, yDim ${yDim}, hiddenUnits ${hiddenUnits}`;
  const lengths: [string, number, number, string][] = [
    ["x", x.length, rows * xDim, xShape],
    ["y", y.length, rows * yDim, yShape],
    ["perm", perm.length, rows, "one entry per row"],
    ["params", params.length, clubParameterCount(xDim, yDim, hiddenUnits), netShape],
    ["dx", dx.length, rows * xDim, xShape],
    ["dy", dy.length, rows * yDim, yShape],
  ];
  for (const [name, got, want, what] of lengths) {
    if (got !== want) fail(`clubUpperBoundGrad: ${name} has ${got} values, expected ${want} (${what})`);
  }
  for (let i = 0; i < rows; i++) {
    if (perm[i]! < 0 || perm[i]! >= rows) fail(`clubUpperBoundGrad: perm[${i}] = ${perm[i]} is outside [0, ${rows})`);
  }
}
