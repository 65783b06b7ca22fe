/** ground_truth.json: the record of what was planted, and reading it (and the arrays it names) back from disk. */
import * as fs from "node:fs";
import * as path from "node:path";
import { SeaError } from "../../util/errors";
import { readNpy } from "../npy";
import type { SplitName } from "../types";
import type { SyntheticConfig } from "./config";

export const GROUND_TRUTH_FILE = "ground_truth.json";

/** What ground_truth.json holds. Paths are relative to the dataset folder. */
export interface GroundTruthRecord {
  format: "sea-synthetic-ground-truth";
  generatorVersion: number;
  preset: string;
  seed: number;
  nUsers: number;
  nItems: number;
  sharedDim: number;
  clusters: number;
  config: SyntheticConfig;
  files: {
    shared: string;
    cluster: string;
    /** modality → planted unique factors file */
    unique: Record<string, string>;
    /** modality → feature file */
    features: Record<string, string>;
    interactions: string;
  };
  interactions: Record<SplitName, number>;
}

/** Planted factors of a synthetic dataset folder, as read back from disk. */
export interface GroundTruth {
  readonly preset: string;
  readonly seed: number;
  readonly nItems: number;
  readonly sharedDim: number;
  /** [items × sharedDim] */
  readonly shared: Float32Array;
  /** modality → planted unique factors [items × dim] */
  readonly unique: Readonly<Record<string, { readonly values: Float32Array; readonly dim: number }>>;
  readonly clusters: Int32Array;
  readonly nClusters: number;
  readonly record: GroundTruthRecord;
}

/** Reads `<dir>/ground_truth.json` and the arrays it names; null when the folder has no ground_truth.json. */
export function loadGroundTruth(dir: string): GroundTruth | null {
  const jsonFile = path.join(dir, GROUND_TRUTH_FILE);
  if (!fs.existsSync(jsonFile)) return null;
  const record = parseRecord(jsonFile);
  const matrix = (file: string, cols: number, field: string): Float32Array => {
    const full = path.join(dir, plainFileName(file, field, jsonFile));
    const a = readNpy(full);
    if (a.dtype !== "float32" || a.shape.length !== 2 || a.shape[0] !== record.nItems || a.shape[1] !== cols) {
      throw new SeaError(`${field}: expected float32 [${record.nItems}, ${cols}], got ${a.dtype} [${a.shape.join(", ")}]`, { where: full });
    }
    return a.data as Float32Array;
  };
  const shared = matrix(record.files.shared, record.sharedDim, "files.shared");
  const unique: Record<string, { values: Float32Array; dim: number }> = {};
  for (const m of record.config.modalities) {
    const file = record.files.unique[m.name];
    if (typeof file !== "string") throw new SeaError(`files.unique has no entry for modality "${m.name}"`, { where: jsonFile });
    unique[m.name] = { values: matrix(file, m.uniqueDim, `files.unique.${m.name}`), dim: m.uniqueDim };
  }
  const clusterFile = path.join(dir, plainFileName(record.files.cluster, "files.cluster", jsonFile));
  const c = readNpy(clusterFile);
  if (c.dtype !== "int32" || c.shape.length !== 1 || c.shape[0] !== record.nItems) {
    throw new SeaError(`files.cluster: expected int32 [${record.nItems}], got ${c.dtype} [${c.shape.join(", ")}]`, { where: clusterFile });
  }
  return {
    preset: record.preset,
    seed: record.seed,
    nItems: record.nItems,
    sharedDim: record.sharedDim,
    shared,
    unique,
    clusters: c.data as Int32Array,
    nClusters: record.clusters,
    record,
  };
}

/** Files named in ground_truth.json must lie in the dataset folder itself. */
function plainFileName(name: string, field: string, jsonFile: string): string {
  if (name !== path.basename(name) || name === "" || name === "." || name === "..") {
    throw new SeaError(`field "${field}" must be a file name inside the dataset folder, got "${name}"`, { where: jsonFile });
  }
  return name;
}

function parseRecord(file: string): GroundTruthRecord {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new SeaError(`not valid JSON (${(e as Error).message})`, { where: file, cause: e });
  }
  const r = value as Partial<GroundTruthRecord> | null;
  if (!r || typeof r !== "object" || r.format !== "sea-synthetic-ground-truth") {
    throw new SeaError('expected an object with "format": "sea-synthetic-ground-truth"', { where: file });
  }
  for (const field of ["nItems", "sharedDim", "clusters", "seed"] as const) {
    if (!Number.isInteger(r[field]) || (r[field] as number) < 0) throw new SeaError(`field "${field}" must be a non-negative integer`, { where: file });
  }
  if (!r.files || typeof r.files.shared !== "string" || typeof r.files.cluster !== "string" || typeof r.files.unique !== "object") {
    throw new SeaError('field "files" must name the shared, cluster and unique arrays', { where: file });
  }
  if (!r.config || !Array.isArray(r.config.modalities)) throw new SeaError('field "config.modalities" is missing', { where: file });
  return r as GroundTruthRecord;
}
