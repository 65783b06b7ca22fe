import * as tf from "@tensorflow/tfjs";
import type { SeaConfig } from "./config";
import type { ForwardOutput } from "./seaModel";
import { normalizeRows } from "../losses/normalize";
import { bprLossOfTables } from "../losses/bprTables";
import type { BprTriples } from "../data/bprSampling";
import { solosimLoss } from "../losses/solosim";
import { orthogonalPenalty } from "../losses/orthogonal";
import { negL2 } from "../losses/negL2";
import type { Club } from "../losses/club";

export type BprBatch = BprTriples;

/**
 * The encoder's loss, docs/method.md §6: BPR + alpha·Solosim + clubWeight·mean_m distance_m, returned part by
 * part ("bpr", "solosim", "distance") plus "total". The distance is the CLUB upper bound (SEA), an
 * orthogonality penalty, or −L2 between the parts, by config.
 */
export function lossParts(
  config: SeaConfig,
  out: ForwardOutput,
  batch: BprBatch,
  club: Club | null,
  permutations: readonly Int32Array[],
): Record<string, tf.Scalar> {
  const bpr = bprLossOfTables(out.users, out.items, batch);
  const parts: Record<string, tf.Scalar> = { bpr };
  let total: tf.Scalar = bpr;

  if (config.alpha > 0 && out.heads.length >= 2) {
    // Solosim between every pair of modalities' generic heads (one direction each, as the reference), averaged.
    const terms: tf.Scalar[] = [];
    for (let a = 0; a < out.heads.length; a++) {
      for (let b = a + 1; b < out.heads.length; b++) terms.push(solosimLoss(out.heads[a]!, out.heads[b]!, config.tau));
    }
    const solosim = tf.div(tf.addN(terms), terms.length) as tf.Scalar;
    parts.solosim = solosim;
    total = tf.add(total, tf.mul(solosim, config.alpha));
  }

  if (out.distanceParts.length > 0) {
    const terms = out.distanceParts.map((p, i) => distanceTerm(config, p.generic, p.unique, club, permutations[i]!));
    const distance = tf.div(tf.addN(terms), terms.length) as tf.Scalar;
    parts[config.distance] = distance;
    total = tf.add(total, tf.mul(distance, config.clubWeight));
  }
  parts.total = total;
  return parts;
}

function distanceTerm(config: SeaConfig, g: tf.Tensor2D, u: tf.Tensor2D, club: Club | null, perm: Int32Array): tf.Scalar {
  switch (config.distance) {
    case "club":
      if (!club) throw new Error("distance 'club' needs a CLUB network");
      return club.upperBound(g, u, perm);
    case "orthogonal":
      return orthogonalPenalty(g, u, config.orthogonalMode);
    case "negL2":
      // On L2-normalised rows: −mean((g−u)²) is then bounded in [−4, 0]; unnormalised it has no minimum
      // and the encoder could lower it forever by scaling the maps up.
      return negL2(normalizeRows(g), normalizeRows(u));
    case "none":
      throw new Error("no distance term configured");
  }
}

/** The CLUB network's own objective: negative log-likelihood on detached pairs, summed over modalities. */
export function clubLearningLoss(club: Club, pairs: readonly { generic: tf.Tensor2D; unique: tf.Tensor2D }[]): tf.Scalar {
  return tf.addN(pairs.map((p) => club.learningLoss(p.generic, p.unique))) as tf.Scalar;
}
