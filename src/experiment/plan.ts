/**
 * From a validated experiment to what the executors need: the output folder, each dataset's folder, the cells
 * with their run folders, and (for `run`) which cells are finished, busy elsewhere or still to train. Also
 * writes the frozen definition (experiment.json and each cell's resolved config) that every cell's `sea train`
 * reads.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { isSyntheticPreset, GROUND_TRUTH_FILE } from "../data/synthetic";
import { resolveDatasetPath, SHIPPED_SMALL_DIR, syntheticCacheDir, DEFAULT_SYNTHETIC_SEED } from "../data/resolveDataset";
import { loadMmrecDataset } from "../data/mmrec";
import { assertSameConfig } from "../train/runSetup";
import { readFinishedMetrics } from "../train/ablation";
import { inspectRunLock, type RunLockHolder, type RunLockOptions } from "../train/runLock";
import type { RunMetrics } from "../train/runRecord";
import { writeJsonAtomic } from "../util/atomicWrite";
import { SeaError } from "../util/errors";
import { expandCells, type Cell, type CellExpansion } from "./cells";
import { ExperimentLayout, writeFrozenExperiment, type FrozenExperiment } from "./layout";
import { experimentFingerprint, type CellProvenance } from "./provenance";
import type { DatasetEntry, ExperimentSpec } from "./spec";

export interface ExperimentSource {
  readonly spec: ExperimentSpec;
  /** The experiment file (absolute), or "" for an experiment built from flags (`sea ablate`). */
  readonly file: string;
  /** How errors name the source: the file as given, or the command. */
  readonly label: string;
}

export interface PlanOptions {
  /** Overrides the experiment's output folder. */
  readonly outputDir?: string;
  /** Overrides the experiment's dataRoot. */
  readonly dataRoot?: string;
}

export interface ExperimentPlan {
  readonly source: ExperimentSource;
  readonly fingerprint: string;
  readonly layout: ExperimentLayout;
  readonly expansion: CellExpansion;
  /** Dataset entry (as written) → absolute folder. */
  readonly datasetDirs: ReadonlyMap<string, string>;
}

/**
 * Expands the cells and resolves the output and dataset folders (relative ones against the working directory).
 * With `prepareData`, presets are generated when missing and every dataset folder must exist; without it
 * (status, collect) nothing is generated or checked.
 */
export function planExperiment(source: ExperimentSource, options: PlanOptions = {}, prepareData = false): ExperimentPlan {
  const { spec } = source;
  const expansion = expandCells(spec, source.label);
  const fingerprint = experimentFingerprint(spec);
  const outputDir = path.resolve(options.outputDir ?? spec.output);
  const dataRoot = options.dataRoot ?? spec.dataRoot;
  const datasetDirs = new Map<string, string>();
  spec.datasets.forEach((entry, i) => datasetDirs.set(entry.path, datasetDir(entry, dataRoot, prepareData, `${source.label}: datasets[${i}]`)));
  return { source, fingerprint, layout: new ExperimentLayout(outputDir, fingerprint), expansion, datasetDirs };
}

/** A preset's folder (generated on demand when `prepare`), else the path under the data root or the working directory. */
function datasetDir(entry: DatasetEntry, dataRoot: string | null, prepare: boolean, where: string): string {
  if (isSyntheticPreset(entry.path) && !fs.existsSync(entry.path)) {
    if (prepare) return resolveDatasetPath(entry.path);
    const shipped = entry.path === "small" && fs.existsSync(path.join(SHIPPED_SMALL_DIR, GROUND_TRUTH_FILE));
    return shipped ? SHIPPED_SMALL_DIR : syntheticCacheDir(entry.path, DEFAULT_SYNTHETIC_SEED);
  }
  const dir = path.isAbsolute(entry.path) ? entry.path : dataRoot ? path.resolve(dataRoot, entry.path) : path.resolve(entry.path);
  if (prepare && !fs.existsSync(dir)) {
    const hint = dataRoot ? `under the data root ${dataRoot}` : "and no --data-root (or dataRoot) was given";
    throw new SeaError(`dataset "${entry.path}" is not a preset (tiny, small, baby-shape) and there is no folder ${dir} ${hint}`, { where });
  }
  return path.resolve(dir);
}

export function datasetDirOf(plan: ExperimentPlan, cell: Cell): string {
  return plan.datasetDirs.get(cell.dataset.path)!;
}

export function provenanceFor(plan: ExperimentPlan, cell: Cell): CellProvenance {
  return {
    name: plan.source.spec.name,
    file: plan.source.file,
    fingerprint: plan.fingerprint,
    cell: cell.id,
    index: cell.index,
    threadsPerCell: plan.source.spec.threadsPerCell,
  };
}

/** Writes experiment.json and each cell's resolved config under the definition's folder (atomically). */
export function freezeExperiment(plan: ExperimentPlan): FrozenExperiment {
  const { layout } = plan;
  const frozen: FrozenExperiment = {
    name: plan.source.spec.name,
    file: plan.source.file,
    fingerprint: plan.fingerprint,
    threadsPerCell: plan.source.spec.threadsPerCell,
    outputDir: layout.outputDir,
    cells: plan.expansion.cells.map((cell) => ({
      index: cell.index,
      id: cell.id,
      runDir: layout.runDir(cell),
      datasetDir: datasetDirOf(plan, cell),
      variant: cell.variant,
      seed: cell.seed,
      configFile: layout.cellConfigFile(cell),
    })),
  };
  for (const cell of plan.expansion.cells) writeJsonAtomic(layout.cellConfigFile(cell), cell.config);
  writeFrozenExperiment(layout, frozen);
  return frozen;
}

/** What `run` does with a cell: nothing (finished, or another live process trains it) or train it. */
export type CellTask =
  | { readonly kind: "done"; readonly cell: Cell; readonly metrics: RunMetrics }
  | { readonly kind: "busy"; readonly cell: Cell; readonly holder: RunLockHolder }
  | { readonly kind: "train"; readonly cell: Cell; readonly epochsDone: number };

/**
 * Sorts the cells for `run`. Loads each dataset once (checking it, and for its fingerprint): a run folder that
 * holds a run of another config or dataset stops the experiment before anything starts, naming the folder.
 */
export async function classifyCells(plan: ExperimentPlan, lockOptions: RunLockOptions = {}): Promise<CellTask[]> {
  const fingerprints = new Map<string, string>();
  for (const [entry, dir] of plan.datasetDirs) fingerprints.set(entry, (await loadMmrecDataset(dir)).fingerprint);
  return plan.expansion.cells.map((cell) => {
    const runDir = plan.layout.runDir(cell);
    assertSameConfig(runDir, cell.config, fingerprints.get(cell.dataset.path)!);
    const finished = readFinishedMetrics(runDir, cell.config.epochs);
    if (finished) return { kind: "done", cell, metrics: finished };
    const lock = inspectRunLock(runDir, lockOptions);
    if (lock.kind === "held") return { kind: "busy", cell, holder: lock.holder };
    return { kind: "train", cell, epochsDone: epochsRecorded(runDir) };
  });
}

/** Epochs in a run folder's metrics.json (0 when none). */
export function epochsRecorded(runDir: string): number {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(runDir, "metrics.json"), "utf8")) as Partial<RunMetrics>;
    return Array.isArray(m.epochs) ? m.epochs.length : 0;
  } catch {
    return 0;
  }
}
