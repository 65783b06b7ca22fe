import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { csvWithoutSeconds, runContents } from "../experiment/runContents";

const REPO = path.resolve(__dirname, "../..");
const SEA = path.join(REPO, "bin/sea.js");

function sea(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SEA, ...args], { cwd: REPO, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A tiny experiment: 2 variants × 2 seeds, short settings; 8 epochs leave time to kill a cell part way. */
function writeExperiment(dir: string, extra = ""): string {
  const file = path.join(dir, "exp.yaml");
  fs.writeFileSync(
    file,
    `name: e2e
output: ${path.join(dir, "unused")}
datasets: [tiny]
variants: [sea, no-club]
seeds: [1, 2]
epochs: 8
set: {batchSize: 256, clubSteps: 5, miSteps: 30, miEvery: 2, evalBatchSize: 128}
${extra}`,
  );
  return file;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | null): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("local executor: --jobs 2 equals --jobs 1 bit for bit, a re-run skips finished cells, a cell killed with -9 resumes to the same result", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sea-exp-e2e-"));
  try {
    const file = writeExperiment(dir);
    const outA = path.join(dir, "a");
    const outB = path.join(dir, "b");

    const a = sea("experiment", "run", file, "--jobs", "2", "--out", outA);
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stderr, /4 cells in .*; 0 finished earlier, 0 being trained elsewhere, 4 to train/);
    assert.match(a.stderr, /local executor: 2 worker\(s\), 1 thread\(s\) each/);
    assert.match(a.stdout, /p \(paired t\)/);
    assert.equal(fs.readFileSync(path.join(outA, "results.csv"), "utf8").trim().split("\n").length, 5);

    const again = sea("experiment", "run", file, "--jobs", "2", "--out", outA);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /4 finished earlier, 0 being trained elsewhere, 0 to train/);
    assert.doesNotMatch(again.stderr, /started/);

    // --jobs 1 into another folder; kill -9 the first cell's training process after its second epoch.
    const run = spawn(process.execPath, [SEA, "experiment", "run", file, "--jobs", "1", "--out", outB], { cwd: REPO });
    let stderr = "";
    run.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => run.on("close", (code) => resolve(code)));
    const victim = path.join(outB, "sea", "seed-1");
    const pid = await waitFor("cell sea/seed-1 to record two epochs", 60_000, () => {
      try {
        const epochs = (JSON.parse(fs.readFileSync(path.join(victim, "metrics.json"), "utf8")) as { epochs: unknown[] }).epochs.length;
        const lock = JSON.parse(fs.readFileSync(path.join(victim, ".lock"), "utf8")) as { pid: number };
        return epochs >= 2 && epochs < 8 ? lock.pid : null;
      } catch {
        return null;
      }
    });
    process.kill(pid, "SIGKILL");
    const code = await exited;
    assert.equal(code, 1, stderr);
    assert.match(stderr, /sea\/seed-1: FAILED \(killed by SIGKILL\); log: \S+train\.log/);
    assert.match(stderr, /no-club\/seed-2: done/, "the other cells went on");

    const status = sea("experiment", "status", file, "--out", outB, "--json");
    assert.equal(status.status, 0, status.stderr);
    const cells = (JSON.parse(status.stdout) as { cells: { id: string; state: string; detail: string }[] }).cells;
    const killed = cells.find((c) => c.id === "sea/seed-1")!;
    assert.equal(killed.state, "failed");
    assert.match(killed.detail, /interrupted at epoch \d\/8 \(pid \d+ no longer runs/);
    assert.deepEqual(cells.filter((c) => c.state === "done").length, 3);
    assert.match(sea("experiment", "collect", file, "--out", outB).stderr, /1 of 4 cells are not finished/);

    const resumed = sea("experiment", "run", file, "--jobs", "1", "--out", outB);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /3 finished earlier, 0 being trained elsewhere, 1 to train/);
    assert.match(fs.readFileSync(path.join(victim, "train.log"), "utf8"), /resuming sea from epoch [2-7]/);

    const contentsA = runContents(outA);
    const contentsB = runContents(outB);
    assert.equal(contentsA.size, 8);
    assert.deepEqual([...contentsB.keys()].sort(), [...contentsA.keys()].sort());
    for (const [key, value] of contentsA) assert.equal(contentsB.get(key), value, `${key} differs between --jobs 2 and --jobs 1 (killed and resumed)`);
    assert.equal(csvWithoutSeconds(path.join(outB, "results.csv")), csvWithoutSeconds(path.join(outA, "results.csv")));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("local executor: a failing cell is reported with its log and the others go on", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sea-exp-fail-"));
  try {
    // lr = 1e30 makes the loss NaN in the first epoch: `sea train` stops with exit 3.
    const file = path.join(dir, "exp.yaml");
    fs.writeFileSync(
      file,
      `name: fails
output: ${path.join(dir, "out")}
datasets: [tiny]
variants: [no-both]
seeds: [1]
epochs: 1
set: {batchSize: 256, miEvery: 0, evalBatchSize: 128}
configSets: {ok: {}, broken: {lr: 1.0e+30}}
`,
    );
    const r = sea("experiment", "run", file);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /broken\/no-both\/seed-1: FAILED \(exit 3\): loss became NaN\/Inf in epoch 1.*; log: \S+broken\/no-both\/seed-1\/train\.log/);
    assert.match(r.stderr, /ok\/no-both\/seed-1: done/);
    assert.match(r.stderr, /sea: error: 1 of 2 cells finished \(1 failed\)/);
    const status = sea("experiment", "status", file);
    assert.match(status.stdout, /done 1 {3}running 0 {3}pending 0 {3}failed 1/);
    assert.match(status.stdout, /failed {3}broken\/no-both\/seed-1 +loss became NaN\/Inf in epoch 1.*\(exit 3\) — log: /);
    const collected = sea("experiment", "collect", file, "--partial");
    assert.equal(collected.status, 0, collected.stderr);
    assert.equal(fs.readFileSync(path.join(dir, "out", "results.csv"), "utf8").trim().split("\n").length, 2);
    assert.match(fs.readFileSync(path.join(dir, "out", "results.csv"), "utf8"), /^config_set,variant,seed,/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
