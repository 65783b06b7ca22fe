import * as fs from "node:fs";
import * as path from "node:path";
import type { Dataset } from "../data/types";
import type { SeaConfig } from "../model/config";
import { sampleBprTriples, type BprTriples } from "../data/bprSampling";
import { withImplementation } from "../backend/implementation";
import { Rng, deriveSeed } from "../util/rng";
import { Progress, formatSeconds } from "../util/progress";
import { SeaError } from "../util/errors";
import { writeJsonAtomic } from "../util/atomicWrite";
import type { PerUserMetrics } from "../eval/metricRecords";
import type { EpochRecord, RunMetrics } from "./runRecord";
import { measureEpochMi, type GroundTruthFactors, measureRecovery } from "./analysisHooks";
import { writeRunEmbeddings, readAnalysisParts, type PartArrays, type ScoringEmbeddings } from "./embeddingsExport";
import { createTrainingParts, type TrainingParts } from "./trainingParts";
import { TrainStep } from "./trainStep";
import { inferenceEmbeddings, evaluateEmbeddings } from "./epochEvaluation";
import { writeRunCheckpoint, restoreRunCheckpoint, type TrainerState } from "./runCheckpoint";

export interface TrainOptions {
  readonly dataset: Dataset;
  readonly config: SeaConfig;
  readonly variant: string;
  /** Run folder; metrics.json, per_user.json, embeddings/ and checkpoint.bin are written here. */
  readonly outDir: string;
  /** Continue from outDir/checkpoint.bin when present. */
  readonly resume?: boolean;
  /** Planted factors (synthetic data): recovery is measured at the best epoch. */
  readonly groundTruth?: GroundTruthFactors | null;
  /** Called after each epoch (notebooks, the ablation driver). */
  readonly onEpoch?: (record: EpochRecord) => void;
  /** No progress output (tests). */
  readonly quiet?: boolean;
  /** Stop after this many epochs in this call (tests of resume); the run itself is not finished. */
  readonly stopAfterEpochs?: number;
}

/**
 * Trains one model — the backbone `config.backbone` with the separation variant's config (docs/method.md §8,
 * §9, §13): per batch one Adam step of the model on its loss (the backbone's terms, then alpha·Solosim +
 * clubWeight·distance), then the companion network's inner loop (CLUB's q) on the detached pairs; after each
 * epoch a fresh inference-mode forward pass is evaluated on valid and test (full ranking), MI is estimated on
 * frozen parts, and a checkpoint is written atomically. Early stop on valid `stopMetric`; the reported test
 * result is the one at the best valid epoch. Runs under `config.implementation` (reference or fast kernels).
 */
export async function trainRun(options: TrainOptions): Promise<RunMetrics> {
  return withImplementation(options.config.implementation, () => trainRunNow(options));
}

async function trainRunNow(options: TrainOptions): Promise<RunMetrics> {
  const { dataset, config, outDir } = options;
  fs.mkdirSync(outDir, { recursive: true });
  const checkpointFile = path.join(outDir, "checkpoint.bin");
  const parts = createTrainingParts(dataset, config);
  let state: TrainerState = {
    epoch: 0,
    sinceBest: 0,
    finished: false,
    metrics: {
      backbone: parts.model.backboneName,
      variant: options.variant,
      seed: config.seed,
      dataset: { name: dataset.name, fingerprint: dataset.fingerprint },
      epochs: [],
      bestEpoch: 0,
      best: { valid: {}, test: {} },
      stopReason: "running",
    },
  };
  try {
    if (options.resume && fs.existsSync(checkpointFile)) {
      state = restoreRunCheckpoint(checkpointFile, dataset, parts);
      // A run that stopped at its epoch limit continues when called with a larger one (extending a run).
      if (state.finished && state.metrics.stopReason === "epochs" && state.epoch < config.epochs) state.finished = false;
      if (!options.quiet) process.stderr.write(`resuming ${options.variant} from epoch ${state.epoch}\n`);
    }
    let epochsThisCall = 0;
    while (!state.finished && state.epoch < config.epochs) {
      if (options.stopAfterEpochs !== undefined && epochsThisCall >= options.stopAfterEpochs) break;
      const epoch = state.epoch + 1;
      const started = Date.now();
      const loss = trainEpoch(epoch, dataset, parts, options);
      if (loss === null) {
        state.metrics.stopReason = "nan";
        writeJsonAtomic(path.join(outDir, "metrics.json"), state.metrics);
        throw new SeaError(
          `loss became NaN/Inf in epoch ${epoch}; stopped. The last good checkpoint (epoch ${state.epoch}) and metrics are kept in ${outDir}`,
          { exitCode: 3 },
        );
      }
      const record = evaluateAndRecord(epoch, loss, parts, dataset, state, options);
      record.seconds = (Date.now() - started) / 1000;
      state.epoch = epoch;
      if (state.sinceBest >= config.patience && config.patience > 0) {
        state.finished = true;
        state.metrics.stopReason = "early-stop";
      } else if (epoch >= config.epochs) {
        state.finished = true;
        state.metrics.stopReason = "epochs";
      }
      writeRunCheckpoint(checkpointFile, state, parts);
      writeJsonAtomic(path.join(outDir, "metrics.json"), state.metrics);
      if (!options.quiet) process.stderr.write(epochLine(record, state, config) + "\n");
      options.onEpoch?.(record);
      epochsThisCall++;
    }
    return state.metrics;
  } finally {
    parts.dispose();
  }
}

/** One pass over a fresh shuffle of BPR triples; returns mean loss parts, or null on NaN/Inf. */
function trainEpoch(epoch: number, dataset: Dataset, parts: TrainingParts, options: TrainOptions): Record<string, number> | null {
  const { model, data } = parts;
  const config = model.config;
  model.beginEpoch(epoch, data);
  // One generator per epoch, derived from the seed: a resumed run replays exactly the same batches.
  const rng = new Rng(deriveSeed(config.seed, 2, epoch));
  const triples = sampleBprTriples(dataset.train, rng);
  const n = triples.users.length;
  const nBatches = Math.ceil(n / config.batchSize);
  const sums: Record<string, number> = {};
  const progress = new Progress({ label: `epoch ${epoch}`, total: nBatches, silent: options.quiet });
  const step = new TrainStep(parts);
  for (let b = 0; b < nBatches; b++) {
    const lo = b * config.batchSize;
    const hi = Math.min(n, lo + config.batchSize);
    const batch: BprTriples = { users: triples.users.subarray(lo, hi), pos: triples.pos.subarray(lo, hi), neg: triples.neg.subarray(lo, hi) };
    const permutations = model.usesPermutations ? data.modalities.map(() => rng.permutation(data.nItems)) : [];
    const values = step.run(batch, permutations);
    if (values === null) return null;
    for (const [k, v] of Object.entries(values)) sums[k] = (sums[k] ?? 0) + v;
    progress.tick(1, formatParts(values));
  }
  progress.finish();
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / nBatches]));
}

/**
 * The end of an epoch: evaluation on valid and test, MI (every miEvery epochs), and at a new best epoch the
 * embeddings, per-user metrics and recovery. One inference forward serves evaluation and the export, and
 * the analysis parts are read once for MI and the export together. Appends the epoch's record to `state`.
 */
function evaluateAndRecord(
  epoch: number,
  loss: Record<string, number>,
  parts: TrainingParts,
  dataset: Dataset,
  state: TrainerState,
  options: TrainOptions,
): EpochRecord {
  const { model, data } = parts;
  const config = model.config;
  const scoring = inferenceEmbeddings(model, data);
  try {
    const evaluation = evaluateEmbeddings(scoring, dataset, config);
    const record: EpochRecord = { epoch, seconds: 0, loss, valid: evaluation.valid, test: evaluation.test.metrics };
    const measureMi = config.miEvery > 0 && epoch % config.miEvery === 0;
    const score = record.valid[config.stopMetric] ?? -Infinity;
    const bestScore = state.metrics.bestEpoch > 0 ? (state.metrics.best.valid[config.stopMetric] ?? -Infinity) : -Infinity;
    const isBest = score > bestScore;
    const analysisParts = measureMi || isBest ? readAnalysisParts(model, data) : [];
    // A backbone without item content (lightgcn) has no parts: nothing to measure.
    if (measureMi && analysisParts.length > 0) {
      // The sanity references (shuffled pairs, a part with itself) are measured once per run, at its first MI epoch.
      const epochMi = measureEpochMi(analysisParts, model, config, state.metrics.miReference === undefined);
      record.mi = epochMi.mi;
      record.miInterval = epochMi.miInterval;
      if (epochMi.references) state.metrics.miReference = epochMi.references;
    }
    if (isBest) {
      state.metrics.bestEpoch = epoch;
      state.metrics.best = { valid: record.valid, test: record.test };
      state.sinceBest = 0;
      writeBest(options.outDir, scoring, analysisParts, evaluation.test.perUser, options.groundTruth ?? null, state.metrics, config);
    } else {
      state.sinceBest++;
    }
    state.metrics.epochs.push(record);
    return record;
  } finally {
    scoring.users.dispose();
    scoring.items.dispose();
  }
}

/** At a new best epoch: embeddings, per-user test metrics and (synthetic data) planted-factor recovery. */
function writeBest(
  outDir: string,
  scoring: ScoringEmbeddings,
  parts: readonly PartArrays[],
  perUser: PerUserMetrics,
  groundTruth: GroundTruthFactors | null,
  metrics: RunMetrics,
  config: SeaConfig,
): void {
  writeJsonAtomic(path.join(outDir, "per_user.json"), perUser);
  writeRunEmbeddings(path.join(outDir, "embeddings"), scoring, parts);
  if (groundTruth) metrics.recovery = measureRecovery(parts, groundTruth, config.seed);
}

function formatParts(values: Record<string, number>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k} ${v.toPrecision(4)}`)
    .join(" ");
}

function epochLine(r: EpochRecord, state: TrainerState, config: SeaConfig): string {
  const stop = config.stopMetric;
  const mi = r.mi ? "  MI " + Object.entries(r.mi).map(([k, v]) => `${k} ${v.toPrecision(3)}`).join(" ") : "";
  return (
    `epoch ${r.epoch}/${config.epochs} ${formatSeconds(r.seconds)}  loss ${formatParts(r.loss)}  ` +
    `valid ${stop} ${(r.valid[stop] ?? NaN).toFixed(4)}  test ${stop} ${(r.test[stop] ?? NaN).toFixed(4)}  ` +
    `best epoch ${state.metrics.bestEpoch}${mi}`
  );
}
