import type { Csr } from "../util/csr";

/** One modality's item features: row i belongs to item i. */
export interface FeatureMatrix {
  /** The modality name, taken from the file name: `image_feat.npy` → "image". */
  readonly name: string;
  readonly rows: number;
  readonly cols: number;
  /** row-major, rows × cols */
  readonly data: Float32Array;
}

export type SplitName = "train" | "valid" | "test";

/** Counts reported by `sea data check` and recorded in run metadata. */
export interface DatasetStats {
  readonly users: number;
  readonly items: number;
  readonly interactions: Record<SplitName, number>;
  /** 1 − (all interactions)/(users·items) */
  readonly sparsity: number;
  readonly duplicatesDropped: number;
  /** Users with held-out items but no train items: excluded from evaluation. */
  readonly usersWithoutTrain: number;
}

/**
 * An MMRec-format dataset in memory. Every split is a users × items binary CSR matrix, so
 * "user → items" lists are CSR rows. Features are aligned with item ids.
 */
export interface Dataset {
  readonly name: string;
  /** Folder it was read from. */
  readonly dir: string;
  readonly nUsers: number;
  readonly nItems: number;
  readonly train: Csr;
  readonly valid: Csr;
  readonly test: Csr;
  readonly modalities: readonly FeatureMatrix[];
  readonly stats: DatasetStats;
  /** SHA-256 (hex, 16 chars) over the interactions and all feature bytes: keys caches and run records. */
  readonly fingerprint: string;
  /** Non-fatal findings (duplicate rows dropped, users without train items …), one line each. */
  readonly warnings: readonly string[];
}
