import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { Dataset } from "../data/types";
import type { SeaConfig } from "../model/config";
import { SeaModel, type ModelData } from "../model/seaModel";
import { prepareModelData, disposeModelData } from "../model/modelData";
import { lossParts, type BprBatch } from "../model/objective";
import { Club } from "../losses/club";
import { fitClubFused, newClubAdamState, type ClubAdamState, type ClubFitSettings } from "../losses/club/fit";
import { sampleBprTriples } from "../data/bprSampling";
import { evaluateFullRankingSplits, type EvalResult } from "../eval/fullRanking";
import { Rng, deriveSeed } from "../util/rng";
import { takeData } from "../util/takeData";
import { Progress, formatSeconds } from "../util/progress";
import { SeaError } from "../util/errors";
import { writeJsonAtomic } from "../util/atomicWrite";
import { saveCheckpoint, loadCheckpoint, type SavedTensor } from "./checkpoint";
import { Adam, pytorchAdam } from "../optim/adam";
import type { EpochRecord, MetricValues, RunMetrics, PerUserMetrics } from "./runRecord";
import { measureEpochMi, type GroundTruthFactors, measureRecovery } from "./analysisHooks";
import { writeRunEmbeddings, readAnalysisParts, type PartArrays, type ScoringEmbeddings } from "./embeddingsExport";

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

interface TrainerState {
  epoch: number;
  metrics: RunMetrics;
  sinceBest: number;
  finished: boolean;
}

/**
 * Trains one SEA variant (docs/method.md §8, §9): per batch one Adam step of the encoder on
 * BPR + alpha·Solosim + clubWeight·distance, then `clubSteps` Adam steps of the CLUB network on the
 * detached pairs; after each epoch a fresh inference-mode forward pass is evaluated on valid and test
 * (full ranking), MI is estimated on frozen parts, and a checkpoint is written atomically. Early stop
 * on valid `stopMetric`; the reported test result is the one at the best valid epoch.
 */
export async function trainRun(options: TrainOptions): Promise<RunMetrics> {
  const { dataset, config, outDir } = options;
  fs.mkdirSync(outDir, { recursive: true });
  const checkpointFile = path.join(outDir, "checkpoint.bin");
  const parts = createTrainingParts(dataset, config);
  let state: TrainerState = {
    epoch: 0,
    sinceBest: 0,
    finished: false,
    metrics: {
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
      state = restore(checkpointFile, dataset, parts);
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
      checkpoint(checkpointFile, state, parts);
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

export interface TrainingParts {
  readonly data: ModelData;
  readonly model: SeaModel;
  readonly club: Club | null;
  /** The encoder's optimiser. */
  readonly optimizer: Adam;
  /** The CLUB network's Adam state and settings (its inner loop runs fused, see losses/clubFit.ts). */
  readonly clubTraining: { readonly state: ClubAdamState; readonly settings: ClubFitSettings } | null;
  dispose(): void;
}

/** Tensors, model, CLUB network and optimisers for one run (also used by `sea bench step`). */
export function createTrainingParts(dataset: Dataset, config: SeaConfig): TrainingParts {
  const data = prepareModelData(dataset, config);
  const model = new SeaModel(
    { nUsers: dataset.nUsers, nItems: dataset.nItems, modalities: dataset.modalities.map((m) => ({ name: m.name, dim: m.cols })) },
    config,
  );
  const usesClub = config.distance === "club" && config.separation === "split";
  const club = usesClub ? new Club({ xDim: config.clubDim, yDim: config.clubDim, hidden: config.clubHidden, seed: deriveSeed(config.seed, 3) }) : null;
  const optimizer = new Adam(model.store.names().map((name) => ({ name, variable: model.store.get(name) })), pytorchAdam(config.lr));
  const clubTraining = club ? { state: newClubAdamState(club), settings: { steps: config.clubSteps, ...pytorchAdam(config.clubLr ?? config.lr) } } : null;
  return {
    data,
    model,
    club,
    optimizer,
    clubTraining,
    dispose() {
      model.dispose();
      club?.dispose();
      optimizer.dispose();
      disposeModelData(data);
    },
  };
}

/** One pass over a fresh shuffle of BPR triples; returns mean loss parts, or null on NaN/Inf. */
function trainEpoch(epoch: number, dataset: Dataset, parts: TrainingParts, options: TrainOptions): Record<string, number> | null {
  const { model, data, club } = parts;
  const config = model.config;
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
    const batch: BprBatch = { users: triples.users.subarray(lo, hi), pos: triples.pos.subarray(lo, hi), neg: triples.neg.subarray(lo, hi) };
    const permutations = club ? data.modalities.map(() => rng.permutation(data.nItems)) : [];
    const values = step.run(batch, permutations);
    if (values === null) return null;
    for (const [k, v] of Object.entries(values)) sums[k] = (sums[k] ?? 0) + v;
    progress.tick(1, formatParts(values));
  }
  progress.finish();
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / nBatches]));
}

/**
 * One training step (docs/method.md §8): an Adam step of the encoder on the full loss, then `clubSteps` Adam
 * steps of the CLUB network's negative log-likelihood on the step's detached generic/unique pairs.
 * Returns the loss parts, or null (parameters untouched) when the loss is NaN/Inf.
 */
export class TrainStep {
  private readonly vars: tf.Variable[];
  /** Seconds spent so far per phase: "gradient" (forward + backward), "update" (Adam), "club" (CLUB inner loop). */
  readonly phaseSeconds: Record<"gradient" | "update" | "club", number> = { gradient: 0, update: 0, club: 0 };

  constructor(private readonly parts: TrainingParts) {
    this.vars = parts.model.variables();
  }

  run(batch: BprBatch, permutations: readonly Int32Array[]): Record<string, number> | null {
    const { model, data, club, optimizer, clubTraining } = this.parts;
    const config = model.config;
    let kept: Record<string, tf.Scalar> = {};
    let pairs: { generic: tf.Tensor2D; unique: tf.Tensor2D }[] = [];
    let clock = process.hrtime.bigint();
    const lap = (phase: keyof TrainStep["phaseSeconds"]): void => {
      const now = process.hrtime.bigint();
      this.phaseSeconds[phase] += Number(now - clock) / 1e9;
      clock = now;
    };
    const { value, grads } = tf.variableGrads(() => {
      const out = model.forward(data, { training: true });
      const parts = lossParts(config, out, batch, club, permutations);
      kept = Object.fromEntries(Object.entries(parts).map(([k, t]) => [k, tf.keep(t)]));
      // Kept for the CLUB network's own steps, which read them as plain values (detached).
      pairs = out.distanceParts.map((p) => ({ generic: tf.keep(p.generic), unique: tf.keep(p.unique) }));
      return parts.total!;
    }, this.vars);
    const values = Object.fromEntries(Object.entries(kept).map(([k, t]) => [k, t.dataSync()[0]!]));
    Object.values(kept).forEach((t) => t.dispose());
    value.dispose();
    const finite = Number.isFinite(values.total!);
    lap("gradient");
    if (finite) optimizer.apply(grads);
    Object.values(grads).forEach((g) => g.dispose());
    lap("update");
    const hostPairs = pairs.map((p) => ({ x: takeData(p.generic), y: takeData(p.unique) }));
    if (finite && club && clubTraining && hostPairs.length > 0 && clubTraining.settings.steps > 0) {
      values.clubNll = fitClubFused(club, hostPairs, clubTraining.state, clubTraining.settings);
    }
    lap("club");
    return finite ? values : null;
  }
}

interface EpochEvaluation {
  valid: MetricValues;
  test: { metrics: MetricValues; perUser: PerUserMetrics };
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
    if (measureMi) {
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

/** Fresh forward pass in inference mode after the last optimiser step (the reference reused stale embeddings). */
export function inferenceEmbeddings(model: SeaModel, data: ModelData): ScoringEmbeddings {
  return tf.tidy(() => {
    const out = model.forward(data, { training: false });
    return { users: out.users, items: out.items };
  });
}

/** Full-ranking metrics on valid and test (per-user values on test) for the given representations. */
export function evaluateEmbeddings({ users, items }: ScoringEmbeddings, dataset: Dataset, config: SeaConfig): EpochEvaluation {
  const scoreUsers = (ids: Int32Array): Float32Array =>
    takeData(tf.tidy(() => tf.matMul(tf.gather(users, tf.tensor1d(ids, "int32")), items, false, true)));
  const [valid, test] = evaluateFullRankingSplits({
    train: dataset.train,
    scoreUsers,
    ks: config.ks,
    batchSize: config.evalBatchSize,
    splits: [{ heldOut: dataset.valid }, { heldOut: dataset.test, perUser: true }],
  }) as [EvalResult, EvalResult];
  const perUser: PerUserMetrics = {
    users: Array.from(test.users),
    values: Object.fromEntries(Object.entries(test.perUser ?? {}).map(([k, v]) => [k, Array.from(v, (x) => Math.round(x * 1e6) / 1e6)])),
  };
  return { valid: valid.metrics, test: { metrics: test.metrics, perUser } };
}

/** inferenceEmbeddings + evaluateEmbeddings (the benchmark's epoch evaluation). */
export function evaluateEpoch(data: ModelData, dataset: Dataset, model: SeaModel, config: SeaConfig): EpochEvaluation {
  const scoring = inferenceEmbeddings(model, data);
  try {
    return evaluateEmbeddings(scoring, dataset, config);
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

/** Checkpoint layout version; a checkpoint of another layout is refused with a message, not misread. */
const CHECKPOINT_LAYOUT = 2;

function checkpoint(file: string, state: TrainerState, parts: TrainingParts): void {
  const { model, optimizer, club, clubTraining } = parts;
  const tensors: SavedTensor[] = [];
  for (const name of model.store.names()) {
    const v = model.store.get(name);
    tensors.push({ name: `model/${name}`, shape: v.shape, values: v.dataSync() as Float32Array });
  }
  tensors.push(...optimizer.save("adam"));
  if (club && clubTraining) {
    club.getWeights().forEach((w, i) => tensors.push({ name: `club/${i}`, shape: [w.length], values: w }));
    const { m, v, step } = clubTraining.state;
    tensors.push({ name: "clubAdam/m", shape: [m.length], values: m }, { name: "clubAdam/v", shape: [v.length], values: v });
    tensors.push({ name: "clubAdam/step", shape: [1], values: Float32Array.of(step) });
  }
  saveCheckpoint(file, { ...state, layout: CHECKPOINT_LAYOUT }, tensors);
}

function restore(file: string, dataset: Dataset, parts: TrainingParts): TrainerState {
  const { model, optimizer, club, clubTraining } = parts;
  const { state, tensors } = loadCheckpoint<TrainerState & { layout?: number }>(file);
  if (state.layout !== CHECKPOINT_LAYOUT) {
    throw new SeaError(`checkpoint layout ${state.layout ?? 1} is not this version's (${CHECKPOINT_LAYOUT}); delete it to start the run afresh`, { where: file });
  }
  if (state.metrics.dataset.fingerprint !== dataset.fingerprint) {
    throw new SeaError(`checkpoint was made on another dataset (fingerprint ${state.metrics.dataset.fingerprint}, this one ${dataset.fingerprint})`, { where: file });
  }
  for (const name of model.store.names()) {
    const saved = tensors.get(`model/${name}`);
    const v = model.store.get(name);
    if (!saved || saved.values.length !== v.size) throw new SeaError(`checkpoint does not match the model (parameter ${name}); was the config changed?`, { where: file });
    tf.tidy(() => v.assign(tf.tensor(saved.values, v.shape)));
  }
  optimizer.restore(tensors, "adam", file);
  if (club && clubTraining) {
    club.setWeights(collectRaw(tensors, "club/"));
    const m = tensors.get("clubAdam/m");
    const v = tensors.get("clubAdam/v");
    const step = tensors.get("clubAdam/step");
    if (!m || !v || !step || m.values.length !== clubTraining.state.m.length || v.values.length !== clubTraining.state.v.length) {
      throw new SeaError("checkpoint's CLUB optimiser state is missing or does not match the CLUB network", { where: file });
    }
    clubTraining.state.m.set(m.values);
    clubTraining.state.v.set(v.values);
    clubTraining.state.step = step.values[0]!;
  }
  const { layout: _layout, ...trainerState } = state;
  return trainerState;
}

function collectRaw(tensors: Map<string, SavedTensor>, prefix: string): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; tensors.has(`${prefix}${i}`); i++) out.push(tensors.get(`${prefix}${i}`)!.values);
  return out;
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
