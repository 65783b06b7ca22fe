import type * as tf from "@tensorflow/tfjs";
import type { SeaConfig } from "./config";
import type { ModelData } from "./modelData";
import type { ParamStore, Linear } from "./params";
import type { BprTriples } from "../data/bprSampling";
import type { SavedTensor } from "../util/savedTensor";

/**
 * The model contract (docs/method.md §13): what the trainer, evaluation, checkpoints, the MI analysis, the
 * embeddings export and the figures see of any model. A model is a backbone (src/model/backbones/, one file
 * and one registry entry each) with SEA's separation plugged over its per-modality item representations
 * (src/model/separation/); `createModel` (src/model/createModel.ts) composes the two. Nothing above this
 * layer names a backbone or a separation variant.
 */

export interface ModalityDims {
  readonly name: string;
  /** Feature width d_m of the modality's raw item features. */
  readonly dim: number;
}

export interface ModelDims {
  readonly nUsers: number;
  readonly nItems: number;
  readonly modalities: readonly ModalityDims[];
}

/** A generic/unique pair of one modality, rows = items. */
export interface PartPair {
  readonly generic: tf.Tensor2D;
  readonly unique: tf.Tensor2D;
}

/** What every forward pass gives the trainer: the scoring tables and the pairs a companion network trains on. */
export interface ModelForward {
  /** User representations that score: score(u, i) = users[u]·items[i]. [U, D] */
  readonly users: tf.Tensor2D;
  /** Item representations that score. [N, D] */
  readonly items: tf.Tensor2D;
  /** Per modality, the pairs the separation's companion network (CLUB's q) fits on, detached; [] when none. */
  readonly companionPairs: readonly PartPair[];
}

/**
 * A network trained beside the model on the model's detached outputs, by its own optimiser and inner loop
 * (SEA's CLUB variational network q(y|x), docs/method.md §3). Its state is part of the checkpoint.
 */
export interface CompanionNetwork {
  /** Runs the inner loop on the step's detached pairs (host arrays); returns the loss to report (e.g. "clubNll"). */
  fit(pairs: readonly { readonly x: Float32Array; readonly y: Float32Array }[]): Record<string, number>;
  /** The weights and optimiser state, named under `prefix`. */
  save(prefix: string): SavedTensor[];
  /** Restores what `save` wrote; errors name `file`. */
  restore(tensors: ReadonlyMap<string, SavedTensor>, prefix: string, file: string): void;
  dispose(): void;
}

/** One modality's analysis parts, tensors [N, h] and [N, d − h] (inference mode). */
export interface NamedParts extends PartPair {
  readonly name: string;
}

/** A per-modality pair of linear maps into the distance term's space (generic → clubDim, unique → clubDim). */
export interface DistanceMaps {
  readonly name: string;
  readonly generic: Linear;
  readonly unique: Linear;
}

/**
 * A trainable recommender with (optionally) SEA's separation over it. The trainer calls, per batch,
 * `forward(training)` → `lossParts` → gradient step on `variables()` → `companion.fit` on `companionPairs`;
 * per epoch `beginEpoch` before the batches and `forward(inference)` after them for evaluation.
 */
export interface RecommenderModel {
  /** The registry name of the backbone and the separation variant's resolved config (recorded with runs). */
  readonly backboneName: string;
  readonly config: SeaConfig;
  /** Every trainable parameter by name (checkpoints key on these names). */
  readonly store: ParamStore;
  /** The separation's companion network, or null. */
  readonly companion: CompanionNetwork | null;
  /**
   * Work a backbone does once per epoch before its batches, deterministic in (seed, epoch) so that a resumed
   * run replays it (FREEDOM's degree-sensitive edge pruning).
   */
  beginEpoch(epoch: number, data: ModelData): void;
  /** Full forward pass over all users and items. `training` adds what only the loss reads. */
  forward(data: ModelData, options: { readonly training: boolean }): ModelForward;
  /**
   * The loss of one batch, part by part, plus "total" (the sum the optimiser descends). `permutations` are the
   * batch's seeded item permutations, one per modality, for CLUB's negative pairs.
   */
  lossParts(out: ModelForward, batch: BprTriples, permutations: readonly Int32Array[]): Record<string, tf.Scalar>;
  /** Whether lossParts reads per-modality permutations (the trainer draws them only then, keeping RNG streams). */
  readonly usesPermutations: boolean;
  /** Per modality the parts the MI analysis and the embeddings export read (inference mode); [] for an ID-only backbone. */
  analysisParts(data: ModelData): NamedParts[];
  /** The model's own maps into the distance term's space, or null when it has none (the analysis then fits some). */
  distanceMaps(): DistanceMaps[] | null;
  /**
   * Per modality, the outputs of E_m's consumers by name (the separation's and the backbone's first layers),
   * computed with or without reassociation (docs/method.md §2): the part of the step the benchmark isolates.
   */
  representationOutputs(data: ModelData, options: { readonly reassociate: boolean }): ReadonlyMap<string, tf.Tensor2D>[];
  /** Trainable variables (the companion network has its own optimiser). */
  variables(): tf.Variable[];
  dispose(): void;
}
