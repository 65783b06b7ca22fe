import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const REPO = path.resolve(__dirname, "../..");

function sea(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(REPO, "bin/sea.js"), ...args], { cwd: REPO, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("sea ablate on tiny: trains the grid, writes results.csv and prints the table with the tests against sea", () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "sea-ablate-"));
  try {
    const r = sea("ablate", "--dataset", "tiny", "--variants", "sea,no-club", "--seeds", "1,2", "--epochs", "1", "--out", out);
    assert.equal(r.status, 0, r.stderr);
    const rows = fs.readFileSync(path.join(out, "results.csv"), "utf8").trim().split("\n");
    assert.equal(rows.length, 1 + 2 * 2, "a header and one row per variant × seed");
    assert.match(r.stdout, /p \(paired t\)/);
    assert.match(r.stdout, /p \(Wilcoxon\)/);
    for (const variant of ["sea", "no-club"]) assert.match(r.stdout, new RegExp(`\\b${variant}\\b`));
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("sea ablate with an unknown variant: one-line error naming it, exit 1, nothing trained", () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "sea-ablate-"));
  try {
    const r = sea("ablate", "--dataset", "tiny", "--variants", "sea,no-such-variant", "--seeds", "1", "--epochs", "1", "--out", out);
    assert.equal(r.status, 1);
    const errors = r.stderr.trimEnd().split("\n").filter((l) => l.startsWith("sea: error"));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0]!, /no-such-variant/);
    assert.deepEqual(fs.readdirSync(out), []);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("sea ablate --backbones crosses backbones with variants: the plug-in table, lightgcn × sea left out with its reason", () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "sea-ablate-plugin-"));
  try {
    const r = sea("ablate", "--dataset", "tiny", "--backbones", "lightgcn,vbpr", "--variants", "plain,sea", "--seeds", "1", "--epochs", "1", "--set", "miEvery=0", "--out", out);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /lightgcn\/sea\/seed-1: not trained: backbone lightgcn reads no item content/);
    const rows = fs.readFileSync(path.join(out, "results.csv"), "utf8").trim().split("\n");
    assert.match(rows[0]!, /^backbone,variant,seed,/);
    assert.deepEqual(rows.slice(1).map((l) => l.split(",").slice(0, 3).join(",")), ["lightgcn,plain,1", "vbpr,plain,1", "vbpr,sea,1"]);
    assert.match(r.stdout, /backbone/);
    assert.match(r.stdout, /vbpr/);
    assert.ok(fs.existsSync(path.join(out, "vbpr", "sea", "seed-1", "metrics.json")));
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test("sea train with a separation over an ID-only backbone: one error naming the flag, exit 1, nothing written", () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sea-train-lightgcn-")), "run");
  const r = sea("train", "--dataset", "tiny", "--backbone", "lightgcn", "--separation", "sea", "--epochs", "1", "--out", out);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /sea: error: --backbone: backbone lightgcn reads no item content, so separation variant sea has nothing to separate; use --separation plain/);
  assert.equal(fs.existsSync(out), false);
  const unknown = sea("train", "--dataset", "tiny", "--backbone", "nope", "--out", out);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /--backbone: unknown backbone "nope" \(known: sea, lightgcn, vbpr, freedom\)/);
});
