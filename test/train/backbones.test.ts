import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../../src/backend/select";
import { loadDatasetArg } from "../../src/data/resolveDataset";
import type { Dataset } from "../../src/data/types";
import { buildRunConfig } from "../../src/train/runSetup";
import { trainRun } from "../../src/train/trainer";
import { backboneNames, backboneDefinition } from "../../src/model/backbones/registry";
import type { RunMetrics } from "../../src/train/runRecord";
import { assertResumeMatchesWhole } from "./resumeCheck";

let dataset: Dataset;
const FAST = ["batchSize=256", "clubSteps=5", "miSteps=20", "evalBatchSize=128", "lr=0.005"];

before(async () => {
  await selectBackend({ quiet: true });
  dataset = await loadDatasetArg("tiny");
});

function tmp(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `sea-backbone-${name}-`));
}

for (const backbone of ["sea", "lightgcn", "vbpr", "freedom"]) {
  for (const variant of ["plain", "sea"]) {
    test(`${backbone} + ${variant} trains on tiny and records its run (or is refused when it cannot separate)`, async () => {
      assert.ok(backboneNames().includes(backbone), `${backbone} is registered`);
      const config = buildRunConfig({ variant, sets: FAST, explicit: { epochs: 1, backbone } });
      const out = tmp(`${backbone}-${variant}`);
      if (variant === "sea" && !backboneDefinition(backbone).readsContent) {
        await assert.rejects(trainRun({ dataset, config, variant, outDir: out, quiet: true }), /reads no item content/);
        return;
      }
      const before = tf.memory().numTensors;
      const m = await trainRun({ dataset, config, variant, outDir: out, quiet: true });
      assert.equal(tf.memory().numTensors, before, "no tensor outlives the run");
      assert.equal(m.backbone, backbone);
      assert.equal(m.epochs.length, 1);
      for (const e of m.epochs) assert.ok(Number.isFinite(e.loss.total!) && Number.isFinite(e.valid["recall@20"]!), JSON.stringify(e.loss));
      const written = JSON.parse(fs.readFileSync(path.join(out, "metrics.json"), "utf8")) as RunMetrics;
      assert.equal(written.backbone, backbone);
      assert.ok(fs.existsSync(path.join(out, "embeddings", "users.npy")) && fs.existsSync(path.join(out, "per_user.json")));
      const parts = fs.readdirSync(path.join(out, "embeddings")).filter((f) => f.startsWith("item_"));
      if (backboneDefinition(backbone).readsContent) {
        assert.equal(parts.length, 2 * dataset.modalities.length, "generic and unique parts per modality");
        assert.ok(m.epochs.some((e) => e.mi !== undefined), "MI measured on the parts");
      } else {
        assert.deepEqual(parts, [], "an ID-only backbone has no parts");
      }
      if (variant === "sea") assert.ok(m.epochs[0]!.loss.club !== undefined && m.epochs[0]!.loss.solosim !== undefined, "SEA's terms are in the loss");
    });
  }
}

test("a resumed FREEDOM + SEA run (per-epoch edge pruning, CLUB state) ends as the uninterrupted one", async () => {
  const config = buildRunConfig({ variant: "sea", sets: [...FAST, "miEvery=0"], explicit: { epochs: 3, backbone: "freedom" } });
  await assertResumeMatchesWhole(dataset, config, "sea");
});

test("a checkpoint of one backbone is refused by a run of another", async () => {
  const dir = tmp("other");
  const vbpr = buildRunConfig({ variant: "plain", sets: FAST, explicit: { epochs: 1, backbone: "vbpr" } });
  await trainRun({ dataset, config: vbpr, variant: "plain", outDir: dir, quiet: true });
  const lightgcn = buildRunConfig({ variant: "plain", sets: FAST, explicit: { epochs: 2, backbone: "lightgcn" } });
  await assert.rejects(trainRun({ dataset, config: lightgcn, variant: "plain", outDir: dir, quiet: true, resume: true }), /made with backbone vbpr, this run uses lightgcn/);
});
