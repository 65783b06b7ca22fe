import * as tf from "@tensorflow/tfjs";
import type { Dataset } from "../data/types";
import type { SeaConfig } from "./config";
import { normalizedBipartiteAdjacency } from "../graph/bipartite";
import { knnGraph, mixedItemGraph } from "../graph/knn";
import type { Csr } from "../util/csr";
import { SparseMatrix } from "../backend/sparse";
import { Fingerprint } from "../util/fingerprint";

/** Everything a model reads that is not a parameter: features, interactions and graphs. */
export interface ModelData {
  readonly nUsers: number;
  readonly nItems: number;
  /** One entry per modality, item features [nItems, d_m] (constants). */
  readonly modalities: readonly { readonly name: string; readonly features: tf.Tensor2D }[];
  /** The training interactions, users × items (backbones that resample the graph read them, e.g. FREEDOM). */
  readonly train: Csr;
  /** Symmetric-normalised user–item bipartite adjacency, (nUsers + nItems)², users first. */
  readonly userItemGraph: SparseMatrix;
  /** Mixed item–item kNN graph, nItems², or null to skip that propagation (knnK = 0). */
  readonly itemGraph: SparseMatrix | null;
}

/**
 * Item–item graphs are the costly part of preparing a dataset (cosine kNN over all items). They are
 * memoised in-process by a fingerprint of every input (dataset content, k, mixing weights), so an
 * ablation builds them once. (The reference keyed its on-disk cache by k alone.)
 */
const itemGraphCache = new Map<string, Csr>();

/** Mixing weight per modality: configured ones by name; modalities not named share what is left equally. */
export function itemGraphWeights(names: readonly string[], configured: Record<string, number>): number[] {
  const named = names.filter((n) => n in configured);
  const rest = Math.max(0, 1 - named.reduce((s, n) => s + configured[n]!, 0));
  const unnamed = names.length - named.length;
  return names.map((n) => (n in configured ? configured[n]! : unnamed > 0 ? rest / unnamed : 0));
}

export function buildItemGraph(dataset: Dataset, config: Pick<SeaConfig, "knnK" | "itemGraphWeights">): Csr {
  const names = dataset.modalities.map((m) => m.name);
  const weights = itemGraphWeights(names, config.itemGraphWeights);
  const key = new Fingerprint().add(dataset.fingerprint).add(String(config.knnK)).add(JSON.stringify(weights)).digest();
  const cached = itemGraphCache.get(key);
  if (cached) return cached;
  const k = Math.min(config.knnK, dataset.nItems);
  const graph: Csr = mixedItemGraph(dataset.modalities.map((m, i) => ({ graph: knnGraph(m, k), weight: weights[i]! })));
  itemGraphCache.set(key, graph);
  return graph;
}

/** Features and graphs as tensors / sparse operators; dispose with disposeModelData. */
export function prepareModelData(dataset: Dataset, config: SeaConfig): ModelData {
  return {
    nUsers: dataset.nUsers,
    nItems: dataset.nItems,
    train: dataset.train,
    modalities: dataset.modalities.map((m) => ({ name: m.name, features: tf.tensor2d(m.data, [m.rows, m.cols], "float32") })),
    userItemGraph: SparseMatrix.fromCsr(normalizedBipartiteAdjacency(dataset.train)),
    itemGraph: config.knnK > 0 ? SparseMatrix.fromCsr(buildItemGraph(dataset, config)) : null,
  };
}

export function disposeModelData(data: ModelData): void {
  for (const m of data.modalities) m.features.dispose();
}
