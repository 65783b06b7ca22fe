import { test, before } from "node:test";
import assert from "node:assert/strict";
import { selectBackend } from "../../src/backend/select";
import { loadDatasetArg } from "../../src/data/resolveDataset";
import type { Dataset } from "../../src/data/types";
import { buildRunConfig } from "../../src/train/runSetup";
import { createTrainingParts } from "../../src/train/trainingParts";
import { measureEpochMi } from "../../src/train/analysisHooks";
import { readAnalysisParts } from "../../src/train/embeddingsExport";
import { estimateClubMi } from "../../src/analysis/mi";
import { applyLinearMap, fitDistanceMaps, type LinearMap } from "../../src/analysis/distanceMaps";
import { holdoutSplit } from "../../src/analysis/linearProbe";
import { deriveSeed } from "../../src/util/rng";

let dataset: Dataset;
const FAST = ["miSteps=20", "miBootstrap=20", "miMapSteps=15"];

before(async () => {
  await selectBackend({ quiet: true });
  dataset = await loadDatasetArg("tiny");
});

const KEYS = [
  "club:image", "ksg:image", "gaussian:image", "cka:image",
  "club:text", "ksg:text", "gaussian:text", "cka:text",
  "infonce:generic:image|text", "infonce:unique:image|text", "gaussian:generic:image|text", "cka:generic:image|text",
];

/** The held-out CLUB bound on the given maps' outputs, computed directly with the panel's seed and split. */
function clubOnMaps(parts: ReturnType<typeof readAnalysisParts>[number], maps: { generic: LinearMap; unique: LinearMap }, seed: number, steps: number): number {
  const panelSeed = deriveSeed(seed, 13);
  const split = holdoutSplit(parts.n, 0.25, deriveSeed(panelSeed, 1), "MI panel holdout");
  const x = applyLinearMap(parts.generic, parts.n, maps.generic);
  const y = applyLinearMap(parts.unique, parts.n, maps.unique);
  return estimateClubMi(x, y, parts.n, maps.generic.outDim, maps.unique.outDim, { seed: panelSeed, steps, split, resamples: 20 }).estimate;
}

test("the per-epoch CLUB bound reads the model's own distance maps (sea) and fitted maps of the same shape (no-club)", () => {
  for (const variant of ["sea", "no-club"]) {
    const config = buildRunConfig({ variant, sets: FAST });
    const training = createTrainingParts(dataset, config);
    try {
      const parts = readAnalysisParts(training.model, training.data);
      const epoch = measureEpochMi(parts, training.model, config, true);
      assert.deepEqual(Object.keys(epoch.mi).sort(), [...KEYS].sort(), variant);
      for (const k of KEYS) {
        const [lo, hi] = epoch.miInterval[k]!;
        assert.ok(Number.isFinite(epoch.mi[k]!) && lo <= hi, `${variant} ${k}: ${epoch.mi[k]} [${lo}, ${hi}]`);
        const ref = epoch.references![k]!;
        assert.ok(Number.isFinite(ref.shuffled) && Number.isFinite(ref.self), `${variant} ${k} references`);
      }
      // CKA of a part with itself is 1; shuffled pairs sit far below the self level for every estimator.
      assert.ok(Math.abs(epoch.references!["cka:image"]!.self - 1) < 1e-9);
      for (const k of KEYS) assert.ok(epoch.references![k]!.shuffled < epoch.references![k]!.self, `${variant} ${k}: shuffled < self`);

      const own = training.model.distanceMaps();
      const image = parts.find((p) => p.name === "image")!;
      if (variant === "sea") {
        assert.ok(own, "sea has distance maps");
        const m = own.find((x) => x.name === "image")!;
        const host = (l: typeof m.generic): LinearMap => ({ inDim: l.w.shape[0]!, outDim: l.w.shape[1]!, w: l.w.dataSync() as Float32Array, b: l.b.dataSync() as Float32Array });
        assert.equal(epoch.mi["club:image"], clubOnMaps(image, { generic: host(m.generic), unique: host(m.unique) }, config.seed, config.miSteps));
      } else {
        assert.equal(own, null, "no-club allocates no distance maps");
        // The panel fits maps of the model's shape (part width → clubDim) on the training items, seeded per modality.
        const panelSeed = deriveSeed(config.seed, 13);
        const { train } = holdoutSplit(image.n, 0.25, deriveSeed(panelSeed, 1), "MI panel holdout");
        const fitted = fitDistanceMaps(image.generic, image.unique, image.n, image.genericDim, image.uniqueDim, train, {
          outDim: config.clubDim, clubHidden: config.clubHidden, steps: config.miMapSteps, lr: config.miMapLr, seed: deriveSeed(panelSeed, 29, 0),
        });
        assert.equal(fitted.generic.outDim, config.clubDim);
        assert.equal(epoch.mi["club:image"], clubOnMaps(image, fitted, config.seed, config.miSteps));
      }
    } finally {
      training.dispose();
    }
  }
});
