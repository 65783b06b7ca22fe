import * as tf from "@tensorflow/tfjs";
import { readFloat32 } from "../util/takeData";

/**
 * One part of the square layer (its column block W_p [d, h_p], bias b_p [h_p]) and the consumers reading it:
 * consumer c's rows of its first layer, B_cp [h_p, out_c].
 */
export interface ReassociatedPart {
  readonly w: tf.Tensor;
  readonly b: tf.Tensor;
  readonly readers: readonly { readonly consumer: number; readonly w: tf.Tensor }[];
}

/**
 * Z = X·K + β for all consumers at once, with K_c = Σ_p W_p·B_cp and β_c = Σ_p b_p·B_cp + b_c, column block c
 * of Z being consumer c's output (see ItemProjection's class comment), as one custom op on host memory.
 *
 * The same products as the tfjs composition (per part W_p·[B_cp …], then X·K; backward Xᵀ·dZ, dK_p·B_pᵀ and
 * W_pᵀ·dK_p, all BLAS), but the blocks are placed by single passes over host arrays where the composition
 * runs concat, split, add and bias kernels forward and their gradients backward (~0.1 s per Baby-scale step).
 * X is a constant captured by the op, not an input: no gradient is formed for it.
 */
export function reassociatedProduct(
  x: tf.Tensor2D,
  parts: readonly ReassociatedPart[],
  consumerBiases: readonly tf.Tensor[],
): tf.Tensor2D {
  const widths = consumerBiases.map((b) => b.size);
  const offsets: number[] = [];
  let total = 0;
  for (const w of widths) {
    offsets.push(total);
    total += w;
  }
  const [n, d] = x.shape;
  const inputs: tf.Tensor[] = [...consumerBiases];
  for (const p of parts) inputs.push(p.w, p.b, ...p.readers.map((r) => r.w));

  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    // Copies of every weight: the backward must see this forward's values even if an optimiser writes in place.
    const values = (args.slice(0, inputs.length) as tf.Tensor[]).map((t) => Float32Array.from(readFloat32(t)));
    const biasValues = values.slice(0, widths.length);
    let at = widths.length;
    const saved = parts.map((p) => {
      const h = p.b.size;
      const w = values[at++]!;
      const b = values[at++]!;
      const readerWeights = p.readers.map(() => values[at++]!);
      // B_p = [B_cp for each reader], [h, S_p], and where each reader's columns start in it.
      const cols = p.readers.map((r) => widths[r.consumer]!);
      const sp = cols.reduce((a, c) => a + c, 0);
      const bp = new Float32Array(h * sp);
      let start = 0;
      const starts = cols.map((c, i) => {
        const s = start;
        const src = readerWeights[i]!;
        for (let row = 0; row < h; row++) bp.set(src.subarray(row * c, (row + 1) * c), row * sp + s);
        start += c;
        return s;
      });
      return { h, w, b, bp, sp, starts, cols };
    });

    // K [d, total]: consumer c's columns = Σ_p (W_p·B_p)[:, c's columns], in part order (float32 sums, as tf.add).
    const k = new Float32Array(d * total);
    const beta = new Float32Array(total);
    const written = new Uint8Array(widths.length);
    for (let pi = 0; pi < parts.length; pi++) {
      const s = saved[pi]!;
      const kp = hostMatMul(s.w, d, s.h, s.bp, s.sp, false, false); // [d, S_p]
      const bpBias = hostMatMul(s.b, 1, s.h, s.bp, s.sp, false, false); // [1, S_p]
      parts[pi]!.readers.forEach((r, i) => {
        const c = r.consumer;
        const o = offsets[c]!;
        const width = s.cols[i]!;
        const from = s.starts[i]!;
        const first = written[c] === 0;
        for (let row = 0; row < d; row++) {
          const dst = row * total + o;
          const src = row * s.sp + from;
          if (first) for (let j = 0; j < width; j++) k[dst + j] = kp[src + j]!;
          else for (let j = 0; j < width; j++) k[dst + j] = k[dst + j]! + kp[src + j]!;
        }
        for (let j = 0; j < width; j++) beta[o + j] = first ? bpBias[from + j]! : Math.fround(beta[o + j]! + bpBias[from + j]!);
        written[c] = 1;
      });
    }
    widths.forEach((width, c) => {
      const o = offsets[c]!;
      for (let j = 0; j < width; j++) beta[o + j] = Math.fround(beta[o + j]! + biasValues[c]![j]!);
    });
    const kTensor = tf.tensor2d(k, [d, total]);
    const zTensor = tf.matMul(x, kTensor);
    kTensor.dispose();
    const z = Float32Array.from(readFloat32(zTensor));
    zTensor.dispose();
    for (let i = 0; i < n; i++) {
      const o = i * total;
      for (let j = 0; j < total; j++) z[o + j] = z[o + j]! + beta[j]!;
    }
    const value = tf.tensor2d(z, [n, total]);

    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const dz = readFloat32(dy); // [n, total]
      const dBeta = columnSums(dz, n, total);
      const dK = hostMatMulTensor(x, dy as tf.Tensor2D); // Xᵀ·dZ [d, total]
      const grads: tf.Tensor[] = widths.map((width, c) => tf.tensor1d(dBeta.subarray(offsets[c]!, offsets[c]! + width)));
      parts.forEach((p, pi) => {
        const s = saved[pi]!;
        // dK_p [d, S_p]: the columns of the consumers reading p, gathered as B_p lays them out.
        const dkp = new Float32Array(d * s.sp);
        const dBetaP = new Float32Array(s.sp);
        p.readers.forEach((r, i) => {
          const o = offsets[r.consumer]!;
          const width = s.cols[i]!;
          const to = s.starts[i]!;
          for (let row = 0; row < d; row++) dkp.set(dK.subarray(row * total + o, row * total + o + width), row * s.sp + to);
          dBetaP.set(dBeta.subarray(o, o + width), to);
        });
        const dW = hostMatMul(dkp, d, s.sp, s.bp, s.h, false, true); // dK_p·B_pᵀ [d, h]
        const dBp = hostMatMul(s.w, s.h, d, dkp, s.sp, true, false); // W_pᵀ·dK_p [h, S_p]
        // β_p = b_p·B_p: db_p = B_p·dβ_p, and dB_p gains the outer product b_pᵀ·dβ_p.
        const db = new Float32Array(s.h);
        for (let row = 0; row < s.h; row++) {
          let acc = 0;
          const o = row * s.sp;
          for (let j = 0; j < s.sp; j++) acc += s.bp[o + j]! * dBetaP[j]!;
          db[row] = acc;
          const bRow = s.b[row]!;
          for (let j = 0; j < s.sp; j++) dBp[o + j] = dBp[o + j]! + Math.fround(bRow * dBetaP[j]!);
        }
        grads.push(tf.tensor(dW, p.w.shape), tf.tensor(db, p.b.shape));
        p.readers.forEach((r, i) => {
          const width = s.cols[i]!;
          const from = s.starts[i]!;
          const g = new Float32Array(s.h * width);
          for (let row = 0; row < s.h; row++) g.set(dBp.subarray(row * s.sp + from, row * s.sp + from + width), row * width);
          grads.push(tf.tensor(g, r.w.shape));
        });
      });
      return grads;
    };
    return { value, gradFunc };
  }) as (...t: tf.Tensor[]) => tf.Tensor;
  return op(...inputs) as tf.Tensor2D;
}

/** a [m, k] (or its transpose stored [k, m]) times b [k, n] (or bᵀ stored [n, k]) through the kit's BLAS kernel: a fresh array. */
function hostMatMul(a: Float32Array, m: number, k: number, b: Float32Array, n: number, transposeA: boolean, transposeB: boolean): Float32Array {
  const at = tf.tensor2d(a, transposeA ? [k, m] : [m, k]);
  const bt = tf.tensor2d(b, transposeB ? [n, k] : [k, n]);
  const product = tf.matMul(at, bt, transposeA, transposeB);
  const out = readFloat32(product);
  at.dispose();
  bt.dispose();
  product.dispose();
  return out;
}

/** Xᵀ·dZ for the constant X [n, d] and dZ [n, total]: [d, total]. */
function hostMatMulTensor(x: tf.Tensor2D, dz: tf.Tensor2D): Float32Array {
  const product = tf.matMul(x, dz, true, false);
  const out = readFloat32(product);
  product.dispose();
  return out;
}

function columnSums(x: Float32Array, n: number, w: number): Float32Array {
  const sums = new Float64Array(w);
  for (let i = 0, o = 0; i < n; i++, o += w) for (let j = 0; j < w; j++) sums[j]! += x[o + j]!;
  return Float32Array.from(sums);
}
