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
 *
 * The evaluation's own records (MetricValues, PerUserMetrics) are defined in src/eval/metricRecords.ts.
 */
import type { MetricValues } from "../eval/metricRecords";

/**
 * MI and dependence estimates for one epoch (src/analysis/miPanel.ts; docs/method.md "MI estimators"). Nats,
 * except CKA (a dependence measure in [0, 1]). Keys "<estimator>:<parts>", where <parts> is
 *   "<m>"                       generic vs unique part of modality m
 *   "generic:<m1>|<m2>"         the generic parts of two modalities
 *   "unique:<m1>|<m2>"          the unique parts of two modalities
 * and <estimator> is
 *   club      CLUB bound in the distance term's space (the 32-d maps the model trains, or maps of the same shape
 *             fitted on the frozen parts when the variant has none), estimator fitted on other items than it
 *             is evaluated on: the quantity SEA minimises
 *   infonce   InfoNCE lower bound (≤ log N)
 *   ksg       Kraskov–Stögbauer–Grassberger k-NN estimate (consistent; biased low at high MI)
 *   gaussian  MI of the Gaussian with the parts' joint covariance (canonical correlations): linear dependence
 *   cka       linear CKA in [0, 1]
 */
export type MiValues = Record<string, number>;

/** 95% bootstrap interval over items of each estimate in MiValues: key → [lo, hi]. */
export type MiIntervals = Record<string, [number, number]>;

/**
 * The scale of each estimate, measured once per run (at its first MI epoch) with the same estimator and the same
 * number of items: `shuffled` pairs (rows of one side permuted: what the estimator reports for independent parts,
 * ≈ 0) and `self`, one side paired with itself (the most this estimator can report here, its ceiling).
 */
export type MiReferences = Record<string, { shuffled: number; self: number }>;

export interface EpochRecord {
  epoch: number; // 1-based
  seconds: number;
  /** Mean per batch of each loss part: "total", "bpr", "club", "solosim", "orthogonal", "negL2", "clubNll" … */
  loss: Record<string, number>;
  valid: MetricValues;
  test: MetricValues;
  mi?: MiValues;
  miInterval?: MiIntervals;
}

/** The backbone a run trained: records written before backbones existed have none, and trained the SEA model. */
export function recordedBackbone(metrics: Pick<RunMetrics, "backbone">): string {
  return metrics.backbone ?? "sea";
}

export interface RunMetrics {
  /** The backbone's registry name (absent in records written before backbones existed: read as "sea"). */
  backbone?: string;
  /** The separation variant. */
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
  /** Sanity references of the MI estimates (see MiReferences), once measured. */
  miReference?: MiReferences;
  /** Why the run ended: "epochs", "early-stop", "nan". */
  stopReason: string;
}

export interface RunConfigRecord {
  /** The resolved model/training configuration (every constant of docs/method.md §1 is a key). */
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
