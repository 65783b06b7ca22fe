import * as tf from "@tensorflow/tfjs";
import { takeData } from "../util/takeData";
import { Club } from "../losses/club";
import { fitClub, newClubAdamState } from "../losses/club/fit";
import { Adam, pytorchAdam } from "../optim/adam";
import { Rng, deriveSeed } from "../util/rng";
import { SeaError } from "../util/errors";
import { checkMatrix } from "./linearProbe";

/**
 * The distance term's linear maps (generic → clubDim, unique → clubDim; docs/method.md §3) for a model variant
 * that has none (no-club, no-both, subtraction), fitted on its FROZEN parts so that the per-epoch CLUB bound in
 * distance space is measured alike for every variant (docs/method.md, "MI estimators").
 *
 * The maps are fitted with the distance term's own objective, as in training but with the parts held fixed:
 * per step, one Adam step of the maps on the sampled CLUB bound ½·max(0, mean ll(x_i, y_i) − ll(x_i, y_perm(i)))
 * of a q(y|x) network of the reference's shape, then `qSteps` Adam steps of q's negative log-likelihood on the
 * detached projections (the trainer's own CLUB bound and inner loop, so their fast kernels serve here too).
 * Variants that train the maps get theirs from the model; this gives the others maps chosen by the same pressure.
 */


/** A linear map x·w + b with w stored [inDim, outDim] row-major. */
export interface LinearMap {
  readonly inDim: number;
  readonly outDim: number;
  readonly w: Float32Array;
  readonly b: Float32Array;
}

export interface DistanceMapFitOptions {
  /** Width of both maps' outputs (the model's clubDim). */
  readonly outDim: number;
  /** The q network's hidden size (the model's clubHidden). */
  readonly clubHidden: number;
  /** Outer steps: one map step each. */
  readonly steps: number;
  /** q's Adam steps after each map step (the model's clubSteps plays this role in training). Default 5. */
  readonly qSteps?: number;
  readonly lr: number;
  /** Items per step. Default 512. */
  readonly batchSize?: number;
  readonly seed: number;
}

const FIT_DEFAULTS = { qSteps: 5, batchSize: 512 };

/**
 * Fits the generic and unique maps on the given rows of the frozen parts (generic [n, dg], unique [n, du]).
 * Inputs are z-scored with those rows' column statistics while fitting (the fixed learning rate then means the
 * same for parts of any scale); the returned maps include that standardisation, so they apply to raw parts.
 */
export function fitDistanceMaps(
  generic: Float32Array,
  unique: Float32Array,
  n: number,
  dg: number,
  du: number,
  rows: Int32Array,
  options: DistanceMapFitOptions,
): { generic: LinearMap; unique: LinearMap } {
  checkMatrix("fitDistanceMaps generic", generic, n, dg);
  checkMatrix("fitDistanceMaps unique", unique, n, du);
  const o = { ...options, qSteps: options.qSteps ?? FIT_DEFAULTS.qSteps, batchSize: options.batchSize ?? FIT_DEFAULTS.batchSize };
  checkFitOptions(o, rows.length);
  const gStats = columnStats(generic, dg, rows);
  const uStats = columnStats(unique, du, rows);
  const rng = new Rng(deriveSeed(options.seed, 1));
  const gMap = initialMap(dg, o.outDim, rng);
  const uMap = initialMap(du, o.outDim, rng);
  const club = new Club({ xDim: o.outDim, yDim: o.outDim, hidden: o.clubHidden, seed: deriveSeed(o.seed, 2), name: "fittedMapsClub" });
  const mapVars = [gMap.w, gMap.b, uMap.w, uMap.b];
  const mapOptimizer = new Adam(mapVars.map((variable, i) => ({ name: `map${i}`, variable })), pytorchAdam(o.lr));
  const qState = newClubAdamState(club);
  const qSettings = { steps: o.qSteps, ...pytorchAdam(o.lr) };
  const gAll = tf.tensor2d(standardised(generic, dg, rows, gStats), [rows.length, dg]);
  const uAll = tf.tensor2d(standardised(unique, du, rows, uStats), [rows.length, du]);
  const batchRng = new Rng(deriveSeed(o.seed, 3));
  const batchSize = Math.min(o.batchSize, rows.length);
  try {
    for (let s = 0; s < o.steps; s++) {
      const batch = batchRng.permutation(rows.length).subarray(0, batchSize);
      const perm = batchRng.permutation(batchSize);
      const [x, y] = tf.tidy(() => {
        const index = tf.tensor1d(batch, "int32");
        const gb = tf.gather(gAll, index) as tf.Tensor2D;
        const ub = tf.gather(uAll, index) as tf.Tensor2D;
        const { value, grads } = tf.variableGrads(() => club.upperBound(applyMap(gb, gMap), applyMap(ub, uMap), perm), mapVars);
        mapOptimizer.apply(grads);
        value.dispose();
        return [applyMap(gb, gMap), applyMap(ub, uMap)];
      });
      const pair = { x: takeData(x), y: takeData(y) };
      // q's own steps on the detached projections, after the map step, as in training (the same fused inner loop).
      if (o.qSteps > 0) fitClub(club, [pair], qState, qSettings);
    }
    return { generic: foldStandardisation(gMap, gStats), unique: foldStandardisation(uMap, uStats) };
  } finally {
    tf.dispose([gAll, uAll, ...mapVars]);
    mapOptimizer.dispose();
    club.dispose();
  }
}

/** x·w + b for every row of x [n, map.inDim] → [n, map.outDim]. */
export function applyLinearMap(x: Float32Array, n: number, map: LinearMap): Float32Array {
  checkMatrix("applyLinearMap x", x, n, map.inDim);
  return takeData(tf.tidy(() => tf.add(tf.matMul(tf.tensor2d(x, [n, map.inDim]), tf.tensor2d(map.w, [map.inDim, map.outDim])), tf.tensor1d(map.b))));
}

interface MapVariables {
  readonly w: tf.Variable;
  readonly b: tf.Variable;
}

function applyMap(x: tf.Tensor2D, map: MapVariables): tf.Tensor2D {
  return tf.add(tf.matMul(x, map.w as tf.Tensor2D), map.b) as tf.Tensor2D;
}

/** PyTorch nn.Linear's initialisation, U(±1/√fanIn) for weight and bias, from the seeded generator. */
function initialMap(inDim: number, outDim: number, rng: Rng): MapVariables {
  const bound = 1 / Math.sqrt(inDim);
  const w = new Float32Array(inDim * outDim).map(() => (2 * rng.next() - 1) * bound);
  const b = new Float32Array(outDim).map(() => (2 * rng.next() - 1) * bound);
  // tidy disposes the initial tensors (variables survive it).
  return tf.tidy(() => ({ w: tf.variable(tf.tensor2d(w, [inDim, outDim]), true), b: tf.variable(tf.tensor1d(b), true) }));
}

interface ColumnStats {
  readonly mean: Float64Array;
  /** 1/std, or 1 for a constant column (centred only). */
  readonly invStd: Float64Array;
}

function columnStats(v: Float32Array, d: number, rows: Int32Array): ColumnStats {
  const mean = new Float64Array(d);
  const invStd = new Float64Array(d);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j] += v[r * d + j]! / rows.length;
  for (let j = 0; j < d; j++) {
    let variance = 0;
    for (const r of rows) variance += (v[r * d + j]! - mean[j]!) ** 2;
    const std = Math.sqrt(variance / rows.length);
    invStd[j] = std > 1e-12 * (Math.abs(mean[j]!) + 1) ? 1 / std : 1;
  }
  return { mean, invStd };
}

function standardised(v: Float32Array, d: number, rows: Int32Array, s: ColumnStats): Float32Array {
  const out = new Float32Array(rows.length * d);
  rows.forEach((r, i) => {
    for (let j = 0; j < d; j++) out[i * d + j] = (v[r * d + j]! - s.mean[j]!) * s.invStd[j]!;
  });
  return out;
}

/** ((x − μ)/σ)·W + b = x·(W/σ) + (b − (μ/σ)·W): the fitted map expressed on raw parts. */
function foldStandardisation(map: MapVariables, s: ColumnStats): LinearMap {
  const [inDim, outDim] = map.w.shape as [number, number];
  const w = map.w.dataSync() as Float32Array;
  const b = Float64Array.from(map.b.dataSync());
  const folded = new Float32Array(inDim * outDim);
  for (let i = 0; i < inDim; i++) {
    for (let o = 0; o < outDim; o++) {
      const scaled = w[i * outDim + o]! * s.invStd[i]!;
      folded[i * outDim + o] = scaled;
      b[o] -= s.mean[i]! * scaled;
    }
  }
  return { inDim, outDim, w: folded, b: Float32Array.from(b) };
}

function checkFitOptions(o: Required<DistanceMapFitOptions>, rows: number): void {
  for (const field of ["outDim", "clubHidden", "batchSize"] as const) {
    if (!Number.isInteger(o[field]) || o[field] < 2) throw new SeaError(`must be an integer ≥ 2 (got ${o[field]})`, { where: `fitDistanceMaps.${field}` });
  }
  for (const field of ["steps", "qSteps"] as const) {
    if (!Number.isInteger(o[field]) || o[field] < 0) throw new SeaError(`must be an integer ≥ 0 (got ${o[field]})`, { where: `fitDistanceMaps.${field}` });
  }
  if (!(o.lr > 0) || !Number.isFinite(o.lr)) throw new SeaError(`must be a positive number (got ${o.lr})`, { where: "fitDistanceMaps.lr" });
  if (rows < 2) throw new SeaError(`needs at least 2 rows to fit on (got ${rows})`, { where: "fitDistanceMaps rows" });
}
