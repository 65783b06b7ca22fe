/**
 * Features of one modality from the planted factors: x_m = standardise(f_m([z_g, z_m])) + noise, with f_m a random
 * Gaussian linear map or, when `nonlinear`, a random tanh layer followed by a second random linear map.
 */
import type { Rng } from "../../util/rng";
import type { FeatureMatrix } from "../types";
import type { SyntheticConfig, SyntheticModalityConfig } from "./config";

/** A random Gaussian matrix [rows × cols] with entries N(0, 1/rows): unit-variance inputs give unit-variance outputs. */
function gaussianMatrix(rows: number, cols: number, rng: Rng): Float64Array {
  const w = new Float64Array(rows * cols);
  rng.fillNormal(w, 0, 1 / Math.sqrt(rows));
  return w;
}

/** out[n × q] = a[n × p] · b[p × q], all row-major. */
function matMul(a: ArrayLike<number>, b: Float64Array, n: number, p: number, q: number): Float64Array {
  const out = new Float64Array(n * q);
  for (let i = 0; i < n; i++) {
    const o = i * q;
    for (let t = 0; t < p; t++) {
      const v = a[i * p + t]!;
      if (v === 0) continue;
      const r = t * q;
      for (let j = 0; j < q; j++) out[o + j] += v * b[r + j]!;
    }
  }
  return out;
}

export function modalityFeatures(c: SyntheticConfig, m: SyntheticModalityConfig, shared: Float32Array, unique: Float32Array, rng: Rng): FeatureMatrix {
  const n = c.nItems;
  const dIn = c.sharedDim + m.uniqueDim;
  const input = new Float64Array(n * dIn);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < c.sharedDim; t++) input[i * dIn + t] = shared[i * c.sharedDim + t]!;
    for (let t = 0; t < m.uniqueDim; t++) input[i * dIn + c.sharedDim + t] = unique[i * m.uniqueDim + t]!;
  }
  let signal: Float64Array;
  if (c.nonlinear) {
    const hidden = matMul(input, gaussianMatrix(dIn, c.hiddenDim, rng), n, dIn, c.hiddenDim);
    for (let k = 0; k < hidden.length; k++) hidden[k] = Math.tanh(hidden[k]!);
    signal = matMul(hidden, gaussianMatrix(c.hiddenDim, m.dim, rng), n, c.hiddenDim, m.dim);
  } else {
    signal = matMul(input, gaussianMatrix(dIn, m.dim, rng), n, dIn, m.dim);
  }
  standardiseColumns(signal, n, m.dim);
  const data = new Float32Array(n * m.dim);
  for (let k = 0; k < data.length; k++) data[k] = signal[k]! + c.featureNoise * rng.normal();
  return { name: m.name, rows: n, cols: m.dim, data };
}

/** Centres each column and scales it to unit variance, so `featureNoise` is a noise-to-signal ratio. */
function standardiseColumns(x: Float64Array, n: number, d: number): void {
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const v = x[i * d + j]! - mean[j]!;
      x[i * d + j] = v;
      sq[j] += v * v;
    }
  }
  for (let j = 0; j < d; j++) {
    const std = Math.sqrt(sq[j]! / n);
    const inv = std > 0 ? 1 / std : 0;
    for (let i = 0; i < n; i++) x[i * d + j]! *= inv;
  }
}
