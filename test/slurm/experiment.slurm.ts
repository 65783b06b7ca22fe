/**
 * Integration test against a real SLURM (`npm run test:slurm`; CI's SLURM phase after scripts/slurm-local.sh
 * start). Submits a tiny 4-cell experiment through `--executor slurm`, kills one running array task with scancel
 * part way, resubmits, and checks that the collected results equal those of the same experiment run with
 * `--executor local --jobs 1`. Skipped with a message where sbatch is absent — except under CI=true, where
 * that is a failure. Every wait is bounded and every submitted job is cancelled at the end.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { csvWithoutSeconds, runContents } from "../experiment/runContents";

const REPO = path.resolve(__dirname, "../..");
const SEA = path.join(REPO, "bin/sea.js");
const EPOCHS = 12;

const sbatchPresent = spawnSync("sbatch", ["--version"]).error === undefined;
const inCi = process.env.CI === "true";
const skip = !sbatchPresent && !inCi ? "sbatch not found: SLURM's client commands are not installed (bash scripts/slurm-local.sh install && bash scripts/slurm-local.sh start)" : false;

function run(program: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(program, [...args], { cwd: REPO, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: (r.stderr ?? "") + (r.error ? String(r.error) : "") };
}

function sea(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return run(process.execPath, [SEA, ...args]);
}

interface CellStatusJson {
  id: string;
  index: number;
  state: string;
  detail: string;
  epochs: number;
}

function status(file: string, out: string): CellStatusJson[] {
  const r = sea("experiment", "status", file, "--out", out, "--json");
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { cells: CellStatusJson[] }).cells;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | null, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function queued(job: string): string[] {
  const r = run("squeue", ["-h", "-r", "-j", job, "-o", "%i|%T"]);
  return r.status === 0 ? r.stdout.split("\n").filter((l) => l.trim() !== "") : [];
}

test("SLURM: a 4-cell experiment as a job array, one task killed with scancel and resubmitted, equals --executor local --jobs 1", { skip, timeout: 600_000 }, async () => {
  assert.ok(sbatchPresent, "CI=true but sbatch is not installed: the SLURM test must run in CI (.ci/run installs slurm-wlm and starts scripts/slurm-local.sh)");
  const info = run("sinfo", ["-h", "-o", "%T"]);
  assert.equal(info.status, 0, `no SLURM controller answers (${info.stderr.trim()}); start one: bash scripts/slurm-local.sh start, then eval "$(bash scripts/slurm-local.sh env)"`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sea-slurm-"));
  const jobs: string[] = [];
  try {
    const file = path.join(dir, "exp.yaml");
    fs.writeFileSync(
      file,
      `name: slurm-it
output: ${path.join(dir, "slurm")}
datasets: [tiny]
variants: [sea, no-club]
seeds: [1, 2]
epochs: ${EPOCHS}
set: {batchSize: 256, clubSteps: 5, miSteps: 30, miEvery: 3, evalBatchSize: 128}
threadsPerCell: 1
slurm: {time: "00:10:00", mem: 1G}
`,
    );
    const outS = path.join(dir, "slurm");
    const outL = path.join(dir, "local");
    // The tiny preset is generated (into .cache) by the submission, before any task reads it.
    const dry = sea("experiment", "run", file, "--executor", "slurm", "--dry-run");
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /^#SBATCH --array=0-3$/m);
    assert.ok(!fs.existsSync(path.join(outS, ".experiment")), "--dry-run writes nothing");

    const submitted = sea("experiment", "run", file, "--executor", "slurm");
    assert.equal(submitted.status, 0, submitted.stderr);
    const job = /submitted SLURM job (\d+): 4 array task\(s\)/.exec(submitted.stderr)?.[1];
    assert.ok(job, submitted.stderr);
    jobs.push(job);

    // Kill a cell while its task runs, part way through its epochs.
    const victim = await waitFor("a running cell part way through", 150_000, () => {
      const running = new Set(queued(job).filter((l) => l.endsWith("|RUNNING")).map((l) => Number(l.split("|")[0]!.split("_")[1])));
      const cells = status(file, outS);
      return cells.find((c) => running.has(c.index) && c.epochs >= 2 && c.epochs <= EPOCHS - 4) ?? null;
    }, 100);
    const cancel = run("scancel", [`${job}_${victim.index}`]);
    assert.equal(cancel.status, 0, cancel.stderr);

    await waitFor(`job ${job} to leave the queue`, 150_000, () => (queued(job).length === 0 ? true : null));
    const afterKill = status(file, outS);
    const killed = afterKill.find((c) => c.id === victim.id)!;
    assert.equal(killed.state, "failed", JSON.stringify(killed));
    assert.ok(killed.epochs < EPOCHS, `killed at epoch ${killed.epochs}`);
    assert.deepEqual(afterKill.filter((c) => c.id !== victim.id).map((c) => c.state), ["done", "done", "done"], JSON.stringify(afterKill));

    // Resubmission: only the killed cell goes in, and it resumes from its checkpoint.
    const again = sea("experiment", "run", file, "--executor", "slurm");
    assert.equal(again.status, 0, again.stderr);
    const job2 = new RegExp(`submitted SLURM job (\\d+): 1 array task\\(s\\)`).exec(again.stderr)?.[1];
    assert.ok(job2, again.stderr);
    jobs.push(job2);
    assert.match(fs.readFileSync(path.join(outS, ".experiment", fs.readdirSync(path.join(outS, ".experiment"))[0]!, "slurm", "job-2.sh"), "utf8"), new RegExp(`^#SBATCH --array=${victim.index}$`, "m"));
    await waitFor("every cell done", 150_000, () => (status(file, outS).every((c) => c.state === "done") ? true : null));
    const log = fs.readFileSync(path.join(outS, victim.id, "train.log"), "utf8");
    assert.equal((log.match(/^=== .* SLURM task /gm) ?? []).length, 2, "two attempts in the cell's log");
    assert.match(log, new RegExp(`resuming ${victim.id.split("/")[0]} from epoch [1-9]`));

    const collected = sea("experiment", "collect", file);
    assert.equal(collected.status, 0, collected.stderr);

    const local = sea("experiment", "run", file, "--executor", "local", "--jobs", "1", "--out", outL);
    assert.equal(local.status, 0, local.stderr);

    assert.equal(csvWithoutSeconds(path.join(outS, "results.csv")), csvWithoutSeconds(path.join(outL, "results.csv")));
    const slurmRuns = runContents(outS);
    const localRuns = runContents(outL);
    assert.equal(slurmRuns.size, 8);
    for (const [key, value] of localRuns) assert.equal(slurmRuns.get(key), value, `${key} differs between SLURM (killed and resumed) and local --jobs 1`);
  } finally {
    if (jobs.length > 0) run("scancel", jobs);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
