/**
 * The local executor: N worker processes on this machine, each running one cell's `sea train` at a time
 * (cellCommand.ts) with the experiment's thread count, so a cell gives the same bits under any N. Cells go to
 * workers in order; a failed cell is reported with its log and the others go on; a cell another live process
 * holds (its run lock) is left to that process. Each cell's output goes to its train.log.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "../data/resolveDataset";
import { LOCKED_EXIT_CODE } from "../train/runLock";
import { SeaError } from "../util/errors";
import type { RunMetrics } from "../train/runRecord";
import type { Cell } from "./cells";
import { cellCommand, cellEnvironment } from "./cellCommand";
import type { ExperimentPlan } from "./plan";

export interface LocalRunOptions {
  /** Worker processes at once. */
  readonly jobs: number;
  /** Progress lines (default: stderr). */
  readonly log?: (line: string) => void;
}

export interface CellOutcome {
  readonly cell: Cell;
  /** done: trained to the end; failed: exited non-zero or was killed; busy: another live process holds it. */
  readonly kind: "done" | "failed" | "busy";
  readonly seconds: number;
  /** Exit code, or the signal that ended the process. */
  readonly exit: string;
  readonly log: string;
}

/** Workers that fit: the cores divided by the threads each cell uses (at least one). */
export function defaultJobs(threadsPerCell: number): number {
  return Math.max(1, Math.floor(os.availableParallelism() / threadsPerCell));
}

/** Trains `cells` with up to `jobs` worker processes; resolves when every cell has ended one way or another. */
export async function runCellsLocally(plan: ExperimentPlan, cells: readonly Cell[], options: LocalRunOptions): Promise<CellOutcome[]> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + "\n"));
  const queue = [...cells];
  const outcomes: CellOutcome[] = [];
  const running = new Set<ChildProcess>();
  const total = cells.length;
  let started = 0;
  let interrupted: NodeJS.Signals | null = null;
  // A signal to this process stops the workers too (a terminal's Ctrl-C reaches them anyway; `kill` does not).
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = signal;
    queue.length = 0;
    for (const child of running) child.kill(signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await new Promise<void>((resolve) => {
      const next = (): void => {
        while (running.size < options.jobs && queue.length > 0) {
          const cell = queue.shift()!;
          started++;
          running.add(startCell(plan, cell, `[${started}/${total}]`, log, (outcome, child) => {
            running.delete(child);
            outcomes.push(outcome);
            next();
          }));
        }
        if (running.size === 0 && queue.length === 0) resolve();
      };
      next();
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  if (interrupted) {
    throw new SeaError(`interrupted by ${interrupted}: ${outcomes.filter((o) => o.kind === "done").length} of ${total} cells finished; run the experiment again to go on (interrupted cells resume from their checkpoints)`, { exitCode: 130 });
  }
  return outcomes.sort((a, b) => a.cell.index - b.cell.index);
}

function startCell(
  plan: ExperimentPlan,
  cell: Cell,
  tag: string,
  log: (line: string) => void,
  onEnd: (outcome: CellOutcome, child: ChildProcess) => void,
): ChildProcess {
  const logFile = plan.layout.logFile(cell);
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = fs.openSync(logFile, "a");
  fs.writeSync(fd, `=== ${new Date().toISOString()} local worker on ${os.hostname()}: cell ${cell.index} (${cell.id}), ${plan.source.spec.threadsPerCell} thread(s)\n`);
  const [program, ...args] = cellCommand(plan, cell);
  const begun = Date.now();
  log(`${tag} ${cell.id}: started`);
  const child = spawn(program!, args, { cwd: REPO_ROOT, env: cellEnvironment(plan), stdio: ["ignore", fd, fd] });
  let ended = false;
  const end = (code: number | null, signal: NodeJS.Signals | null, error?: Error): void => {
    if (ended) return;
    ended = true;
    fs.closeSync(fd);
    const seconds = (Date.now() - begun) / 1000;
    const exit = error ? `could not start (${error.message})` : signal ? `killed by ${signal}` : `exit ${code}`;
    const kind = code === 0 ? "done" : code === LOCKED_EXIT_CODE ? "busy" : "failed";
    if (kind === "done") log(`${tag} ${cell.id}: done in ${seconds.toFixed(1)} s${summary(plan.layout.runDir(cell))}`);
    else if (kind === "busy") log(`${tag} ${cell.id}: another process is training it; left to that one`);
    else log(`${tag} ${cell.id}: FAILED (${exit})${lastError(logFile)}; log: ${logFile}`);
    onEnd({ cell, kind, seconds, exit, log: logFile }, child);
  };
  child.on("error", (e) => end(null, null, e));
  child.on("exit", (code, signal) => end(code, signal));
  return child;
}

function summary(runDir: string): string {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(runDir, "metrics.json"), "utf8")) as RunMetrics;
    return ` (best epoch ${m.bestEpoch}, test recall@20 ${(m.best.test["recall@20"] ?? NaN).toFixed(4)})`;
  } catch {
    return "";
  }
}

/** The `sea: error: …` line a failed `sea train` printed last, if any. */
function lastError(logFile: string): string {
  try {
    const lines = fs.readFileSync(logFile, "utf8").split("\n").filter((l) => l.startsWith("sea: error:"));
    const last = lines[lines.length - 1];
    return last ? `: ${last.slice("sea: error: ".length)}` : "";
  } catch {
    return "";
  }
}
