import type { Command } from "commander";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { countOption } from "./options";
import { REPO_ROOT } from "../src/data/resolveDataset";
import { readExperimentFile } from "../src/experiment/spec";
import { runExperiment } from "../src/experiment/runExperiment";
import type { ExperimentPlan } from "../src/experiment/plan";
import { SeaError } from "../src/util/errors";

interface SweepBenchOptions {
  experiment: string;
  jobs: string;
  keep?: boolean;
  json?: boolean;
}

interface SweepTiming {
  jobs: number;
  seconds: number;
  cells: number;
  failed: number;
  dir: string;
  /** Mean CPU cores used by processes outside this benchmark while it ran (null without /proc). */
  otherCores: number | null;
}

/**
 * `sea bench sweep`: one experiment (by default the `small` ablation grid, experiments/small/ablation.yaml) run
 * from scratch by the local executor at each --jobs value, one after the other in this process, each into its
 * own temporary output folder; prints each wall time, the speed-up over the first, and whether every cell's
 * metrics (every epoch's losses, valid/test metrics, MI estimates, best epoch and its metrics, recovery, per-user
 * values) are bit-identical between them.
 */
export function registerSweepBench(bench: Command): void {
  bench
    .command("sweep")
    .description("the small ablation grid with --jobs 1 and --jobs 2 (local worker processes): wall time, speed-up, and whether every metric matched")
    .option("--experiment <file>", "experiment file", path.join(REPO_ROOT, "experiments", "small", "ablation.yaml"))
    .option("--jobs <list>", "worker counts to compare, the first is the baseline", "1,2")
    .option("--keep", "keep the run folders (printed) instead of deleting them")
    .option("--json", "print one JSON object")
    .action(async (opts: SweepBenchOptions) => runSweepBench(opts));
}

async function runSweepBench(opts: SweepBenchOptions): Promise<void> {
  const jobsList = opts.jobs.split(",").map((s) => countOption(s.trim(), "--jobs", 1));
  if (jobsList.length < 2) throw new SeaError("give at least two worker counts, e.g. 1,2", { where: "--jobs" });
  const spec = readExperimentFile(opts.experiment);
  const say = (line: string): void => {
    if (!opts.json) process.stdout.write(line + "\n");
  };
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "sea-bench-sweep-"));
  const timings: SweepTiming[] = [];
  const plans: ExperimentPlan[] = [];
  try {
    say(`sea bench sweep: ${opts.experiment} on ${os.availableParallelism()} cores, ${spec.threadsPerCell} thread(s) per cell`);
    for (const jobs of jobsList) {
      const dir = path.join(root, `jobs-${jobs}`);
      const others = new OtherProcessLoad();
      const started = process.hrtime.bigint();
      const result = await runExperiment(
        { spec, file: path.resolve(opts.experiment), label: opts.experiment },
        { executor: "local", jobs, outputDir: dir, log: () => undefined },
      );
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const otherCores = others.stop();
      const failed = result.outcomes.filter((o) => o.kind !== "done").length;
      timings.push({ jobs, seconds, cells: result.outcomes.length, failed, dir, otherCores });
      plans.push(result.plan);
      const load = otherCores === null ? "" : `; other processes on the machine used ${otherCores.toFixed(2)} cores meanwhile`;
      say(`  --jobs ${jobs}: ${seconds.toFixed(1)} s for ${result.outcomes.length} cells${failed > 0 ? ` (${failed} FAILED)` : ""}${load}`);
    }
    const base = timings[0]!;
    const mismatches = plans.slice(1).flatMap((plan) => compareCells(plans[0]!, plan));
    const speedups = timings.slice(1).map((t) => ({ jobs: t.jobs, speedup: base.seconds / t.seconds }));
    for (const s of speedups) say(`  speed-up of --jobs ${s.jobs} over --jobs ${base.jobs}: ${s.speedup.toFixed(2)}×`);
    const cells = plans[0]!.expansion.cells.length;
    say(
      mismatches.length === 0
        ? `  every metric matched: ${cells} cells × ${timings.length} runs, metrics.json (every epoch's losses, valid/test metrics, MI; best epoch; recovery) and per_user.json bit-identical`
        : `  METRICS DIFFER in ${mismatches.length} place(s): ${mismatches.slice(0, 5).join("; ")}`,
    );
    if (opts.keep) say(`  run folders kept in ${root}`);
    if (opts.json) process.stdout.write(JSON.stringify({ experiment: opts.experiment, cores: os.availableParallelism(), threadsPerCell: spec.threadsPerCell, timings, speedups, metricsMatched: mismatches.length === 0, mismatches }, null, 2) + "\n");
    if (mismatches.length > 0 || timings.some((t) => t.failed > 0)) process.exitCode = 1;
  } finally {
    if (!opts.keep) fs.rmSync(root, { recursive: true, force: true });
  }
}

/** Cells whose metrics.json (wall-clock seconds aside) or per_user.json differ between two runs of one experiment. */
function compareCells(a: ExperimentPlan, b: ExperimentPlan): string[] {
  const out: string[] = [];
  for (const cell of a.expansion.cells) {
    for (const file of ["metrics.json", "per_user.json"]) {
      const read = (plan: ExperimentPlan): string | null => {
        try {
          const value = JSON.parse(fs.readFileSync(path.join(plan.layout.runDir(cell), file), "utf8")) as unknown;
          return JSON.stringify(value, (key, v: unknown) => (key === "seconds" ? undefined : v));
        } catch {
          return null;
        }
      };
      const x = read(a);
      if (x === null || x !== read(b)) out.push(`${cell.id}/${file}`);
    }
  }
  return out;
}

/**
 * CPU used by processes that are not this benchmark or its workers, sampled from /proc once a second: a speed-up
 * measured while something else competes for the cores understates the executor, and the report says so.
 */
class OtherProcessLoad {
  private readonly timer: NodeJS.Timeout | null;
  private readonly started = Date.now();
  private previous = new Map<number, number>();
  private ticks = 0;

  constructor() {
    if (!fs.existsSync("/proc/self/stat")) {
      this.timer = null;
      return;
    }
    this.previous = this.sample();
    this.timer = setInterval(() => {
      const now = this.sample();
      for (const [pid, t] of now) this.ticks += Math.max(0, t - (this.previous.get(pid) ?? t));
      this.previous = now;
    }, 1000);
  }

  /** Mean cores used by other processes since the start. */
  stop(): number | null {
    if (this.timer === null) return null;
    clearInterval(this.timer);
    // /proc counts in clock ticks, 100 per second on Linux (USER_HZ).
    return this.ticks / 100 / ((Date.now() - this.started) / 1000);
  }

  /** pid → utime + stime (ticks) of every process outside this one's tree. */
  private sample(): Map<number, number> {
    const stats = new Map<number, { ppid: number; ticks: number }>();
    for (const name of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        stats.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
      } catch {
        // exited meanwhile
      }
    }
    const ours = (pid: number): boolean => {
      for (let p = pid, hops = 0; p > 1 && hops < 64; p = stats.get(p)?.ppid ?? 0, hops++) if (p === process.pid) return true;
      return false;
    };
    const out = new Map<number, number>();
    for (const [pid, s] of stats) if (!ours(pid)) out.set(pid, s.ticks);
    return out;
  }
}
