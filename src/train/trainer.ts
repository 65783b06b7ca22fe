import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { Dataset } from "../data/types";
import type { SeaConfig } from "../model/config";
import { SeaModel, type ModelData } from "../model/seaModel";
import { prepareModelData, disposeModelData } from "../model/modelData";
import { lossParts, clubLearningLoss, type BprBatch } from "../model/objective";
import { Club } from "../losses/club";
import { sampleBprTriples } from "../data/bprSampling";
import { evaluateFullRanking } from "../eval/fullRanking";
import { Rng, deriveSeed } from "../util/rng";
import { takeData } from "../util/takeData";
import { Progress, formatSeconds } from "../util/progress";
import { SeaError } from "../util/errors";
import { writeJsonAtomic } from "../util/atomicWrite";
import { saveCheckpoint, loadCheckpoint, type SavedTensor } from "./checkpoint";
import type { EpochRecord, MetricValues, RunMetrics, PerUserMetrics } from "./runRecord";
import { measureEpochMi, type GroundTruthFactors, measureRecovery } from "./analysisHooks";
import { writeRunEmbeddings } from "./embeddingsExport";

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

type NamedTensor = { name: string; tensor: tf.Tensor };

interface TrainerState {
  epoch: number;
  metrics: RunMetrics;
  sinceBest: number;
  finished: boolean;
}

/**
 * Trains one SEA variant (DESIGN §1, §3): per batch one Adam step of the encoder on
 * BPR + alpha·Solosim + clubWeight·distance, then `clubSteps` Adam steps of the CLUB network on the
 * detached pairs; after each epoch a fresh inference-mode forward pass is evaluated on valid and test
 * (full ranking), MI is estimated on frozen parts, and a checkpoint is written atomically. Early stop
 * on valid `stopMetric`; the reported test result is the one at the best valid epoch.
 */
export async function trainRun(options: TrainOptions): Promise<RunMetrics> {
  const { dataset, config, outDir } = options;
  fs.mkdirSync(outDir, { recursive: true });
  const checkpointFile = path.join(outDir, "checkpoint.bin");
  const { data, model, club, optimizer, clubOptimizer, dispose } = createTrainingParts(dataset, config);
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
      state = await restore(checkpointFile, dataset, model, optimizer, club, clubOptimizer);
      // A run that stopped at its epoch limit continues when called with a larger one (extending a run).
      if (state.finished && state.metrics.stopReason === "epochs" && state.epoch < config.epochs) state.finished = false;
      if (!options.quiet) process.stderr.write(`resuming ${options.variant} from epoch ${state.epoch}\n`);
    }
    let epochsThisCall = 0;
    while (!state.finished && state.epoch < config.epochs) {
      if (options.stopAfterEpochs !== undefined && epochsThisCall >= options.stopAfterEpochs) break;
      const epoch = state.epoch + 1;
      const started = Date.now();
      const loss = trainEpoch(epoch, data, dataset, model, club, optimizer, clubOptimizer, options);
      if (loss === null) {
        state.metrics.stopReason = "nan";
        writeJsonAtomic(path.join(outDir, "metrics.json"), state.metrics);
        throw new SeaError(
          `loss became NaN/Inf in epoch ${epoch}; stopped. The last good checkpoint (epoch ${state.epoch}) and metrics are kept in ${outDir}`,
          { exitCode: 3 },
        );
      }
      const evaluation = evaluateEpoch(data, dataset, model, config);
      const record: EpochRecord = { epoch, seconds: 0, loss, valid: evaluation.valid, test: evaluation.test.metrics };
      if (config.miEvery > 0 && epoch % config.miEvery === 0) record.mi = measureEpochMi(model, data, config);
      const score = record.valid[config.stopMetric] ?? -Infinity;
      const bestScore = state.metrics.bestEpoch > 0 ? (state.metrics.best.valid[config.stopMetric] ?? -Infinity) : -Infinity;
      if (score > bestScore) {
        state.metrics.bestEpoch = epoch;
        state.metrics.best = { valid: record.valid, test: record.test };
        state.sinceBest = 0;
        writeBest(outDir, model, data, evaluation.test.perUser, options.groundTruth ?? null, state.metrics, config);
      } else {
        state.sinceBest++;
      }
      record.seconds = (Date.now() - started) / 1000;
      state.metrics.epochs.push(record);
      state.epoch = epoch;
      if (state.sinceBest >= config.patience && config.patience > 0) {
        state.finished = true;
        state.metrics.stopReason = "early-stop";
      } else if (epoch >= config.epochs) {
        state.finished = true;
        state.metrics.stopReason = "epochs";
      }
      await checkpoint(checkpointFile, state, model, optimizer, club, clubOptimizer);
      writeJsonAtomic(path.join(outDir, "metrics.json"), state.metrics);
      if (!options.quiet) process.stderr.write(epochLine(record, state, config) + "\n");
      options.onEpoch?.(record);
      epochsThisCall++;
    }
    return state.metrics;
  } finally {
    dispose();
  }
}

export interface TrainingParts {
  readonly data: ModelData;
  readonly model: SeaModel;
  readonly club: Club | null;
  readonly optimizer: tf.Optimizer;
  readonly clubOptimizer: tf.Optimizer | null;
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
  const optimizer = tf.train.adam(config.lr, 0.9, 0.999, 1e-8); // PyTorch's Adam defaults
  const clubOptimizer = club ? tf.train.adam(config.clubLr ?? config.lr, 0.9, 0.999, 1e-8) : null;
  return {
    data,
    model,
    club,
    optimizer,
    clubOptimizer,
    dispose() {
      model.dispose();
      club?.dispose();
      optimizer.dispose();
      clubOptimizer?.dispose();
      disposeModelData(data);
    },
  };
}

/** One pass over a fresh shuffle of BPR triples; returns mean loss parts, or null on NaN/Inf. */
function trainEpoch(
  epoch: number,
  data: ModelData,
  dataset: Dataset,
  model: SeaModel,
  club: Club | null,
  optimizer: tf.Optimizer,
  clubOptimizer: tf.Optimizer | null,
  options: TrainOptions,
): Record<string, number> | null {
  const config = model.config;
  // One generator per epoch, derived from the seed: a resumed run replays exactly the same batches.
  const rng = new Rng(deriveSeed(config.seed, 2, epoch));
  const triples = sampleBprTriples(dataset.train, rng);
  const n = triples.users.length;
  const nBatches = Math.ceil(n / config.batchSize);
  const sums: Record<string, number> = {};
  const progress = new Progress({ label: `epoch ${epoch}`, total: nBatches, silent: options.quiet });
  const step = new TrainStep(model, data, club, optimizer, clubOptimizer);
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
 * One training step (DESIGN §1): an Adam step of the encoder on the full loss, then `clubSteps` Adam
 * steps of the CLUB network's negative log-likelihood on the step's detached generic/unique pairs.
 * Returns the loss parts, or null (parameters untouched) when the loss is NaN/Inf.
 */
export class TrainStep {
  private readonly vars: tf.Variable[];

  constructor(
    private readonly model: SeaModel,
    private readonly data: ModelData,
    private readonly club: Club | null,
    private readonly optimizer: tf.Optimizer,
    private readonly clubOptimizer: tf.Optimizer | null,
  ) {
    this.vars = model.variables();
  }

  run(batch: BprBatch, permutations: readonly Int32Array[]): Record<string, number> | null {
    const { model, data, club } = this;
    const config = model.config;
    let kept: Record<string, tf.Scalar> = {};
    let pairs: { generic: tf.Tensor2D; unique: tf.Tensor2D }[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const out = model.forward(data, { training: true });
      const parts = lossParts(config, out, batch, club, permutations);
      kept = Object.fromEntries(Object.entries(parts).map(([k, t]) => [k, tf.keep(t)]));
      // Kept for the CLUB network's own steps. Outside this tape they are plain values, and those steps
      // update only the CLUB variables, so no gradient reaches the encoder from them (they are detached).
      pairs = out.distanceParts.map((p) => ({ generic: tf.keep(p.generic), unique: tf.keep(p.unique) }));
      return parts.total!;
    }, this.vars);
    const values = Object.fromEntries(Object.entries(kept).map(([k, t]) => [k, t.dataSync()[0]!]));
    Object.values(kept).forEach((t) => t.dispose());
    value.dispose();
    const finite = Number.isFinite(values.total!);
    if (finite) this.optimizer.applyGradients(grads);
    Object.values(grads).forEach((g) => g.dispose());
    if (finite && club && this.clubOptimizer && pairs.length > 0) {
      let nll = 0;
      for (let s = 0; s < config.clubSteps; s++) {
        const cost = this.clubOptimizer.minimize(() => clubLearningLoss(club, pairs), true, club.variables);
        if (s === config.clubSteps - 1 && cost) nll = cost.dataSync()[0]!;
        cost?.dispose();
      }
      values.clubNll = nll;
    }
    pairs.forEach((p) => (p.generic.dispose(), p.unique.dispose()));
    return finite ? values : null;
  }
}

interface EpochEvaluation {
  valid: MetricValues;
  test: { metrics: MetricValues; perUser: PerUserMetrics };
}

/** Fresh forward pass in inference mode after the last optimiser step (the reference reused stale embeddings). */
export function evaluateEpoch(data: ModelData, dataset: Dataset, model: SeaModel, config: SeaConfig): EpochEvaluation {
  const { users, items } = tf.tidy(() => {
    const out = model.forward(data, { training: false });
    return { users: out.users, items: out.items };
  });
  try {
    const scoreUsers = (ids: Int32Array): Float32Array =>
      takeData(tf.tidy(() => tf.matMul(tf.gather(users, tf.tensor1d(ids, "int32")), items, false, true)));
    const common = { train: dataset.train, scoreUsers, ks: config.ks, batchSize: config.evalBatchSize };
    const valid = evaluateFullRanking({ ...common, heldOut: dataset.valid });
    const test = evaluateFullRanking({ ...common, heldOut: dataset.test, perUser: true });
    const perUser: PerUserMetrics = {
      users: Array.from(test.users),
      values: Object.fromEntries(Object.entries(test.perUser ?? {}).map(([k, v]) => [k, Array.from(v, (x) => Math.round(x * 1e6) / 1e6)])),
    };
    return { valid: valid.metrics, test: { metrics: test.metrics, perUser } };
  } finally {
    users.dispose();
    items.dispose();
  }
}

/** At a new best epoch: embeddings, per-user test metrics and (synthetic data) planted-factor recovery. */
function writeBest(
  outDir: string,
  model: SeaModel,
  data: ModelData,
  perUser: PerUserMetrics,
  groundTruth: GroundTruthFactors | null,
  metrics: RunMetrics,
  config: SeaConfig,
): void {
  writeJsonAtomic(path.join(outDir, "per_user.json"), perUser);
  const parts = writeRunEmbeddings(path.join(outDir, "embeddings"), model, data);
  if (groundTruth) metrics.recovery = measureRecovery(parts, groundTruth, config.seed);
}

async function checkpoint(
  file: string,
  state: TrainerState,
  model: SeaModel,
  optimizer: tf.Optimizer,
  club: Club | null,
  clubOptimizer: tf.Optimizer | null,
): Promise<void> {
  const tensors: SavedTensor[] = [];
  for (const name of model.store.names()) {
    const v = model.store.get(name);
    tensors.push({ name: `model/${name}`, shape: v.shape, values: v.dataSync() as Float32Array });
  }
  tensors.push(...adamPowers(optimizer, "adamPowers"));
  if (clubOptimizer) tensors.push(...adamPowers(clubOptimizer, "clubAdamPowers"));
  const optWeights = await optimizer.getWeights();
  optWeights.forEach((w, i) => tensors.push({ name: `adam/${i}`, shape: w.tensor.shape, values: Float32Array.from(w.tensor.dataSync()) }));
  if (club && clubOptimizer) {
    club.getWeights().forEach((w: Float32Array, i: number) => tensors.push({ name: `club/${i}`, shape: [w.length], values: w }));
    const clubWeights = await clubOptimizer.getWeights();
    clubWeights.forEach((w, i) => tensors.push({ name: `clubAdam/${i}`, shape: w.tensor.shape, values: Float32Array.from(w.tensor.dataSync()) }));
    clubWeights[0]?.tensor.dispose(); // the iteration count is a fresh tensor; the rest are the optimiser's own variables
  }
  optWeights[0]?.tensor.dispose();
  saveCheckpoint(file, state, tensors);
}

async function restore(
  file: string,
  dataset: Dataset,
  model: SeaModel,
  optimizer: tf.Optimizer,
  club: Club | null,
  clubOptimizer: tf.Optimizer | null,
): Promise<TrainerState> {
  const { state, tensors } = loadCheckpoint<TrainerState>(file);
  if (state.metrics.dataset.fingerprint !== dataset.fingerprint) {
    throw new SeaError(`checkpoint was made on another dataset (fingerprint ${state.metrics.dataset.fingerprint}, this one ${dataset.fingerprint})`, { where: file });
  }
  for (const name of model.store.names()) {
    const saved = tensors.get(`model/${name}`);
    const v = model.store.get(name);
    if (!saved || saved.values.length !== v.size) throw new SeaError(`checkpoint does not match the model (parameter ${name}); was the config changed?`, { where: file });
    tf.tidy(() => v.assign(tf.tensor(saved.values, v.shape)));
  }
  await setOptimizerWeights(optimizer, collect(tensors, "adam/"));
  restoreAdamPowers(optimizer, tensors, "adamPowers");
  if (club && clubOptimizer) {
    club.setWeights(collectRaw(tensors, "club/"));
    await setOptimizerWeights(clubOptimizer, collect(tensors, "clubAdam/"));
    restoreAdamPowers(clubOptimizer, tensors, "clubAdamPowers");
  }
  return state;
}

/**
 * tfjs's Adam keeps β₁ᵗ and β₂ᵗ as running float32 products, but setWeights recomputes them as
 * pow(β, t): the two differ in the last bits, and a resumed run would drift from an uninterrupted one.
 * The running products are saved and restored as they are.
 */
interface AdamPowers {
  accBeta1?: tf.Variable;
  accBeta2?: tf.Variable;
}

function adamPowers(optimizer: tf.Optimizer, name: string): SavedTensor[] {
  const { accBeta1, accBeta2 } = optimizer as unknown as AdamPowers;
  if (!accBeta1 || !accBeta2) return [];
  return [{ name, shape: [2], values: Float32Array.of(accBeta1.dataSync()[0]!, accBeta2.dataSync()[0]!) }];
}

function restoreAdamPowers(optimizer: tf.Optimizer, tensors: Map<string, SavedTensor>, name: string): void {
  const saved = tensors.get(name);
  const { accBeta1, accBeta2 } = optimizer as unknown as AdamPowers;
  if (!saved || !accBeta1 || !accBeta2) return;
  tf.tidy(() => {
    accBeta1.assign(tf.scalar(saved.values[0]!));
    accBeta2.assign(tf.scalar(saved.values[1]!));
  });
}

/** Adam copies the values into its own variables; the temporary tensors are ours to dispose. */
async function setOptimizerWeights(optimizer: tf.Optimizer, weights: NamedTensor[]): Promise<void> {
  if (weights.length > 0) await optimizer.setWeights(weights);
  weights.forEach((w) => w.tensor.dispose());
}

function collectRaw(tensors: Map<string, SavedTensor>, prefix: string): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; tensors.has(`${prefix}${i}`); i++) out.push(tensors.get(`${prefix}${i}`)!.values);
  return out;
}

function collect(tensors: Map<string, SavedTensor>, prefix: string): NamedTensor[] {
  const out: NamedTensor[] = [];
  for (let i = 0; tensors.has(`${prefix}${i}`); i++) {
    const t = tensors.get(`${prefix}${i}`)!;
    out.push({ name: `${prefix}${i}`, tensor: tf.tensor(t.values, t.shape) });
  }
  return out;
}

function formatParts(values: Record<string, number>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k} ${v.toPrecision(4)}`)
    .join(" ");
}

function epochLine(r: EpochRecord, state: TrainerState, config: SeaConfig): string {
  const stop = config.stopMetric;
  const mi = r.mi ? "  MI " + Object.entries(r.mi).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(" ") : "";
  return (
    `epoch ${r.epoch}/${config.epochs} ${formatSeconds(r.seconds)}  loss ${formatParts(r.loss)}  ` +
    `valid ${stop} ${(r.valid[stop] ?? NaN).toFixed(4)}  test ${stop} ${(r.test[stop] ?? NaN).toFixed(4)}  ` +
    `best epoch ${state.metrics.bestEpoch}${mi}`
  );
}
