import * as tf from "@tensorflow/tfjs";
import type { SeaConfig } from "./config";
import type { CompanionNetwork, DistanceMaps, ModelDims, ModelForward, NamedParts, RecommenderModel } from "./contract";
import type { Backbone, BackboneOutput, ConsumerReadings, LossTerm } from "./backbones/backbone";
import { backboneDefinition } from "./backbones/registry";
import { ItemProjection } from "./itemProjection";
import type { ModelData } from "./modelData";
import { ParamStore, applyLinear, type Linear } from "./params";
import { Separation, separationActive, type SeparationForward } from "./separation/separation";
import type { BprTriples } from "../data/bprSampling";
import { Rng, deriveSeed } from "../util/rng";
import { SeaError } from "../util/errors";

/** The forward pass of a composed model: the backbone's output and the separation's, kept for the loss. */
export interface ComposedForward extends ModelForward {
  readonly backbone: BackboneOutput;
  readonly separation: SeparationForward;
}

/**
 * A backbone with SEA's separation plugged over its per-modality representations (docs/method.md §13). Per
 * forward: each modality's projection computes E_m's consumers (the separation's and the backbone's) in one
 * product; the separation reads its consumers (and under the subtraction construction replaces E_m); the
 * backbone reads its own consumers' outputs and returns scoring tables. The loss is the backbone's terms
 * then the separation's, summed with their weights in that order.
 */
class ComposedModel implements RecommenderModel {
  constructor(
    readonly backboneName: string,
    readonly config: SeaConfig,
    readonly store: ParamStore,
    private readonly projections: readonly ItemProjection[],
    private readonly separation: Separation,
    private readonly backbone: Backbone,
    /** Per modality, the backbone's consumer layers over the subtraction's replacement input (else empty). */
    private readonly replacementLayers: readonly ReadonlyMap<string, Linear>[],
  ) {}

  get companion(): CompanionNetwork | null {
    return this.separation.companion;
  }

  get usesPermutations(): boolean {
    return this.separation.usesPermutations;
  }

  beginEpoch(epoch: number, data: ModelData): void {
    this.backbone.beginEpoch?.(epoch, data);
  }

  forward(data: ModelData, options: { readonly training: boolean }): ComposedForward {
    const projected = this.project(data);
    const separation = this.separation.forward(projected, options);
    const readings: ConsumerReadings = separation.replacements
      ? separation.replacements.map((input, i) => new Map([...this.replacementLayers[i]!].map(([name, layer]) => [name, applyLinear(input, layer)])))
      : projected;
    const backbone = this.backbone.forward(data, readings, options);
    return { users: backbone.users, items: backbone.items, companionPairs: separation.distanceParts, backbone, separation };
  }

  lossParts(out: ModelForward, batch: BprTriples, permutations: readonly Int32Array[]): Record<string, tf.Scalar> {
    const composed = out as ComposedForward;
    const terms: LossTerm[] = [...this.backbone.lossTerms(composed.backbone, batch), ...this.separation.lossTerms(composed.separation, permutations)];
    const parts: Record<string, tf.Scalar> = {};
    let total: tf.Scalar | null = null;
    for (const term of terms) {
      parts[term.name] = term.value;
      // A weight-1 term is added as it is (no multiply): the first term (BPR) is then the total's exact start.
      const weighted = term.weight === 1 ? term.value : (tf.mul(term.value, term.weight) as tf.Scalar);
      total = total === null ? weighted : (tf.add(total, weighted) as tf.Scalar);
    }
    parts.total = total ?? tf.scalar(0);
    return parts;
  }

  analysisParts(data: ModelData): NamedParts[] {
    if (this.projections.length === 0) return [];
    return this.separation.analysisParts(data, () => this.project(data));
  }

  distanceMaps(): DistanceMaps[] | null {
    return this.separation.distanceMaps();
  }

  representationOutputs(data: ModelData, options: { readonly reassociate: boolean }): ReadonlyMap<string, tf.Tensor2D>[] {
    return this.projections.map((p, i) => p.forward(data.modalities[i]!.features, options.reassociate));
  }

  variables(): tf.Variable[] {
    return this.store.all();
  }

  dispose(): void {
    this.backbone.dispose?.();
    this.separation.dispose();
    this.store.dispose();
  }

  private project(data: ModelData): ReadonlyMap<string, tf.Tensor2D>[] {
    return this.representationOutputs(data, { reassociate: this.config.reassociate });
  }
}

/**
 * Why a backbone and a separation variant make no model, or null: SEA's separation over a backbone that reads no
 * item content (lightgcn × sea). Experiments and ablations leave such cells out with this reason.
 */
export function unsupportedCombination(config: SeaConfig, variant?: string): string | null {
  const def = backboneDefinition(config.backbone);
  const what = variant === undefined ? "SEA's separation (the config's alpha, distance or partConstruction)" : `separation variant ${variant}`;
  return !def.readsContent && separationActive(config) ? `backbone ${def.name} reads no item content, so ${what} has nothing to separate` : null;
}

/**
 * Builds the model `config.backbone` names with the separation `config` describes (docs/method.md §13).
 * Parameters are drawn from one seeded stream in this order: each modality's representation with its
 * consumers (the separation's first), the separation's heads, the backbone's own parameters, the
 * subtraction's attention.
 */
export function createModel(dims: ModelDims, config: SeaConfig): RecommenderModel {
  const def = backboneDefinition(config.backbone);
  const specs = def.representations(dims, config);
  if (separationActive(config)) {
    const unsupported = unsupportedCombination(config);
    if (unsupported || specs.length === 0) throw new SeaError(`${unsupported ?? `backbone ${def.name} declares no item representation`}; use the "plain" variant with it`, { where: "config.backbone" });
    if (dims.modalities.length < 2) {
      throw new SeaError(`SEA's separation needs ≥ 2 modalities (this dataset has ${dims.modalities.length}); use the "plain" variant`, { where: "config" });
    }
  }
  const store = new ParamStore(new Rng(deriveSeed(config.seed, 1)));
  const separation = new Separation(config);
  const replacementWidth = separation.replacementWidth;
  const projections = specs.map((spec, i) => {
    const m = dims.modalities[i]!;
    const own = replacementWidth === null ? spec.consumers.map((c) => ({ name: c.name, source: c.identity ? ("identity" as const) : ("full" as const), out: c.out })) : [];
    return new ItemProjection(store, m.name, m.dim, spec.width, config.genericFraction, [...separation.consumers(), ...own], spec.layer);
  });
  separation.createHeads(store, projections);
  const replacementLayers = specs.map(() => new Map<string, Linear>());
  const backbone = def.create({
    dims,
    config,
    store,
    declareConsumer(modality, name) {
      const consumer = specs[modality]?.consumers.find((c) => c.name === name);
      if (!consumer) throw new Error(`backbone ${def.name} declared an unknown consumer ${name} of modality ${modality}`);
      if (replacementWidth !== null) {
        replacementLayers[modality]!.set(name, store.linear(`${dims.modalities[modality]!.name}.${name}`, replacementWidth, consumer.out));
      }
    },
  });
  separation.createMixing(store);
  return new ComposedModel(def.name, config, store, projections, separation, backbone, replacementLayers);
}
