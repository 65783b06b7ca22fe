/**
 * Turns a `--dataset` argument into a dataset folder: a path to an MMRec folder, or the name of a
 * synthetic preset. `small` (seed 999) is the dataset shipped in data/small; any other preset/seed is
 * generated once into `<repo>/.cache/datasets/<preset>-seed<seed>/` (gitignored) and reused after.
 */
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { SeaError } from "../util/errors";
import { loadMmrecDataset } from "./mmrec";
import { generateSynthetic, isSyntheticPreset, GROUND_TRUTH_FILE, SYNTHETIC_PRESET_NAMES, writeSynthetic, type SyntheticPreset } from "./synthetic";
import type { Dataset } from "./types";

/** The seed data/small was generated with (and the kit's default seed, docs/method.md §1). */
export const DEFAULT_SYNTHETIC_SEED = 999;

/** The repository root: two levels above this file, both from src/data (tsx) and dist/data (build). */
export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const SHIPPED_SMALL_DIR = path.join(REPO_ROOT, "data", "small");

export function syntheticCacheDir(preset: SyntheticPreset, seed: number): string {
  return path.join(REPO_ROOT, ".cache", "datasets", `${preset}-seed${seed}`);
}

/**
 * A folder path is returned (absolute) as is; it must exist. A preset name maps to data/small
 * (small, seed 999) or to its cache folder, generated on first use. A name that is neither is an error.
 * An existing folder wins over a preset of the same name (`./small` is that folder, not the preset).
 */
export function resolveDatasetPath(arg: string, options: { seed?: number } = {}): string {
  const seed = options.seed ?? DEFAULT_SYNTHETIC_SEED;
  if (isSyntheticPreset(arg) && !fs.existsSync(arg)) {
    if (arg === "small" && seed === DEFAULT_SYNTHETIC_SEED && fs.existsSync(path.join(SHIPPED_SMALL_DIR, GROUND_TRUTH_FILE))) return SHIPPED_SMALL_DIR;
    const dir = syntheticCacheDir(arg, seed);
    if (!fs.existsSync(path.join(dir, GROUND_TRUTH_FILE))) generateInto(dir, arg, seed);
    return dir;
  }
  const dir = path.resolve(arg);
  if (!fs.existsSync(dir)) {
    throw new SeaError(`no such dataset folder, and not a preset (presets: ${SYNTHETIC_PRESET_NAMES.join(", ")})`, { where: arg });
  }
  if (!fs.statSync(dir).isDirectory()) throw new SeaError("not a folder; expected an MMRec dataset folder <name>/ with <name>.inter", { where: arg });
  return dir;
}

/** resolveDatasetPath + loadMmrecDataset. */
export async function loadDatasetArg(arg: string, options: { seed?: number } = {}): Promise<Dataset> {
  return loadMmrecDataset(resolveDatasetPath(arg, options));
}

/**
 * Generates into a temporary sibling folder and renames it into place, so an interrupted run never
 * leaves a half-written dataset that later runs would trust. If another process won the race, its
 * (identical) folder is kept.
 */
export function generateInto(dir: string, preset: SyntheticPreset, seed: number): void {
  const tmp = makeTempSibling(dir);
  try {
    writeSynthetic(generateSynthetic(preset, seed), tmp, { name: path.basename(dir) });
    // Another process may have finished the same (identical) dataset meanwhile: keep theirs, so a
    // process already reading it never sees the folder swapped. Anything else there is stale: replace.
    if (!fs.existsSync(path.join(dir, GROUND_TRUTH_FILE))) replaceFolder(tmp, dir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * An empty folder next to `dir` (same file system, so a rename can move it into place), with ordinary
 * permissions (mkdtemp creates 0700, which would survive the rename).
 */
export function makeTempSibling(dir: string): string {
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(dir)}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`);
  fs.mkdirSync(tmp); // fails if it exists, like mkdtemp; mode 0777 & ~umask
  return tmp;
}

/**
 * Moves folder `from` to `to`. An existing `to` is first moved aside (and put back if the move
 * fails) and removed after, so `to` is never half-written. If `to` appears between the check and the
 * rename (a concurrent creator) and is a complete synthetic dataset, that one is kept.
 */
export function replaceFolder(from: string, to: string): void {
  if (fs.existsSync(to)) {
    const aside = `${to}.old-${process.pid}-${Date.now()}`;
    fs.renameSync(to, aside);
    try {
      fs.renameSync(from, to);
    } catch (e) {
      fs.renameSync(aside, to); // put the old folder back rather than lose it
      throw e;
    }
    fs.rmSync(aside, { recursive: true, force: true });
    return;
  }
  try {
    fs.renameSync(from, to);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === "ENOTEMPTY" || code === "EEXIST") && fs.existsSync(path.join(to, GROUND_TRUTH_FILE))) return;
    throw e;
  }
}
