/**
 * What a training run writes next to its results. Figures, notebooks and `sea ablate` read these
 * files, never tensors. Layout of a run folder:
 *
 *   <runDir>/config.json      RunConfigRecord: the full resolved config, seed, backend, versions, data fingerprint
 *   <runDir>/metrics.json     RunMetrics: one EpochRecord per epoch, best epoch, best metrics
 *   <runDir>/per_user.json    PerUserMetrics at the best epoch (test split): paired significance tests
 *   <runDir>/embeddings/      float32 .npy at the best epoch: users.npy, items.npy and, per modality m,
 *                             item_<m>_generic.npy, item_<m>_unique.npy (the parts separation acts on)
 *   <runDir>/checkpoint/      the last completed epoch (resume)
 */

/** Metric name → value, names like "recall@20", "ndcg@10", "precision@10", "map@20". */
export type MetricValues = Record<string, number>;

/**
 * MI estimates for one epoch, from estimators trained afresh on frozen embeddings (nats). Keys:
 *   "club:<m>"                      CLUB upper bound, generic vs unique part of modality m
 *   "infonce:generic:<m1>|<m2>"     InfoNCE lower bound between generic parts of two modalities
 *   "infonce:unique:<m1>|<m2>"      InfoNCE lower bound between unique parts of two modalities
 */
export type MiValues = Record<string, number>;

export interface EpochRecord {
  epoch: number; // 1-based
  seconds: number;
  /** Mean per batch of each loss part: "total", "bpr", "club", "solosim", "orthogonal", "negL2", "clubNll" … */
  loss: Record<string, number>;
  valid: MetricValues;
  test: MetricValues;
  mi?: MiValues;
}

export interface RunMetrics {
  variant: string;
  seed: number;
  dataset: { name: string; fingerprint: string };
  epochs: EpochRecord[];
  /** Epoch (1-based) with the best valid Recall@20; 0 before the first evaluation. */
  bestEpoch: number;
  best: { valid: MetricValues; test: MetricValues };
  /**
   * On synthetic data with planted factors: linear-probe R² (held-out items) of each learned part
   * against the planted factors, keys "<m>.generic→shared", "<m>.unique→<m>", "<m>.generic→<m>",
   * "<m>.unique→shared".
   */
  recovery?: Record<string, number>;
  /** Why the run ended: "epochs", "early-stop", "nan". */
  stopReason: string;
}

/** Per-user metric values on the test split at the best epoch, for paired significance tests. */
export interface PerUserMetrics {
  /** user ids evaluated (users with ≥1 held-out item and ≥1 train item) */
  users: number[];
  /** metric name → one value per entry of `users` */
  values: Record<string, number[]>;
}

export interface RunConfigRecord {
  /** The resolved model/training configuration (every constant of DESIGN §1 is a key). */
  config: Record<string, unknown>;
  variant: string;
  seed: number;
  dataset: { name: string; dir: string; fingerprint: string; users: number; items: number };
  backend: { name: string; threads: number; blas: string };
  packageVersion: string;
  node: string;
  startedAt: string;
  /** Set when the run is a cell of an experiment (`sea experiment run`; src/experiment/provenance.ts). */
  experiment?: RunProvenance;
}

/** Which experiment definition and cell a run belongs to. */
export interface RunProvenance {
  /** The experiment's name. */
  name: string;
  /** The experiment file, absolute ("" for experiments built by `sea ablate` from its flags). */
  file: string;
  /** Fingerprint of the experiment's definition (what decides its cells and their results). */
  fingerprint: string;
  /** The cell's id (its run folder relative to the experiment's output folder) and index. */
  cell: string;
  index: number;
  /** BLAS and addon threads the cell runs with (its last bits depend on it). */
  threadsPerCell: number;
}
