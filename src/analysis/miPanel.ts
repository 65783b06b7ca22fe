import * as tf from "@tensorflow/tfjs";
import { takeData } from "../util/takeData";
import { estimateClubMi, estimateInfoNceMi } from "./mi";
import { estimateKsgMi } from "./ksg";
import { estimateLinearDependence } from "./gaussianMi";
import type { MiEstimate } from "./bootstrap";
import { applyLinearMap, fitDistanceMaps, type DistanceMapFitOptions, type LinearMap } from "./distanceMaps";
import { holdoutSplit } from "./linearProbe";
import { fitCanonicalProjection, projectRows } from "./canonicalProjection";
import { Rng, deriveSeed } from "../util/rng";
import { gatherRows } from "../util/rowMajor";

/*
 * The per-epoch MI analysis (docs/method.md, "MI estimators"): which estimator measures which pair of
 * representation parts, on how many items, with which interval. Every variant is measured by the same procedure
 * on its frozen parts, whether or not it trains a CLUB network.
 *
 *   within a modality m, generic ↔ unique
 *     club:m      CLUB bound in the distance term's space (the model's own 32-d maps, or maps of the same shape
 *                 fitted on the frozen parts: distanceMaps.ts); q fitted on other items than the held-out items
 *                 the bound is reported on. The quantity SEA minimises.
 *     ksg:m       KSG on the same held-out items, in the distance-space pairs' top canonical directions fitted on
 *                 the other items (consistent for that view; in 32 + 32 dimensions KSG would see almost nothing)
 *     gaussian:m  MI of the Gaussian with the parts' covariance (linear dependence), on the parts
 *     cka:m       linear CKA of the parts (a bounded dependence measure)
 *   across modalities a, b
 *     infonce:generic:a|b, infonce:unique:a|b   InfoNCE lower bounds (what Solosim raises, and its control)
 *     gaussian:generic:a|b, cka:generic:a|b     the same closed-form measures between the generic parts
 * "The parts" are the generic/unique parts, mapped to `partDim` by a fixed seeded Gaussian random projection when
 * wider (identical for every variant and epoch of a seed). Every estimate carries a 95% bootstrap interval over items.
 */

/** One modality's generic and unique parts, row-major [n, genericDim] and [n, uniqueDim]. */
export interface ModalityParts {
  readonly name: string;
  readonly n: number;
  readonly generic: Float32Array;
  readonly genericDim: number;
  readonly unique: Float32Array;
  readonly uniqueDim: number;
}

/** A modality's distance-term maps (generic → d, unique → d), as the model trained them. */
export interface DistanceMapPair {
  readonly generic: LinearMap;
  readonly unique: LinearMap;
}

export interface MiPanelSettings {
  readonly seed: number;
  /** Training steps of each fresh CLUB / InfoNCE estimator. */
  readonly steps: number;
  /** Parts wider than this are randomly projected to it (closed-form measures, InfoNCE). */
  readonly partDim: number;
  readonly resamples: number;
  readonly ksgK: number;
  /** Canonical directions per side that KSG reads. */
  readonly ksgDim: number;
  /** Fitting the distance maps for a variant without them (DistanceMapFitOptions). */
  readonly mapFit: Omit<DistanceMapFitOptions, "seed">;
}

export interface MiPanel {
  /** key → estimate (nats; CKA in [0, 1]); CLUB and InfoNCE unclamped, so means over seeds are unbiased near 0 */
  readonly values: Record<string, number>;
  /** key → 95% bootstrap interval over items */
  readonly intervals: Record<string, [number, number]>;
  /**
   * With `references`: the scale of every estimate (MiReferences) — the same estimator on the same items with the
   * rows of one side shuffled (independent pairs: ≈ 0 for an unbiased estimator) and with one side paired with
   * itself (the most the estimator can report here).
   */
  readonly references?: Record<string, { shuffled: number; self: number }>;
}

/** Share of items held out for the reported CLUB and KSG distance-space estimates (the others fit q and the maps). */
const HOLDOUT = 0.25;

/** Which pairs to measure, and how: the plan shared by the panel and its sanity references. */
interface PairJob {
  readonly key: string;
  readonly x: { values: Float32Array; dim: number };
  readonly y: { values: Float32Array; dim: number };
  readonly n: number;
  readonly estimate: (x: Float32Array, y: Float32Array, dx: number, dy: number) => MiEstimate;
}

/**
 * Every estimate of one epoch, and (with `references`) their sanity references. `ownMaps` are the model's distance
 * maps per modality (in `parts` order), or null for a variant without them, whose maps are then fitted on the
 * frozen parts (training items only), once for the estimates and their references.
 */
export function measureMiPanel(
  parts: readonly ModalityParts[],
  ownMaps: readonly DistanceMapPair[] | null,
  settings: MiPanelSettings,
  options: { references: boolean },
): MiPanel {
  const values: Record<string, number> = {};
  const intervals: Record<string, [number, number]> = {};
  const references: Record<string, { shuffled: number; self: number }> = {};
  panelJobs(parts, ownMaps, settings).forEach((job, i) => {
    const r = job.estimate(job.x.values, job.y.values, job.x.dim, job.y.dim);
    values[job.key] = r.estimate;
    intervals[job.key] = [r.interval.lo, r.interval.hi];
    if (!options.references) return;
    const perm = new Rng(deriveSeed(settings.seed, 23, i)).permutation(job.n);
    references[job.key] = {
      shuffled: job.estimate(job.x.values, gatherRows(job.y.values, job.y.dim, perm), job.x.dim, job.y.dim).estimate,
      self: job.estimate(job.x.values, job.x.values, job.x.dim, job.x.dim).estimate,
    };
  });
  return { values, intervals, ...(options.references ? { references } : {}) };
}

function panelJobs(parts: readonly ModalityParts[], ownMaps: readonly DistanceMapPair[] | null, s: MiPanelSettings): PairJob[] {
  const seed = deriveSeed(s.seed, 13);
  const interval = { resamples: s.resamples };
  const jobs: PairJob[] = [];
  // Gaussian MI and CKA of the same pair share one scatter and its resamples (keyed by the pair's arrays).
  const linearOf = new WeakMap<Float32Array, WeakMap<Float32Array, ReturnType<typeof estimateLinearDependence>>>();
  const linear = (a: Float32Array, b: Float32Array, n: number, da: number, db: number): ReturnType<typeof estimateLinearDependence> => {
    const byB = linearOf.get(a) ?? new WeakMap();
    linearOf.set(a, byB);
    let r = byB.get(b);
    if (!r) byB.set(b, (r = estimateLinearDependence(a, b, n, da, db, { seed, ...interval })));
    return r;
  };
  const projected = parts.map((p, i) => ({
    generic: randomProjection(p.generic, p.n, p.genericDim, s.partDim, deriveSeed(s.seed, 11, i, 0)),
    unique: randomProjection(p.unique, p.n, p.uniqueDim, s.partDim, deriveSeed(s.seed, 11, i, 1)),
  }));
  parts.forEach((p, i) => {
    const { train, test } = holdoutSplit(p.n, HOLDOUT, deriveSeed(seed, 1), "MI panel holdout");
    const maps = ownMaps?.[i] ?? fitMaps(p, train, s, deriveSeed(seed, 29, i));
    const x = { values: applyLinearMap(p.generic, p.n, maps.generic), dim: maps.generic.outDim };
    const y = { values: applyLinearMap(p.unique, p.n, maps.unique), dim: maps.unique.outDim };
    jobs.push({
      key: `club:${p.name}`,
      x,
      y,
      n: p.n,
      estimate: (a, b, da, db) => {
        const r = estimateClubMi(a, b, p.n, da, db, { seed, steps: s.steps, split: { train, test }, ...interval });
        return { estimate: r.rawBound, interval: r.interval, rows: test.length };
      },
    });
    jobs.push({
      key: `ksg:${p.name}`,
      x,
      y,
      n: p.n,
      // On the held-out items (those of the CLUB bound), in the top canonical directions fitted on the others.
      estimate: (a, b, da, db) => {
        const k = Math.min(s.ksgDim, da, db);
        const cca = fitCanonicalProjection(a, b, da, db, train, k);
        return estimateKsgMi(projectRows(a, da, cca.meanX, cca.a, k, test), projectRows(b, db, cca.meanY, cca.b, k, test), test.length, k, k, { seed, k: s.ksgK, ...interval });
      },
    });
    const g = projected[i]!.generic;
    const u = projected[i]!.unique;
    jobs.push({ key: `gaussian:${p.name}`, x: g, y: u, n: p.n, estimate: (a, b, da, db) => linear(a, b, p.n, da, db).gaussian });
    jobs.push({ key: `cka:${p.name}`, x: g, y: u, n: p.n, estimate: (a, b, da, db) => linear(a, b, p.n, da, db).cka });
  });
  for (let a = 0; a < parts.length; a++) {
    for (let b = a + 1; b < parts.length; b++) {
      const pair = `${parts[a]!.name}|${parts[b]!.name}`;
      const n = parts[a]!.n;
      const infonce = (x: Float32Array, y: Float32Array, dx: number, dy: number): MiEstimate => {
        const r = estimateInfoNceMi(x, y, n, dx, dy, { seed, steps: s.steps, ...interval });
        return { estimate: r.rawBound, interval: r.interval, rows: r.rows };
      };
      const ga = projected[a]!.generic;
      const gb = projected[b]!.generic;
      jobs.push({ key: `infonce:generic:${pair}`, x: ga, y: gb, n, estimate: infonce });
      jobs.push({ key: `infonce:unique:${pair}`, x: projected[a]!.unique, y: projected[b]!.unique, n, estimate: infonce });
      jobs.push({ key: `gaussian:generic:${pair}`, x: ga, y: gb, n, estimate: (x, y, dx, dy) => linear(x, y, n, dx, dy).gaussian });
      jobs.push({ key: `cka:generic:${pair}`, x: ga, y: gb, n, estimate: (x, y, dx, dy) => linear(x, y, n, dx, dy).cka });
    }
  }
  return jobs;
}

function fitMaps(p: ModalityParts, train: Int32Array, s: MiPanelSettings, seed: number): DistanceMapPair {
  return fitDistanceMaps(p.generic, p.unique, p.n, p.genericDim, p.uniqueDim, train, { ...s.mapFit, seed });
}

/**
 * x [n, d] → x·R [n, width] with R ~ N(0, 1/width) seeded, when d > width (else x itself). A projection can only
 * lose information, and the same R serves every variant and epoch of a seed, so estimates stay comparable.
 */
export function randomProjection(x: Float32Array, n: number, d: number, width: number, seed: number): { values: Float32Array; dim: number } {
  if (d <= width) return { values: x, dim: d };
  const r = new Float32Array(d * width);
  new Rng(seed).fillNormal(r, 0, 1 / Math.sqrt(width));
  const values = takeData(tf.tidy(() => tf.matMul(tf.tensor2d(x, [n, d]), tf.tensor2d(r, [d, width]))));
  return { values, dim: width };
}
