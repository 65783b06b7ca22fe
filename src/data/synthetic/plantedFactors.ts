/** The planted factors per item: the shared z_g (a Gaussian mixture) and each modality's unique z_m. */
import type { Rng } from "../../util/rng";
import type { SyntheticConfig } from "./config";

/** Planted factors per item. */
export interface PlantedTruth {
  /** [items × sharedDim] row-major */
  readonly shared: Float32Array;
  /** modality name → [items × uniqueDim] row-major */
  readonly unique: Readonly<Record<string, Float32Array>>;
  /** Gaussian-mixture component of each item's shared factor. */
  readonly clusters: Int32Array;
}

/** Gaussian mixture; scaled so every coordinate of z_g has unit variance overall. */
export function sharedFactors(c: SyntheticConfig, rng: Rng): { shared: Float32Array; clusters: Int32Array } {
  const dg = c.sharedDim;
  const centres = new Float64Array(c.clusters * dg);
  rng.fillNormal(centres);
  const scale = 1 / Math.sqrt(1 + c.clusterSpread * c.clusterSpread);
  const shared = new Float32Array(c.nItems * dg);
  const clusters = new Int32Array(c.nItems);
  for (let i = 0; i < c.nItems; i++) {
    const k = rng.int(c.clusters);
    clusters[i] = k;
    for (let t = 0; t < dg; t++) shared[i * dg + t] = (centres[k * dg + t]! + c.clusterSpread * rng.normal()) * scale;
  }
  return { shared, clusters };
}

/** z_m ~ N(0, I): one modality's unique factors, [items × uniqueDim] row-major. */
export function uniqueFactors(nItems: number, uniqueDim: number, rng: Rng): Float32Array {
  const z = new Float32Array(nItems * uniqueDim);
  rng.fillNormal(z);
  return z;
}
