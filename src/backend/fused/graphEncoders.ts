import * as tf from "@tensorflow/tfjs";
import { NORM_EPS } from "../../util/normEps";
import type { SparseMatrix } from "../sparse";
import { lookUpNativeFunctions, type SeaNativeAddon } from "../addon";
import { readFloat32 } from "../../util/takeData";
import { columnSums } from "../../util/rowMajor";
import { leakyReluValues } from "../cpuUnary";
import { registerFastKernel } from "../implementation";
import { chooseNativeOrTwin, type NativeChoice } from "./nativeChoice";

/**
 * The fast kernel of the op "graphEncoders" (readable version: graphEncodersReadable in src/model/graphEncoder.ts,
 * docs/method.md §5.1–§5.3). On the tfjs "cpu" backend tensors live in host memory, so one custom op replaces ~60
 * small kernels on [U+N, k] arrays (and LeakyReLU's Select-based gradient) with two BLAS products and 2L sparse
 * products per modality plus a few typed-array passes. Other backends keep the composition (reading tensors back
 * would cost a device sync). The arguments are those of the readable function, already checked by graphEncoders.
 */

/** One modality's tensors (the model's GraphEncoderModality). */
export interface EncoderModalityTensors {
  readonly hidden: tf.Tensor2D;
  readonly second: { readonly w: tf.Tensor; readonly b: tf.Tensor };
  readonly userPreference: tf.Tensor2D;
}

/** The constants (the model's GraphEncoderOptions). */
export interface EncoderConstants {
  readonly graph: SparseMatrix;
  readonly layers: number;
  readonly leakySlope: number;
}

/**
 * Who runs the fused op's row passes: "native" the addon's twins (native/src/row_ops.cc; an error when they are
 * unavailable), "js" the loops in this file (the JS twins), "auto" native when available. Both give the same bits.
 */
export type GraphEncoderPasses = NativeChoice;

/** The fused op's typed-array passes (the JS loops below and the addon's functions share these signatures). */
type EncoderPasses = Pick<
  SeaNativeAddon,
  "leakyRelu" | "leakyReluGrad" | "encoderNormalizeRows" | "encoderWriteOutputs" | "encoderLayerSumGradient" | "normalizeRowsBackward" | "columnSums"
>;

/** The addon's row passes, or why they are unavailable (SEA_NATIVE=0, addon missing, or built before them). */
export function nativeGraphEncoderPasses(): { passes: EncoderPasses; reason: null } | { passes: null; reason: string } {
  const { fns, reason } = lookUpNativeFunctions([
    "leakyRelu",
    "leakyReluGrad",
    "encoderNormalizeRows",
    "encoderWriteOutputs",
    "encoderLayerSumGradient",
    "normalizeRowsBackward",
    "columnSums",
  ] as const);
  return fns ? { passes: fns, reason: null } : { passes: null, reason };
}

/** The passes the fused op runs for `choice` ("auto": the addon's when it has them, else the JS twins). */
export function graphEncoderPasses(choice: GraphEncoderPasses): EncoderPasses {
  const lookUp = () => {
    const native = nativeGraphEncoderPasses();
    return { found: native.passes, reason: native.reason };
  };
  return chooseNativeOrTwin(choice, lookUp, JS_PASSES, "graphEncoders: native row passes");
}

registerFastKernel("graphEncoders", {
  applies: () => tf.getBackend() === "cpu",
  run: (modalities: readonly EncoderModalityTensors[], modalityWeights: tf.Tensor2D, options: EncoderConstants) =>
    graphEncodersFused(modalities, modalityWeights, options),
});

/**
 * The fused op with a chosen runner of its row passes (tests compare "native" and "js": identical results, and
 * both with graphEncodersReadable: float32 rounding).
 */
export function graphEncodersFused(
  modalities: readonly EncoderModalityTensors[],
  modalityWeights: tf.Tensor2D,
  options: EncoderConstants,
  passes: GraphEncoderPasses = "auto",
): { users: tf.Tensor2D; items: tf.Tensor2D } {
  const dims = dimsOf(modalities, modalityWeights);
  const chosen = graphEncoderPasses(passes);
  return tf.tidy(() => {
    const op = fusedOp(dims, options, chosen);
    const inputs: tf.Tensor[] = [modalityWeights];
    for (const m of modalities) inputs.push(m.hidden, m.second.w, m.second.b, m.userPreference);
    // customGrad has one output: users and items come stacked as [U+N, M·k] rows, and one split (a copy of
    // each row block; its gradient, one concat, is exactly the stacked dy the backward reads) separates them.
    const [users, items] = tf.split(op(...inputs), [dims.nUsers, dims.nItems], 0) as [tf.Tensor2D, tf.Tensor2D];
    return { users, items };
  });
}

interface Dims {
  readonly nUsers: number;
  readonly nItems: number;
  readonly k: number;
  /** Hidden width per modality. */
  readonly hidden: readonly number[];
}

/** The sizes the op is built for (shapes checked by graphEncoders before dispatch). */
function dimsOf(modalities: readonly EncoderModalityTensors[], modalityWeights: tf.Tensor2D): Dims {
  const first = modalities[0];
  if (!first) throw new Error("graphEncoders: need at least one modality");
  return { nUsers: modalityWeights.shape[0], nItems: first.hidden.shape[0], k: first.second.w.shape[1]!, hidden: modalities.map((m) => m.hidden.shape[1]) };
}

/** The float32 eps² the readable path's normalisation compares the squared norm with. */
const EPS2 = Math.fround(NORM_EPS * NORM_EPS);

/** What one modality's forward keeps for the backward (host arrays only: nothing to leak). */
interface ModalitySaved {
  /** leakyRelu(hidden) [N, H]: the input of W2, so dW2 = leakyᵀ·d itemIn. */
  readonly leaky: Float32Array;
  /**
   * What LeakyReLU's gradient tests for > 0 [N, H]: for a slope ≥ 0, leaky > 0 exactly where hidden > 0
   * (slope·v of a negative v is negative or −0), so `leaky` itself; for a negative slope a copy of hidden.
   */
  readonly positiveTest: Float32Array;
  /** W2 as of this forward [H, k]. */
  readonly w2: Float32Array;
  /** x0 = the normalised rows [U+N, k] (normalisation's backward reads y). */
  readonly x0: Float32Array;
  /** 1/max(‖row‖, eps) per row of x0, as float32 (what the readable path multiplies by). */
  readonly invNorm: Float32Array;
  /** Whether ‖row‖² reached eps² (tf.maximum sends the gradient to that branch when ≥). */
  readonly active: Uint8Array;
  /** The layer sum's user rows [U, k], before the modality weight (d modalityWeights reads them). */
  readonly sumUsers: Float32Array;
}

/**
 * The fused op for one call's constants. All tensors are explicit inputs, in the order
 * [modalityWeights, (hidden, w2, b2, userPreference) per modality], so tf.variableGrads (which walks the
 * tape's inputs) reaches the variables; the gradient returns one tensor per input.
 */
function fusedOp(dims: Dims, options: EncoderConstants, passes: EncoderPasses): (...inputs: tf.Tensor[]) => tf.Tensor {
  const { nUsers: U, nItems: N, k } = dims;
  const M = dims.hidden.length;
  const L = options.layers;
  const graph = options.graph;
  const rows = U + N;
  const width = M * k;
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const tensors = args.slice(0, 1 + 4 * M) as tf.Tensor[];
    // A copy: the backward must use this forward's weights even if an optimiser writes variables in place.
    const weights = Float32Array.from(readFloat32(tensors[0]!)); // [U, M]
    const out = new Float32Array(rows * width); // users rows (weighted) then item rows
    const saved: ModalitySaved[] = [];
    for (let m = 0; m < M; m++) {
      const [hidden, w2, b2, userPreference] = tensors.slice(1 + 4 * m, 5 + 4 * m) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const H = dims.hidden[m]!;
      const hiddenValues = readFloat32(hidden);
      const leaky = new Float32Array(N * H);
      passes.leakyRelu(hiddenValues, options.leakySlope, leaky);
      const w2Values = Float32Array.from(readFloat32(w2));
      const x0 = new Float32Array(rows * k);
      const invNorm = new Float32Array(rows);
      const active = new Uint8Array(rows);
      passes.encoderNormalizeRows(readFloat32(userPreference), null, x0, 0, U, k, EPS2, invNorm, active);
      // itemIn = leaky·W2 (BLAS), + b2 and normalised straight into x0's item rows.
      const leakyTensor = tf.tensor2d(leaky, [N, H]);
      const w2Tensor = tf.tensor2d(w2Values, [H, k]);
      const product = tf.matMul(leakyTensor, w2Tensor);
      passes.encoderNormalizeRows(readFloat32(product), readFloat32(b2), x0, U, N, k, EPS2, invNorm, active);
      leakyTensor.dispose();
      w2Tensor.dispose();
      product.dispose();

      const sumUsers = new Float32Array(U * k);
      const [base, next, last] = layerSumTerms(graph, x0, L, k, false);
      passes.encoderWriteOutputs(base, next, last, sumUsers, weights, m, M, out, U, N, k);
      const positiveTest = options.leakySlope >= 0 ? leaky : Float32Array.from(hiddenValues);
      saved.push({ leaky, positiveTest, w2: w2Values, x0, invNorm, active, sumUsers });
    }
    const value = tf.tensor2d(out, [rows, width]);

    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const dyValues = readFloat32(dy); // [U+N, M·k]
      const dWeights = new Float32Array(U * M);
      const g = scratch(G_SLOT, rows * k);
      const grads: tf.Tensor[] = [];
      for (let m = 0; m < M; m++) {
        const s = saved[m]!;
        const [hidden, w2, b2, userPreference] = tensors.slice(1 + 4 * m, 5 + 4 * m) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        passes.encoderLayerSumGradient(dyValues, weights, s.sumUsers, m, M, g, dWeights, U, N, k);
        // d x0 = Σ_{l=0..L} (Aᵀ)ˡ·g: the transpose of the forward's layer sum (the same L products as Horner's
        // g + Aᵀ(g + Aᵀ(…)), and for L ≤ 2 no pass of its own: the normalisation pass adds the terms).
        const [base, next, last] = layerSumTerms(graph, g, L, k, true);
        const dUserPreference = new Float32Array(U * k);
        const dItemIn = new Float32Array(N * k);
        passes.normalizeRowsBackward(base, next, last, s.x0, s.invNorm, s.active, dUserPreference, 0, U, k);
        passes.normalizeRowsBackward(base, next, last, s.x0, s.invNorm, s.active, dItemIn, U, N, k);
        const H = dims.hidden[m]!;
        const [dHidden, dW2] = denseBackward(s, dItemIn, N, H, k, options.leakySlope, passes);
        const db2 = new Float32Array(k);
        passes.columnSums(dItemIn, N, k, db2);
        grads.push(
          tf.tensor(dHidden, hidden.shape),
          tf.tensor(dW2, w2.shape),
          tf.tensor(db2, b2.shape),
          tf.tensor(dUserPreference, userPreference.shape),
        );
      }
      return [tf.tensor(dWeights, tensors[0]!.shape), ...grads];
    };
    return { value, gradFunc };
  }) as (...inputs: tf.Tensor[]) => tf.Tensor;
}

/**
 * Scratch arrays of [U+N, k] reused from call to call: nothing of them outlives the forward or the backward
 * that fills them (what the backward needs is in fresh arrays), and JavaScript runs one of those at a time.
 * Reuse saves allocating, zero-filling and collecting ~7 MB per array per call at Baby scale. Slots 0–2:
 * layerSumTerms; slot 3: the backward's g.
 */
const scratchPool: Float32Array[] = [];
const G_SLOT = 3;

function scratch(slot: number, length: number): Float32Array {
  let a = scratchPool[slot];
  if (!a || a.length !== length) {
    a = new Float32Array(length);
    scratchPool[slot] = a;
  }
  return a;
}

/**
 * Σ_{l=0..L} Bˡ·x with B = A (or Aᵀ), x [rows, k], left as up to three terms whose float32 sum,
 * ((base + next) + last), is the result: the caller adds them in the one pass it makes anyway. For L ≥ 3 a
 * running sum takes the older terms, in the order the readable path adds them (((x + Bx) + B²x) + …).
 */
function layerSumTerms(graph: SparseMatrix, x: Float32Array, L: number, k: number, transpose: boolean): [Float32Array, Float32Array | null, Float32Array | null] {
  if (L === 0) return [x, null, null];
  const n = x.length;
  const p1 = scratch(0, n);
  graph.multiplyHost(x, k, p1, transpose);
  if (L === 1) return [x, p1, null];
  const p2 = scratch(1, n);
  graph.multiplyHost(p1, k, p2, transpose);
  if (L === 2) return [x, p1, p2];
  const sum = scratch(2, n);
  for (let i = 0; i < n; i++) sum[i] = Math.fround(x[i]! + p1[i]!) + p2[i]!;
  let previous = p2;
  for (let l = 3; ; l++) {
    const next = scratch((l - 1) % 2, n); // overwrites B^(l−2)·x, already in the sum
    graph.multiplyHost(previous, k, next, transpose);
    if (l === L) return [sum, next, null];
    for (let i = 0; i < n; i++) sum[i] = sum[i]! + next[i]!;
    previous = next;
  }
}

/** row ← the float32 sum ((a + b) + c) of row `o` (offset) of the terms; b and c may be absent. */
function sumRow(a: Float32Array, b: Float32Array | null, c: Float32Array | null, o: number, k: number, row: Float32Array): void {
  if (c) for (let j = 0; j < k; j++) row[j] = Math.fround(a[o + j]! + b![o + j]!) + c[o + j]!;
  else if (b) for (let j = 0; j < k; j++) row[j] = a[o + j]! + b[o + j]!;
  else for (let j = 0; j < k; j++) row[j] = a[o + j]!;
}

/**
 * Rows [first, first + n) of x0 ← normalise(source row + bias), as normalizeRows: x·r with
 * r = rsqrt(max(‖x‖², eps²)) rounded to float32 (Rsqrt's output) and the product rounded (Mul's). The
 * squared norm is summed in float64 and rounded once; tfjs's float32 Square then Sum may differ in the last bit.
 */
function normalizeInto(...args: Parameters<SeaNativeAddon["encoderNormalizeRows"]>): void {
  const [source, bias, x0, first, n, k, eps2, invNorm, active] = args;
  for (let i = 0; i < n; i++) {
    const s = i * k;
    const o = (first + i) * k;
    let sq = 0;
    if (bias) {
      // itemIn = product + b2 is a float32 tensor on the readable path: round before squaring.
      for (let j = 0; j < k; j++) {
        const v = Math.fround(source[s + j]! + bias[j]!);
        x0[o + j] = v;
        sq += v * v;
      }
    } else {
      for (let j = 0; j < k; j++) {
        const v = source[s + j]!;
        x0[o + j] = v;
        sq += v * v;
      }
    }
    const sq32 = Math.fround(sq);
    const isActive = sq32 >= eps2;
    const r = Math.fround(1 / Math.sqrt(isActive ? sq32 : eps2));
    active[first + i] = isActive ? 1 : 0;
    invNorm[first + i] = r;
    for (let j = 0; j < k; j++) x0[o + j] = x0[o + j]! * r;
  }
}

/**
 * The one output pass of a modality: sum = ((base + next) + last) per row; user rows are kept in sumUsers
 * [U, k] and written weighted (sum·modalityWeights[i, m]) to the output's columns [m·k, (m+1)·k), item rows
 * written as they are.
 */
function writeOutputs(...args: Parameters<SeaNativeAddon["encoderWriteOutputs"]>): void {
  const [base, next, last, sumUsers, weights, m, M, out, U, N, k] = args;
  const width = M * k;
  const row = new Float32Array(k);
  for (let i = 0; i < U; i++) {
    const s = i * k;
    sumRow(base, next, last, s, k, row);
    sumUsers.set(row, s);
    const w = weights[i * M + m]!;
    const o = i * width + m * k;
    for (let j = 0; j < k; j++) out[o + j] = row[j]! * w;
  }
  for (let i = U; i < U + N; i++) {
    sumRow(base, next, last, i * k, k, row);
    out.set(row, i * width + m * k);
  }
}

/**
 * The gradient reaching the layer sum of modality m, g [U+N, k]: user rows dUsers_m·w_m, item rows
 * dItems_m; and d modalityWeights[:, m] = rowsum(dUsers_m ⊙ sumUsers_m) (dot in float64).
 */
function layerSumGradient(...args: Parameters<SeaNativeAddon["encoderLayerSumGradient"]>): void {
  const [dy, weights, sumUsers, m, M, g, dWeights, U, N, k] = args;
  const width = M * k;
  for (let i = 0; i < U; i++) {
    const w = weights[i * M + m]!;
    const s = i * k;
    const o = i * width + m * k;
    let dot = 0;
    for (let j = 0; j < k; j++) {
      const d = dy[o + j]!;
      g[s + j] = d * w;
      dot += d * sumUsers[s + j]!;
    }
    dWeights[i * M + m] = dot;
  }
  for (let i = U; i < U + N; i++) g.set(dy.subarray(i * width + m * k, i * width + (m + 1) * k), i * k);
}

/**
 * Normalisation's backward for rows [first, first + n) of x0 into dx (from its row 0): with d = the gradient
 * reaching x0 (the float32 sum of the layer-sum terms, added here) and the unit row y, d(x·r)/dx·d is
 * r·(d − y·(d·y)) where the norm is active; below eps the divisor is the constant eps, so just r·d (a zero
 * row gets d/eps: the readable path's value, finite but large).
 */
function normalizeBackward(...args: Parameters<SeaNativeAddon["normalizeRowsBackward"]>): void {
  const [base, next, last, y, invNorm, active, dx, first, n, k] = args;
  const d = new Float32Array(k);
  for (let i = 0; i < n; i++) {
    const row = first + i;
    const o = row * k;
    sumRow(base, next, last, o, k, d);
    let dot = 0;
    for (let j = 0; j < k; j++) dot += d[j]! * y[o + j]!;
    if (!active[row]) dot = 0;
    const r = invNorm[row]!;
    const p = i * k;
    for (let j = 0; j < k; j++) dx[p + j] = r * (d[j]! - y[o + j]! * dot);
  }
}

/**
 * Through itemIn = leaky·W2 + b2 and the LeakyReLU: dW2 = leakyᵀ·d itemIn and d leaky = d itemIn·W2ᵀ (BLAS,
 * via tf.matMul), then d hidden = d leaky·(hidden > 0 ? 1 : slope) — tfjs's gradient, which takes the slope
 * at 0 and multiplies by the slope as a float32 scalar.
 */
function denseBackward(s: ModalitySaved, dItemIn: Float32Array, N: number, H: number, k: number, slope: number, passes: EncoderPasses): [Float32Array, Float32Array] {
  const leakyTensor = tf.tensor2d(s.leaky, [N, H]);
  const dItemInTensor = tf.tensor2d(dItemIn, [N, k]);
  const w2Tensor = tf.tensor2d(s.w2, [H, k]);
  const dW2Tensor = tf.matMul(leakyTensor, dItemInTensor, true, false);
  const dLeakyTensor = tf.matMul(dItemInTensor, w2Tensor, false, true);
  const dW2 = Float32Array.from(readFloat32(dW2Tensor));
  const dLeaky = readFloat32(dLeakyTensor);
  const dHidden = new Float32Array(N * H);
  passes.leakyReluGrad(dLeaky, s.positiveTest, Math.fround(slope), dHidden);
  for (const t of [leakyTensor, dItemInTensor, w2Tensor, dW2Tensor, dLeakyTensor]) t.dispose();
  return [dHidden, dW2];
}

/** d hidden = d leaky·(hidden > 0 ? 1 : slope), the slope as tfjs's float32 scalar (slope32). */
function leakyReluGrad(dLeaky: Float32Array, positiveTest: Float32Array, slope32: number, dHidden: Float32Array): void {
  // Branch-free (see leakyReluValues): p + (1 − p)·slope is 1 or the slope exactly, so d·1 = d and d·slope as tfjs.
  for (let i = 0; i < dHidden.length; i++) {
    const positive = +(positiveTest[i]! > 0);
    dHidden[i] = dLeaky[i]! * (positive + (1 - positive) * slope32);
  }
}

/** The JS twins of the addon's row passes (the fallback; native/src/row_ops.cc must stay in step with them). */
const JS_PASSES: EncoderPasses = {
  leakyRelu: leakyReluValues, // the cpu LeakyRelu kernel's loop (same bits as tfjs's)
  leakyReluGrad,
  encoderNormalizeRows: normalizeInto,
  encoderWriteOutputs: writeOutputs,
  encoderLayerSumGradient: layerSumGradient,
  normalizeRowsBackward: normalizeBackward,
  columnSums,
};
