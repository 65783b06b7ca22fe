import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { validateExperiment } from "../../src/experiment/spec";
import { freezeExperiment, planExperiment } from "../../src/experiment/plan";
import { arraySpec, renderJobScript, resolveSlurmSettings } from "../../src/experiment/slurmExecutor";
import { parseTaskLines } from "../../src/experiment/slurmQueue";
import { shellQuote } from "../../src/experiment/cellCommand";

const REPO = path.resolve(__dirname, "../..");

test("array specs: sorted ranges, with a limit on tasks at once", () => {
  assert.equal(arraySpec([0, 1, 2, 3], null), "0-3");
  assert.equal(arraySpec([9, 7, 3, 0, 1, 10], 4), "0-1,3,7,9-10%4");
  assert.equal(arraySpec([5], null), "5");
});

test("shell quoting leaves plain words alone and quotes the rest", () => {
  assert.equal(shellQuote("/a/b-c_d.json"), "/a/b-c_d.json");
  assert.equal(shellQuote("it's here"), `'it'"'"'s here'`);
  const r = spawnSync("bash", ["-c", `printf %s ${shellQuote("a $b 'c' \"d\"")}`], { encoding: "utf8" });
  assert.equal(r.stdout, "a $b 'c' \"d\"");
});

test("squeue/sacct lines: array tasks parsed, pending ranges and plain jobs skipped", () => {
  const tasks = parseTaskLines("12_3|RUNNING\n12_[4-7]|PENDING\n13|COMPLETED\n12_1|CANCELLED by 0\n12_2|FAILED+\n", "sacct");
  assert.deepEqual(
    tasks.map((t) => [t.job, t.task, t.state]),
    [
      ["12_3", 3, "RUNNING"],
      ["12_1", 1, "CANCELLED"],
      ["12_2", 2, "FAILED"],
    ],
  );
});

test("the job script: one array task per cell, SLURM settings, absolute paths, and it trains its cell when run", () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "sea-jobscript-"));
  try {
    const spec = validateExperiment(
      {
        name: "js",
        output: out,
        datasets: ["tiny"],
        variants: ["sea", "no-club"],
        seeds: [1],
        epochs: 1,
        set: { batchSize: 256, clubSteps: 2, miEvery: 0, evalBatchSize: 128 },
        slurm: { partition: "cpu", time: "00:10:00", mem: "1G", extra: ["--account=lab"], setup: ["echo setting up"] },
      },
      "js.yaml",
    );
    const plan = planExperiment({ spec, file: path.join(out, "js.yaml"), label: "js.yaml" }, {}, true);
    const settings = resolveSlurmSettings(plan, { maxParallel: 8, extra: ["--qos=low"] });
    const script = renderJobScript(plan, plan.expansion.cells, settings);
    for (const line of [
      "#SBATCH --job-name=sea-js",
      "#SBATCH --array=0-1%8",
      "#SBATCH --cpus-per-task=1",
      "#SBATCH --mem=1G",
      "#SBATCH --time=00:10:00",
      "#SBATCH --partition=cpu",
      "#SBATCH --account=lab",
      "#SBATCH --qos=low",
      "export OPENBLAS_NUM_THREADS=1",
      "echo setting up",
    ]) {
      assert.ok(script.split("\n").includes(line), `missing line: ${line}`);
    }
    assert.ok(script.includes(`${process.execPath} ${path.join(REPO, "bin/sea.js")} train --dataset /`), "node and sea by absolute path");
    assert.match(script, / --resume --experiment \/\S+experiment\.json --cell 1\)/);

    // Run the script as SLURM would run task 1 (bash, with the array variables set): it trains cell 1 only.
    freezeExperiment(plan);
    const file = path.join(out, "job.sh");
    fs.writeFileSync(file, script);
    const r = spawnSync("bash", [file], { encoding: "utf8", env: { ...process.env, SLURM_ARRAY_JOB_ID: "900", SLURM_ARRAY_TASK_ID: "1", SLURM_JOB_ID: "901" } });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const [cell0, cell1] = plan.expansion.cells;
    const runDir = plan.layout.runDir(cell1!);
    const log = fs.readFileSync(path.join(runDir, "train.log"), "utf8");
    assert.match(log, /^=== \S+ SLURM task 900_1 on \S+: cell 1 \(no-club\/seed-1\), 1 thread\(s\)/);
    assert.match(log, /no-club: best epoch 1 \(epochs\)/);
    const record = JSON.parse(fs.readFileSync(path.join(runDir, "config.json"), "utf8"));
    assert.deepEqual(record.experiment, { name: "js", file: path.join(out, "js.yaml"), fingerprint: plan.fingerprint, cell: "no-club/seed-1", index: 1, threadsPerCell: 1 });
    assert.equal(record.backend.threads, record.backend.name === "native" ? 1 : record.backend.threads);
    assert.ok(!fs.existsSync(path.join(runDir, ".lock")), "the lock is released");
    assert.ok(!fs.existsSync(plan.layout.runDir(cell0!)), "other cells untouched");

    const unknown = spawnSync("bash", [file], { encoding: "utf8", env: { ...process.env, SLURM_ARRAY_JOB_ID: "900", SLURM_ARRAY_TASK_ID: "7" } });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /no cell for array task 7/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("sea train --experiment refuses flags that disagree with the frozen cell", () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "sea-cellflags-"));
  try {
    const spec = validateExperiment({ name: "cf", output: out, datasets: ["tiny"], variants: ["sea"], seeds: [1], epochs: 1 }, "cf.yaml");
    const plan = planExperiment({ spec, file: "", label: "cf.yaml" }, {}, true);
    freezeExperiment(plan);
    const cell = plan.expansion.cells[0]!;
    const r = spawnSync(
      process.execPath,
      [path.join(REPO, "bin/sea.js"), "train", "--dataset", "tiny", "--variant", "no-club", "--out", plan.layout.runDir(cell), "--experiment", plan.layout.definitionFile, "--cell", "0"],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^sea: error: --variant: cell 0 \(sea\/seed-1\) of \S+ expects sea, not no-club\n$/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
