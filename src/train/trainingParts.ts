import type { Dataset } from "../data/types";
import type { SeaConfig } from "../model/config";
import type { RecommenderModel } from "../model/contract";
import { createModel } from "../model/createModel";
import { prepareModelData, disposeModelData, type ModelData } from "../model/modelData";
import { Adam, pytorchAdam } from "../optim/adam";

/** What one run trains: the data as tensors, the model (backbone + separation) and the model's optimiser. */
export interface TrainingParts {
  readonly data: ModelData;
  readonly model: RecommenderModel;
  readonly optimizer: Adam;
  dispose(): void;
}

/** Tensors, model and optimiser for one run (also used by `sea bench step`). */
export function createTrainingParts(dataset: Dataset, config: SeaConfig): TrainingParts {
  const data = prepareModelData(dataset, config);
  const model = createModel(
    { nUsers: dataset.nUsers, nItems: dataset.nItems, modalities: dataset.modalities.map((m) => ({ name: m.name, dim: m.cols })) },
    config,
  );
  const optimizer = new Adam(model.store.names().map((name) => ({ name, variable: model.store.get(name) })), pytorchAdam(config.lr));
  return {
    data,
    model,
    optimizer,
    dispose() {
      model.dispose();
      optimizer.dispose();
      disposeModelData(data);
    },
  };
}
