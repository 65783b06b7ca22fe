/**
 * The three terms of the user–item affinity, w_s <p_g, z_g(i)>/sqrt(dg) + Σ_m w_u <p_m, z_m(i)>/sqrt(du) + b_i:
 * the item factors, the users' preferences (pre-scaled, so the affinity is one dot product) and the popularity bias.
 */
import type { Rng } from "../../util/rng";
import { factorWidth, type SyntheticConfig } from "./config";

/** [items × D] with D = dg + Σ du: the item side of the affinity dot product. */
export function concatItemFactors(c: SyntheticConfig, shared: Float32Array, unique: Record<string, Float32Array>): Float64Array {
  const width = factorWidth(c);
  const out = new Float64Array(c.nItems * width);
  for (let i = 0; i < c.nItems; i++) {
    let o = i * width;
    for (let t = 0; t < c.sharedDim; t++) out[o++] = shared[i * c.sharedDim + t]!;
    for (const m of c.modalities) {
      const z = unique[m.name]!;
      for (let t = 0; t < m.uniqueDim; t++) out[o++] = z[i * m.uniqueDim + t]!;
    }
  }
  return out;
}

/** [users × D]: N(0, 1) preferences, pre-scaled by w/sqrt(dim) so each factor kind contributes variance w². */
export function userPreferences(c: SyntheticConfig, rng: Rng): Float64Array {
  const width = factorWidth(c);
  const prefs = new Float64Array(c.nUsers * width);
  rng.fillNormal(prefs);
  const scale = new Float64Array(width);
  scale.fill(c.userWeights.shared / Math.sqrt(c.sharedDim), 0, c.sharedDim);
  let o = c.sharedDim;
  for (const m of c.modalities) {
    scale.fill(c.userWeights.unique / Math.sqrt(m.uniqueDim), o, o + m.uniqueDim);
    o += m.uniqueDim;
  }
  for (let k = 0; k < prefs.length; k++) prefs[k]! *= scale[k % width]!;
  return prefs;
}

/** b_i ~ N(0, σ_pop²): log of each item's popularity multiplier on the sampling weight. */
export function popularityBias(c: SyntheticConfig, rng: Rng): Float64Array {
  const bias = new Float64Array(c.nItems);
  rng.fillNormal(bias, 0, c.popularitySigma);
  return bias;
}
