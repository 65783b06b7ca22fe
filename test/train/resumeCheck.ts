import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Dataset } from "../../src/data/types";
import type { SeaConfig } from "../../src/model/config";
import { trainRun } from "../../src/train/trainer";
import type { RunMetrics } from "../../src/train/runRecord";

/**
 * Trains `config` uninterrupted, and again stopped after one epoch then resumed from its checkpoint; the two must
 * give the same epochs (but their seconds) and the same best result.
 */
export async function assertResumeMatchesWhole(dataset: Dataset, config: SeaConfig, variant: string): Promise<void> {
  const tmp = (name: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `sea-${name}-`));
  const whole = await trainRun({ dataset, config, variant, outDir: tmp("whole"), quiet: true });
  const dir = tmp("resume");
  await trainRun({ dataset, config, variant, outDir: dir, quiet: true, stopAfterEpochs: 1 });
  const resumed = await trainRun({ dataset, config, variant, outDir: dir, quiet: true, resume: true });
  const strip = (m: RunMetrics) => m.epochs.map((e) => ({ ...e, seconds: 0 }));
  assert.deepEqual(strip(resumed), strip(whole));
  assert.equal(resumed.bestEpoch, whole.bestEpoch);
  assert.deepEqual(resumed.best, whole.best);
}
