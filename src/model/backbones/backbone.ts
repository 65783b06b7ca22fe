import type * as tf from "@tensorflow/tfjs";
import type { SeaConfig } from "../config";
import type { ModelDims } from "../contract";
import type { ModelData } from "../modelData";
import type { ParamStore } from "../params";
import type { BprTriples } from "../../data/bprSampling";

/**
 * The backbone contract (docs/method.md §13). A backbone is a recommender: it owns its parameters, turns the
 * data into scoring tables, and names its own loss terms. Where it reads item content it does so through one
 * item representation per modality, E_m = X_m·W_m + b_m (an affine map of the raw features, width `width`):
 * that representation is what SEA's separation splits into generic and unique parts, and the backbone reads
 * it only through its declared consumers. So the same separation plugs into every backbone without the
 * backbone knowing which variant (if any) is active.
 */

/** How a backbone reads E_m: a linear layer over all of it (out = its width), or E_m itself (`identity`). */
export interface BackboneConsumer {
  readonly name: string;
  readonly out: number;
  /** Reads E_m as it is (out must equal the representation's width). */
  readonly identity?: boolean;
}

/** One modality's item representation as a backbone declares it. */
export interface RepresentationSpec {
  /** Parameter name of the affine map (`<modality>.<layer>`). */
  readonly layer: string;
  /** Width of E_m. */
  readonly width: number;
  readonly consumers: readonly BackboneConsumer[];
}

/** The backbone's consumer outputs, per modality, by consumer name: [N, out]. */
export type ConsumerReadings = readonly ReadonlyMap<string, tf.Tensor2D>[];

/**
 * Scoring tables and whatever else the backbone's loss reads (its own tensors, by name). The tables are new tensors
 * the caller owns and disposes (a backbone whose table is a parameter returns tf.clone of it).
 */
export interface BackboneOutput {
  readonly users: tf.Tensor2D;
  readonly items: tf.Tensor2D;
}

/** A weighted loss term: total += weight·value, in the order the terms are listed (weight 1 adds value as is). */
export interface LossTerm {
  readonly name: string;
  readonly value: tf.Scalar;
  readonly weight: number;
}

/** What `create` is given: the shapes, the config, the store to create parameters in, and consumer layers. */
export interface BackboneBuildContext {
  readonly dims: ModelDims;
  readonly config: SeaConfig;
  readonly store: ParamStore;
  /**
   * Call once per declared consumer, at the point of construction where the backbone's own first layer would
   * be created: when the separation replaces E_m by another input (the subtraction baseline), the consumer's
   * linear layer over that input is created here, so parameters are drawn in the backbone's own order.
   */
  readonly declareConsumer: (modality: number, name: string) => void;
}

export interface Backbone<Out extends BackboneOutput = BackboneOutput> {
  /** Full forward pass; `readings` holds the declared consumers' outputs per modality. */
  forward(data: ModelData, readings: ConsumerReadings, options: { readonly training: boolean }): Out;
  /** The backbone's loss terms on a batch, the first one (BPR on the scoring tables) with weight 1. */
  lossTerms(out: Out, batch: BprTriples): LossTerm[];
  /** Once per epoch before its batches; deterministic in (seed, epoch) so a resumed run replays it. */
  beginEpoch?(epoch: number, data: ModelData): void;
  /** Anything the backbone holds outside the parameter store (graphs it built). */
  dispose?(): void;
}

/** A registry entry: one backbone's name, what it needs, its representation declaration and its constructor. */
export interface BackboneDefinition {
  readonly name: string;
  readonly description: string;
  /** The published source the defaults follow. */
  readonly source: string;
  /** Whether it reads item content (an ID-only backbone has no representations and takes no separation). */
  readonly readsContent: boolean;
  /** Config defaults of this backbone that differ from the kit's (applied before the user's overrides). */
  readonly defaults: Partial<SeaConfig>;
  /** Per modality, the representation it reads ([] for an ID-only backbone). Called before any parameter exists. */
  representations(dims: ModelDims, config: SeaConfig): RepresentationSpec[];
  /** Creates the backbone's parameters (after the representation layers and the separation's heads). */
  create(context: BackboneBuildContext): Backbone;
}
