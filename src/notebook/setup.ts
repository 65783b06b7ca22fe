import * as path from "node:path";
import { selectBackend, type BackendInfo } from "../backend/select";
import { loadDatasetArg } from "../data/resolveDataset";
import type { Dataset } from "../data/types";
import { runAblation, type AblationRun } from "../train/ablation";
import { groundTruthFactors } from "../train/analysisHooks";
import { loadRuns, type RunResult } from "../figures/runs";
import { notebookPlan, type NotebookPlan } from "./plan";

/** What every ablation notebook starts from: its size plan, backend, dataset and the ablation's runs. */
export interface NotebookAblation {
  readonly plan: NotebookPlan;
  readonly backend: BackendInfo;
  readonly dataset: Dataset;
  /** The ablation's folder (runs/<size>/ablation). */
  readonly ablationDir: string;
  /** The variant × seed grid as trained or reused. */
  readonly ablation: readonly AblationRun[];
  /** The same runs as the figures read them (from disk). */
  readonly runs: readonly RunResult[];
}

/**
 * The shared first cell of notebooks 02–04 and 06: picks the size (SEA_NOTEBOOK_SIZE), the backend and the dataset,
 * then trains the ablation or reuses its finished runs (the first notebook that needs it trains it; `npm start` runs
 * the same grid at the default size). Prints one line saying what it found.
 */
export async function openNotebookAblation(env: Readonly<Record<string, string | undefined>> = process.env): Promise<NotebookAblation> {
  const plan = notebookPlan(env);
  const backend = await selectBackend();
  const dataset = await loadDatasetArg(plan.dataset);
  const ablationDir = path.join(plan.runsDir, "ablation");
  const ablation = await runAblation({
    dataset,
    variants: plan.variants,
    seeds: plan.seeds,
    outDir: ablationDir,
    backend,
    sets: plan.sets,
    explicit: { epochs: plan.epochs },
    groundTruth: groundTruthFactors(dataset),
    quiet: true,
  });
  console.log(
    `size ${plan.size}: dataset ${dataset.name} (${dataset.nUsers} users, ${dataset.nItems} items), backend ${backend.name}; ` +
      `${ablation.length} runs in ${ablationDir}`,
  );
  return { plan, backend, dataset, ablationDir, ablation, runs: loadRuns(ablationDir) };
}

/** What the plug-in notebook starts from: the backbones × {plain, sea} grid as trained or reused. */
export interface NotebookPlugIn {
  readonly plan: NotebookPlan;
  readonly backend: BackendInfo;
  readonly dataset: Dataset;
  /** The plug-in study's folder (runs/<size>/plug-in), laid out <backbone>/<variant>/seed-<n>. */
  readonly plugInDir: string;
  readonly plugIn: readonly AblationRun[];
  readonly runs: readonly RunResult[];
}

/**
 * The first cell of notebook 07: the plug-in study (SEA's separation over each backbone, beside the backbone alone)
 * at the notebooks' size, trained or reused from runs/<size>/plug-in. `sea ablate --backbones … --variants plain,sea`
 * runs the same grid from the command line.
 */
export async function openNotebookPlugIn(env: Readonly<Record<string, string | undefined>> = process.env): Promise<NotebookPlugIn> {
  const plan = notebookPlan(env);
  const backend = await selectBackend();
  const dataset = await loadDatasetArg(plan.dataset);
  const plugInDir = path.join(plan.runsDir, "plug-in");
  const plugIn = await runAblation({
    dataset,
    backbones: plan.plugIn.backbones,
    variants: plan.plugIn.variants,
    seeds: plan.seeds,
    outDir: plugInDir,
    backend,
    sets: plan.sets,
    explicit: { epochs: plan.epochs },
    quiet: true,
  });
  console.log(`size ${plan.size}: dataset ${dataset.name}, backend ${backend.name}; ${plugIn.length} runs in ${plugInDir}`);
  return { plan, backend, dataset, plugInDir, plugIn, runs: loadRuns(plugInDir) };
}
