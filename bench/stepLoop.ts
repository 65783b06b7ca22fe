import * as tf from "@tensorflow/tfjs";
import type { Dataset } from "../src/data/types";
import { sampleBprTriples } from "../src/data/bprSampling";
import type { TrainingParts } from "../src/train/trainingParts";
import { TrainStep } from "../src/train/trainStep";
import { Rng } from "../src/util/rng";

/** What timing a model's training steps measured. */
export interface StepLoopTiming {
  /** Mean wall seconds per timed step. */
  readonly stepSeconds: number;
  /** Mean seconds per step in each phase: forward + backward, Adam update, the companion's inner loop. */
  readonly phases: Record<string, number>;
  /** Batches of one epoch at the config's batch size. */
  readonly batchesPerEpoch: number;
  /** Runs one more (untimed) step: for tf.profile. */
  readonly runOneMore: () => void;
}

/**
 * `warmup` untimed then `steps` timed training steps of `parts` on consecutive batches of one seeded shuffle, with
 * the model's epoch set-up done first (FREEDOM prunes its graph). Shared by `sea bench step`'s two modes.
 */
export function timeStepLoop(parts: TrainingParts, dataset: Dataset, warmup: number, steps: number): StepLoopTiming {
  const config = parts.model.config;
  const step = new TrainStep(parts);
  const rng = new Rng(config.seed);
  const triples = sampleBprTriples(dataset.train, rng);
  const batch = (i: number) => {
    const lo = (i * config.batchSize) % Math.max(1, triples.users.length - config.batchSize);
    const hi = lo + Math.min(config.batchSize, triples.users.length);
    return { users: triples.users.subarray(lo, hi), pos: triples.pos.subarray(lo, hi), neg: triples.neg.subarray(lo, hi) };
  };
  const perms = () => (parts.model.usesPermutations ? parts.data.modalities.map(() => rng.permutation(dataset.nItems)) : []);
  parts.model.beginEpoch(1, parts.data);
  // Untimed steps first: V8 compiles the hot loops and the heap grows over the first few steps (with one warm-up
  // step the next three still ran ~10–15% slower than the rest of an epoch).
  for (let i = 0; i < warmup; i++) step.run(batch(i), perms());
  const warm = { ...step.phaseSeconds };
  const t0 = process.hrtime.bigint();
  for (let i = warmup; i < warmup + steps; i++) step.run(batch(i), perms());
  const stepSeconds = Number(process.hrtime.bigint() - t0) / 1e9 / steps;
  const phases = Object.fromEntries(Object.entries(step.phaseSeconds).map(([k, v]) => [k, (v - warm[k as keyof typeof warm]) / steps]));
  return { stepSeconds, phases, batchesPerEpoch: Math.ceil(triples.users.length / config.batchSize), runOneMore: () => void step.run(batch(warmup + steps), perms()) };
}

/** Kernel time and calls of one run of `fn` by kernel name (tf.profile; the addon's loops outside tfjs are not listed). */
export async function kernelProfile(fn: () => void): Promise<Record<string, { ms: number; calls: number }>> {
  const info = await tf.profile(fn);
  const byKernel: Record<string, { ms: number; calls: number }> = {};
  for (const k of info.kernels) {
    const entry = (byKernel[k.name] ??= { ms: 0, calls: 0 });
    entry.ms += Number(k.kernelTimeMs);
    entry.calls++;
  }
  return byKernel;
}
