import * as tf from "@tensorflow/tfjs";
import type { Dataset } from "../data/types";
import { SeaError } from "../util/errors";
import { saveCheckpoint, loadCheckpoint, type SavedTensor } from "./checkpoint";
import type { TrainingParts } from "./trainingParts";
import { recordedBackbone, type RunMetrics } from "./runRecord";

/** What the run loop carries from epoch to epoch (and a checkpoint restores). */
export interface TrainerState {
  epoch: number;
  metrics: RunMetrics;
  sinceBest: number;
  finished: boolean;
}

/**
 * Checkpoint layout version; a checkpoint of another layout is refused with a message, not misread.
 * 3: the run's backbone is recorded and checked (checkpoints before backbones existed are layout 2).
 */
const CHECKPOINT_LAYOUT = 3;

/**
 * The run's checkpoint: trainer state, every model parameter (`model/<name>`), the optimiser's moments
 * (`adam/…`) and the companion network's weights and optimiser (`club/…`, `clubAdam/…`). Written atomically.
 */
export function writeRunCheckpoint(file: string, state: TrainerState, parts: TrainingParts): void {
  const { model, optimizer } = parts;
  const tensors: SavedTensor[] = [];
  for (const name of model.store.names()) {
    const v = model.store.get(name);
    tensors.push({ name: `model/${name}`, shape: v.shape, values: v.dataSync() as Float32Array });
  }
  tensors.push(...optimizer.save("adam"));
  if (model.companion) tensors.push(...model.companion.save("club"));
  saveCheckpoint(file, { ...state, layout: CHECKPOINT_LAYOUT }, tensors);
}

/** Restores parameters, optimiser and companion from `file` into `parts`; returns the trainer state. */
export function restoreRunCheckpoint(file: string, dataset: Dataset, parts: TrainingParts): TrainerState {
  const { model, optimizer } = parts;
  const { state, tensors } = loadCheckpoint<TrainerState & { layout?: number }>(file);
  if (state.layout !== CHECKPOINT_LAYOUT) {
    throw new SeaError(`checkpoint layout ${state.layout ?? 1} is not this version's (${CHECKPOINT_LAYOUT}); delete it to start the run afresh`, { where: file });
  }
  if (state.metrics.dataset.fingerprint !== dataset.fingerprint) {
    throw new SeaError(`checkpoint was made on another dataset (fingerprint ${state.metrics.dataset.fingerprint}, this one ${dataset.fingerprint})`, { where: file });
  }
  if (recordedBackbone(state.metrics) !== model.backboneName) {
    throw new SeaError(`checkpoint was made with backbone ${recordedBackbone(state.metrics)}, this run uses ${model.backboneName}`, { where: file });
  }
  for (const name of model.store.names()) {
    const saved = tensors.get(`model/${name}`);
    const v = model.store.get(name);
    if (!saved || saved.values.length !== v.size) throw new SeaError(`checkpoint does not match the model (parameter ${name}); was the config changed?`, { where: file });
    tf.tidy(() => v.assign(tf.tensor(saved.values, v.shape)));
  }
  optimizer.restore(tensors, "adam", file);
  model.companion?.restore(tensors, "club", file);
  const { layout: _layout, ...trainerState } = state;
  return trainerState;
}
