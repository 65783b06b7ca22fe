/**
 * The state of one cell, read from its run folder (metrics.json, the run lock, failed.json) and, for cells sent
 * to SLURM, from what squeue (and sacct, where the cluster keeps accounting) say about its array task:
 *
 *   done      metrics.json says the run finished (early stop or its last epoch)
 *   running   a live process holds the run lock, or SLURM runs the cell's task
 *   pending   SLURM has the task queued, or nothing has started the cell yet
 *   failed    the last attempt failed (failed.json, a NaN loss, sacct's FAILED/TIMEOUT/…), or it was killed part
 *             way (a stale lock, or epochs recorded with no process on it): running the experiment again resumes
 *             it from its checkpoint
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { readFinishedMetrics } from "../train/ablation";
import { describeHolder, inspectRunLock, type RunLockOptions } from "../train/runLock";
import type { Cell } from "./cells";
import { FAILURE_FILE, type CellFailure, type ExperimentLayout } from "./layout";
import { epochsRecorded } from "./plan";
import { ACTIVE_SLURM_STATES, FAILED_SLURM_STATES, type SlurmTaskState } from "./slurmQueue";

export const CELL_STATES = ["done", "running", "pending", "failed"] as const;
export type CellState = (typeof CELL_STATES)[number];

export interface CellStatus {
  readonly index: number;
  readonly id: string;
  readonly state: CellState;
  /** One line: why this state (epoch reached, holder, SLURM task, error). */
  readonly detail: string;
  /** The cell's log, when it has one. */
  readonly log: string | null;
  readonly epochs: number;
  readonly maxEpochs: number;
}

/**
 * `task`: the cell's latest SLURM array task as squeue or sacct report it (null when the cell was never
 * submitted or SLURM has forgotten the task).
 */
export function cellStatus(layout: ExperimentLayout, cell: Cell, task: SlurmTaskState | null, lockOptions: RunLockOptions = {}): CellStatus {
  const runDir = layout.runDir(cell);
  const logFile = layout.logFile(cell);
  const log = fs.existsSync(logFile) ? logFile : null;
  const epochs = epochsRecorded(runDir);
  const maxEpochs = cell.config.epochs;
  const status = (state: CellState, detail: string): CellStatus => ({ index: cell.index, id: cell.id, state, detail, log, epochs, maxEpochs });
  const progress = `epoch ${epochs}/${maxEpochs}`;

  let finished;
  try {
    finished = readFinishedMetrics(runDir, maxEpochs);
  } catch (e) {
    return status("failed", (e as Error).message);
  }
  if (finished) return status("done", `${finished.stopReason === "early-stop" ? "stopped early" : "finished"} after ${finished.epochs.length} epochs, best epoch ${finished.bestEpoch}`);

  const lock = inspectRunLock(runDir, lockOptions);
  if (lock.kind === "held") return status("running", `${progress}; ${describeHolder(lock.holder)}`);
  if (task && task.source === "squeue" && ACTIVE_SLURM_STATES.has(task.state)) {
    return task.state === "PENDING" ? status("pending", `queued as SLURM task ${task.job}`) : status("running", `${progress}; SLURM task ${task.job} ${task.state.toLowerCase()}`);
  }
  const failure = readFailure(runDir);
  if (failure) return status("failed", `${failure.message} (exit ${failure.exitCode}${failure.slurmJob ? `, SLURM task ${failure.slurmJob}` : ""})`);
  if (readStopReason(runDir) === "nan") return status("failed", `loss became NaN/Inf in epoch ${epochs + 1}`);
  if (task && FAILED_SLURM_STATES.has(task.state)) return status("failed", `SLURM task ${task.job} ${task.state.toLowerCase()} at ${progress}; run again to resume`);
  if (lock.kind === "stale") return status("failed", `interrupted at ${progress} (${lock.reason}); run again to resume from the checkpoint`);
  if (epochs > 0 || fs.existsSync(path.join(runDir, "checkpoint.bin"))) return status("failed", `interrupted at ${progress}; run again to resume from the checkpoint`);
  return status("pending", "not started");
}

function readStopReason(runDir: string): string | null {
  try {
    return (JSON.parse(fs.readFileSync(path.join(runDir, "metrics.json"), "utf8")) as { stopReason?: string }).stopReason ?? null;
  } catch {
    return null;
  }
}

function readFailure(runDir: string): CellFailure | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(runDir, FAILURE_FILE), "utf8")) as CellFailure;
  } catch {
    return null;
  }
}

/** Cells per state, in CELL_STATES order. */
export function countStates(statuses: readonly CellStatus[]): Record<CellState, number> {
  const counts = Object.fromEntries(CELL_STATES.map((s) => [s, 0])) as Record<CellState, number>;
  for (const s of statuses) counts[s.state]++;
  return counts;
}
