import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { notebookPlan, SMALL_ABLATION } from "../../src/notebook/plan";

const repo = path.resolve(__dirname, "..", "..");

test("npm start runs exactly the notebooks' small ablation, so the notebooks reuse its runs", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8")) as { scripts: Record<string, string> };
  const args = pkg.scripts.start!.split(/\s+/);
  const value = (flag: string): string => args[args.indexOf(flag) + 1]!;
  const sets = args.flatMap((a, i) => (a === "--set" ? [args[i + 1]!] : []));
  const plan = notebookPlan({ SEA_NOTEBOOK_SIZE: "small" });
  assert.equal(value("--dataset"), "small");
  assert.equal(value("--epochs"), String(SMALL_ABLATION.epochs));
  assert.equal(value("--seeds"), SMALL_ABLATION.seeds.join(","));
  assert.deepEqual(sets, [...SMALL_ABLATION.sets]);
  assert.equal(path.resolve(repo, value("--out")), path.join(plan.runsDir, "ablation"));
});

test("SEA_NOTEBOOK_SIZE picks tiny, small (default) or a dataset folder", () => {
  assert.equal(notebookPlan({}).size, "small");
  assert.equal(notebookPlan({ SEA_NOTEBOOK_SIZE: "tiny" }).dataset, "tiny");
  const custom = notebookPlan({ SEA_NOTEBOOK_SIZE: "/data/mmrec/baby" });
  assert.equal(custom.size, "custom");
  assert.equal(custom.dataset, "/data/mmrec/baby");
  assert.equal(path.basename(custom.runsDir), "baby");
});
