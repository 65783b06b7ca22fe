import * as tf from "@tensorflow/tfjs";
import type { SeaConfig } from "../model/config";
import { estimateClubMi, estimateInfoNceMi } from "../analysis/mi";
import { linearProbeR2 } from "../analysis/linearProbe";
import { Rng, deriveSeed } from "../util/rng";
import { takeData } from "../util/takeData";
import type { PartArrays } from "./embeddingsExport";
import type { MiValues } from "./runRecord";
import type { Dataset } from "../data/types";
import { loadGroundTruth } from "../data/synthetic";

/** Planted factors of a synthetic dataset, per item, as the trainer needs them. */
export interface GroundTruthFactors {
  readonly n: number;
  readonly shared: Float32Array;
  readonly sharedDim: number;
  /** modality name → its planted unique factors */
  readonly modalities: Readonly<Record<string, { readonly values: Float32Array; readonly dim: number }>>;
}

/** Planted factors of a synthetic dataset folder (its ground_truth.json), or null for real data. */
export function groundTruthFactors(dataset: Dataset): GroundTruthFactors | null {
  const gt = loadGroundTruth(dataset.dir);
  if (!gt) return null;
  return { n: gt.nItems, shared: gt.shared, sharedDim: gt.sharedDim, modalities: gt.unique };
}

/**
 * MI between representation parts, estimated on frozen parts by estimators trained afresh, so every
 * variant is measured the same way whether or not it trains a CLUB network itself. Parts wider than
 * `miDim` are first mapped by a fixed Gaussian random projection (seeded by the run seed and the part,
 * identical across variants and epochs); a projection can only lose information, so CLUB numbers on it
 * stay comparable between variants.
 */
export function measureEpochMi(analysisParts: readonly PartArrays[], config: SeaConfig): MiValues {
  const parts = analysisParts.map((p, i) => ({
    name: p.name,
    n: p.n,
    generic: project(p.generic, p.n, p.genericDim, config.miDim, deriveSeed(config.seed, 11, i, 0)),
    unique: project(p.unique, p.n, p.uniqueDim, config.miDim, deriveSeed(config.seed, 11, i, 1)),
  }));
  const seed = deriveSeed(config.seed, 13);
  const mi: MiValues = {};
  for (const p of parts) {
    mi[`club:${p.name}`] = estimateClubMi(p.generic.values, p.unique.values, p.n, p.generic.dim, p.unique.dim, { seed, steps: config.miSteps }).upperBound;
  }
  for (let a = 0; a < parts.length; a++) {
    for (let b = a + 1; b < parts.length; b++) {
      const pa = parts[a]!;
      const pb = parts[b]!;
      const opts = { seed, steps: config.miSteps };
      mi[`infonce:generic:${pa.name}|${pb.name}`] = estimateInfoNceMi(pa.generic.values, pb.generic.values, pa.n, pa.generic.dim, pb.generic.dim, opts).lowerBound;
      mi[`infonce:unique:${pa.name}|${pb.name}`] = estimateInfoNceMi(pa.unique.values, pb.unique.values, pa.n, pa.unique.dim, pb.unique.dim, opts).lowerBound;
    }
  }
  return mi;
}

function project(x: Float32Array, n: number, d: number, width: number, seed: number): { values: Float32Array; dim: number } {
  if (d <= width) return { values: x, dim: d };
  const r = new Float32Array(d * width);
  new Rng(seed).fillNormal(r, 0, 1 / Math.sqrt(width));
  const values = takeData(tf.tidy(() => tf.matMul(tf.tensor2d(x, [n, d]), tf.tensor2d(r, [d, width]))));
  return { values, dim: width };
}

/**
 * How well each learned part recovers the planted factors: ridge linear-probe R² on held-out items.
 * Keys "<m>.generic→shared", "<m>.unique→<m>", and the cross terms "<m>.generic→<m>",
 * "<m>.unique→shared" (a clean separation has high diagonal and low cross terms).
 */
export function measureRecovery(parts: readonly PartArrays[], truth: GroundTruthFactors, seed: number): Record<string, number> {
  const out: Record<string, number> = {};
  const probe = (x: Float32Array, dx: number, t: Float32Array, dt: number): number =>
    linearProbeR2(x, truth.n, dx, t, dt, { seed: deriveSeed(seed, 17) });
  for (const p of parts) {
    const own = truth.modalities[p.name];
    out[`${p.name}.generic→shared`] = probe(p.generic, p.genericDim, truth.shared, truth.sharedDim);
    out[`${p.name}.unique→shared`] = probe(p.unique, p.uniqueDim, truth.shared, truth.sharedDim);
    if (own) {
      out[`${p.name}.unique→${p.name}`] = probe(p.unique, p.uniqueDim, own.values, own.dim);
      out[`${p.name}.generic→${p.name}`] = probe(p.generic, p.genericDim, own.values, own.dim);
    }
  }
  return out;
}
