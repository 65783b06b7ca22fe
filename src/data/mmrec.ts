/**
 * Loads an MMRec-format dataset folder (README "Datasets"): `<name>/<name>.inter` plus one `<modality>_feat.npy`
 * per modality, row i of every feature matrix belonging to item i.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { csrFromCoo, csrNnz, type Csr } from "../util/csr";
import { SeaError } from "../util/errors";
import { Fingerprint } from "../util/fingerprint";
import { readInteractions, type Interactions } from "./interactions";
import { readFeatureMatrix } from "./npy";
import type { Dataset, DatasetStats, FeatureMatrix, SplitName } from "./types";

export interface LoadMmrecOptions {
  /** Modalities to load (by file prefix: "image" → image_feat.npy); default: every `*_feat.npy`. */
  modalities?: readonly string[];
}

const FEATURE_FILE = /^(.+)_feat\.npy$/;

/**
 * Reads, validates and indexes a dataset. Errors are SeaErrors naming the file (and line): missing or
 * ambiguous `.inter`, malformed rows, no train interactions, bad feature files, feature row counts that
 * do not match the number of items. Non-fatal findings are returned in `warnings`.
 *
 * nUsers = max user id + 1; nItems = max(max item id + 1, feature rows), and every feature matrix must
 * have exactly nItems rows (items without interactions are allowed; ids without features are not).
 */
export async function loadMmrecDataset(dir: string, options: LoadMmrecOptions = {}): Promise<Dataset> {
  const root = checkFolder(dir);
  const name = path.basename(root);
  const interFile = findInterFile(root, name);
  const inter = await readInteractions(interFile);
  if (inter.count === 0) throw new SeaError("empty train split: the file has a header but no rows", { where: interFile });
  const modalityNames = selectModalities(root, options.modalities);
  const modalities = modalityNames.map((m) => readFeatureMatrix(path.join(root, `${m}_feat.npy`), m));
  const nUsers = inter.maxUser + 1;
  const nItems = Math.max(inter.maxItem + 1, ...modalities.map((f) => f.rows));
  checkFeatureRows(root, inter, modalities, nItems);

  const [train, valid, test] = ([0, 1, 2] as const).map((s) => splitCsr(inter, s, nUsers, nItems)) as [Csr, Csr, Csr];
  if (csrNnz(train) === 0) throw new SeaError("empty train split: no row has x_label 0", { where: interFile });

  const warnings = [...inter.warnings];
  const usersWithoutTrain = countUsersWithoutTrain(train, valid, test);
  if (usersWithoutTrain > 0) {
    warnings.push(
      `${usersWithoutTrain} user(s) have valid/test interactions but no train interactions; they are kept in the data but excluded from evaluation`,
    );
  }
  const idleUsers = countIdleRows([train, valid, test], nUsers);
  if (idleUsers > 0) warnings.push(`${idleUsers} user id(s) below ${nUsers} have no interactions at all (ids should be contiguous)`);
  const interactions: Record<SplitName, number> = { train: csrNnz(train), valid: csrNnz(valid), test: csrNnz(test) };
  const total = interactions.train + interactions.valid + interactions.test;
  const stats: DatasetStats = {
    users: nUsers,
    items: nItems,
    interactions,
    sparsity: 1 - total / (nUsers * nItems),
    duplicatesDropped: inter.duplicatesDropped,
    usersWithoutTrain,
  };
  return {
    name,
    dir: root,
    nUsers,
    nItems,
    train,
    valid,
    test,
    modalities,
    stats,
    fingerprint: datasetFingerprint([train, valid, test], modalities),
    warnings,
  };
}

function checkFolder(dir: string): string {
  const root = path.resolve(dir);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(root);
  } catch (e) {
    throw new SeaError("dataset folder does not exist", { where: dir, cause: e });
  }
  if (!stat.isDirectory()) throw new SeaError("not a folder; expected an MMRec dataset folder <name>/ with <name>.inter", { where: dir });
  return root;
}

/** `<name>.inter`, or else the folder's only `*.inter` file. */
export function findInterFile(root: string, name: string): string {
  const preferred = path.join(root, `${name}.inter`);
  if (fs.existsSync(preferred)) return preferred;
  const candidates = fs.readdirSync(root).filter((f) => f.endsWith(".inter")).sort();
  if (candidates.length === 1) return path.join(root, candidates[0]!);
  if (candidates.length === 0) throw new SeaError(`no interaction file: expected ${name}.inter`, { where: root });
  throw new SeaError(`no ${name}.inter and several .inter files (${candidates.join(", ")}); keep one or name it ${name}.inter`, { where: root });
}

/** Modality names from `<m>_feat.npy`, sorted (so "image" comes before "text"). */
export function listModalities(root: string): string[] {
  return fs
    .readdirSync(root)
    .map((f) => FEATURE_FILE.exec(f)?.[1])
    .filter((m): m is string => m !== undefined)
    .sort();
}

function selectModalities(root: string, requested: readonly string[] | undefined): string[] {
  const found = listModalities(root);
  if (requested === undefined) {
    if (found.length === 0) throw new SeaError("no feature files: expected <modality>_feat.npy (e.g. image_feat.npy, text_feat.npy)", { where: root });
    return found;
  }
  for (const m of requested) {
    if (!found.includes(m)) {
      throw new SeaError(`modality "${m}" requested but ${m}_feat.npy is missing (found: ${found.join(", ") || "none"})`, { where: root });
    }
  }
  return [...new Set(requested)].sort();
}

function checkFeatureRows(root: string, inter: Interactions, modalities: readonly FeatureMatrix[], nItems: number): void {
  const idCount = inter.maxItem + 1;
  for (const f of modalities) {
    const file = path.join(root, `${f.name}_feat.npy`);
    if (f.rows < idCount) {
      const line = inter.lines[inter.items.indexOf(inter.maxItem)]!;
      throw new SeaError(
        `has ${f.rows} rows, but ${inter.file}:${line} uses itemID ${inter.maxItem}: expected ${nItems} rows (one per item)`,
        { where: file },
      );
    }
    if (f.rows !== nItems) {
      const largest = modalities.find((g) => g.rows === nItems)!;
      throw new SeaError(`has ${f.rows} rows, expected ${nItems} (one per item, as ${largest.name}_feat.npy has)`, { where: file });
    }
  }
}

function splitCsr(inter: Interactions, split: 0 | 1 | 2, nUsers: number, nItems: number): Csr {
  let n = 0;
  for (let k = 0; k < inter.count; k++) if (inter.splits[k] === split) n++;
  const rows = new Int32Array(n);
  const cols = new Int32Array(n);
  for (let k = 0, w = 0; k < inter.count; k++) {
    if (inter.splits[k] !== split) continue;
    rows[w] = inter.users[k]!;
    cols[w++] = inter.items[k]!;
  }
  // Duplicates were already dropped, so every value is exactly 1.
  return csrFromCoo(nUsers, nItems, rows, cols);
}

function countUsersWithoutTrain(train: Csr, valid: Csr, test: Csr): number {
  let n = 0;
  for (let u = 0; u < train.nRows; u++) {
    const trainCount = train.indptr[u + 1]! - train.indptr[u]!;
    const heldOut = valid.indptr[u + 1]! - valid.indptr[u]! + test.indptr[u + 1]! - test.indptr[u]!;
    if (trainCount === 0 && heldOut > 0) n++;
  }
  return n;
}

/** Rows empty in every split: gaps in the id range. */
function countIdleRows(splits: readonly Csr[], nRows: number): number {
  let n = 0;
  for (let u = 0; u < nRows; u++) if (splits.every((m) => m.indptr[u + 1] === m.indptr[u])) n++;
  return n;
}

/**
 * Hashes the CSR splits (canonical: independent of row order and of ignored columns such as rating)
 * and every feature matrix's name, shape and bytes. The folder name is left out: renaming a copy keeps
 * its caches valid.
 */
function datasetFingerprint(splits: readonly Csr[], modalities: readonly FeatureMatrix[]): string {
  const fp = new Fingerprint().add("sea-mmrec-dataset-v1");
  splits.forEach((m, s) => fp.add(`split ${s} ${m.nRows}x${m.nCols}`).add(m.indptr).add(m.indices));
  for (const f of modalities) fp.add(`modality ${f.name} ${f.rows}x${f.cols}`).add(f.data);
  return fp.digest();
}
