import * as tf from "@tensorflow/tfjs";
import { NORM_EPS } from "../../util/normEps";
import { lookUpNativeFunctions, type SeaNativeAddon } from "../addon";
import { readFloat32, takeData } from "../../util/takeData";
import { columnSums } from "../../util/rowMajor";
import { registerFastKernel } from "../implementation";
import { chooseNativeOrTwin, type NativeChoice } from "./nativeChoice";

/**
 * The fast kernel of the op "projectionHeadRest" (readable version: projectionHeadReadable in
 * src/model/projectionHead.ts, docs/method.md §4): BN → ReLU → Linear → BN → ReLU → Linear → row L2-normalise as
 * one custom op. On the tfjs "cpu" backend tensors live in host memory, so reading them costs nothing and the
 * op replaces ~100 small kernels (forward and backward) with two matmuls forward, four backward and a few
 * typed-array passes. Other backends keep the composition (reading back would cost a device sync).
 */

/** The head's tensors (the model's ProjectionHeadParams). */
export interface HeadTensors {
  readonly bn1: { readonly gamma: tf.Tensor; readonly beta: tf.Tensor };
  readonly l2: { readonly w: tf.Tensor; readonly b: tf.Tensor };
  readonly bn2: { readonly gamma: tf.Tensor; readonly beta: tf.Tensor };
  readonly l3: { readonly w: tf.Tensor; readonly b: tf.Tensor };
}

/**
 * Who runs the fused op's row passes: "native" the addon's twins (native/src/row_ops.cc; an error when they are
 * unavailable), "js" the loops in this file, "auto" native when available. Both give the same bits.
 */
export type ProjectionHeadPasses = NativeChoice;

/** PyTorch BatchNorm1d's default, as batchNormTrain. */
const BN_EPS = 1e-5;

/** The float32 eps² the readable path's normalisation compares the squared norm with. */
const EPS2 = Math.fround(NORM_EPS * NORM_EPS);

/** The fused op's typed-array passes (the JS loops below and the addon's functions share these signatures). */
interface HeadPasses {
  readonly bnReluForward: SeaNativeAddon["bnReluForward"];
  readonly bnReluBackward: SeaNativeAddon["bnReluBackward"];
  readonly normalizeForward: SeaNativeAddon["headNormalizeRows"];
  /** dz [n, w] = normalisation's backward of the unit rows y for the incoming gradient dy. */
  readonly normalizeBackward: (dy: Float32Array, y: Float32Array, invNorm: Float32Array, active: Uint8Array, n: number, w: number, dz: Float32Array) => void;
  readonly columnSums: SeaNativeAddon["columnSums"];
}

/** The addon's row passes, or why they are unavailable (SEA_NATIVE=0, addon missing, or built before them). */
export function nativeProjectionHeadPasses(): { passes: HeadPasses; reason: null } | { passes: null; reason: string } {
  const { fns, reason } = lookUpNativeFunctions(["bnReluForward", "bnReluBackward", "headNormalizeRows", "normalizeRowsBackward", "columnSums"] as const);
  if (!fns) return { passes: null, reason };
  const backward = fns.normalizeRowsBackward;
  return {
    passes: {
      bnReluForward: fns.bnReluForward,
      bnReluBackward: fns.bnReluBackward,
      normalizeForward: fns.headNormalizeRows,
      // The graph encoder's normalisation backward with a single term and all rows.
      normalizeBackward: (dy, y, invNorm, active, n, w, dz) => backward(dy, null, null, y, invNorm, active, dz, 0, n, w),
      columnSums: fns.columnSums,
    },
    reason: null,
  };
}

function choosePasses(choice: ProjectionHeadPasses): HeadPasses {
  const lookUp = () => {
    const native = nativeProjectionHeadPasses();
    return { found: native.passes, reason: native.reason };
  };
  return chooseNativeOrTwin(choice, lookUp, JS_PASSES, "projectionHeadRest: native row passes");
}

registerFastKernel("projectionHeadRest", {
  applies: () => tf.getBackend() === "cpu",
  run: (h1: tf.Tensor2D, params: HeadTensors) => projectionHeadFused(h1, params),
});

/**
 * The fused op with a chosen runner of its row passes (tests compare "native" and "js": identical results, and
 * both with projectionHeadReadable: float32 rounding). Shapes as projectionHeadRest checks them.
 */
export function projectionHeadFused(h1: tf.Tensor2D, params: HeadTensors, passes: ProjectionHeadPasses = "auto"): tf.Tensor2D {
  const p = params;
  return fusedHead(choosePasses(passes))(h1, p.bn1.gamma, p.bn1.beta, p.l2.w, p.l2.b, p.bn2.gamma, p.bn2.beta, p.l3.w, p.l3.b) as tf.Tensor2D;
}

/** Saved by a BatchNorm → ReLU forward for its backward. */
interface BnReluSaved {
  /** x̂ = (x − mean)/σ, [N, h] */
  readonly xHat: Float32Array;
  /** 1/σ per column, σ = sqrt(var + eps) with the biased variance */
  readonly invStd: Float64Array;
}

/**
 * The fused op. All nine tensors are explicit inputs so that tf.variableGrads, which walks the tape's
 * inputs, reaches the variables; the gradient returns one tensor per input. Everything the backward needs
 * (x̂ and 1/σ of both BNs, both ReLU outputs — their masks are output > 0 — the unit rows and their
 * inverse norms) is kept as plain typed arrays in the closure, so nothing can leak as a tensor.
 */
function fusedHead(passes: HeadPasses): (...inputs: tf.Tensor[]) => tf.Tensor {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [h1, gamma1, beta1, w2, , gamma2, beta2, w3, b3] = args as tf.Tensor[];
    const [n, h] = h1!.shape as [number, number];
    const out = w3!.shape[1]!;
    // Copies: the backward must see the values of this forward even if an optimiser writes variables in place.
    const g1 = Float32Array.from(readFloat32(gamma1!));
    const g2 = Float32Array.from(readFloat32(gamma2!));

    // a = ReLU(BN1(h1))
    const a = new Float32Array(n * h);
    const bn1 = bnReluWith(passes, readFloat32(h1!), n, h, g1, readFloat32(beta1!), a);
    // b = ReLU(BN2(a·W2 + b2)). The bias b2 shifts each column and its batch mean alike, so BN cancels it:
    // it is left out of the forward, and its gradient (Σ over the batch of dz2, zero up to rounding) is returned.
    const z2 = matMulValues(a, n, h, w2!);
    const b = new Float32Array(n * h);
    const bn2 = bnReluWith(passes, z2, n, h, g2, readFloat32(beta2!), b);
    // y = normalise(b·W3 + b3)
    const y = matMulValues(b, n, h, w3!); // overwritten in place by the normalised rows (a fresh array)
    const invNorm = new Float32Array(n);
    const normActive = new Uint8Array(n);
    passes.normalizeForward(y, n, out, readFloat32(b3!), EPS2, invNorm, normActive);
    const value = tf.tensor2d(y, [n, out]);

    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => tf.tidy(() => {
      const dz3 = new Float32Array(n * out);
      passes.normalizeBackward(readFloat32(dy), y, invNorm, normActive, n, out, dz3);
      const l3 = linearBackward(passes, dz3, b, w3!, n, h, out);
      const bn2Grads = bnReluBackwardWith(passes, l3.dx, b, bn2, g2, n, h); // l3.dx becomes dz2 in place
      const l2 = linearBackward(passes, l3.dx, a, w2!, n, h, h);
      const bn1Grads = bnReluBackwardWith(passes, l2.dx, a, bn1, g1, n, h); // l2.dx becomes dh1 in place
      return [
        tf.tensor2d(l2.dx, [n, h]),
        tf.tensor1d(bn1Grads.dGamma),
        tf.tensor1d(bn1Grads.dBeta),
        l2.dW,
        tf.tensor1d(l2.db),
        tf.tensor1d(bn2Grads.dGamma),
        tf.tensor1d(bn2Grads.dBeta),
        l3.dW,
        tf.tensor1d(l3.db),
      ];
    });
    return { value, gradFunc };
  }) as (...inputs: tf.Tensor[]) => tf.Tensor;
}

/**
 * Backward of z = x·W + b for the upstream gradient dz [N, outDim]: dW = xᵀ·dz (a tensor, for the
 * caller's tidy), db = column sums of dz, dx = dz·Wᵀ [N, inDim] (a fresh array).
 */
function linearBackward(
  passes: HeadPasses, dz: Float32Array, x: Float32Array, w: tf.Tensor, n: number, inDim: number, outDim: number,
): { dW: tf.Tensor; db: Float32Array; dx: Float32Array } {
  const db = new Float32Array(outDim);
  passes.columnSums(dz, n, outDim, db);
  const dW = tf.matMul(tf.tensor2d(x, [n, inDim]), tf.tensor2d(dz, [n, outDim]), true, false);
  const dx = matMulValues(dz, n, outDim, w, true);
  return { dW, db, dx };
}

/** BN → ReLU forward through `passes`, allocating what the backward keeps. */
function bnReluWith(passes: HeadPasses, x: Float32Array, n: number, h: number, gamma: Float32Array, beta: Float32Array, out: Float32Array): BnReluSaved {
  const xHat = new Float32Array(n * h);
  const invStd = new Float64Array(h);
  passes.bnReluForward(x, n, h, gamma, beta, BN_EPS, out, xHat, invStd);
  return { xHat, invStd };
}

/** BN → ReLU backward through `passes` (d becomes dx in place). */
function bnReluBackwardWith(
  passes: HeadPasses,
  d: Float32Array,
  relued: Float32Array,
  saved: BnReluSaved,
  gamma: Float32Array,
  n: number,
  h: number,
): { dGamma: Float32Array; dBeta: Float32Array } {
  const dGamma = new Float32Array(h);
  const dBeta = new Float32Array(h);
  passes.bnReluBackward(d, relued, saved.xHat, saved.invStd, gamma, n, h, dGamma, dBeta);
  return { dGamma, dBeta };
}

/**
 * Batch-statistics BN then ReLU, column-wise over a row-major [N, h] x: two passes for mean and biased
 * variance (mean of squared deviations, as tf.moments, not E[x²] − mean², which cancels), one to write
 * x̂ and relu(γ·x̂ + β) into `out`. Sums in float64.
 */
function bnReluForward(...args: Parameters<SeaNativeAddon["bnReluForward"]>): void {
  const [x, n, h, gamma, beta, eps, out, xHat, invStd] = args;
  const mean = new Float64Array(h);
  for (let i = 0, o = 0; i < n; i++, o += h) for (let j = 0; j < h; j++) mean[j]! += x[o + j]!;
  for (let j = 0; j < h; j++) mean[j]! /= n;
  const variance = new Float64Array(h);
  for (let i = 0, o = 0; i < n; i++, o += h) {
    for (let j = 0; j < h; j++) {
      const d = x[o + j]! - mean[j]!;
      variance[j]! += d * d;
    }
  }
  for (let j = 0; j < h; j++) invStd[j] = 1 / Math.sqrt(variance[j]! / n + eps);
  for (let i = 0, o = 0; i < n; i++, o += h) {
    for (let j = 0; j < h; j++) {
      const xh = (x[o + j]! - mean[j]!) * invStd[j]!;
      xHat[o + j] = xh;
      const v = gamma[j]! * xh + beta[j]!;
      out[o + j] = v > 0 ? v : 0;
    }
  }
}

/**
 * Backward of ReLU(BN(x)) given d(out) in `d` (overwritten with dx). With g = d·[out > 0] (ReLU's
 * gradient, as tfjs's step: zero at 0), dγ = Σ g·x̂, dβ = Σ g and, because the batch mean and variance
 * depend on every row, dx = (γ/σ)·(g − mean(g) − x̂·mean(g·x̂)) per column, where mean(g) = dβ/N and
 * mean(g·x̂) = dγ/N.
 */
function bnReluBackward(...args: Parameters<SeaNativeAddon["bnReluBackward"]>): void {
  const [d, relued, xHat, invStd, gamma, n, h, dGamma, dBeta] = args;
  const sumG = new Float64Array(h);
  const sumGx = new Float64Array(h);
  for (let i = 0, o = 0; i < n; i++, o += h) {
    for (let j = 0; j < h; j++) {
      const g = relued[o + j]! > 0 ? d[o + j]! : 0;
      d[o + j] = g;
      sumG[j]! += g;
      sumGx[j]! += g * xHat[o + j]!;
    }
  }
  const scale = new Float64Array(h);
  const meanG = new Float64Array(h);
  const meanGx = new Float64Array(h);
  for (let j = 0; j < h; j++) {
    scale[j] = gamma[j]! * invStd[j]!;
    meanG[j] = sumG[j]! / n;
    meanGx[j] = sumGx[j]! / n;
  }
  for (let i = 0, o = 0; i < n; i++, o += h) {
    for (let j = 0; j < h; j++) d[o + j] = scale[j]! * (d[o + j]! - meanG[j]! - xHat[o + j]! * meanGx[j]!);
  }
  dGamma.set(sumGx);
  dBeta.set(sumG);
}

/**
 * In place: z ← (z + bias) · r per row, r = 1/sqrt(max(‖z + bias‖², eps²)) as normalizeRows. `active`
 * records whether the squared norm reached eps² (tf.maximum sends the gradient to that branch when ≥).
 */
function normalizeForward(z: Float32Array, n: number, w: number, bias: Float32Array, eps2: number, invNorm: Float32Array, active: Uint8Array): void {
  for (let i = 0, o = 0; i < n; i++, o += w) {
    let sq = 0;
    for (let j = 0; j < w; j++) {
      const v = z[o + j]! + bias[j]!;
      z[o + j] = v;
      sq += v * v;
    }
    const sq32 = Math.fround(sq);
    active[i] = sq32 >= eps2 ? 1 : 0;
    const r = 1 / Math.sqrt(active[i] ? sq32 : eps2);
    invNorm[i] = r;
    for (let j = 0; j < w; j++) z[o + j] = z[o + j]! * r;
  }
}

/**
 * d(x·r)/dx for a row with unit output y = x·r: r·(dy − y·(dy·y)) when the norm is active; below eps the
 * divisor is the constant eps, so just r·dy (a zero row thus gets a finite gradient, dy/eps).
 */
function normalizeBackward(dy: Float32Array, y: Float32Array, invNorm: Float32Array, active: Uint8Array, n: number, w: number, dz: Float32Array): void {
  for (let i = 0, o = 0; i < n; i++, o += w) {
    let dot = 0;
    if (active[i]) for (let j = 0; j < w; j++) dot += dy[o + j]! * y[o + j]!;
    const r = invNorm[i]!;
    for (let j = 0; j < w; j++) dz[o + j] = r * (dy[o + j]! - y[o + j]! * dot);
  }
}

/** The JS twins of the addon's row passes (the fallback; native/src/row_ops.cc must stay in step with them). */
const JS_PASSES: HeadPasses = { bnReluForward, bnReluBackward, normalizeForward, normalizeBackward, columnSums };

/**
 * x [N, k] (a host array) times m (or mᵀ), through tf.matMul so the kit's BLAS kernel serves it; the result
 * is the disposed product's storage, which nothing else holds, so the caller may overwrite it.
 */
function matMulValues(x: Float32Array, n: number, k: number, m: tf.Tensor, transposeM = false): Float32Array {
  // Explicit disposal, not tf.tidy: tidy walks its result, and would visit every element of a typed array.
  const input = tf.tensor2d(x, [n, k]);
  const product = tf.matMul(input, m as tf.Tensor2D, false, transposeM);
  input.dispose();
  return takeData(product);
}
