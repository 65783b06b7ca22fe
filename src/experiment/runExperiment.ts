/**
 * `sea experiment run`: plans the experiment, skips what is finished (or trained elsewhere right now), writes the
 * frozen definition, and hands the remaining cells to an executor — local worker processes (waits for them) or
 * a SLURM job array (submits and returns). Re-running an experiment only ever trains what is missing; an
 * interrupted cell resumes from its checkpoint.
 */
import * as os from "node:os";
import { readFinishedMetrics } from "../train/ablation";
import { describeHolder } from "../train/runLock";
import { SeaError } from "../util/errors";
import type { Cell } from "./cells";
import { defaultJobs, runCellsLocally, type CellOutcome } from "./localExecutor";
import { classifyCells, freezeExperiment, planExperiment, type CellTask, type ExperimentPlan, type ExperimentSource, type PlanOptions } from "./plan";
import { activeCells, renderJobScript, resolveSlurmSettings, submitCells, type SlurmFlags, type SlurmSubmission } from "./slurmExecutor";
import { SLURM_AWARE_LOCK_OPTIONS } from "./slurmQueue";

export type ExecutorName = "local" | "slurm";
export const EXECUTOR_NAMES: readonly ExecutorName[] = ["local", "slurm"];

export interface RunExperimentOptions extends PlanOptions {
  readonly executor: ExecutorName;
  /** local: worker processes (default: the cores divided by the threads per cell). */
  readonly jobs?: number;
  readonly slurm?: SlurmFlags;
  /** slurm: print the job script instead of writing and submitting it. */
  readonly dryRun?: boolean;
  /** Progress lines (default: stderr). */
  readonly log?: (line: string) => void;
}

export interface RunExperimentResult {
  readonly plan: ExperimentPlan;
  /** Every cell with what was found before running (done, busy elsewhere, or to train). */
  readonly tasks: readonly CellTask[];
  /** local: how each trained cell ended. */
  readonly outcomes: readonly CellOutcome[];
  /** slurm: the submission (null with nothing to submit or --dry-run). */
  readonly submission: SlurmSubmission | null;
  /** slurm --dry-run: the job script. */
  readonly jobScript: string | null;
}

export async function runExperiment(source: ExperimentSource, options: RunExperimentOptions): Promise<RunExperimentResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + "\n"));
  if (options.jobs !== undefined && options.executor !== "local") throw new SeaError("--jobs is for --executor local", { where: "--jobs" });
  if (options.dryRun && options.executor !== "slurm") throw new SeaError("--dry-run prints the SLURM job script: use it with --executor slurm", { where: "--dry-run" });
  // A dry run reads nothing but the run folders: no dataset is generated or loaded.
  const plan = planExperiment(source, options, !options.dryRun);
  const tasks = options.dryRun ? quickTasks(plan) : await classifyCells(plan, SLURM_AWARE_LOCK_OPTIONS);
  const { spec } = plan.source;
  const toTrain = tasks.filter((t) => t.kind === "train").map((t) => t.cell);
  const done = tasks.filter((t) => t.kind === "done").length;
  const busy = tasks.filter((t) => t.kind === "busy");
  const merged = plan.expansion.merged > 0 ? ` (${plan.expansion.merged} duplicate cell(s) merged)` : "";
  log(
    `experiment ${spec.name} (definition ${plan.fingerprint}): ${tasks.length} cells${merged} in ${plan.layout.outputDir}; ` +
      `${done} finished earlier, ${busy.length} being trained elsewhere, ${toTrain.length} to train`,
  );
  for (const t of busy) if (t.kind === "busy") log(`  ${t.cell.id}: being trained by ${describeHolder(t.holder)}; left to it`);
  for (const s of plan.expansion.skipped) log(`  ${s.id}: not trained: ${s.reason}`);

  if (options.executor === "local") {
    const jobs = options.jobs ?? defaultJobs(spec.threadsPerCell);
    if (toTrain.length > 0) {
      freezeExperiment(plan);
      const workers = Math.min(jobs, toTrain.length);
      log(`local executor: ${workers} worker(s), ${spec.threadsPerCell} thread(s) each; logs in each cell's train.log`);
      const cores = os.availableParallelism();
      if (workers * spec.threadsPerCell > cores) log(`note: ${workers} workers × ${spec.threadsPerCell} threads exceed the ${cores} cores; they will compete for them`);
    }
    const outcomes = toTrain.length > 0 ? await runCellsLocally(plan, toTrain, { jobs, log }) : [];
    return { plan, tasks, outcomes, submission: null, jobScript: null };
  }

  const settings = resolveSlurmSettings(plan, options.slurm);
  const queued = options.dryRun ? new Set<number>() : activeCells(plan);
  const submit: Cell[] = toTrain.filter((c) => !queued.has(c.index));
  if (submit.length < toTrain.length) log(`${toTrain.length - submit.length} cell(s) already queued or running in SLURM; not submitted again`);
  if (submit.length === 0) {
    log("nothing to submit");
    return { plan, tasks, outcomes: [], submission: null, jobScript: null };
  }
  if (options.dryRun) return { plan, tasks, outcomes: [], submission: null, jobScript: renderJobScript(plan, submit, settings) };
  freezeExperiment(plan);
  const submission = submitCells(plan, submit, settings);
  log(`submitted SLURM job ${submission.job}: ${submit.length} array task(s), ${settings.cpusPerTask} CPU(s) each; job script ${submission.script}`);
  log(`follow it with: sea experiment status ${source.file || "<experiment file>"}`);
  return { plan, tasks, outcomes: [], submission, jobScript: null };
}

/** Done or to train, from the run folders alone (no dataset loaded, no lock consulted): for --dry-run. */
function quickTasks(plan: ExperimentPlan): CellTask[] {
  return plan.expansion.cells.map((cell) => {
    const metrics = readFinishedMetrics(plan.layout.runDir(cell), cell.config.epochs);
    return metrics ? { kind: "done", cell, metrics } : { kind: "train", cell, epochsDone: 0 };
  });
}
