/**
 * `sea train --experiment <experiment.json> --cell <index>`: one cell of an experiment, as every executor runs it
 * (a local worker process, a SLURM array task, or by hand). The frozen definition says what the cell is; the
 * command's own flags must agree with it (a job script edited by hand, or one of another definition, fails here
 * rather than training the wrong thing). The cell runs with the experiment's thread count, records its
 * provenance in config.json, and leaves failed.json behind when it fails.
 */
import * as os from "node:os";
import * as path from "node:path";
import * as fs from "node:fs";
import { writeJsonAtomic } from "../util/atomicWrite";
import { SeaError } from "../util/errors";
import { readFrozenExperiment, FAILURE_FILE, type CellFailure, type FrozenCell, type FrozenExperiment } from "./layout";
import type { CellProvenance } from "./provenance";

export interface CellContext {
  readonly experimentFile: string;
  readonly frozen: FrozenExperiment;
  readonly cell: FrozenCell;
}

export interface CellCommandFlags {
  readonly out: string;
  readonly variant: string;
  readonly datasetDir: string;
}

/** Reads the frozen definition and finds the cell; the command's --out, --variant and --dataset must match it. */
export function loadCellContext(experimentFile: string, cellArg: string, flags: CellCommandFlags): CellContext {
  const frozen = readFrozenExperiment(experimentFile);
  const index = Number(cellArg);
  const cell = Number.isInteger(index) ? frozen.cells.find((c) => c.index === index) : undefined;
  if (!cell) throw new SeaError(`no cell ${cellArg} in ${experimentFile} (cells 0–${frozen.cells.length - 1})`, { where: "--cell" });
  const mismatch = (flag: string, given: string, expected: string): never => {
    throw new SeaError(`cell ${cell.index} (${cell.id}) of ${experimentFile} expects ${expected}, not ${given}`, { where: flag });
  };
  if (path.resolve(flags.out) !== cell.runDir) mismatch("--out", path.resolve(flags.out), cell.runDir);
  if (flags.variant !== cell.variant) mismatch("--variant", flags.variant, cell.variant);
  if (path.resolve(flags.datasetDir) !== cell.datasetDir) mismatch("--dataset", path.resolve(flags.datasetDir), cell.datasetDir);
  return { experimentFile: path.resolve(experimentFile), frozen, cell };
}

/**
 * Fixes the BLAS/addon thread count to the experiment's before the addon loads (it reads OPENBLAS_NUM_THREADS
 * once): a cell's last bits depend on it, and every executor must give the same result.
 */
export function useCellThreads(context: CellContext): void {
  process.env.OPENBLAS_NUM_THREADS = String(context.frozen.threadsPerCell);
}

export function cellProvenance(context: CellContext): CellProvenance {
  const { frozen, cell } = context;
  return { name: frozen.name, file: frozen.file, fingerprint: frozen.fingerprint, cell: cell.id, index: cell.index, threadsPerCell: frozen.threadsPerCell };
}

export function clearCellFailure(runDir: string): void {
  fs.rmSync(path.join(runDir, FAILURE_FILE), { force: true });
}

export function recordCellFailure(runDir: string, error: unknown): void {
  const arrayJob = process.env.SLURM_ARRAY_JOB_ID;
  const task = process.env.SLURM_ARRAY_TASK_ID;
  const failure: CellFailure = {
    message: error instanceof Error ? error.message : String(error),
    exitCode: error instanceof SeaError ? error.exitCode : 1,
    at: new Date().toISOString(),
    host: os.hostname(),
    slurmJob: arrayJob && task ? `${arrayJob}_${task}` : (process.env.SLURM_JOB_ID ?? null),
  };
  try {
    writeJsonAtomic(path.join(runDir, FAILURE_FILE), failure);
  } catch {
    // The run folder itself may be the problem (full disk, no permission): the log still has the error.
  }
}
