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
import { VARIANT_NAMES } from "../../src/model/variants";
import { evaluateFullRanking } from "../../src/eval/fullRanking";
import { Rng } from "../../src/util/rng";
import { SeaError } from "../../src/util/errors";
import type { RunMetrics } from "../../src/train/runRecord";
import { groundTruthFactors } from "../../src/train/analysisHooks";
import { saveCheckpoint } from "../../src/train/checkpoint";
import { assertResumeMatchesWhole } from "./resumeCheck";

let dataset: Dataset;
// Small, fast settings for the `tiny` preset; the method's structure is unchanged.
const FAST = ["batchSize=256", "clubSteps=5", "miSteps=30", "evalBatchSize=128"];

before(async () => {
  await selectBackend({ quiet: true });
  dataset = await loadDatasetArg("tiny");
});

function tmp(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `sea-${name}-`));
}

test("every variant trains one epoch on tiny and records losses, metrics and MI", async () => {
  for (const variant of VARIANT_NAMES) {
    const config = buildRunConfig({ variant, sets: FAST, explicit: { epochs: 1 } });
    const out = tmp(variant);
    const m = await trainRun({ dataset, config, variant, outDir: out, quiet: true, groundTruth: groundTruthFactors(dataset) });
    assert.equal(m.epochs.length, 1, variant);
    const e = m.epochs[0]!;
    assert.ok(Number.isFinite(e.loss.total!) && Number.isFinite(e.loss.bpr!), `${variant} losses finite`);
    if (variant === "sea") assert.ok("club" in e.loss && "solosim" in e.loss && "clubNll" in e.loss);
    if (variant === "no-both" || variant === "subtraction") assert.ok(!("club" in e.loss));
    if (variant === "orthogonal") assert.ok("orthogonal" in e.loss);
    if (variant === "neg-l2") assert.ok("negL2" in e.loss);
    assert.ok(e.valid["recall@20"]! >= 0 && e.valid["recall@20"]! <= 1);
    assert.ok(e.mi && Number.isFinite(e.mi["club:image"]!) && Number.isFinite(e.mi["infonce:generic:image|text"]!), `${variant} MI`);
    assert.ok(m.recovery && Number.isFinite(m.recovery["image.generic→shared"]!), `${variant} recovery`);
    for (const f of ["metrics.json", "per_user.json", "checkpoint.bin", "embeddings/users.npy", "embeddings/item_text_unique.npy"]) {
      assert.ok(fs.existsSync(path.join(out, f)), `${variant}: ${f}`);
    }
  }
});

test("a short run on tiny beats random scores on Recall@20 by a clear margin", async () => {
  const config = buildRunConfig({ variant: "sea", sets: [...FAST, "lr=0.005", "miEvery=0"], explicit: { epochs: 15 } });
  const m = await trainRun({ dataset, config, variant: "sea", outDir: tmp("learn"), quiet: true });
  const rng = new Rng(5);
  const random = evaluateFullRanking({
    train: dataset.train,
    heldOut: dataset.test,
    scoreUsers: (ids) => {
      const s = new Float32Array(ids.length * dataset.nItems);
      for (let i = 0; i < s.length; i++) s[i] = rng.next();
      return s;
    },
    ks: [20],
  }).metrics["recall@20"]!;
  const trained = m.best.test["recall@20"]!;
  assert.ok(trained > 1.5 * random, `trained ${trained.toFixed(4)} vs random ${random.toFixed(4)}`);
});

test("a resumed run ends with the same result as an uninterrupted one", async () => {
  const config = buildRunConfig({ variant: "sea", sets: [...FAST, "miSteps=20"], explicit: { epochs: 3 } });
  await assertResumeMatchesWhole(dataset, config, "sea");
});

test("a NaN loss stops the run with a message and keeps the metrics written so far", async () => {
  const config = buildRunConfig({ variant: "sea", sets: [...FAST, "lr=1e30", "miEvery=0"], explicit: { epochs: 5 } });
  const dir = tmp("nan");
  await assert.rejects(
    trainRun({ dataset, config, variant: "sea", outDir: dir, quiet: true }),
    (e: unknown) => e instanceof SeaError && /NaN\/Inf/.test(e.message) && e.exitCode !== 0,
  );
  const m = JSON.parse(fs.readFileSync(path.join(dir, "metrics.json"), "utf8")) as RunMetrics;
  assert.equal(m.stopReason, "nan");
});

test("no tensors leak across epochs", async () => {
  const config = buildRunConfig({ variant: "sea", sets: [...FAST, "miSteps=10"], explicit: { epochs: 4 } });
  const counts: number[] = [];
  const before = tf.memory().numTensors;
  await trainRun({ dataset, config, variant: "sea", outDir: tmp("leak"), quiet: true, onEpoch: () => counts.push(tf.memory().numTensors) });
  assert.equal(counts.length, 4);
  assert.ok(counts.every((c) => c === counts[1]), `tensor counts per epoch: ${counts.join(", ")}`);
  assert.equal(tf.memory().numTensors, before, "everything the run allocated is released");
});

test("a run that reached its epoch limit continues when resumed with a larger one", async () => {
  const dir = tmp("extend");
  const short = buildRunConfig({ variant: "no-both", sets: [...FAST, "miEvery=0"], explicit: { epochs: 1 } });
  await trainRun({ dataset, config: short, variant: "no-both", outDir: dir, quiet: true });
  const longer = buildRunConfig({ variant: "no-both", sets: [...FAST, "miEvery=0"], explicit: { epochs: 2 } });
  const m = await trainRun({ dataset, config: longer, variant: "no-both", outDir: dir, quiet: true, resume: true });
  assert.deepEqual(m.epochs.map((e) => e.epoch), [1, 2]);
  assert.equal(m.stopReason, "epochs");
});

test("a checkpoint of another layout is refused with a message naming it, and left in place", async () => {
  const config = buildRunConfig({ variant: "sea", sets: FAST, explicit: { epochs: 1 } });
  const out = tmp("old-checkpoint");
  const file = path.join(out, "checkpoint.bin");
  // What the previous version wrote: trainer state without a layout number (its tensors do not matter here).
  saveCheckpoint(file, { epoch: 1, sinceBest: 0, finished: false, metrics: { dataset: { fingerprint: dataset.fingerprint } } }, []);
  const before = fs.readFileSync(file);
  await assert.rejects(
    trainRun({ dataset, config, variant: "sea", outDir: out, resume: true, quiet: true }),
    (e: unknown) => e instanceof SeaError && e.message.includes(file) && /layout 1 is not this version's \(3\)/.test(e.message),
  );
  assert.deepEqual(fs.readFileSync(file), before, "the checkpoint is not overwritten");
});
