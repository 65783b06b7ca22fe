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
