import type { Command } from "commander";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../src/backend/select";
import { describeImplementation, IMPLEMENTATIONS, isImplementation, setImplementation } from "../src/backend/implementation";
import { SeaError } from "../src/util/errors";
import { loadDatasetArg } from "../src/data/resolveDataset";
import type { Dataset } from "../src/data/types";
import { buildRunConfig } from "../src/train/runSetup";
import { createTrainingParts, type TrainingParts } from "../src/train/trainingParts";
import { evaluateEpoch } from "../src/train/epochEvaluation";
import { readAnalysisParts } from "../src/train/embeddingsExport";
import { measureEpochMi } from "../src/train/analysisHooks";
import { countOption } from "./options";
import { renderBackboneSteps, timeBackboneSteps } from "./backboneStep";
import { kernelProfile, timeStepLoop } from "./stepLoop";

interface StepTiming {
  stepSeconds: number;
  steps: number;
  /** Mean seconds per step in each phase: forward + backward, Adam update, CLUB inner loop. */
  phases: Record<string, number>;
  epochSeconds: number;
  evalSeconds: number;
  batchesPerEpoch: number;
  parameters: number;
}

interface BenchOptions {
  preset: string;
  steps: string;
  naiveSteps: string;
  warmup: string;
  variant: string;
  backbone?: string;
  separation?: string;
  backend?: string;
  implementation: string;
  profile?: boolean;
  analysis?: boolean;
  json?: boolean;
}

/**
 * `sea bench step`: seconds per SEA training step (encoder step + CLUB inner loop) for the
 * reassociated model and the naive formulation, measured in one process, with the time per phase and the
 * projected epoch time (steps × batches + one full evaluation), and the item projections alone (the part the
 * reassociation changes) in both formulations. Peak RSS is reported for the whole run.
 * --profile adds tfjs's per-kernel times for one reassociated step; --analysis times the optional
 * per-epoch analysis (MI estimation every `miEvery` epochs, reading the parts that are exported).
 */
export function registerStepBench(bench: Command): void {
  bench
    .command("step")
    .description("seconds per training step and per epoch, reassociated vs naive item projection")
    .option("--preset <name>", "dataset preset or folder", "baby-shape")
    .option("--steps <n>", "timed steps per formulation", "3")
    .option("--warmup <n>", "untimed steps per formulation before the timed ones", "3")
    .option("--naive-steps <n>", "timed steps for the naive formulation (0: skip it)", "1")
    .option("--variant <name>", "variant to time", "sea")
    .option("--backbone <list>", "time these backbones (comma-separated, or all) alone and with --separation, beside sea + SEA, instead of reassociated vs naive")
    .option("--separation <variant>", "with --backbone: the separation variant to add to each backbone (e.g. sea)")
    .option("--backend <name>", "backend (default: best available)")
    .option("--implementation <name>", `${IMPLEMENTATIONS.join(" or ")}: readable tfjs compositions only, or the fast kernels where they apply (docs/method.md)`, "fast")
    .option("--profile", "print the tfjs kernels that take the most time in one step")
    .option("--analysis", "also time the per-epoch analysis (analysis parts, MI estimation)")
    .option("--json", "print one JSON object")
    .action(async (opts: BenchOptions) => {
      if (!isImplementation(opts.implementation)) {
        throw new SeaError(`unknown implementation '${opts.implementation}' (expected ${IMPLEMENTATIONS.join(" or ")})`, { where: "--implementation" });
      }
      setImplementation(opts.implementation);
      const backend = await selectBackend({ backend: opts.backend, quiet: opts.json });
      // After selectBackend: which fast kernels apply depends on the backend and its native kernels.
      const implementation = describeImplementation();
      if (!opts.json) process.stderr.write(`sea: ${implementation}\n`);
      const dataset = await loadDatasetArg(opts.preset);
      const warmup = countOption(opts.warmup, "--warmup", 0);
      if (opts.backbone !== undefined) {
        const timings = await timeBackboneSteps(dataset, {
          backbones: opts.backbone.split(",").map((s) => s.trim()).filter(Boolean),
          separation: opts.separation ?? null,
          warmup,
          steps: countOption(opts.steps, "--steps", 1),
          profile: opts.profile === true,
        });
        if (opts.json) process.stdout.write(JSON.stringify({ dataset: dataset.name, backend: backend.name, threads: backend.threads, warmup, timings }) + "\n");
        else process.stdout.write(renderBackboneSteps(timings) + `\nbackend ${backend.name}, ${backend.threads} thread(s), dataset ${dataset.name}\n`);
        return;
      }
      const results: Record<string, StepTiming> = {};
      const extra: Record<string, unknown> = {};
      const projection: Record<string, number> = {};
      for (const [name, reassociate, steps] of [
        ["reassociated", true, countOption(opts.steps, "--steps", 1)],
        ["naive", false, countOption(opts.naiveSteps, "--naive-steps", 0)],
      ] as const) {
        if (steps < 1) continue;
        const config = buildRunConfig({ variant: opts.variant, explicit: { reassociate } });
        const parts = createTrainingParts(dataset, config);
        try {
          results[name] = await timeSteps(parts, dataset, warmup, steps, reassociate && opts.profile === true, opts.json === true);
          projection[name] = timeProjection(parts, reassociate, steps);
          if (reassociate && opts.analysis) extra.analysis = timeAnalysis(parts);
          if (!opts.json) process.stderr.write(`${name}: ${results[name]!.stepSeconds.toFixed(2)} s/step over ${steps} step(s)\n`);
        } finally {
          parts.dispose();
        }
      }
      const speedup = results.naive ? results.naive.stepSeconds / results.reassociated!.stepSeconds : null;
      const projectionSpeedup = projection.naive !== undefined ? projection.naive / projection.reassociated! : null;
      extra.projectionSeconds = projection;
      extra.projectionSpeedup = projectionSpeedup;
      const peakRssMiB = process.resourceUsage().maxRSS / 1024;
      // bin/sea.js runs commands under V8's single-threaded GC and glibc malloc settings unless SEA_PROCESS_TUNING=0.
      const garbageCollector = process.execArgv.includes("--single-threaded-gc") ? "single-threaded" : "concurrent";
      const glibcTunables = process.env.GLIBC_TUNABLES ?? null;
      const out = { dataset: dataset.name, backend: backend.name, implementation: opts.implementation, threads: backend.threads, garbageCollector, glibcTunables, variant: opts.variant, warmup, ...results, ...extra, speedup, peakRssMiB };
      if (opts.json) {
        process.stdout.write(JSON.stringify(out) + "\n");
        return;
      }
      for (const [name, r] of Object.entries(results)) {
        const phases = Object.entries(r.phases).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ");
        process.stdout.write(
          `${name.padEnd(13)} ${r.stepSeconds.toFixed(2)} s/step (${phases})  ${r.batchesPerEpoch} batches  eval ${r.evalSeconds.toFixed(2)} s  ` +
            `epoch ≈ ${r.epochSeconds.toFixed(1)} s  (${(r.parameters / 1e6).toFixed(2)} M parameters)\n`,
        );
      }
      if (extra.analysis) {
        const a = extra.analysis as { partsSeconds: number; miSeconds: number; referencesSeconds: number };
        process.stdout.write(
          `analysis      read parts ${a.partsSeconds.toFixed(2)} s + MI estimates ${a.miSeconds.toFixed(2)} s = ${(a.partsSeconds + a.miSeconds).toFixed(2)} s ` +
            `per MI epoch (every miEvery epochs); sanity references +${a.referencesSeconds.toFixed(2)} s once per run\n`,
        );
      }
      const ratio = speedup === null ? "not measured (--naive-steps 0)" : `${speedup.toFixed(2)}×`;
      const projected = Object.entries(projection).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(", ");
      process.stdout.write(`item projections alone (forward + backward, all modalities): ${projected}` + (projectionSpeedup === null ? "\n" : `  → ${projectionSpeedup.toFixed(2)}×\n`));
      process.stdout.write(`speed-up of reassociation (whole step): ${ratio}   peak RSS ${peakRssMiB.toFixed(0)} MiB   backend ${backend.name}   V8 GC ${garbageCollector}\n`);
      process.stdout.write(`${implementation}\n`);
    });
}

async function timeSteps(parts: TrainingParts, dataset: Dataset, warmup: number, steps: number, profile: boolean, quiet: boolean): Promise<StepTiming> {
  const config = parts.model.config;
  const loop = timeStepLoop(parts, dataset, warmup, steps);
  if (profile) await printKernelProfile(loop.runOneMore, quiet);
  const e0 = process.hrtime.bigint();
  evaluateEpoch(parts.data, dataset, parts.model, config);
  const evalSeconds = Number(process.hrtime.bigint() - e0) / 1e9;
  const { stepSeconds, phases, batchesPerEpoch } = loop;
  return { stepSeconds, steps, phases, evalSeconds, batchesPerEpoch, epochSeconds: stepSeconds * batchesPerEpoch + evalSeconds, parameters: parts.model.store.count() };
}

/** tf.profile of one step: the kernels with the most time (the native CLUB loop is outside tfjs and not listed). */
async function printKernelProfile(run: () => void, quiet: boolean): Promise<void> {
  const top = Object.entries(await kernelProfile(run)).sort((a, b) => b[1].ms - a[1].ms).slice(0, 15);
  const stream = quiet ? process.stderr : process.stdout;
  stream.write("kernels of one step (ms, calls):\n");
  for (const [name, { ms, calls }] of top) stream.write(`  ${name.padEnd(24)} ${ms.toFixed(0).padStart(7)}  ${calls}\n`);
}

function timeAnalysis(parts: TrainingParts): { partsSeconds: number; miSeconds: number; referencesSeconds: number } {
  const seconds = (from: bigint, to: bigint): number => Number(to - from) / 1e9;
  const t0 = process.hrtime.bigint();
  const analysisParts = readAnalysisParts(parts.model, parts.data);
  const t1 = process.hrtime.bigint();
  measureEpochMi(analysisParts, parts.model, parts.model.config, false);
  const t2 = process.hrtime.bigint();
  // A run's first MI epoch also measures the sanity references; the extra time is what they cost, once per run.
  measureEpochMi(analysisParts, parts.model, parts.model.config, true);
  const t3 = process.hrtime.bigint();
  return { partsSeconds: seconds(t0, t1), miSeconds: seconds(t1, t2), referencesSeconds: seconds(t2, t3) - seconds(t1, t2) };
}

/**
 * Seconds per forward + backward of the item projections alone (every modality's square layer and its consumers'
 * first layers, the part reassociation changes), with the mean square of every output as the loss, so every
 * parameter of the projections gets its gradient (those of other parts of the model are not reached).
 */
function timeProjection(parts: TrainingParts, reassociate: boolean, repeats: number): number {
  const { model, data } = parts;
  const vars = model.variables();
  const loss = (): tf.Scalar =>
    tf.tidy(() => {
      const terms: tf.Scalar[] = [];
      for (const outputs of model.representationOutputs(data, { reassociate })) {
        for (const out of outputs.values()) terms.push(tf.mean(tf.mul(out, out)) as tf.Scalar);
      }
      return tf.addN(terms) as tf.Scalar;
    });
  const once = (): void => {
    const { value, grads } = tf.variableGrads(loss, vars);
    value.dataSync();
    value.dispose();
    Object.values(grads).forEach((g) => g.dispose());
  };
  once(); // warm-up
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < repeats; r++) once();
  return Number(process.hrtime.bigint() - t0) / 1e9 / repeats;
}
