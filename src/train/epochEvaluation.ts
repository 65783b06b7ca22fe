import * as tf from "@tensorflow/tfjs";
import type { Dataset } from "../data/types";
import type { SeaConfig } from "../model/config";
import type { RecommenderModel } from "../model/contract";
import type { ModelData } from "../model/modelData";
import { evaluateFullRankingSplits, type EvalResult } from "../eval/fullRanking";
import { takeData } from "../util/takeData";
import type { MetricValues, PerUserMetrics } from "../eval/metricRecords";
import type { ScoringEmbeddings } from "./embeddingsExport";

/** Valid metrics and test metrics with their per-user values (for paired tests). */
export interface EpochEvaluation {
  valid: MetricValues;
  test: { metrics: MetricValues; perUser: PerUserMetrics };
}

/** Fresh forward pass in inference mode after the last optimiser step (the reference reused stale embeddings). */
export function inferenceEmbeddings(model: RecommenderModel, data: ModelData): ScoringEmbeddings {
  return tf.tidy(() => {
    const out = model.forward(data, { training: false });
    return { users: out.users, items: out.items };
  });
}

/** Full-ranking metrics on valid and test (per-user values on test) for the given representations. */
export function evaluateEmbeddings({ users, items }: ScoringEmbeddings, dataset: Dataset, config: SeaConfig): EpochEvaluation {
  const scoreUsers = (ids: Int32Array): Float32Array =>
    takeData(tf.tidy(() => tf.matMul(tf.gather(users, tf.tensor1d(ids, "int32")), items, false, true)));
  const [valid, test] = evaluateFullRankingSplits({
    train: dataset.train,
    scoreUsers,
    ks: config.ks,
    batchSize: config.evalBatchSize,
    splits: [{ heldOut: dataset.valid }, { heldOut: dataset.test, perUser: true }],
  }) as [EvalResult, EvalResult];
  const perUser: PerUserMetrics = {
    users: Array.from(test.users),
    values: Object.fromEntries(Object.entries(test.perUser ?? {}).map(([k, v]) => [k, Array.from(v, (x) => Math.round(x * 1e6) / 1e6)])),
  };
  return { valid: valid.metrics, test: { metrics: test.metrics, perUser } };
}

/** inferenceEmbeddings + evaluateEmbeddings (the benchmark's epoch evaluation). */
export function evaluateEpoch(data: ModelData, dataset: Dataset, model: RecommenderModel, config: SeaConfig): EpochEvaluation {
  const scoring = inferenceEmbeddings(model, data);
  try {
    return evaluateEmbeddings(scoring, dataset, config);
  } finally {
    scoring.users.dispose();
    scoring.items.dispose();
  }
}
