import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { RecommenderModel } from "../model/contract";
import type { ModelData } from "../model/modelData";
import { writeNpy } from "../data/npy";
import type { ModalityParts } from "../analysis/miPanel";

/** A modality's analysis parts as plain arrays: [n, genericDim] and [n, uniqueDim], row-major (what the MI panel reads). */
export type PartArrays = ModalityParts;

/** Copies the model's analysis parts (inference mode) out of tensors. */
export function readAnalysisParts(model: RecommenderModel, data: ModelData): PartArrays[] {
  const parts = model.analysisParts(data);
  try {
    return parts.map((p) => ({
      name: p.name,
      n: p.generic.shape[0],
      generic: p.generic.dataSync() as Float32Array,
      genericDim: p.generic.shape[1],
      unique: p.unique.dataSync() as Float32Array,
      uniqueDim: p.unique.shape[1],
    }));
  } finally {
    parts.forEach((p) => (p.generic.dispose(), p.unique.dispose()));
  }
}

/** The fused user and item representations that score (inference mode), [nUsers, M·k] and [nItems, M·k]. */
export interface ScoringEmbeddings {
  readonly users: tf.Tensor2D;
  readonly items: tf.Tensor2D;
}

/**
 * Writes the run's embeddings (float32 .npy, see runRecord.ts): users.npy and items.npy (the fused
 * representations that score, as evaluated), and per modality item_<m>_generic.npy / item_<m>_unique.npy.
 */
export function writeRunEmbeddings(dir: string, scoring: ScoringEmbeddings, parts: readonly PartArrays[]): void {
  const { users, items } = scoring;
  writeNpy(path.join(dir, "users.npy"), { dtype: "float32", shape: [...users.shape], data: users.dataSync() as Float32Array });
  writeNpy(path.join(dir, "items.npy"), { dtype: "float32", shape: [...items.shape], data: items.dataSync() as Float32Array });
  for (const p of parts) {
    writeNpy(path.join(dir, `item_${p.name}_generic.npy`), { dtype: "float32", shape: [p.n, p.genericDim], data: p.generic });
    writeNpy(path.join(dir, `item_${p.name}_unique.npy`), { dtype: "float32", shape: [p.n, p.uniqueDim], data: p.unique });
  }
}
