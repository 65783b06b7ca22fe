/**
 * What an evaluation reports, as plain JSON-ready records: the averaged metrics and each user's values. They live
 * in eval, beside the evaluation that produces them, so that the layers reading them — analysis's paired
 * significance tests, train's run records (metrics.json, per_user.json), figures — all import them downward.
 */

/** Metric name → value, names like "recall@20", "ndcg@10", "precision@10", "map@20". */
export type MetricValues = Record<string, number>;

/** Per-user metric values on the test split at the best epoch, for paired significance tests. */
export interface PerUserMetrics {
  /** user ids evaluated (users with ≥1 held-out item and ≥1 train item) */
  users: number[];
  /** metric name → one value per entry of `users` */
  values: Record<string, number[]>;
}
