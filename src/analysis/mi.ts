import * as tf from "@tensorflow/tfjs";
import { takeData } from "../util/takeData";
import { Club } from "../losses/club";
import { Adam, pytorchAdam } from "../optim/adam";
import { fitClub, newClubAdamState } from "../losses/club/fit";
import { normalizeRows } from "../losses/normalize";
import { diagonalCrossEntropy } from "../losses/diagonalCrossEntropy";
import { Rng, deriveSeed } from "../util/rng";
import { SeaError } from "../util/errors";
import { gatherRows } from "../util/rowMajor";
import { checkMatrix, holdoutSplit, pickRows } from "./linearProbe";
import { bootstrapMean, type IntervalOptions, type MiEstimate } from "./bootstrap";
import { estimateKsgMi } from "./ksg";
import { estimateGaussianMi } from "./gaussianMi";
import { estimateLinearCka, estimateRbfCka } from "./dependence";

/*
 * Mutual-information estimators run on FROZEN representation parts (plain row-major matrices in, nats out).
 * Each call trains its own small network from a seeded start on a training share of the rows and reports the
 * bound on the held-out rows, so every model variant, epoch and part is measured by the same procedure
 * whether or not the variant trains a CLUB network itself. A fifth of the training rows is set aside to pick the
 * training checkpoint (early stopping, see trainKeepingBest); the held-out rows are used only for the figure.
 *
 * Both estimators first z-score every column with the training rows' mean and standard deviation (constant
 * columns are only centred). MI is invariant under invertible per-column affine maps, so the quantity measured
 * does not change, while fixed learning rates, initial scales and CLUB's bounded log-variance then mean the
 * same thing for parts of any scale.
 *
 * Both report the held-out bound as a mean of per-row terms (`perRow`), so the bound can be bootstrapped over
 * items (`interval`, bootstrapMean: conditional on the trained network, i.e. refitting noise is not included).
 * Both also accept an explicit `split` of row indices, to fit on some items and evaluate on others.
 */

/** Explicit training and held-out rows (disjoint indices into 0..n−1); replaces the seeded `holdout` split. */
export interface RowSplit {
  readonly train: Int32Array;
  readonly test: Int32Array;
}

export interface ClubMiOptions extends IntervalOptions {
  readonly seed: number;
  /** Adam steps of q's maximum-likelihood training. Default 300. */
  readonly steps?: number;
  /** CLUB hidden size (each net uses hidden/2 units). Default 64. */
  readonly hidden?: number;
  readonly lr?: number;
  readonly batchSize?: number;
  /** Fraction of rows held out for the reported bound. Default 0.25. Ignored when `split` is given. */
  readonly holdout?: number;
  /** Fit q on `split.train` (a fifth of them choose the checkpoint) and report the bound on `split.test`. */
  readonly split?: RowSplit;
}

/** `estimate` = rawBound (unclamped, so averages and intervals are not pushed up); `rows` = held-out rows. */
export interface ClubMiResult extends MiEstimate {
  /** max(0, rawBound): the CLUB estimate of I(x; y), nats. */
  readonly upperBound: number;
  /** The held-out bound before clamping (it can dip below 0 by estimation noise when x and y are independent). */
  readonly rawBound: number;
  /** Held-out mean log q(y|x) of the standardised y, nats per row, including the Gaussian −(dy/2)·ln 2π. */
  readonly logLikelihood: number;
  /** Each held-out row's term log q(y_i|x_i) − mean_{j≠i} log q(y_j|x_i); mean(perRow) = rawBound. */
  readonly perRow: Float64Array;
}

const CLUB_DEFAULTS = { steps: 300, hidden: 64, lr: 5e-3, batchSize: 256, holdout: 0.25 };
/** logvar range ±5 (variance e⁻⁵…e⁵) instead of the reference's ±1, so q can express strongly dependent parts. */
const ESTIMATOR_LOGVAR_SCALE = 5;

/**
 * CLUB estimate of I(x; y) (an upper bound when q(y|x) is well fitted): q(y|x) is trained by maximum likelihood
 * on the training rows, then on the held-out rows
 *   bound = mean_i log q(y_i|x_i) − mean_i mean_{j≠i} log q(y_j|x_i).
 * The second term is the average over all pairs j ≠ i, computed in closed form per row (Gaussian q:
 * mean_j (mu − y_j)² = (mu − ȳ)² + var(y), corrected for j = i) — the exact mean of the sampled CLUB term
 * over random derangements, i.e. the limit of averaging infinitely many seeded permutations, with no
 * permutation noise. Evaluated in float64.
 */
export function estimateClubMi(x: Float32Array, y: Float32Array, n: number, dx: number, dy: number, options: ClubMiOptions): ClubMiResult {
  checkMatrix("estimateClubMi x", x, n, dx);
  checkMatrix("estimateClubMi y", y, n, dy);
  const o = {
    seed: options.seed,
    steps: options.steps ?? CLUB_DEFAULTS.steps,
    hidden: options.hidden ?? CLUB_DEFAULTS.hidden,
    lr: options.lr ?? CLUB_DEFAULTS.lr,
    batchSize: options.batchSize ?? CLUB_DEFAULTS.batchSize,
    holdout: options.holdout ?? CLUB_DEFAULTS.holdout,
  };
  checkTraining("estimateClubMi", o);
  const { train, test } = options.split ? checkSplit("estimateClubMi.split", options.split, n) : holdoutSplit(n, o.holdout, deriveSeed(o.seed, 1), "estimateClubMi.holdout");
  const xs = standardise(x, dx, train, test);
  const ys = standardise(y, dy, train, test);

  const club = new Club({ xDim: dx, yDim: dy, hidden: o.hidden, seed: deriveSeed(o.seed, 2), logvarScale: ESTIMATOR_LOGVAR_SCALE, name: "miClub" });
  const { fit, valid } = validationSplit(train.length, deriveSeed(o.seed, 3));
  const xValid = tf.tensor2d(gatherRows(xs.train, dx, valid), [valid.length, dx]);
  const yValid = tf.tensor2d(gatherRows(ys.train, dy, valid), [valid.length, dy]);
  // q's maximum-likelihood steps run as the trainer's fused CLUB inner loop (one Adam step per mini-batch): the same
  // loss and update as a tfjs Adam step on learningLoss, without ~100 small kernels per step.
  const adam = newClubAdamState(club);
  const settings = { steps: 1, ...pytorchAdam(o.lr) };
  try {
    const batches = new BatchSampler(fit, o.batchSize, deriveSeed(o.seed, 4));
    trainKeepingBest({
      steps: o.steps,
      variables: club.variables,
      step: () => {
        const rows = batches.next();
        fitClub(club, [{ x: gatherRows(xs.train, dx, rows), y: gatherRows(ys.train, dy, rows) }], adam, settings);
      },
      validationLoss: () => tf.tidy(() => club.learningLoss(xValid, yValid).dataSync()[0]!),
    });
    const { mu, logvar } = tf.tidy(() => {
      const out = club.muLogvar(tf.tensor2d(xs.test, [test.length, dx]));
      return { mu: out.mu, logvar: out.logvar };
    });
    return withInterval(clubBoundOnRows(takeData(mu), takeData(logvar), ys.test64, test.length, dy), options);
  } finally {
    tf.dispose([xValid, yValid]);
    club.dispose();
  }
}

/** The held-out CLUB bound, its per-row terms and the log-likelihood from q's outputs (float64, see estimateClubMi). */
function clubBoundOnRows(mu: Float32Array, logvar: Float32Array, y: Float64Array, n: number, dy: number): Omit<ClubMiResult, "interval"> {
  const yMean = new Float64Array(dy);
  const yVar = new Float64Array(dy);
  for (let i = 0; i < n; i++) for (let d = 0; d < dy; d++) yMean[d] += y[i * dy + d]! / n;
  for (let i = 0; i < n; i++) for (let d = 0; d < dy; d++) yVar[d] += (y[i * dy + d]! - yMean[d]!) ** 2 / n;
  let positive = 0;
  let negative = 0;
  const perRow = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let rowPositive = 0;
    let rowNegative = 0;
    for (let d = 0; d < dy; d++) {
      const k = i * dy + d;
      const m = mu[k]!;
      const lv = logvar[k]!;
      const twoVar = 2 * Math.exp(lv);
      const own = (m - y[k]!) ** 2;
      const allPairs = n * ((m - yMean[d]!) ** 2 + yVar[d]!); // Σ_j (m − y_j)², j over all rows
      const others = (allPairs - own) / (n - 1);
      rowPositive += -own / twoVar - lv / 2;
      rowNegative += -others / twoVar - lv / 2;
    }
    perRow[i] = rowPositive - rowNegative;
    positive += rowPositive;
    negative += rowNegative;
  }
  const rawBound = (positive - negative) / n;
  return {
    upperBound: Math.max(0, rawBound),
    rawBound,
    logLikelihood: positive / n - (dy / 2) * Math.log(2 * Math.PI),
    estimate: rawBound,
    rows: n,
    perRow,
  };
}

export interface InfoNceMiOptions extends IntervalOptions {
  readonly seed: number;
  /** Adam steps of the critics. Default 300. */
  readonly steps?: number;
  /** Output width of each critic projection. Default 32. */
  readonly projDim?: number;
  /** Hidden width of each critic MLP (d → hidden → ReLU → projDim). Default 64. */
  readonly hidden?: number;
  readonly lr?: number;
  /** Training batch size (the number of negatives per positive during training is batchSize − 1). Default 128. */
  readonly batchSize?: number;
  /** A fixed temperature on the critics' cosine similarities, or "learned" (default: log τ trained, starting at 0.1). */
  readonly tau?: number | "learned";
  /** Fraction of rows held out for the reported bound. Default 0.25. Ignored when `split` is given. */
  readonly holdout?: number;
  /** Train the critics on `split.train` (a fifth of them choose the checkpoint) and report the bound on `split.test`. */
  readonly split?: RowSplit;
  /** N of the reported bound: held-out rows are scored in batches of this size (capped by the held-out count). Default 512. */
  readonly evalBatchSize?: number;
}

/** `estimate` = rawBound (unclamped); `rows` = held-out rows. */
export interface InfoNceMiResult extends MiEstimate {
  /** max(0, rawBound): the InfoNCE lower bound on I(a; b), nats. */
  readonly lowerBound: number;
  /** log N − L_NCE on the held-out rows before clamping. */
  readonly rawBound: number;
  /** log N, the most InfoNCE can report with evaluation batches of N rows. */
  readonly ceiling: number;
  /** N, the evaluation batch size used. */
  readonly evalBatchSize: number;
  /**
   * Each held-out row's contribution: (held-out rows / scored row slots) · Σ over the evaluation batches that scored
   * the row of (log N − ℓ_i), ℓ_i its symmetric cross-entropy term, so mean(perRow) = rawBound exactly. When N covers
   * the held-out rows (the default at ≤ 2,048 rows) every row is scored once per shuffle and this is simply its mean
   * log N − ℓ_i.
   */
  readonly perRow: Float64Array;
}

// batchSize 128: the N×N score work per step is 4× below 256's, and the held-out figure uses its own N anyway.
const NCE_DEFAULTS = { steps: 300, projDim: 32, hidden: 64, lr: 3e-3, batchSize: 128, holdout: 0.25, evalBatchSize: 512 };
const INITIAL_TAU = 0.1;
/** Held-out rows are re-batched this many times (seeded shuffles), so rows left over by one batching count in another. */
const EVAL_SHUFFLES = 4;

/**
 * InfoNCE lower bound on I(a; b): two critic MLPs f(a), g(b) are trained with the symmetric InfoNCE loss
 * (scores cos(f(a_i), g(b_j))/τ, positives on the diagonal; mean of the a→b and b→a cross-entropies) on the
 * training rows; on the held-out rows, in batches of N, I ≥ log N − L_NCE. Each direction is a valid bound, so
 * their mean is too. The estimate cannot exceed log N (`ceiling`): compare parts only at equal N.
 */
export function estimateInfoNceMi(a: Float32Array, b: Float32Array, n: number, da: number, db: number, options: InfoNceMiOptions): InfoNceMiResult {
  checkMatrix("estimateInfoNceMi a", a, n, da);
  checkMatrix("estimateInfoNceMi b", b, n, db);
  const o = {
    seed: options.seed,
    steps: options.steps ?? NCE_DEFAULTS.steps,
    projDim: options.projDim ?? NCE_DEFAULTS.projDim,
    hidden: options.hidden ?? NCE_DEFAULTS.hidden,
    lr: options.lr ?? NCE_DEFAULTS.lr,
    batchSize: options.batchSize ?? NCE_DEFAULTS.batchSize,
    tau: options.tau ?? "learned",
    holdout: options.holdout ?? NCE_DEFAULTS.holdout,
    evalBatchSize: options.evalBatchSize ?? NCE_DEFAULTS.evalBatchSize,
  };
  checkTraining("estimateInfoNceMi", o);
  for (const field of ["projDim", "evalBatchSize"] as const) {
    if (!Number.isInteger(o[field]) || o[field] < 1) throw new SeaError(`must be a positive integer (got ${o[field]})`, { where: `estimateInfoNceMi.${field}` });
  }
  if (o.tau !== "learned" && !(o.tau > 0 && Number.isFinite(o.tau))) {
    throw new SeaError(`must be a positive number or "learned" (got ${o.tau})`, { where: "estimateInfoNceMi.tau" });
  }
  const { train, test } = options.split ? checkSplit("estimateInfoNceMi.split", options.split, n) : holdoutSplit(n, o.holdout, deriveSeed(o.seed, 1), "estimateInfoNceMi.holdout");
  const as = standardise(a, da, train, test);
  const bs = standardise(b, db, train, test);

  const rng = new Rng(deriveSeed(o.seed, 2));
  const critics = new NceCritics(da, db, o.hidden, o.projDim, o.tau, rng);
  // The kit's Adam (one fused pass per variable) rather than tfjs's (~12 element-wise kernels per variable and
  // step): a third of the estimator's time at Baby's size went to the critics' nine small updates.
  const optimizer = new Adam(critics.variables.map((variable, i) => ({ name: `critic${i}`, variable })), pytorchAdam(o.lr));
  const aTrain = tf.tensor2d(as.train, [train.length, da]);
  const bTrain = tf.tensor2d(bs.train, [train.length, db]);
  const aTest = tf.tensor2d(as.test, [test.length, da]);
  const bTest = tf.tensor2d(bs.test, [test.length, db]);
  const { fit, valid } = validationSplit(train.length, deriveSeed(o.seed, 3));
  try {
    const batches = new BatchSampler(fit, o.batchSize, deriveSeed(o.seed, 4));
    const validN = Math.min(o.evalBatchSize, valid.length);
    trainKeepingBest({
      steps: o.steps,
      variables: critics.variables,
      step: () =>
        tf.tidy(() => {
          const index = tf.tensor1d(batches.next(), "int32");
          const { value, grads } = tf.variableGrads(() => critics.loss(tf.gather(aTrain, index) as tf.Tensor2D, tf.gather(bTrain, index) as tf.Tensor2D), critics.variables);
          optimizer.apply(grads);
          value.dispose();
        }),
      // The same batches at every check (fixed order), so checkpoints are compared on equal terms.
      // One batch of N validation rows per check (validation loss at the N the bound is reported with): checking
      // every validation row cost about a third of the estimator's time at Baby's size.
      validationLoss: () => meanBatchLoss(critics, aTrain, bTrain, [valid.subarray(0, validN)], validN),
    });
    const evalN = Math.min(o.evalBatchSize, test.length);
    const evalRng = new Rng(deriveSeed(o.seed, 5));
    // When one batch holds every held-out row, every shuffle gives the same batch: one pass is enough.
    const shuffles = evalN >= test.length ? 1 : EVAL_SHUFFLES;
    const orders = Array.from({ length: shuffles }, () => evalRng.permutation(test.length));
    const ceiling = Math.log(evalN);
    const { perRow, rawBound } = heldOutContributions(critics, aTest, bTest, orders, evalN);
    return withInterval({ lowerBound: Math.max(0, rawBound), rawBound, ceiling, evalBatchSize: evalN, estimate: rawBound, rows: test.length, perRow }, options);
  } finally {
    tf.dispose([aTrain, bTrain, aTest, bTest]);
    optimizer.dispose();
    critics.dispose();
  }
}

/** Mean InfoNCE loss over consecutive batches of `size` rows of each ordering (a remainder smaller than `size` is skipped). */
function meanBatchLoss(critics: NceCritics, a: tf.Tensor2D, b: tf.Tensor2D, orders: readonly Int32Array[], size: number): number {
  let sum = 0;
  let count = 0;
  for (const order of orders) {
    for (let start = 0; start + size <= order.length; start += size) {
      sum += tf.tidy(() => {
        const index = tf.tensor1d(order.slice(start, start + size), "int32");
        return critics.loss(tf.gather(a, index) as tf.Tensor2D, tf.gather(b, index) as tf.Tensor2D).dataSync()[0]!;
      });
      count++;
    }
  }
  return sum / count;
}

/**
 * log N − L_NCE over consecutive batches of `size` rows of each ordering (as meanBatchLoss), split into per-row
 * contributions (see InfoNceMiResult.perRow). Same float64 arithmetic on the same float32 scores as
 * diagonalCrossEntropy, but without rounding each batch's loss to a float32 scalar, so rawBound differs from
 * log N − meanBatchLoss by that rounding only (~1e-7).
 */
function heldOutContributions(critics: NceCritics, a: tf.Tensor2D, b: tf.Tensor2D, orders: readonly Int32Array[], size: number): { perRow: Float64Array; rawBound: number } {
  const n = a.shape[0];
  const perRow = new Float64Array(n);
  const logN = Math.log(size);
  let total = 0;
  let slots = 0;
  for (const order of orders) {
    for (let start = 0; start + size <= order.length; start += size) {
      const index = order.slice(start, start + size);
      const scores = takeData(
        tf.tidy(() => {
          const rows = tf.tensor1d(index, "int32");
          return critics.scores(tf.gather(a, rows) as tf.Tensor2D, tf.gather(b, rows) as tf.Tensor2D);
        }),
      );
      const losses = symmetricRowLosses(scores, size);
      for (let r = 0; r < size; r++) {
        perRow[index[r]!] += logN - losses[r]!;
        total += logN - losses[r]!;
      }
      slots += size;
    }
  }
  const scale = n / slots;
  for (let i = 0; i < n; i++) perRow[i] *= scale;
  return { perRow, rawBound: total / slots };
}

/** ℓ_i = ½[(logsumexp_j S_ij − S_ii) + (logsumexp_j S_ji − S_ii)] for a square score matrix S, in float64. */
function symmetricRowLosses(s: Float32Array, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let rowMax = -Infinity;
    let colMax = -Infinity;
    for (let j = 0; j < n; j++) {
      if (s[i * n + j]! > rowMax) rowMax = s[i * n + j]!;
      if (s[j * n + i]! > colMax) colMax = s[j * n + i]!;
    }
    let rowSum = 0;
    let colSum = 0;
    for (let j = 0; j < n; j++) {
      rowSum += Math.exp(s[i * n + j]! - rowMax);
      colSum += Math.exp(s[j * n + i]! - colMax);
    }
    out[i] = (rowMax + Math.log(rowSum) + colMax + Math.log(colSum)) / 2 - s[i * n + i]!;
  }
  return out;
}

/** Adds the bootstrap interval of mean(perRow) (seeded from the estimator's seed). */
function withInterval<T extends { perRow: Float64Array }>(result: T, options: { seed: number } & IntervalOptions): T & { interval: { lo: number; hi: number } } {
  const { lo, hi } = bootstrapMean(result.perRow, { seed: deriveSeed(options.seed, 6), resamples: options.resamples, level: options.level });
  return { ...result, interval: { lo, hi } };
}

/** Validates an explicit split: integer indices in [0, n), no repeats, disjoint, ≥ 2 rows held out, ≥ 10 to train. */
function checkSplit(who: string, split: RowSplit, n: number): { train: Int32Array; test: Int32Array } {
  const seen = new Uint8Array(n);
  for (const [side, rows, min] of [["train", split.train, 10], ["test", split.test, 2]] as const) {
    if (!(rows instanceof Int32Array)) throw new SeaError("must be an Int32Array of row indices", { where: `${who}.${side}` });
    if (rows.length < min) throw new SeaError(`has ${rows.length} rows (need at least ${min})`, { where: `${who}.${side}` });
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (r < 0 || r >= n) throw new SeaError(`row ${r} is outside 0..${n - 1}`, { where: `${who}.${side}` });
      if (seen[r]) throw new SeaError(`row ${r} appears twice (within or across train and test)`, { where: `${who}.${side}` });
      seen[r] = 1;
    }
  }
  return { train: split.train, test: split.test };
}

/** Share of the training rows set aside to choose the training checkpoint (never used for the reported bound). */
const VALIDATION_FRACTION = 0.2;
/** Validation checks per training run. */
const CHECKS = 20;

/** Splits training-row positions 0..n−1 into fitting rows and validation rows (seeded; each side ≥ 2 rows). */
function validationSplit(n: number, seed: number): { fit: Int32Array; valid: Int32Array } {
  const { train, test } = holdoutSplit(n, VALIDATION_FRACTION, seed, "MI estimator validation split");
  return { fit: train, valid: test };
}

/**
 * Runs `steps` optimiser steps and keeps the variables' values from the checkpoint (the start, every
 * steps/CHECKS steps, the end) with the lowest validation loss: early stopping without a patience parameter.
 * A small network fitted for many epochs on few rows overfits (for independent 4-d Gaussians the held-out
 * InfoNCE bound fell to −1.2 nats after 300 steps); choosing the checkpoint on rows it was not fitted on avoids
 * reporting that, and the held-out rows stay untouched for the final figure.
 */
function trainKeepingBest(t: { steps: number; variables: tf.Variable[]; step: () => void; validationLoss: () => number }): void {
  const every = Math.max(1, Math.ceil(t.steps / CHECKS));
  let best = t.validationLoss();
  let bestValues = t.variables.map((v) => Float32Array.from(v.dataSync() as Float32Array));
  for (let s = 1; s <= t.steps; s++) {
    t.step();
    if (s % every === 0 || s === t.steps) {
      const loss = t.validationLoss();
      if (loss < best) {
        best = loss;
        bestValues = t.variables.map((v) => Float32Array.from(v.dataSync() as Float32Array));
      }
    }
  }
  t.variables.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(bestValues[i]!, v.shape))));
}

/** The two critic MLPs and the (optionally learned) temperature. */
class NceCritics {
  private readonly f: Mlp;
  private readonly g: Mlp;
  private readonly logTau: tf.Variable | null;
  private readonly fixedTau: number;

  constructor(da: number, db: number, hidden: number, out: number, tau: number | "learned", rng: Rng) {
    this.f = new Mlp(da, hidden, out, rng);
    this.g = new Mlp(db, hidden, out, rng);
    this.fixedTau = tau === "learned" ? INITIAL_TAU : tau;
    this.logTau = tau === "learned" ? tf.tidy(() => tf.variable(tf.scalar(Math.log(INITIAL_TAU)), true)) : null;
  }

  get variables(): tf.Variable[] {
    return [...this.f.variables, ...this.g.variables, ...(this.logTau ? [this.logTau] : [])];
  }

  /** Symmetric InfoNCE loss of a batch (row i of a pairs with row i of b). */
  loss(a: tf.Tensor2D, b: tf.Tensor2D): tf.Scalar {
    return tf.tidy(() => diagonalCrossEntropy(this.scores(a, b), "both"));
  }

  /** The batch's score matrix cos(f(a_i), g(b_j))/τ. */
  scores(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const fa = normalizeRows(this.f.apply(a));
      const gb = normalizeRows(this.g.apply(b));
      const invTau = this.logTau ? tf.exp(tf.neg(this.logTau)) : tf.scalar(1 / this.fixedTau);
      return tf.mul(tf.matMul(fa, gb, false, true), invTau) as tf.Tensor2D;
    });
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

/** d → hidden → ReLU → out, PyTorch-Linear-style uniform(±1/√fanIn) initialisation from the seeded Rng. */
class Mlp {
  readonly variables: tf.Variable[];

  constructor(inDim: number, hidden: number, out: number, rng: Rng) {
    this.variables = [
      uniformVariable([inDim, hidden], inDim, rng),
      uniformVariable([hidden], inDim, rng),
      uniformVariable([hidden, out], hidden, rng),
      uniformVariable([out], hidden, rng),
    ];
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    const [w1, b1, w2, b2] = this.variables as [tf.Variable, tf.Variable, tf.Variable, tf.Variable];
    return tf.tidy(() => tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, w1 as tf.Tensor2D), b1)) as tf.Tensor2D, w2 as tf.Tensor2D), b2) as tf.Tensor2D);
  }
}

function uniformVariable(shape: number[], fanIn: number, rng: Rng): tf.Variable {
  const size = shape.reduce((p, q) => p * q, 1);
  const bound = 1 / Math.sqrt(fanIn);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = (2 * rng.next() - 1) * bound;
  return tf.tidy(() => tf.variable(tf.tensor(values, shape), true));
}

/** Cycles through seeded shuffles of the given rows in batches of min(batchSize, rows) rows. */
class BatchSampler {
  private readonly rng: Rng;
  private readonly order: Int32Array;
  private cursor = 0;
  private readonly size: number;

  constructor(rows: Int32Array, batchSize: number, seed: number) {
    this.rng = new Rng(seed);
    this.order = Int32Array.from(rows);
    this.size = Math.min(batchSize, rows.length);
    this.rng.shuffle(this.order);
  }

  next(): Int32Array {
    if (this.cursor + this.size > this.order.length) {
      this.rng.shuffle(this.order);
      this.cursor = 0;
    }
    const rows = this.order.slice(this.cursor, this.cursor + this.size);
    this.cursor += this.size;
    return rows;
  }
}

/** Training/held-out rows z-scored with the training rows' column statistics (float32 for tensors; held-out also float64). */
function standardise(v: Float32Array, d: number, train: Int32Array, test: Int32Array): { train: Float32Array; test: Float32Array; test64: Float64Array } {
  const tr = pickRows(v, d, train);
  const te = pickRows(v, d, test);
  const n = train.length;
  for (let j = 0; j < d; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += tr[i * d + j]!;
    mean /= n;
    let variance = 0;
    for (let i = 0; i < n; i++) variance += (tr[i * d + j]! - mean) ** 2;
    const std = Math.sqrt(variance / n);
    const scale = std > 1e-12 * (Math.abs(mean) + 1) ? 1 / std : 1; // constant column: centre only
    for (let i = 0; i < n; i++) tr[i * d + j] = (tr[i * d + j]! - mean) * scale;
    for (let i = 0; i < test.length; i++) te[i * d + j] = (te[i * d + j]! - mean) * scale;
  }
  return { train: Float32Array.from(tr), test: Float32Array.from(te), test64: te };
}

function checkTraining(who: string, o: { steps: number; hidden: number; lr: number; batchSize: number }): void {
  if (!Number.isInteger(o.steps) || o.steps < 0) throw new SeaError(`must be an integer ≥ 0 (got ${o.steps})`, { where: `${who}.steps` });
  for (const field of ["hidden", "batchSize"] as const) {
    if (!Number.isInteger(o[field]) || o[field] < 2) throw new SeaError(`must be an integer ≥ 2 (got ${o[field]})`, { where: `${who}.${field}` });
  }
  if (!(o.lr > 0) || !Number.isFinite(o.lr)) throw new SeaError(`must be a positive number (got ${o.lr})`, { where: `${who}.lr` });
}

/** The estimators that `MI_ESTIMATORS` offers under one signature. CKA values are similarities in [0, 1], not nats. */
export type MiEstimatorName = "club" | "infonce" | "ksg" | "gaussian" | "cka" | "cka-rbf";

export interface CommonMiOptions extends IntervalOptions {
  readonly seed: number;
  /** Training steps of the trained estimators (CLUB, InfoNCE; default 300); the others ignore it. */
  readonly steps?: number;
}

export type MiEstimatorFunction = (x: Float32Array, y: Float32Array, n: number, dx: number, dy: number, options: CommonMiOptions) => MiEstimate;

/** Only the common summary, so results of different estimators serialise alike (no per-row arrays). */
function summary(r: MiEstimate): MiEstimate {
  return { estimate: r.estimate, interval: { lo: r.interval.lo, hi: r.interval.hi }, rows: r.rows };
}

/**
 * Every estimator with its default settings and a bootstrap interval over items, called the same way, e.g.
 *   for (const [name, estimate] of Object.entries(MI_ESTIMATORS)) table[name] = estimate(x, y, n, dx, dy, { seed });
 * docs/method.md ("MI estimators") says what each number means and how far to trust it.
 */
export const MI_ESTIMATORS: Readonly<Record<MiEstimatorName, MiEstimatorFunction>> = {
  club: (x, y, n, dx, dy, o) => summary(estimateClubMi(x, y, n, dx, dy, o)),
  infonce: (x, y, n, dx, dy, o) => summary(estimateInfoNceMi(x, y, n, dx, dy, o)),
  ksg: (x, y, n, dx, dy, o) => summary(estimateKsgMi(x, y, n, dx, dy, o)),
  gaussian: (x, y, n, dx, dy, o) => summary(estimateGaussianMi(x, y, n, dx, dy, o)),
  cka: (x, y, n, dx, dy, o) => summary(estimateLinearCka(x, y, n, dx, dy, o)),
  "cka-rbf": (x, y, n, dx, dy, o) => summary(estimateRbfCka(x, y, n, dx, dy, o)),
};
