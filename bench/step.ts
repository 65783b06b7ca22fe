import type { Command } from "commander";
import { selectBackend } from "../src/backend/select";
import { loadDatasetArg } from "../src/data/resolveDataset";
import { sampleBprTriples } from "../src/data/bprSampling";
import { buildRunConfig } from "../src/train/runSetup";
import { createTrainingParts, TrainStep, evaluateEpoch } from "../src/train/trainer";
import { Rng } from "../src/util/rng";

interface StepTiming {
  stepSeconds: number;
  steps: number;
  epochSeconds: number;
  evalSeconds: number;
  batchesPerEpoch: number;
  parameters: number;
}

/**
 * `sea bench step`: seconds per SEA training step (encoder step + CLUB inner loop) for the
 * reassociated model and the naive formulation, measured in one process, and the projected epoch
 * time (steps × batches + one full evaluation). Peak RSS is reported for the whole run.
 */
export function registerStepBench(bench: Command): void {
  bench
    .command("step")
    .description("seconds per training step and per epoch, reassociated vs naive item projection")
    .option("--preset <name>", "dataset preset or folder", "baby-shape")
    .option("--steps <n>", "timed steps per formulation (after one warm-up step)", "3")
    .option("--naive-steps <n>", "timed steps for the naive formulation", "1")
    .option("--variant <name>", "variant to time", "sea")
    .option("--backend <name>", "backend (default: best available)")
    .option("--json", "print one JSON object")
    .action(async (opts: { preset: string; steps: string; naiveSteps: string; variant: string; backend?: string; json?: boolean }) => {
      const backend = await selectBackend({ backend: opts.backend, quiet: opts.json });
      const dataset = await loadDatasetArg(opts.preset);
      const results: Record<string, StepTiming> = {};
      for (const [name, reassociate, steps] of [
        ["reassociated", true, Number(opts.steps)],
        ["naive", false, Number(opts.naiveSteps)],
      ] as const) {
        const config = buildRunConfig({ variant: opts.variant, explicit: { reassociate } });
        const parts = createTrainingParts(dataset, config);
        try {
          const step = new TrainStep(parts.model, parts.data, parts.club, parts.optimizer, parts.clubOptimizer);
          const rng = new Rng(config.seed);
          const triples = sampleBprTriples(dataset.train, rng);
          const batch = (i: number) => {
            const lo = (i * config.batchSize) % Math.max(1, triples.users.length - config.batchSize);
            const hi = lo + Math.min(config.batchSize, triples.users.length);
            return { users: triples.users.subarray(lo, hi), pos: triples.pos.subarray(lo, hi), neg: triples.neg.subarray(lo, hi) };
          };
          const perms = () => (parts.club ? parts.data.modalities.map(() => rng.permutation(dataset.nItems)) : []);
          step.run(batch(0), perms()); // warm-up: kernels, allocations
          const t0 = process.hrtime.bigint();
          for (let i = 1; i <= steps; i++) step.run(batch(i), perms());
          const stepSeconds = Number(process.hrtime.bigint() - t0) / 1e9 / steps;
          const e0 = process.hrtime.bigint();
          evaluateEpoch(parts.data, dataset, parts.model, config);
          const evalSeconds = Number(process.hrtime.bigint() - e0) / 1e9;
          const batchesPerEpoch = Math.ceil(triples.users.length / config.batchSize);
          results[name] = { stepSeconds, steps, evalSeconds, batchesPerEpoch, epochSeconds: stepSeconds * batchesPerEpoch + evalSeconds, parameters: parts.model.store.count() };
          if (!opts.json) process.stderr.write(`${name}: ${stepSeconds.toFixed(2)} s/step over ${steps} step(s)\n`);
        } finally {
          parts.dispose();
        }
      }
      const speedup = results.naive!.stepSeconds / results.reassociated!.stepSeconds;
      const peakRssMiB = process.resourceUsage().maxRSS / 1024;
      const out = { dataset: dataset.name, backend: backend.name, threads: backend.threads, variant: opts.variant, ...results, speedup, peakRssMiB };
      if (opts.json) {
        process.stdout.write(JSON.stringify(out) + "\n");
        return;
      }
      for (const [name, r] of Object.entries(results)) {
        process.stdout.write(
          `${name.padEnd(13)} ${r.stepSeconds.toFixed(2)} s/step  ${r.batchesPerEpoch} batches  eval ${r.evalSeconds.toFixed(2)} s  ` +
            `epoch ≈ ${r.epochSeconds.toFixed(1)} s  (${(r.parameters / 1e6).toFixed(2)} M parameters)\n`,
        );
      }
      process.stdout.write(`speed-up of reassociation: ${speedup.toFixed(2)}×   peak RSS ${peakRssMiB.toFixed(0)} MiB   backend ${backend.name}\n`);
    });
}
