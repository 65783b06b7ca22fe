import * as path from "node:path";
import { selectBackend, type BackendInfo } from "../backend/select";
import { loadDatasetArg } from "../data/resolveDataset";
import type { Dataset } from "../data/types";
import { runAblation, type AblationRun } from "../train/ablation";
import { groundTruthFactors } from "../train/analysisHooks";
import { loadRuns, type RunResult } from "../figures/runs";
import { notebookPlan, type NotebookPlan } from "./plan";

/** What a notebook's first cell opens: its size plan, backend, dataset and a grid's runs (trained or reused). */
export interface NotebookGrid {
  readonly plan: NotebookPlan;
  readonly backend: BackendInfo;
  readonly dataset: Dataset;
  /** The grid's folder (runs/<size>/<name>). */
  readonly dir: string;
  /** The grid's runs as trained or reused. */
  readonly grid: readonly AblationRun[];
  /** The same runs as the figures read them (from disk). */
  readonly runs: readonly RunResult[];
}

/** The ablation of notebooks 02–04 and 06 (runs/<size>/ablation: the paper's seven variants × seeds). */
export interface NotebookAblation extends NotebookGrid {
  readonly ablationDir: string;
  readonly ablation: readonly AblationRun[];
}

/** The plug-in study of notebook 07 (runs/<size>/plug-in: backbones × {plain, sea} × seeds). */
export interface NotebookPlugIn extends NotebookGrid {
  readonly plugInDir: string;
  readonly plugIn: readonly AblationRun[];
}

/**
 * Picks the size (SEA_NOTEBOOK_SIZE), the backend and the dataset, then trains the grid `runs/<size>/<name>` or reuses
 * its finished runs (the first notebook that needs it trains it). Prints one line saying what it found.
 */
async function openNotebookGrid(
  name: string,
  cells: (plan: NotebookPlan) => { readonly backbones?: readonly string[]; readonly variants: readonly string[] },
  env: Readonly<Record<string, string | undefined>>,
): Promise<NotebookGrid> {
  const plan = notebookPlan(env);
  const backend = await selectBackend();
  const dataset = await loadDatasetArg(plan.dataset);
  const dir = path.join(plan.runsDir, name);
  const grid = await runAblation({
    dataset,
    ...cells(plan),
    seeds: plan.seeds,
    outDir: dir,
    backend,
    sets: plan.sets,
    explicit: { epochs: plan.epochs },
    groundTruth: groundTruthFactors(dataset),
    quiet: true,
  });
  console.log(
    `size ${plan.size}: dataset ${dataset.name} (${dataset.nUsers} users, ${dataset.nItems} items), backend ${backend.name}; ${grid.length} runs in ${dir}`,
  );
  return { plan, backend, dataset, dir, grid, runs: loadRuns(dir) };
}

/**
 * The shared first cell of notebooks 02–04 and 06: the ablation (`npm start` runs the same grid at the default size,
 * so the notebooks reuse its runs).
 */
export async function openNotebookAblation(env: Readonly<Record<string, string | undefined>> = process.env): Promise<NotebookAblation> {
  const opened = await openNotebookGrid("ablation", (plan) => ({ variants: plan.variants }), env);
  return { ...opened, ablationDir: opened.dir, ablation: opened.grid };
}

/**
 * The first cell of notebook 07: SEA's separation over each backbone, beside the backbone alone.
 * `sea ablate --backbones … --variants plain,sea` (or experiments/small/plug-in.yaml) runs the same grid.
 */
export async function openNotebookPlugIn(env: Readonly<Record<string, string | undefined>> = process.env): Promise<NotebookPlugIn> {
  const opened = await openNotebookGrid("plug-in", (plan) => plan.plugIn, env);
  return { ...opened, plugInDir: opened.dir, plugIn: opened.grid };
}
