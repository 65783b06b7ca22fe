import * as tf from "@tensorflow/tfjs";
import type { SeaConfig } from "./config";
import { ItemProjection, type ConsumerSpec } from "./itemProjection";
import { ParamStore, applyLinear, type BatchNormParams, type Linear } from "./params";
import { projectionHeadRest } from "./projectionHead";
import { graphEncoders } from "./graphEncoder";
import type { ModelData } from "./modelData";
export type { ModelData } from "./modelData";
import { Rng, deriveSeed } from "../util/rng";

/** Solosim projection head after its first linear layer: BN-ReLU-Linear-BN-ReLU-Linear, then L2-normalise. */
interface HeadRest {
  readonly bn1: BatchNormParams;
  readonly l2: Linear;
  readonly bn2: BatchNormParams;
  readonly l3: Linear;
  /** Only for `separation: subtraction`, where the head reads the shared space, not a split part. */
  readonly l1: Linear | null;
}

interface GraphEncoder {
  /** For `separation: subtraction` the encoder's first layer reads [shared, specific] (2k), not E. */
  readonly first: Linear | null;
  readonly second: Linear; // encoderHidden → embeddingDim
  readonly userPreference: tf.Variable; // [nUsers, embeddingDim]
}

export interface ForwardOutput {
  /** Fused user representations [nUsers, M·k]. */
  readonly users: tf.Tensor2D;
  /** Fused item representations after item–item propagation [nItems, M·k]. */
  readonly items: tf.Tensor2D;
  /** Per modality: L2-normalised Solosim head outputs [nItems, projOut] (when alpha > 0 and training). */
  readonly heads: readonly tf.Tensor2D[];
  /** Per modality: the parts the distance term acts on (CLUB space, clubDim), when a distance is used. */
  readonly distanceParts: readonly { readonly generic: tf.Tensor2D; readonly unique: tf.Tensor2D }[];
  /** `subtraction` only: shared part [nItems, k] and per-modality specific parts. */
  readonly subtraction: { readonly shared: tf.Tensor2D; readonly specific: readonly tf.Tensor2D[] } | null;
}

/**
 * The SEA model (docs/method.md §2–§6) as one configurable module: per-modality square item layers split into
 * generic/unique parts, Solosim heads, the linear maps feeding the distance term, per-modality graph
 * encoders over the user–item graph, per-user modality weights and item–item propagation. Variants
 * are configurations (see variants.ts). Parameters that no loss would reach are not allocated: heads
 * exist only when alpha > 0, distance maps only when a distance term is used.
 */
export class SeaModel {
  readonly store: ParamStore;
  readonly projections: readonly ItemProjection[];
  readonly heads: readonly HeadRest[] | null;
  readonly encoders: readonly GraphEncoder[];
  readonly modalityWeights: tf.Variable; // [nUsers, M]
  readonly attention: { readonly proj: Linear; readonly query: tf.Variable } | null;
  readonly modalityNames: readonly string[];

  constructor(
    dims: { nUsers: number; nItems: number; modalities: readonly { name: string; dim: number }[] },
    readonly config: SeaConfig,
  ) {
    const c = config;
    this.store = new ParamStore(new Rng(deriveSeed(c.seed, 1)));
    this.modalityNames = dims.modalities.map((m) => m.name);
    const subtraction = c.separation === "subtraction";
    const useHeads = c.alpha > 0;
    const useDistance = c.distance !== "none" && !subtraction;
    const k = c.embeddingDim;

    this.projections = dims.modalities.map((m) => {
      const specs: ConsumerSpec[] = [];
      if (subtraction) {
        specs.push({ name: "toShared", source: "full", out: k });
      } else {
        if (useHeads) specs.push({ name: "head1", source: "generic", out: c.projHidden });
        if (useDistance) {
          specs.push({ name: "genericMap", source: "generic", out: c.clubDim });
          specs.push({ name: "uniqueMap", source: "unique", out: c.clubDim });
        }
        specs.push({ name: "encoder1", source: "full", out: c.encoderHidden });
      }
      return new ItemProjection(this.store, m.name, m.dim, c.genericFraction, specs);
    });

    this.heads = useHeads
      ? dims.modalities.map((m) => ({
          l1: subtraction ? this.store.linear(`${m.name}.head1`, k, c.projHidden) : null,
          bn1: this.store.batchNorm(`${m.name}.headBn1`, c.projHidden),
          l2: this.store.linear(`${m.name}.head2`, c.projHidden, c.projHidden),
          bn2: this.store.batchNorm(`${m.name}.headBn2`, c.projHidden),
          l3: this.store.linear(`${m.name}.head3`, c.projHidden, c.projOut),
        }))
      : null;

    this.encoders = dims.modalities.map((m) => ({
      first: subtraction ? this.store.linear(`${m.name}.encoder1`, 2 * k, c.encoderHidden) : null,
      second: this.store.linear(`${m.name}.encoder2`, c.encoderHidden, k),
      userPreference: this.store.xavier(`${m.name}.userPreference`, dims.nUsers, k),
    }));

    // Reference: a softmax over the modalities at initialisation (equal shares), free parameters afterwards.
    this.modalityWeights = this.store.constant("modalityWeights", [dims.nUsers, dims.modalities.length], 1 / dims.modalities.length);

    this.attention = subtraction
      ? { proj: this.store.linear("attention.proj", k, k), query: this.store.xavier("attention.query", k, 1) }
      : null;
  }

  /**
   * Full forward pass over all users and items. `training` adds the Solosim heads (which use batch
   * statistics); evaluation uses `training: false`, a fresh pass after the last optimiser step.
   */
  forward(data: ModelData, options: { training: boolean }): ForwardOutput {
    const c = this.config;
    const M = data.modalities.length;
    const heads: tf.Tensor2D[] = [];
    const distanceParts: { generic: tf.Tensor2D; unique: tf.Tensor2D }[] = [];
    const encoderInputs: tf.Tensor2D[] = []; // per modality: encoder hidden pre-activation [N, encoderHidden]
    let subtraction: ForwardOutput["subtraction"] = null;

    const projected = data.modalities.map((m, i) => this.projections[i]!.forward(m.features, c.reassociate));
    if (this.attention) {
      const z = projected.map((p) => p.get("toShared")!); // [N, k] each
      const scores = z.map((zm) => tf.matMul(tf.tanh(applyLinear(zm, this.attention!.proj)), this.attention!.query as tf.Tensor2D)); // [N, 1]
      const weights = tf.softmax(tf.concat(scores, 1), 1); // [N, M] attention over modalities, per item
      const shared = tf.addN(z.map((zm, i) => tf.mul(zm, weights.slice([0, i], [-1, 1])))) as tf.Tensor2D;
      const specific = z.map((zm) => tf.sub(zm, shared) as tf.Tensor2D);
      subtraction = { shared, specific };
      for (let i = 0; i < M; i++) {
        encoderInputs.push(applyLinear(tf.concat([shared, specific[i]!], 1) as tf.Tensor2D, this.encoders[i]!.first!));
        if (this.heads && options.training) heads.push(this.headRest(applyLinear(z[i]!, this.heads[i]!.l1!), this.heads[i]!));
      }
    } else {
      for (let i = 0; i < M; i++) {
        const p = projected[i]!;
        encoderInputs.push(p.get("encoder1")!);
        if (this.heads && options.training) heads.push(this.headRest(p.get("head1")!, this.heads[i]!));
        if (p.has("genericMap")) distanceParts.push({ generic: p.get("genericMap")!, unique: p.get("uniqueMap")! });
      }
    }

    // Encoders' second layers, the user–item propagation and the fusion: one op (graphEncoder.ts).
    const encoded = graphEncoders(
      this.encoders.map((enc, i) => ({ hidden: encoderInputs[i]!, second: enc.second, userPreference: enc.userPreference as tf.Tensor2D })),
      this.modalityWeights as tf.Tensor2D,
      { graph: data.userItemGraph, layers: c.graphLayers, leakySlope: c.leakySlope },
    );
    const users = encoded.users;
    let items = encoded.items;
    if (data.itemGraph) items = tf.add(items, data.itemGraph.matMul(items)) as tf.Tensor2D;
    return { users, items, heads, distanceParts, subtraction };
  }

  /**
   * The parts a run exports and analyses, per modality (inference mode): for `split` the generic and
   * unique slices of the square layer's output E; for `subtraction` the shared and specific parts.
   */
  analysisParts(data: ModelData): { name: string; generic: tf.Tensor2D; unique: tf.Tensor2D }[] {
    return tf.tidy(() => {
      if (this.attention) {
        const out = this.forward(data, { training: false });
        const sub = out.subtraction!;
        return data.modalities.map((m, i) => ({ name: m.name, generic: sub.shared.clone(), unique: sub.specific[i]! }));
      }
      return data.modalities.map((m, i) => ({ name: m.name, ...this.projections[i]!.parts(m.features) }));
    });
  }

  /**
   * Per modality, the linear maps that feed the distance term (generic → clubDim, unique → clubDim), or null
   * when the variant has no distance term (no-club, no-both, subtraction): the MI analysis then fits maps of
   * the same shape on the frozen parts (src/analysis/distanceMaps.ts).
   */
  distanceMaps(): { name: string; generic: Linear; unique: Linear }[] | null {
    const maps = this.projections.map((p, i) => ({ name: this.modalityNames[i]!, generic: p.singlePartConsumer("genericMap"), unique: p.singlePartConsumer("uniqueMap") }));
    if (maps.some((m) => !m.generic || !m.unique)) return null;
    return maps.map((m) => ({ name: m.name, generic: m.generic!, unique: m.unique! }));
  }

  /** Trainable variables of the recommender (the CLUB network has its own optimiser). */
  variables(): tf.Variable[] {
    return this.store.all();
  }

  dispose(): void {
    this.store.dispose();
  }

  private headRest(h1: tf.Tensor2D, head: HeadRest): tf.Tensor2D {
    return projectionHeadRest(h1, head);
  }
}
