import * as tf from "@tensorflow/tfjs";
import type { BackboneDefinition, Backbone, BackboneBuildContext, BackboneOutput, ConsumerReadings, LossTerm, RepresentationSpec } from "./backbone";
import type { ModelDims } from "../contract";
import type { SeaConfig } from "../config";
import type { ModelData } from "../modelData";
import type { BprTriples } from "../../data/bprSampling";
import { bprLossOfTables } from "../../losses/bprTables";
import { embLoss } from "../../losses/embLoss";
import { naturalLogRegWeight } from "../../losses/bpr";

/** The consumer name VBPR reads its modality representations under (and the representation layer's name). */
const CONTENT = "content";

/**
 * VBPR (He & McAuley, AAAI 2016) as MMRec's models/vbpr.py has it:
 *
 *   users = P [U, 2k]                                       xavier-uniform        (create)
 *   items = [Q ‖ Σ_m E_m],  Q [N, k] xavier-uniform,
 *           E_m = X_m·W_m + b_m [N, k]                                           (forward)
 *   loss  = BPR(users, items) + λ·EmbLoss(users[u], items[p], items[n])           (lossTerms)
 *
 * with k = embeddingDim and λ = vbprRegWeight (entering as λ / ln 2, see naturalLogRegWeight). EmbLoss is on
 * the batch's full scoring rows, content half included, as MMRec's.
 *
 * Per-modality form. MMRec maps the concatenated features [X_text ‖ X_image] with one nn.Linear(Σd_m → k):
 * [X_t ‖ X_v]·[W_t; W_v] + b = X_t·W_t + X_v·W_v + b. Its weight's row blocks are the per-modality W_m, and
 * the single bias b is re-parameterised as b_t + b_v (the sum of two free vectors spans the same set; only
 * the sum enters the function). So Σ_m E_m is MMRec's item_linear output exactly, and each E_m is the
 * per-modality item representation SEA's separation splits (docs/method.md §13.4).
 *
 * Initialisation differs: the composition creates each E_m's layer as PyTorch's default nn.Linear(d_m → k)
 * (U(±1/√d_m) for weight and bias, the per-modality fan-in), while MMRec re-initialises item_linear with
 * xavier_normal_ (N(0, 2/(Σd_m + k))) and a zero bias. The layer belongs to the composition (the separation
 * replaces it by its split form), so the backbone cannot draw it; at Baby shape the per-modality bounds give
 * the text block (d = 384) larger and the image block (d = 4,096) smaller initial weights than MMRec's
 * common scale. P and Q are xavier-uniform as in MMRec (its apply() touches only modules, not these tables).
 * MMRec's F.dropout(·, 0.0) in forward is the identity and is left out.
 */
class Vbpr implements Backbone {
  private readonly userEmbedding: tf.Variable;
  private readonly itemEmbedding: tf.Variable;
  private readonly regWeight: number;

  constructor(context: BackboneBuildContext) {
    const { dims, config, store } = context;
    const k = config.embeddingDim;
    this.userEmbedding = store.xavier("vbpr.user", dims.nUsers, 2 * k);
    this.itemEmbedding = store.xavier("vbpr.item", dims.nItems, k);
    // MMRec creates item_linear after the two tables.
    dims.modalities.forEach((_, m) => context.declareConsumer(m, CONTENT));
    this.regWeight = config.vbprRegWeight;
  }

  forward(_data: ModelData, readings: ConsumerReadings): BackboneOutput {
    return tf.tidy(() => {
      const content = readings.map((r, m) => {
        const e = r.get(CONTENT);
        if (!e) throw new Error(`VBPR: no "${CONTENT}" reading for modality ${m}`);
        return e;
      });
      if (content.length === 0) throw new Error("VBPR: reads item content and needs at least one modality");
      const summed = (content.length === 1 ? content[0]! : tf.addN(content)) as tf.Tensor2D;
      // clone: the scoring table is the caller's to dispose, never the parameter itself (backbone.ts).
      return { users: tf.clone(this.userEmbedding) as tf.Tensor2D, items: tf.concat([this.itemEmbedding as tf.Tensor2D, summed], 1) as tf.Tensor2D };
    });
  }

  lossTerms(out: BackboneOutput, batch: BprTriples): LossTerm[] {
    const reg = tf.tidy(() =>
      embLoss(
        tf.gather(out.users, tf.tensor1d(batch.users, "int32")),
        tf.gather(out.items, tf.tensor1d(batch.pos, "int32")),
        tf.gather(out.items, tf.tensor1d(batch.neg, "int32")),
      ),
    );
    return [
      { name: "bpr", value: bprLossOfTables(out.users, out.items, batch), weight: 1 },
      { name: "embLoss", value: reg, weight: naturalLogRegWeight(this.regWeight) },
    ];
  }
}

/** Per modality E_m = X_m·W_m + b_m of width k, read as it is. */
function vbprRepresentations(dims: ModelDims, config: SeaConfig): RepresentationSpec[] {
  const k = config.embeddingDim;
  return dims.modalities.map(() => ({ layer: CONTENT, width: k, consumers: [{ name: CONTENT, out: k, identity: true }] }));
}

export const VBPR: BackboneDefinition = {
  name: "vbpr",
  description: "VBPR: user · [free item ID embedding ‖ linear map of the item features]; BPR + EmbLoss",
  source: "He & McAuley, VBPR, AAAI 2016; MMRec src/models/vbpr.py and configs (enoche/MMRec)",
  readsContent: true,
  defaults: { lr: 1e-3 },
  representations: vbprRepresentations,
  create: (context) => new Vbpr(context),
};
