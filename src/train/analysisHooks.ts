import type { SeaConfig } from "../model/config";
import type { RecommenderModel } from "../model/contract";
import type { Linear } from "../model/params";
import { linearProbeR2 } from "../analysis/linearProbe";
import { measureMiPanel, type MiPanelSettings } from "../analysis/miPanel";
import type { LinearMap } from "../analysis/distanceMaps";
import { deriveSeed } from "../util/rng";
import type { PartArrays } from "./embeddingsExport";
import type { MiIntervals, MiReferences, MiValues } from "./runRecord";
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

/** One epoch's MI analysis: estimates, their intervals and (when asked) the sanity references. */
export interface EpochMi {
  readonly mi: MiValues;
  readonly miInterval: MiIntervals;
  readonly references?: MiReferences;
}

/**
 * MI between representation parts (src/analysis/miPanel.ts), estimated on frozen parts by estimators trained
 * afresh, so every variant is measured alike whether or not it trains a CLUB network itself. The distance-space
 * CLUB bound uses the model's own distance maps when the variant has them; otherwise maps of the same shape are
 * fitted on the frozen parts. `withReferences` also measures the sanity references (done once per run).
 */
export function measureEpochMi(analysisParts: readonly PartArrays[], model: RecommenderModel, config: SeaConfig, withReferences: boolean): EpochMi {
  const ownMaps = model.distanceMaps()?.map((m) => ({ generic: hostMap(m.generic), unique: hostMap(m.unique) })) ?? null;
  const settings: MiPanelSettings = {
    seed: config.seed,
    steps: config.miSteps,
    partDim: config.miDim,
    resamples: config.miBootstrap,
    ksgK: config.miKsgK,
    ksgDim: config.miKsgDim,
    mapFit: { outDim: config.clubDim, clubHidden: config.clubHidden, steps: config.miMapSteps, lr: config.miMapLr },
  };
  const panel = measureMiPanel(analysisParts, ownMaps, settings, { references: withReferences });
  return { mi: panel.values, miInterval: panel.intervals, ...(panel.references ? { references: panel.references } : {}) };
}

function hostMap(l: Linear): LinearMap {
  const [inDim, outDim] = l.w.shape as [number, number];
  return { inDim, outDim, w: l.w.dataSync() as Float32Array, b: l.b.dataSync() as Float32Array };
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
