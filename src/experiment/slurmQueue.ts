/**
 * What SLURM says about jobs: `sbatch` to submit, `squeue` for queued and running array tasks, and `sacct` for
 * finished ones when the cluster keeps accounting. sacct is optional: without an accounting daemon (slurmdbd) it
 * fails ("accounting storage is disabled"), and then the run folders alone tell finished from failed cells.
 * Every call has a time limit, so a hung controller cannot hang `sea`.
 */
import { spawnSync } from "node:child_process";
import { SeaError } from "../util/errors";
import type { RunLockOptions, SchedulerJobState } from "../train/runLock";

const COMMAND_TIMEOUT_MS = 30_000;

/** One array task's state as SLURM names it (PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, …). */
export interface SlurmTaskState {
  /** "<job>_<task>" */
  readonly job: string;
  readonly arrayJob: string;
  readonly task: number;
  readonly state: string;
  readonly source: "squeue" | "sacct";
}

/** States in which a task may still start or is running (its cell must not be submitted again). */
export const ACTIVE_SLURM_STATES: ReadonlySet<string> = new Set([
  "PENDING",
  "CONFIGURING",
  "RUNNING",
  "COMPLETING",
  "SUSPENDED",
  "REQUEUED",
  "REQUEUE_HOLD",
  "REQUEUE_FED",
  "RESIZING",
  "SIGNALING",
  "STAGE_OUT",
  "STOPPED",
]);

/** States sacct gives to a task that ended without finishing its work. */
export const FAILED_SLURM_STATES: ReadonlySet<string> = new Set(["FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE"]);

interface CommandResult {
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
  /** The program is not installed. */
  readonly missing: boolean;
}

function runCommand(program: string, args: readonly string[], input?: string): CommandResult {
  const r = spawnSync(program, args, { encoding: "utf8", timeout: COMMAND_TIMEOUT_MS, input });
  const missing = (r.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
  return { ok: !r.error && r.status === 0, stdout: r.stdout ?? "", stderr: (r.stderr ?? "") + (r.error && !missing ? r.error.message : ""), missing };
}

/** Submits a job script; returns the job id. */
export function submitJobScript(scriptFile: string): string {
  const r = runCommand("sbatch", ["--parsable", scriptFile]);
  if (r.missing) throw new SeaError("sbatch not found: the slurm executor needs SLURM's client commands on PATH (or use --executor local)");
  if (!r.ok) throw new SeaError(`sbatch refused the job: ${(r.stderr.trim() || r.stdout.trim()).split("\n")[0]}`, { where: scriptFile });
  // --parsable prints "<job id>" or "<job id>;<cluster>".
  const id = r.stdout.trim().split(";")[0] ?? "";
  if (!/^\d+$/.test(id)) throw new SeaError(`sbatch printed no job id (output: "${r.stdout.trim()}")`, { where: scriptFile });
  return id;
}

/**
 * Array tasks of `jobs` still in the queue (squeue -r lists each task of an array on its own line). Null when
 * squeue is missing or fails (then nothing is known about queued tasks).
 */
export function queuedTasks(jobs: readonly string[]): SlurmTaskState[] | null {
  if (jobs.length === 0) return [];
  const r = runCommand("squeue", ["-h", "-r", "-j", jobs.join(","), "-o", "%i|%T"]);
  if (!r.ok) {
    // A job id the controller has forgotten (MinJobAge passed) makes squeue fail for the whole list: ask one by one.
    if (!r.missing && jobs.length > 1 && /invalid job id/i.test(r.stderr)) return jobs.flatMap((j) => queuedTasks([j]) ?? []);
    return !r.missing && /invalid job id/i.test(r.stderr) ? [] : null;
  }
  return parseTaskLines(r.stdout, "squeue");
}

/** Finished (and running) array tasks of `jobs` from accounting; null where sacct is missing or accounting is off. */
export function accountedTasks(jobs: readonly string[]): SlurmTaskState[] | null {
  if (jobs.length === 0) return [];
  const r = runCommand("sacct", ["-n", "-P", "-X", "-j", jobs.join(","), "-o", "JobID,State"]);
  if (!r.ok) return null;
  return parseTaskLines(r.stdout, "sacct");
}

/** Lines "<job>_<task>|<STATE>[ by …]"; lines of whole pending ranges ("12_[3-5]") or non-array jobs are skipped. */
export function parseTaskLines(text: string, source: "squeue" | "sacct"): SlurmTaskState[] {
  const out: SlurmTaskState[] = [];
  for (const line of text.split("\n")) {
    const [id, rawState] = line.trim().split("|");
    const m = /^(\d+)_(\d+)$/.exec(id ?? "");
    if (!m || !rawState) continue;
    out.push({ job: id!, arrayJob: m[1]!, task: Number(m[2]), state: rawState.split(" ")[0]!.replace(/\+$/, ""), source });
  }
  return out;
}

/** For run locks: is the SLURM job (or array task) of a lock's holder still queued or running? */
export function slurmJobState(job: string): SchedulerJobState {
  const r = runCommand("squeue", ["-h", "-j", job, "-o", "%T"]);
  if (r.missing) return "unknown";
  if (!r.ok) return /invalid job id/i.test(r.stderr) ? "gone" : "unknown";
  const state = r.stdout.trim().split("\n")[0]?.trim() ?? "";
  return state === "" ? "gone" : ACTIVE_SLURM_STATES.has(state) ? "active" : "gone";
}

/** Lock options for run folders that SLURM tasks may hold: a holder on another host is asked about through squeue. */
export const SLURM_AWARE_LOCK_OPTIONS: RunLockOptions = { slurmJobState };
