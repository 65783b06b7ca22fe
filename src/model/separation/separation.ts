import * as tf from "@tensorflow/tfjs";
import type { SeaConfig } from "../config";
import type { ConsumerSpec, ItemProjection } from "../itemProjection";
import { ParamStore, applyLinear, type BatchNormParams, type Linear } from "../params";
import { projectionHeadRest } from "../projectionHead";
import type { LossTerm } from "../backbones/backbone";
import type { DistanceMaps, NamedParts, PartPair } from "../contract";
import type { ModelData } from "../modelData";
import { solosimLoss } from "../../losses/solosim";
import { orthogonalPenalty } from "../../losses/orthogonal";
import { negL2 } from "../../losses/negL2";
import { normalizeRows } from "../../losses/normalize";
import { deriveSeed } from "../../util/rng";
import { ClubCompanion } from "./clubCompanion";

/** Solosim projection head after its first linear layer: BN-ReLU-Linear-BN-ReLU-Linear, then L2-normalise. */
interface HeadRest {
  readonly bn1: BatchNormParams;
  readonly l2: Linear;
  readonly bn2: BatchNormParams;
  readonly l3: Linear;
  /** Only for the subtraction construction, where the head reads the shared space, not a split part. */
  readonly l1: Linear | null;
}

/** What the separation computed in one forward pass. */
export interface SeparationForward {
  /** Per modality: L2-normalised Solosim head outputs [N, projOut] (alpha > 0 and training). */
  readonly heads: readonly tf.Tensor2D[];
  /** Per modality: the parts the distance term acts on, in its own space [N, clubDim]. */
  readonly distanceParts: readonly PartPair[];
  /** Subtraction only: per modality the input that replaces E_m for the backbone, [shared, specific_m] [N, 2k]. */
  readonly replacements: readonly tf.Tensor2D[] | null;
  /** Subtraction only: the shared part [N, k] and per-modality specific parts. */
  readonly subtraction: { readonly shared: tf.Tensor2D; readonly specific: readonly tf.Tensor2D[] } | null;
}

/** Whether a config asks for any of SEA's separation (a term, a head, or the subtraction construction). */
export function separationActive(config: Pick<SeaConfig, "alpha" | "distance" | "partConstruction">): boolean {
  return config.alpha > 0 || config.distance !== "none" || config.partConstruction === "subtraction";
}

/**
 * SEA's separation as a plug-in over any backbone's per-modality item representations E_m (docs/method.md §2–§4,
 * §13): the split of E_m into generic/unique parts, the Solosim heads on the generic parts, the linear maps into
 * the distance term's space and the distance (CLUB bound, orthogonality, −L2 or none), or instead the
 * subtraction construction (shared = attention-weighted sum, specific = E − shared) that replaces E_m for the
 * backbone. Which of these exist is the variant's config; parameters no loss would reach are not allocated.
 *
 * Its parameters are created in three phases (consumer layers inside the representation's projection, then
 * the heads, then the subtraction's attention after the backbone's own parameters) because parameters are
 * drawn from one seeded stream in creation order: this is the order the SEA model always used, so the `sea`
 * backbone reproduces earlier runs bit for bit.
 */
export class Separation {
  readonly subtractive: boolean;
  private readonly useHeads: boolean;
  private readonly useDistance: boolean;
  private heads: readonly HeadRest[] | null = null;
  private attention: { readonly proj: Linear; readonly query: tf.Variable } | null = null;
  private projections: readonly ItemProjection[] = [];
  readonly companion: ClubCompanion | null;

  constructor(readonly config: SeaConfig) {
    this.subtractive = config.partConstruction === "subtraction";
    this.useHeads = config.alpha > 0;
    this.useDistance = config.distance !== "none" && !this.subtractive;
    this.companion =
      this.useDistance && config.distance === "club"
        ? new ClubCompanion({ dim: config.clubDim, hidden: config.clubHidden, seed: deriveSeed(config.seed, 3), steps: config.clubSteps, lr: config.clubLr ?? config.lr })
        : null;
  }

  /** Width of the input that replaces E_m for the backbone's consumers, or null when E_m is read as it is. */
  get replacementWidth(): number | null {
    return this.subtractive ? 2 * this.config.embeddingDim : null;
  }

  /** Phase 1: the separation's consumers of E_m, created inside the modality's projection (before the backbone's). */
  consumers(): ConsumerSpec[] {
    const c = this.config;
    if (this.subtractive) return [{ name: "toShared", source: "full", out: c.embeddingDim }];
    const specs: ConsumerSpec[] = [];
    if (this.useHeads) specs.push({ name: "head1", source: "generic", out: c.projHidden });
    if (this.useDistance) {
      specs.push({ name: "genericMap", source: "generic", out: c.clubDim });
      specs.push({ name: "uniqueMap", source: "unique", out: c.clubDim });
    }
    return specs;
  }

  /** Phase 2: the Solosim heads' remaining layers, per modality (after every projection). */
  createHeads(store: ParamStore, projections: readonly ItemProjection[]): void {
    const c = this.config;
    this.projections = projections;
    if (!this.useHeads) return;
    this.heads = projections.map((p) => ({
      l1: this.subtractive ? store.linear(`${p.modality}.head1`, c.embeddingDim, c.projHidden) : null,
      bn1: store.batchNorm(`${p.modality}.headBn1`, c.projHidden),
      l2: store.linear(`${p.modality}.head2`, c.projHidden, c.projHidden),
      bn2: store.batchNorm(`${p.modality}.headBn2`, c.projHidden),
      l3: store.linear(`${p.modality}.head3`, c.projHidden, c.projOut),
    }));
  }

  /** Phase 3 (after the backbone's parameters): the subtraction's attention over modalities. */
  createMixing(store: ParamStore): void {
    const k = this.config.embeddingDim;
    if (this.subtractive) this.attention = { proj: store.linear("attention.proj", k, k), query: store.xavier("attention.query", k, 1) };
  }

  /**
   * The separation's forward pass over the projections' consumer outputs (`projected[m]`, by consumer name).
   * Heads use batch statistics, so they run only in training.
   */
  forward(projected: readonly ReadonlyMap<string, tf.Tensor2D>[], options: { readonly training: boolean }): SeparationForward {
    const heads: tf.Tensor2D[] = [];
    const distanceParts: PartPair[] = [];
    if (this.attention) {
      const { proj, query } = this.attention;
      const z = projected.map((p) => p.get("toShared")!); // [N, k] each
      const scores = z.map((zm) => tf.matMul(tf.tanh(applyLinear(zm, proj)), query as tf.Tensor2D)); // [N, 1]
      const weights = tf.softmax(tf.concat(scores, 1), 1); // [N, M] attention over modalities, per item
      const shared = tf.addN(z.map((zm, i) => tf.mul(zm, weights.slice([0, i], [-1, 1])))) as tf.Tensor2D;
      const specific = z.map((zm) => tf.sub(zm, shared) as tf.Tensor2D);
      const replacements = specific.map((s) => tf.concat([shared, s], 1) as tf.Tensor2D);
      if (this.heads && options.training) z.forEach((zm, i) => heads.push(projectionHeadRest(applyLinear(zm, this.heads![i]!.l1!), this.heads![i]!)));
      return { heads, distanceParts, replacements, subtraction: { shared, specific } };
    }
    projected.forEach((p, i) => {
      if (this.heads && options.training) heads.push(projectionHeadRest(p.get("head1")!, this.heads[i]!));
      if (p.has("genericMap")) distanceParts.push({ generic: p.get("genericMap")!, unique: p.get("uniqueMap")! });
    });
    return { heads, distanceParts, replacements: null, subtraction: null };
  }

  /**
   * The separation's loss terms (docs/method.md §6): alpha·Solosim averaged over modality pairs, then
   * clubWeight·distance averaged over modalities. `permutations[m]` pairs items for CLUB's negative term.
   */
  lossTerms(out: SeparationForward, permutations: readonly Int32Array[]): LossTerm[] {
    const c = this.config;
    const terms: LossTerm[] = [];
    if (c.alpha > 0 && out.heads.length >= 2) {
      // Solosim between every pair of modalities' generic heads (one direction each, as the reference), averaged.
      const pairs: tf.Scalar[] = [];
      for (let a = 0; a < out.heads.length; a++) {
        for (let b = a + 1; b < out.heads.length; b++) pairs.push(solosimLoss(out.heads[a]!, out.heads[b]!, c.tau));
      }
      terms.push({ name: "solosim", value: tf.div(tf.addN(pairs), pairs.length) as tf.Scalar, weight: c.alpha });
    }
    if (out.distanceParts.length > 0) {
      const perModality = out.distanceParts.map((p, i) => this.distanceTerm(p.generic, p.unique, permutations[i]!));
      terms.push({ name: c.distance, value: tf.div(tf.addN(perModality), perModality.length) as tf.Scalar, weight: c.clubWeight });
    }
    return terms;
  }

  /** Whether lossTerms reads the per-modality permutations (the CLUB bound's shuffled pairs). */
  get usesPermutations(): boolean {
    return this.companion !== null;
  }

  /**
   * The parts a run exports and analyses, per modality (inference mode): for the split the generic and unique
   * slices of E_m; for the subtraction the shared and specific parts.
   */
  analysisParts(data: ModelData, projected: () => readonly ReadonlyMap<string, tf.Tensor2D>[]): NamedParts[] {
    return tf.tidy(() => {
      if (this.attention) {
        const sub = this.forward(projected(), { training: false }).subtraction!;
        return data.modalities.map((m, i) => ({ name: m.name, generic: sub.shared.clone(), unique: sub.specific[i]! }));
      }
      return data.modalities.map((m, i) => ({ name: m.name, ...this.projections[i]!.parts(m.features) }));
    });
  }

  /** The linear maps that feed the distance term, or null when the variant has none (see contract.ts). */
  distanceMaps(): DistanceMaps[] | null {
    const maps = this.projections.map((p) => ({ name: p.modality, generic: p.singlePartConsumer("genericMap"), unique: p.singlePartConsumer("uniqueMap") }));
    if (maps.length === 0 || maps.some((m) => !m.generic || !m.unique)) return null;
    return maps.map((m) => ({ name: m.name, generic: m.generic!, unique: m.unique! }));
  }

  private distanceTerm(g: tf.Tensor2D, u: tf.Tensor2D, perm: Int32Array): tf.Scalar {
    switch (this.config.distance) {
      case "club":
        return this.companion!.club.upperBound(g, u, perm);
      case "orthogonal":
        return orthogonalPenalty(g, u, this.config.orthogonalMode);
      case "negL2":
        // On L2-normalised rows: −mean((g−u)²) is then bounded in [−4, 0]; unnormalised it has no minimum
        // and the encoder could lower it forever by scaling the maps up.
        return negL2(normalizeRows(g), normalizeRows(u));
      case "none":
        throw new Error("no distance term configured");
    }
  }

  dispose(): void {
    this.companion?.dispose();
  }
}
