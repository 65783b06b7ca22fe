import * as tf from "@tensorflow/tfjs";
import type { BackboneDefinition, Backbone, BackboneBuildContext, BackboneOutput, ConsumerReadings, LossTerm, RepresentationSpec } from "./backbone";
import type { ModelDims } from "../contract";
import type { SeaConfig } from "../config";
import type { ModelData } from "../modelData";
import type { BprTriples } from "../../data/bprSampling";
import { bprLossOfTables } from "../../losses/bprTables";
import { SparseMatrix } from "../../backend/sparse";
import { normalizedBipartiteAdjacency } from "../../graph/bipartite";
import { degreeSensitiveEdgeSample } from "../../graph/edgeSampling";
import { Rng, deriveSeed } from "../../util/rng";
import { SeaError } from "../../util/errors";
import { layerMeanPropagation } from "./propagation";

/** The consumer name FREEDOM reads its modality projections under (MMRec's image_trs / text_trs). */
const TRS = "trs";

/** Salt of the per-epoch pruning stream: Rng(deriveSeed(seed, PRUNING_STREAM, epoch)). */
export const PRUNING_STREAM = 41;

/** FREEDOM's forward also hands the loss each modality's projected features E_m [N, k] (in dims order). */
export interface FreedomOutput extends BackboneOutput {
  readonly projected: readonly tf.Tensor2D[];
}

/**
 * FREEDOM (Zhou & Shen, "A Tale of Two Graphs: Freezing and Denoising Graph Structures for Multimodal
 * Recommendation", MM 2023) as MMRec's models/freedom.py has it:
 *
 *   E_u [U, k], E_i [N, k]                    xavier-uniform                            (create)
 *   S = data.itemGraph                        mixed cosine-kNN item graph, frozen       (src/graph/knn.ts)
 *   h = S^{L_mm}·E_i                                                                    (forward)
 *   [users; items'] = mean_{l=0..L_ui} Âˡ·[E_u; E_i]                                      (forward, layerMeanPropagation)
 *   items = items' + h
 *   Â = the pruned graph of the epoch when training (beginEpoch), data.userItemGraph at inference
 *   E_m = X_m·W_m + b_m [N, k]                (image_trs / text_trs; read as consumer "trs")
 *   loss = BPR(users, items) + λ·Σ_m BPR(users, E_m)                                    (lossTerms)
 *
 * with L_ui = freedomUiLayers, L_mm = freedomMmLayers, λ = freedomRegWeight, k = embeddingDim (MMRec's
 * feat_embed_dim must equal embedding_size: users score E_m). Every BPR here is the kit's base-2 form
 * (bprLossOfTables); MMRec's bpr_loss is −mean logσ in natural log. All terms are BPR, so the kit's loss is
 * MMRec's divided by ln 2 and λ keeps its meaning (Adam does not see a constant factor).
 *
 * Pruning (beginEpoch): degreeSensitiveEdgeSample keeps ⌊nnz·(1 − dropout)⌋ training edges, and the pruned
 * graph is the symmetric-normalised bipartite adjacency of the kept edges (degrees counted on the kept edges,
 * as MMRec's _normalize_adj_m). dropout = 0 trains on the full graph, as MMRec.
 *
 * Deviation: MMRec wraps the raw features in nn.Embedding.from_pretrained(freeze=False), so X_m itself trains
 * through the λ-weighted modality BPR terms. Here X_m is a constant. The representation E_m = X_m·W_m + b_m is
 * what SEA's separation splits, and the kit's item layers compute it by reassociation on a constant X_m
 * (src/model/itemProjection.ts); training X_m would add a 7,050 × 4,096 (+384) table, its gradient and two
 * Adam moments of that size per step at Baby shape. Note that Adam normalises the gradient's scale, so λ does
 * not make those updates small: rows of X_m drawn in a batch move by ~lr per step in MMRec. The item graph is
 * unaffected either way (MMRec builds it once from the initial features). The difference is documented in
 * docs/method.md §13.7.
 */
class Freedom implements Backbone<FreedomOutput> {
  private readonly userEmbedding: tf.Variable;
  private readonly itemEmbedding: tf.Variable;
  private readonly modalityNames: readonly string[];
  private readonly config: SeaConfig;
  /** The epoch's pruned user–item graph (plain typed arrays, no tensors: replacing it frees it). */
  private pruned: SparseMatrix | null = null;

  constructor(context: BackboneBuildContext) {
    const { dims, config, store } = context;
    this.config = config;
    this.userEmbedding = store.xavier("freedom.user", dims.nUsers, config.embeddingDim);
    this.itemEmbedding = store.xavier("freedom.item", dims.nItems, config.embeddingDim);
    // MMRec creates image_trs / text_trs after the two ID tables.
    dims.modalities.forEach((_, m) => context.declareConsumer(m, TRS));
    this.modalityNames = dims.modalities.map((m) => m.name);
  }

  beginEpoch(epoch: number, data: ModelData): void {
    if (this.config.freedomDropout <= 0) {
      this.pruned = null;
      return;
    }
    const kept = degreeSensitiveEdgeSample(data.train, this.config.freedomDropout, new Rng(deriveSeed(this.config.seed, PRUNING_STREAM, epoch)));
    this.pruned = SparseMatrix.fromCsr(normalizedBipartiteAdjacency(kept));
  }

  /** The user–item graph a pass propagates over: the epoch's pruned one when training, the full one otherwise. */
  userItemGraph(data: ModelData, training: boolean): SparseMatrix {
    if (!training || this.config.freedomDropout <= 0) return data.userItemGraph;
    if (!this.pruned) throw new SeaError("a training forward pass needs the epoch's pruned graph: call beginEpoch first", { where: "FREEDOM" });
    return this.pruned;
  }

  forward(data: ModelData, readings: ConsumerReadings, options: { readonly training: boolean }): FreedomOutput {
    const itemGraph = data.itemGraph;
    if (!itemGraph) throw new SeaError("FREEDOM propagates over the item–item graph; knnK = 0 builds none", { where: "FREEDOM" });
    const graph = this.userItemGraph(data, options.training);
    const projected = readings.map((r, m) => {
      const e = r.get(TRS);
      if (!e) throw new SeaError(`no "${TRS}" reading for modality ${this.modalityNames[m] ?? m}`, { where: "FREEDOM" });
      return e;
    });
    return tf.tidy(() => {
      let h = this.itemEmbedding as tf.Tensor2D;
      for (let l = 0; l < this.config.freedomMmLayers; l++) h = itemGraph.matMul(h);
      const { users, items } = layerMeanPropagation(graph, this.userEmbedding as tf.Tensor2D, this.itemEmbedding as tf.Tensor2D, this.config.freedomUiLayers);
      return { users, items: tf.add(items, h) as tf.Tensor2D, projected };
    });
  }

  lossTerms(out: FreedomOutput, batch: BprTriples): LossTerm[] {
    return [
      { name: "bpr", value: bprLossOfTables(out.users, out.items, batch), weight: 1 },
      ...out.projected.map((e, m) => ({ name: `bpr.${this.modalityNames[m]}`, value: bprLossOfTables(out.users, e, batch), weight: this.config.freedomRegWeight })),
    ];
  }

  dispose(): void {
    this.pruned = null;
  }
}

/** Per modality E_m = X_m·W_m + b_m of width k (MMRec's *_trs, feat_embed_dim = embedding_size), read as it is. */
function freedomRepresentations(dims: ModelDims, config: SeaConfig): RepresentationSpec[] {
  const k = config.embeddingDim;
  return dims.modalities.map(() => ({ layer: TRS, width: k, consumers: [{ name: TRS, out: k, identity: true }] }));
}

export const FREEDOM: BackboneDefinition = {
  name: "freedom",
  description: "FREEDOM: frozen item–item kNN graph + degree-sensitive pruned user–item graph; BPR + λ·per-modality BPR",
  source: "Zhou & Shen, A Tale of Two Graphs (FREEDOM), MM 2023; MMRec src/models/freedom.py and configs (enoche/MMRec)",
  readsContent: true,
  defaults: { lr: 1e-3 },
  representations: freedomRepresentations,
  create: (context) => new Freedom(context),
};
