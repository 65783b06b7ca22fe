import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../util/rng";
import { SeaError } from "../../util/errors";
import { dispatchOp } from "../../backend/implementation";

export interface ClubOptions {
  /** Width of x (the generic part's projection). */
  readonly xDim: number;
  /** Width of y (the unique part's projection). */
  readonly yDim: number;
  /** The reference's CLUB hidden size; each of the two nets uses floor(hidden/2) units. Default 16. */
  readonly hidden?: number;
  /** Seeds the initial weights (src/util/rng.ts). */
  readonly seed: number;
  /**
   * logvar = logvarScale·tanh(…). Default 1, the reference: the variance stays within [e⁻¹, e], which caps
   * what q can express (a conditional variance below e⁻¹ of standardised data). The MI estimator widens it.
   */
  readonly logvarScale?: number;
  /** Prefix of the variables' names (a per-instance counter is appended, since tfjs names are global). */
  readonly name?: string;
}

export interface ClubFitOptions {
  readonly steps: number;
  /** Defaults to a fresh Adam(lr) that is disposed afterwards. */
  readonly optimizer?: tf.Optimizer;
  /** Only used when no optimizer is given. Default 1e-3. */
  readonly lr?: number;
}

interface Linear {
  readonly w: tf.Variable;
  readonly b: tf.Variable;
}

let instances = 0;

/**
 * CLUB (contrastive log-ratio upper bound) with a Gaussian variational net q(y|x) = N(mu(x), diag(exp(logvar(x)))),
 * docs/method.md §3.2–§3.3:
 *   mu(x)     = L2(ReLU(L1(x)))          L1: xDim → hidden/2, L2: hidden/2 → yDim
 *   logvar(x) = s·tanh(L4(ReLU(L3(x))))  L3: xDim → hidden/2, L4: hidden/2 → yDim
 * tanh keeps the variance within [e⁻ˢ, eˢ]; s = logvarScale is 1 in the reference.
 *
 * Log-likelihoods here are per row, in nats, without the constant −(yDim/2)·ln 2π:
 *   ll(x, y) = Σ_d [ −(mu_d − y_d)² / (2·exp(logvar_d)) − logvar_d / 2 ].
 * `upperBound` = max(0, ½·mean_i[ll(x_i, y_i) − ll(x_i, y_perm(i))]): the reference (CLUBSample) computes the
 * same Gaussian log-likelihood, with its ½ factors, and then halves the clamped bound once more; we keep that
 * extra ½ so `clubWeight = 0.006` means what it means in the reference. (The MI estimator in analysis/mi.ts
 * reports the CLUB estimate proper, without that factor.)
 */
export class Club {
  readonly xDim: number;
  readonly yDim: number;
  readonly hiddenUnits: number;
  readonly logvarScale: number;
  private readonly layers: readonly [Linear, Linear, Linear, Linear];

  constructor(options: ClubOptions) {
    const hidden = options.hidden ?? 16;
    for (const [field, v] of [["xDim", options.xDim], ["yDim", options.yDim], ["hidden", hidden]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new SeaError(`must be a positive integer (got ${v})`, { where: `club.${field}` });
    }
    if (hidden < 2) throw new SeaError(`must be ≥ 2: the nets use hidden/2 units (got ${hidden})`, { where: "club.hidden" });
    this.xDim = options.xDim;
    this.yDim = options.yDim;
    this.hiddenUnits = Math.floor(hidden / 2);
    this.logvarScale = options.logvarScale ?? 1;
    if (!(this.logvarScale > 0) || !Number.isFinite(this.logvarScale)) {
      throw new SeaError(`must be a positive number (got ${this.logvarScale})`, { where: "club.logvarScale" });
    }
    const prefix = `${options.name ?? "club"}_${instances++}`;
    const rng = new Rng(options.seed);
    const h = this.hiddenUnits;
    this.layers = [
      linear(`${prefix}/mu1`, this.xDim, h, rng),
      linear(`${prefix}/mu2`, h, this.yDim, rng),
      linear(`${prefix}/logvar1`, this.xDim, h, rng),
      linear(`${prefix}/logvar2`, h, this.yDim, rng),
    ];
  }

  /** The trainable variables, in checkpoint order: mu1.w, mu1.b, mu2.w, mu2.b, logvar1.w, logvar1.b, logvar2.w, logvar2.b. */
  get variables(): tf.Variable[] {
    return this.layers.flatMap((l) => [l.w, l.b]);
  }

  /** q's mean and log-variance for each row of x ([n, xDim] → two [n, yDim]). */
  muLogvar(x: tf.Tensor2D): { mu: tf.Tensor2D; logvar: tf.Tensor2D } {
    this.checkX(x);
    const [mu1, mu2, lv1, lv2] = this.layers;
    return tf.tidy(() => ({
      mu: dense(tf.relu(dense(x, mu1)), mu2),
      logvar: tf.mul(tf.tanh(dense(tf.relu(dense(x, lv1)), lv2)), this.logvarScale) as tf.Tensor2D,
    }));
  }

  /** mean_i ll(x_i, y_i): the average log-likelihood of y under q(·|x), nats per row, without the 2π constant. */
  logLikelihood(x: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar {
    this.checkY(x, y);
    return tf.tidy(() => {
      const { mu, logvar } = this.muLogvar(x);
      return tf.mean(rowLogLikelihood(mu, logvar, y)) as tf.Scalar;
    });
  }

  /** q's training objective (maximum likelihood): −logLikelihood. */
  learningLoss(x: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar {
    return tf.tidy(() => tf.neg(this.logLikelihood(x, y)) as tf.Scalar);
  }

  /**
   * The sampled CLUB bound the encoder minimises: max(0, ½·mean_i[ll(x_i, y_i) − ll(x_i, y_perm(i))]), nats
   * (docs/method.md §3.3). Gradients flow into x and y. The op "clubUpperBound" (docs/method.md, "Implementations:
   * reference and fast"): clubUpperBoundReadable below, whose gradients also reach q's variables (the encoder's
   * optimiser does not update them), or under the "fast" implementation, with the native kernels active on tfjs's
   * cpu backend, one fused op that treats q's weights as constants (src/backend/fused/clubBound.ts).
   */
  upperBound(x: tf.Tensor2D, y: tf.Tensor2D, perm: Int32Array | tf.Tensor1D): tf.Scalar {
    this.checkY(x, y);
    const n = x.shape[0];
    const permLength = perm instanceof Int32Array ? perm.length : perm.shape[0];
    if (permLength !== n) throw new Error(`Club.upperBound: permutation has ${permLength} entries for ${n} rows`);
    return dispatchOp("clubUpperBound", clubUpperBoundReadable)(this, x, y, perm);
  }

  /**
   * `steps` optimiser steps of learningLoss on (x, y), full batch. Only q's variables are differentiated, so x
   * and y act as detached constants (tfjs computes no gradient for tensors outside the variable list).
   * Returns the last step's loss.
   */
  fit(x: tf.Tensor2D, y: tf.Tensor2D, options: ClubFitOptions): number {
    this.checkY(x, y);
    const optimizer = options.optimizer ?? tf.train.adam(options.lr ?? 1e-3);
    let last = Number.NaN;
    try {
      for (let s = 0; s < options.steps; s++) {
        const cost = optimizer.minimize(() => this.learningLoss(x, y), s === options.steps - 1, this.variables);
        if (cost) {
          last = cost.dataSync()[0]!;
          cost.dispose();
        }
      }
    } finally {
      if (!options.optimizer) optimizer.dispose();
    }
    return last;
  }

  /** Copies of the weights, in `variables` order (for checkpoints). */
  getWeights(): Float32Array[] {
    return this.variables.map((v) => Float32Array.from(v.dataSync() as Float32Array));
  }

  /** Restores weights saved by getWeights (same order, same sizes). */
  setWeights(weights: readonly Float32Array[]): void {
    const vars = this.variables;
    if (weights.length !== vars.length) {
      throw new SeaError(`expected ${vars.length} CLUB weight arrays, got ${weights.length}`, { where: "club weights" });
    }
    vars.forEach((v, i) => {
      if (weights[i]!.length !== v.size) {
        throw new SeaError(`has ${weights[i]!.length} values, expected ${v.size} (${v.name}, shape [${v.shape}])`, { where: `club weights[${i}]` });
      }
    });
    vars.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(weights[i]!, v.shape))));
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }

  private checkX(x: tf.Tensor): void {
    if (x.rank !== 2 || x.shape[1] !== this.xDim) throw new Error(`Club: x must be [n, ${this.xDim}] (got [${x.shape}])`);
  }

  private checkY(x: tf.Tensor, y: tf.Tensor): void {
    this.checkX(x);
    if (y.rank !== 2 || y.shape[1] !== this.yDim || y.shape[0] !== x.shape[0]) {
      throw new Error(`Club: y must be [${x.shape[0]}, ${this.yDim}] (got [${y.shape}])`);
    }
  }
}

/** The readable bound of Club.upperBound (shapes checked there), op by op as docs/method.md §3.3 writes it. */
export function clubUpperBoundReadable(club: Club, x: tf.Tensor2D, y: tf.Tensor2D, perm: Int32Array | tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const index = perm instanceof Int32Array ? tf.tensor1d(perm, "int32") : perm;
    const { mu, logvar } = club.muLogvar(x);
    // The logvar terms of the two log-likelihoods cancel; they are kept so the code reads as the definition.
    const positive = rowLogLikelihood(mu, logvar, y);
    const negative = rowLogLikelihood(mu, logvar, tf.gather(y, index) as tf.Tensor2D);
    return tf.relu(tf.mul(0.5, tf.mean(tf.sub(positive, negative)))) as tf.Scalar;
  });
}

/** ll_i = Σ_d [−(mu − y)² / (2·exp(logvar)) − logvar/2], one value per row. */
function rowLogLikelihood(mu: tf.Tensor2D, logvar: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const quad = tf.div(tf.squaredDifference(mu, y), tf.mul(tf.exp(logvar), 2));
    return tf.sum(tf.neg(tf.add(quad, tf.div(logvar, 2))), 1) as tf.Tensor1D;
  });
}

function dense(x: tf.Tensor2D, l: Linear): tf.Tensor2D {
  return tf.add(tf.matMul(x, l.w as tf.Tensor2D), l.b) as tf.Tensor2D;
}

/** PyTorch nn.Linear's default initialisation: weight and bias ~ U(−1/√fanIn, 1/√fanIn); weight stored [fanIn, fanOut]. */
function linear(name: string, fanIn: number, fanOut: number, rng: Rng): Linear {
  const bound = 1 / Math.sqrt(fanIn);
  const uniform = (size: number): Float32Array => {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = (2 * rng.next() - 1) * bound;
    return out;
  };
  // tf.variable keeps its initial tensor alive alongside the variable; tidy disposes it (variables survive tidy).
  const w = uniform(fanIn * fanOut);
  const b = uniform(fanOut);
  return {
    w: tf.tidy(() => tf.variable(tf.tensor2d(w, [fanIn, fanOut]), true, `${name}/w`)),
    b: tf.tidy(() => tf.variable(tf.tensor1d(b), true, `${name}/b`)),
  };
}
