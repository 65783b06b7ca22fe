/**
 * The lock of a run folder (`<run>/.lock`): two processes never train the same run, whether they are two local
 * workers, two `sea experiment run`s, a SLURM task and a laptop, or a resubmitted SLURM task whose first attempt
 * is still alive.
 *
 * Taking the lock is an exclusive create (O_EXCL), so of two processes one wins. The file names its holder:
 * host, pid (and the pid's start time, so a reused pid does not look alive), the SLURM job when there is one,
 * and a random token. A lock is stale when its holder is gone:
 *   * same host: the pid no longer runs (or runs another program since);
 *   * another host, in a SLURM job: the job has left the queue (asked through `slurmJobState`, when given);
 *   * otherwise: no heartbeat (the file's mtime, touched after every epoch) for `staleAfterMs`.
 * A stale lock is broken under a second, short-lived lock (`.lock.break`, exclusive create too), re-read there,
 * and replaced only if it is still the one judged stale, so two processes breaking the same stale lock cannot
 * both end up holding it. A killed process (kill -9, node failure, time limit) leaves its lock behind; that is
 * what the stale check is for.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SeaError } from "../util/errors";

export const RUN_LOCK_FILE = ".lock";

/** sysexits' EX_TEMPFAIL: what `sea train` exits with when another live process holds the run. */
export const LOCKED_EXIT_CODE = 75;

export interface RunLockHolder {
  readonly token: string;
  readonly host: string;
  readonly pid: number;
  /** /proc/<pid>/stat's start time (clock ticks since boot), where there is /proc; guards against pid reuse. */
  readonly processStart: string | null;
  /** "<job>_<task>" or "<job>" when started by SLURM. */
  readonly slurmJob: string | null;
  readonly startedAt: string;
}

/** What a scheduler says about a job: still queued or running, gone, or no answer. */
export type SchedulerJobState = "active" | "gone" | "unknown";

export interface RunLockOptions {
  /** Heartbeat age after which a holder on another host counts as gone (default 30 minutes). */
  readonly staleAfterMs?: number;
  /** Asks the scheduler about a holder's SLURM job (src/experiment/slurmQueue.ts); without it, heartbeats decide. */
  readonly slurmJobState?: (job: string) => SchedulerJobState;
}

export type RunLockState =
  | { readonly kind: "free" }
  | { readonly kind: "held"; readonly holder: RunLockHolder }
  | { readonly kind: "stale"; readonly holder: RunLockHolder | null; readonly reason: string };

export const DEFAULT_STALE_AFTER_MS = 30 * 60 * 1000;
/** A `.lock.break` older than this was left by a process that died while breaking a lock (it takes milliseconds). */
const BREAK_LOCK_STALE_MS = 60 * 1000;

/** A held lock. `heartbeat()` after each epoch; `release()` when done (also after a failure). */
export class RunLock {
  constructor(
    readonly file: string,
    readonly holder: RunLockHolder,
  ) {}

  /** Touches the lock file, if it is still ours, so holders on other hosts see this process alive. */
  heartbeat(): void {
    if (readHolder(this.file)?.token !== this.holder.token) return;
    const now = new Date();
    try {
      fs.utimesSync(this.file, now, now);
    } catch {
      // gone meanwhile: nothing to refresh
    }
  }

  /** Removes the lock file if it is still ours (a process that judged us stale may have taken it over). */
  release(): void {
    if (readHolder(this.file)?.token === this.holder.token) fs.rmSync(this.file, { force: true });
  }
}

/** The lock of `runDir` (created if missing); throws a SeaError with LOCKED_EXIT_CODE when a live process holds it. */
export function acquireRunLock(runDir: string, options: RunLockOptions = {}): RunLock {
  fs.mkdirSync(runDir, { recursive: true });
  const file = path.join(runDir, RUN_LOCK_FILE);
  const holder = currentHolder();
  if (tryCreate(file, holder)) return new RunLock(file, holder);
  const state = inspectRunLock(runDir, options);
  if (state.kind === "held") throw lockedError(file, state.holder);
  if (state.kind === "stale" && breakStaleLock(file, state.holder, options) && tryCreate(file, holder)) return new RunLock(file, holder);
  // Someone else created or broke the lock between our looks: theirs now.
  const now = inspectRunLock(runDir, options);
  throw lockedError(file, now.kind === "held" ? now.holder : null);
}

/** Runs `work` holding `runDir`'s lock, released afterwards whatever happens (a killed process leaves it stale). */
export async function withRunLock<T>(runDir: string, options: RunLockOptions, work: (lock: RunLock) => Promise<T>): Promise<T> {
  const lock = acquireRunLock(runDir, options);
  try {
    return await work(lock);
  } finally {
    lock.release();
  }
}

/** Whether `runDir`'s lock is free, held by a live process, or stale (and why). */
export function inspectRunLock(runDir: string, options: RunLockOptions = {}): RunLockState {
  const file = path.join(runDir, RUN_LOCK_FILE);
  let mtimeMs: number;
  try {
    mtimeMs = fs.statSync(file).mtimeMs;
  } catch {
    return { kind: "free" };
  }
  const holder = readHolder(file);
  // Unreadable: a holder that died between creating and writing it (or a foreign file); judge it by age alone.
  if (!holder) {
    return Date.now() - mtimeMs > BREAK_LOCK_STALE_MS ? { kind: "stale", holder: null, reason: "unreadable lock file" } : { kind: "held", holder: unknownHolder() };
  }
  const gone = holderGone(holder, mtimeMs, options);
  return gone === null ? { kind: "held", holder } : { kind: "stale", holder, reason: gone };
}

export function describeHolder(holder: RunLockHolder): string {
  const job = holder.slurmJob ? `, SLURM job ${holder.slurmJob}` : "";
  return `pid ${holder.pid} on ${holder.host}${job}, since ${holder.startedAt}`;
}

/** Why the holder is gone, or null when it (may) still run. */
function holderGone(holder: RunLockHolder, mtimeMs: number, options: RunLockOptions): string | null {
  if (holder.host === os.hostname()) {
    if (!pidAlive(holder.pid)) return `pid ${holder.pid} no longer runs on ${holder.host}`;
    const start = processStartTime(holder.pid);
    if (holder.processStart !== null && start !== null && start !== holder.processStart) return `pid ${holder.pid} on ${holder.host} is another process now`;
    return null;
  }
  if (holder.slurmJob && options.slurmJobState) {
    const state = options.slurmJobState(holder.slurmJob);
    if (state === "gone") return `SLURM job ${holder.slurmJob} is no longer queued or running`;
    if (state === "active") return null;
  }
  const staleAfter = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  const age = Date.now() - mtimeMs;
  return age > staleAfter ? `no heartbeat from ${holder.host} for ${Math.round(age / 60000)} min` : null;
}

/**
 * Replaces a stale lock: under `.lock.break`, re-reads the lock and removes it only if it is still the holder
 * judged stale (same token). Returns whether the lock file is gone now.
 */
function breakStaleLock(file: string, stale: RunLockHolder | null, options: RunLockOptions): boolean {
  const breaker = `${file}.break`;
  if (!tryCreate(breaker, currentHolder())) {
    const age = ageMs(breaker);
    if (age === null || age < BREAK_LOCK_STALE_MS) return false;
    fs.rmSync(breaker, { force: true });
    if (!tryCreate(breaker, currentHolder())) return false;
  }
  try {
    const now = readHolder(file);
    if (now?.token !== stale?.token) return false;
    const state = inspectRunLock(path.dirname(file), options);
    if (state.kind !== "stale") return false;
    fs.rmSync(file, { force: true });
    return true;
  } finally {
    fs.rmSync(breaker, { force: true });
  }
}

/** Creates `file` exclusively with the holder's record; false if it exists. */
function tryCreate(file: string, holder: RunLockHolder): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, "wx");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new SeaError(`cannot create lock file (${(e as Error).message})`, { where: file, cause: e });
  }
  try {
    fs.writeSync(fd, JSON.stringify(holder) + "\n");
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

function readHolder(file: string): RunLockHolder | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<RunLockHolder>;
    return typeof v.token === "string" && typeof v.host === "string" && typeof v.pid === "number" ? (v as RunLockHolder) : null;
  } catch {
    return null;
  }
}

function currentHolder(): RunLockHolder {
  const arrayJob = process.env.SLURM_ARRAY_JOB_ID;
  const arrayTask = process.env.SLURM_ARRAY_TASK_ID;
  const slurmJob = arrayJob && arrayTask ? `${arrayJob}_${arrayTask}` : (process.env.SLURM_JOB_ID ?? null);
  return {
    token: randomBytes(8).toString("hex"),
    host: os.hostname(),
    pid: process.pid,
    processStart: processStartTime(process.pid),
    slurmJob,
    startedAt: new Date().toISOString(),
  };
}

function unknownHolder(): RunLockHolder {
  return { token: "", host: "?", pid: 0, processStart: null, slurmJob: null, startedAt: "?" };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command name, which may hold spaces), or null. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function ageMs(file: string): number | null {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

function lockedError(file: string, holder: RunLockHolder | null): SeaError {
  const who = holder ? describeHolder(holder) : "another process";
  return new SeaError(`this run is being trained by ${who}; not starting a second copy`, { where: file, exitCode: LOCKED_EXIT_CODE });
}
