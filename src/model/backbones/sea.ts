import * as tf from "@tensorflow/tfjs";
import type { Backbone, BackboneDefinition, BackboneOutput, ConsumerReadings, LossTerm } from "./backbone";
import type { ModelData } from "../modelData";
import type { Linear } from "../params";
import { graphEncoders } from "../graphEncoder";
import { bprLossOfTables } from "../../losses/bprTables";
import type { BprTriples } from "../../data/bprSampling";

/** One modality's graph encoder after its first layer (which reads E_m and is a declared consumer). */
interface ModalityEncoder {
  readonly second: Linear; // encoderHidden → embeddingDim
  readonly userPreference: tf.Variable; // [nUsers, embeddingDim]
}

/**
 * The SEA paper's backbone (docs/method.md §2, §5): per modality the square item layer E_m = X_m·W_m + b_m
 * (d_m × d_m, the representation SEA splits), a graph encoder (Linear → LeakyReLU → Linear, then the user–item
 * propagation with free user preferences), per-user modality weights fusing the modalities, and one item–item
 * propagation over the mixed kNN graph. Loss: BPR on the fused tables.
 */
class SeaBackbone implements Backbone {
  constructor(
    private readonly encoders: readonly ModalityEncoder[],
    private readonly modalityWeights: tf.Variable, // [nUsers, M]
    private readonly settings: { readonly graphLayers: number; readonly leakySlope: number },
  ) {}

  forward(data: ModelData, readings: ConsumerReadings): BackboneOutput {
    // Encoders' second layers, the user–item propagation and the fusion: one op (graphEncoder.ts).
    const encoded = graphEncoders(
      this.encoders.map((enc, i) => ({ hidden: readings[i]!.get("encoder1")!, second: enc.second, userPreference: enc.userPreference as tf.Tensor2D })),
      this.modalityWeights as tf.Tensor2D,
      { graph: data.userItemGraph, layers: this.settings.graphLayers, leakySlope: this.settings.leakySlope },
    );
    const items = data.itemGraph ? (tf.add(encoded.items, data.itemGraph.matMul(encoded.items)) as tf.Tensor2D) : encoded.items;
    return { users: encoded.users, items };
  }

  lossTerms(out: BackboneOutput, batch: BprTriples): LossTerm[] {
    return [{ name: "bpr", value: bprLossOfTables(out.users, out.items, batch), weight: 1 }];
  }
}

export const SEA_BACKBONE: BackboneDefinition = {
  name: "sea",
  description: "the SEA paper's model: square item layer per modality, graph encoders over the user–item graph, per-user modality weights, item–item kNN propagation",
  source: "SEA (Separate Learning for multimedia recommendation), the authors' reference code; docs/method.md §5",
  readsContent: true,
  defaults: {},
  representations(dims, config) {
    return dims.modalities.map((m) => ({ layer: "square", width: m.dim, consumers: [{ name: "encoder1", out: config.encoderHidden }] }));
  },
  create({ dims, config, store, declareConsumer }) {
    const k = config.embeddingDim;
    const encoders = dims.modalities.map((m, i) => {
      declareConsumer(i, "encoder1");
      return { second: store.linear(`${m.name}.encoder2`, config.encoderHidden, k), userPreference: store.xavier(`${m.name}.userPreference`, dims.nUsers, k) };
    });
    // Reference: a softmax over the modalities at initialisation (equal shares), free parameters afterwards.
    const modalityWeights = store.constant("modalityWeights", [dims.nUsers, dims.modalities.length], 1 / dims.modalities.length);
    return new SeaBackbone(encoders, modalityWeights, { graphLayers: config.graphLayers, leakySlope: config.leakySlope });
  },
};
