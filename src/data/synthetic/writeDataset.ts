/** Writing a generated dataset as an MMRec folder (interactions, features) with its planted ground truth. */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../../util/atomicWrite";
import { writeNpy } from "../npy";
import { GENERATOR_VERSION, type SyntheticData } from "./generate";
import { GROUND_TRUTH_FILE, type GroundTruthRecord } from "./groundTruthFile";
import type { SyntheticInteractions } from "./split";

/** Deterministic fake timestamps: one minute apart in file order from this Unix time (2020-01-01). */
const TIMESTAMP_BASE = 1577836800;

/**
 * Writes the MMRec files (`<name>.inter`, `<m>_feat.npy`) and the ground truth (`ground_truth.json`,
 * `gt_shared.npy`, `gt_<m>.npy`, `gt_cluster.npy`) into `outDir`, each file atomically. `name` defaults
 * to the folder's name, which is what the loader looks for. Returns the paths written.
 */
export function writeSynthetic(data: SyntheticData, outDir: string, options: { name?: string } = {}): string[] {
  const name = options.name ?? path.basename(path.resolve(outDir));
  fs.mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  const put = (file: string, write: (f: string) => void): void => {
    const full = path.join(outDir, file);
    write(full);
    written.push(full);
  };
  const interFile = `${name}.inter`;
  put(interFile, (f) => writeFileAtomic(f, interText(data.interactions)));
  for (const fm of data.features) put(`${fm.name}_feat.npy`, (f) => writeNpy(f, { dtype: "float32", shape: [fm.rows, fm.cols], data: fm.data }));
  const { config } = data;
  put("gt_shared.npy", (f) => writeNpy(f, { dtype: "float32", shape: [data.nItems, config.sharedDim], data: data.truth.shared }));
  for (const m of config.modalities) {
    put(`gt_${m.name}.npy`, (f) => writeNpy(f, { dtype: "float32", shape: [data.nItems, m.uniqueDim], data: data.truth.unique[m.name]! }));
  }
  put("gt_cluster.npy", (f) => writeNpy(f, { dtype: "int32", shape: [data.nItems], data: data.truth.clusters }));
  const counts = { train: 0, valid: 0, test: 0 };
  for (const s of data.interactions.splits) counts[s === 0 ? "train" : s === 1 ? "valid" : "test"]++;
  const record: GroundTruthRecord = {
    format: "sea-synthetic-ground-truth",
    generatorVersion: GENERATOR_VERSION,
    preset: data.preset,
    seed: data.seed,
    nUsers: data.nUsers,
    nItems: data.nItems,
    sharedDim: config.sharedDim,
    clusters: config.clusters,
    config,
    files: {
      shared: "gt_shared.npy",
      cluster: "gt_cluster.npy",
      unique: Object.fromEntries(config.modalities.map((m) => [m.name, `gt_${m.name}.npy`])),
      features: Object.fromEntries(config.modalities.map((m) => [m.name, `${m.name}_feat.npy`])),
      interactions: interFile,
    },
    interactions: counts,
  };
  put(GROUND_TRUTH_FILE, (f) => writeJsonAtomic(f, record));
  return written;
}

function interText(x: SyntheticInteractions): string {
  const lines = ["userID\titemID\trating\ttimestamp\tx_label"];
  for (let k = 0; k < x.users.length; k++) lines.push(`${x.users[k]}\t${x.items[k]}\t1\t${TIMESTAMP_BASE + 60 * k}\t${x.splits[k]}`);
  return lines.join("\n") + "\n";
}
