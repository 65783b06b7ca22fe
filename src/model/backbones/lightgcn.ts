import * as tf from "@tensorflow/tfjs";
import type { BackboneDefinition, Backbone, BackboneBuildContext, BackboneOutput, LossTerm } from "./backbone";
import type { ModelData } from "../modelData";
import type { BprTriples } from "../../data/bprSampling";
import { bprLossOfTables } from "../../losses/bprTables";
import { embLoss } from "../../losses/embLoss";
import { layerMeanPropagation } from "./propagation";
import { naturalLogRegWeight } from "../../losses/bpr";

/**
 * LightGCN (He et al., SIGIR 2020) as MMRec's models/lightgcn.py has it: ID embeddings only.
 *
 *   E_u [U, k], E_i [N, k]                     xavier-uniform                      (create)
 *   [users; items] = mean_{l=0..L} Âˡ·[E_u; E_i]   Â = data.userItemGraph         (forward, layerMeanPropagation)
 *   loss = BPR(users, items) + λ·EmbLoss(E_u[u], E_i[p], E_i[n])                 (lossTerms)
 *
 * with L = lightgcnLayers, λ = lightgcnRegWeight and EmbLoss on the batch's layer-0 ("ego") rows, as MMRec.
 * λ enters as λ / ln 2 (naturalLogRegWeight: the kit's BPR is base 2). It reads no content, so it takes no
 * separation; it is the ID-only reference point of the plug-in study.
 */
class LightGcn implements Backbone {
  private readonly userEmbedding: tf.Variable;
  private readonly itemEmbedding: tf.Variable;
  private readonly layers: number;
  private readonly regWeight: number;

  constructor(context: BackboneBuildContext) {
    const { dims, config, store } = context;
    this.userEmbedding = store.xavier("lightgcn.user", dims.nUsers, config.embeddingDim);
    this.itemEmbedding = store.xavier("lightgcn.item", dims.nItems, config.embeddingDim);
    this.layers = config.lightgcnLayers;
    this.regWeight = config.lightgcnRegWeight;
  }

  forward(data: ModelData): BackboneOutput {
    return layerMeanPropagation(data.userItemGraph, this.userEmbedding as tf.Tensor2D, this.itemEmbedding as tf.Tensor2D, this.layers);
  }

  lossTerms(out: BackboneOutput, batch: BprTriples): LossTerm[] {
    const reg = tf.tidy(() =>
      embLoss(
        tf.gather(this.userEmbedding as tf.Tensor2D, tf.tensor1d(batch.users, "int32")),
        tf.gather(this.itemEmbedding as tf.Tensor2D, tf.tensor1d(batch.pos, "int32")),
        tf.gather(this.itemEmbedding as tf.Tensor2D, tf.tensor1d(batch.neg, "int32")),
      ),
    );
    return [
      { name: "bpr", value: bprLossOfTables(out.users, out.items, batch), weight: 1 },
      { name: "embLoss", value: reg, weight: naturalLogRegWeight(this.regWeight) },
    ];
  }
}

export const LIGHTGCN: BackboneDefinition = {
  name: "lightgcn",
  description: "LightGCN: ID embeddings propagated over the user–item graph, layer mean; BPR + EmbLoss (no content)",
  source: "He et al., LightGCN, SIGIR 2020; MMRec src/models/lightgcn.py and configs (enoche/MMRec)",
  readsContent: false,
  defaults: { lr: 1e-3 },
  representations: () => [],
  create: (context) => new LightGcn(context),
};
