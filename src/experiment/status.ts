/**
 * `sea experiment status`: every cell's state (cellStatus.ts) from its run folder and, for an experiment sent to
 * SLURM, what squeue and (where accounting is on) sacct say about each cell's latest array task.
 */
import { cellStatus, countStates, type CellState, type CellStatus } from "./cellStatus";
import type { ExperimentPlan } from "./plan";
import { SLURM_AWARE_LOCK_OPTIONS } from "./slurmQueue";
import { latestTasks, readSubmissions } from "./slurmExecutor";

export interface ExperimentStatus {
  readonly name: string;
  readonly fingerprint: string;
  readonly outputDir: string;
  readonly counts: Record<CellState, number>;
  readonly cells: readonly CellStatus[];
  /** Null when the experiment was never submitted to SLURM. */
  readonly slurm: { readonly submissions: number; readonly jobs: readonly string[]; readonly squeue: boolean; readonly sacct: boolean } | null;
}

export function experimentStatus(plan: ExperimentPlan): ExperimentStatus {
  const submissions = readSubmissions(plan);
  const slurm = submissions.length > 0 ? latestTasks(plan) : null;
  const cells = plan.expansion.cells.map((cell) => cellStatus(plan.layout, cell, slurm?.tasks.get(cell.index) ?? null, SLURM_AWARE_LOCK_OPTIONS));
  return {
    name: plan.source.spec.name,
    fingerprint: plan.fingerprint,
    outputDir: plan.layout.outputDir,
    counts: countStates(cells),
    cells,
    slurm: slurm ? { submissions: submissions.length, jobs: submissions.map((s) => s.job), squeue: slurm.squeue, sacct: slurm.sacct } : null,
  };
}
