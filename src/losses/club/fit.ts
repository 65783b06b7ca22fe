import * as tf from "@tensorflow/tfjs";
import type { Club } from "./club";
import { dispatchOp } from "../../backend/implementation";

/**
 * The CLUB network's inner training loop (docs/method.md §3.4): after each encoder step, `steps` Adam steps of
 * q(y|x)'s negative log-likelihood on the step's detached generic/unique pairs, one pair per modality, the loss
 * summed over the pairs. The op "clubFit" (docs/method.md, "Implementations: reference and fast"):
 * fitClubReadable below, or under the "fast" implementation one call on flat arrays with the gradients worked
 * out by hand (src/backend/fused/clubFit.ts; the addon's clubFitAdam or its JS twin).
 *
 * Adam is PyTorch's (the reference), with the bias corrections computed in float64 from the step count (tfjs's
 * own Adam keeps beta^t as float32 products: float(0.999) = 0.99900001…, early updates ~6e-6 smaller).
 */

/** Adam's moments over q's parameters, flattened in Club.variables order, and the number of Adam steps taken. */
export interface ClubAdamState {
  m: Float32Array;
  v: Float32Array;
  step: number;
}

export interface ClubFitSettings {
  steps: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

/** One modality's detached pair: x [rowsPerGroup × xDim], y [rowsPerGroup × yDim], host copies. */
export interface ClubPair {
  x: Float32Array;
  y: Float32Array;
}

/** Fresh Adam state (zero moments, no steps) sized for `club`. */
export function newClubAdamState(club: Club): ClubAdamState {
  const size = club.variables.reduce((n, v) => n + v.size, 0);
  return { m: new Float32Array(size), v: new Float32Array(size), step: 0 };
}

/**
 * Runs `settings.steps` Adam steps of the club's learning loss (Σ over pairs of each pair's mean NLL) on the club's
 * weights and advances `state` in place. Returns the last step's loss, computed before its update (NaN for 0 steps).
 */
export function fitClub(club: Club, pairs: readonly ClubPair[], state: ClubAdamState, settings: ClubFitSettings): number {
  checkClubFitInputs(club, pairs, state);
  return dispatchOp("clubFit", fitClubReadable)(club, pairs, state, settings);
}

/** The readable loop: autodiff of Σ_pairs Club.learningLoss, then Adam on each of q's variables with tf ops. */
export function fitClubReadable(club: Club, pairs: readonly ClubPair[], state: ClubAdamState, settings: ClubFitSettings): number {
  const variables = club.variables;
  const { steps, lr, beta1, beta2, eps } = settings;
  const rows = pairs[0]!.x.length / club.xDim;
  const data = pairs.map((p) => ({ x: tf.tensor2d(p.x, [rows, club.xDim]), y: tf.tensor2d(p.y, [rows, club.yDim]) }));
  const moments = splitMoments(variables, state);
  let loss = Number.NaN;
  try {
    for (let s = 0; s < steps; s++) {
      const t = state.step + s + 1;
      const stepSize = lr / (1 - Math.pow(beta1, t));
      const invCorrection2 = 1 / (1 - Math.pow(beta2, t));
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => tf.addN(data.map((p) => club.learningLoss(p.x, p.y))) as tf.Scalar, variables);
        loss = value.dataSync()[0]!;
        variables.forEach((variable, i) => {
          const g = grads[variable.name]!;
          const m = tf.add(tf.mul(moments.m[i]!, beta1), tf.mul(g, 1 - beta1));
          const v = tf.add(tf.mul(moments.v[i]!, beta2), tf.mul(tf.square(g), 1 - beta2));
          variable.assign(tf.sub(variable, tf.div(tf.mul(m, stepSize), tf.add(tf.sqrt(tf.mul(v, invCorrection2)), eps))));
          tf.dispose([moments.m[i]!, moments.v[i]!]);
          moments.m[i] = tf.keep(m);
          moments.v[i] = tf.keep(v);
        });
      });
    }
    joinMoments(moments, state);
  } finally {
    tf.dispose([...data.flatMap((p) => [p.x, p.y]), ...moments.m, ...moments.v]);
  }
  state.step += steps;
  return loss;
}

/** The flat moments as one tensor per variable (Club.variables order). */
function splitMoments(variables: readonly tf.Variable[], state: ClubAdamState): { m: tf.Tensor[]; v: tf.Tensor[] } {
  let at = 0;
  const m: tf.Tensor[] = [];
  const v: tf.Tensor[] = [];
  for (const variable of variables) {
    m.push(tf.tensor(state.m.slice(at, at + variable.size), variable.shape));
    v.push(tf.tensor(state.v.slice(at, at + variable.size), variable.shape));
    at += variable.size;
  }
  return { m, v };
}

/** Writes the per-variable moments back into the flat state. */
function joinMoments(moments: { m: tf.Tensor[]; v: tf.Tensor[] }, state: ClubAdamState): void {
  let at = 0;
  moments.m.forEach((m, i) => {
    state.m.set(m.dataSync() as Float32Array, at);
    state.v.set(moments.v[i]!.dataSync() as Float32Array, at);
    at += m.size;
  });
}

/** The pairs hold whole rows, all the same number, and the state fits the club (checked before any step). */
export function checkClubFitInputs(club: Club, pairs: readonly ClubPair[], state: ClubAdamState): void {
  if (pairs.length === 0) throw new Error("fitClub: no pairs to fit");
  const { xDim, yDim } = club;
  const rowsPerGroup = pairs[0]!.x.length / xDim;
  if (!Number.isInteger(rowsPerGroup) || rowsPerGroup < 1) {
    throw new Error(`fitClub: pair 0: x has ${pairs[0]!.x.length} values, not a positive whole number of rows of xDim ${xDim}`);
  }
  pairs.forEach((p, i) => {
    if (p.x.length !== rowsPerGroup * xDim || p.y.length !== rowsPerGroup * yDim) {
      throw new Error(`fitClub: pair ${i}: x has ${p.x.length} values and y ${p.y.length}; expected ${rowsPerGroup} rows (as pair 0) × xDim ${xDim} and × yDim ${yDim}`);
    }
  });
  const expected = club.variables.reduce((n, v) => n + v.size, 0);
  if (state.m.length !== expected || state.v.length !== expected) {
    throw new Error(`fitClub: Adam state has ${state.m.length}/${state.v.length} moments, the club has ${expected} parameters`);
  }
  if (!Number.isInteger(state.step) || state.step < 0) throw new Error(`fitClub: Adam state step must be a non-negative integer (got ${state.step})`);
}
