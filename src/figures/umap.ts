import * as fs from "node:fs";
import * as path from "node:path";
import { UMAP } from "umap-js";
import { readNpy } from "../data/npy";
import { SeaError } from "../util/errors";
import { Rng } from "../util/rng";
import type { Figure, PlotlyScatterTrace } from "./types";
import { addSubplotGrid, baseLayout, legendBelow, emptyFigure, escapeHtml, OKABE_ITO, PAPER_SIZES, round4, subplotAxisIds, withAlpha } from "./style";

/** A row-major float32 matrix [n, d]. */
export interface Matrix {
  data: Float32Array;
  n: number;
  d: number;
}

/** The generic and unique parts of one modality's item embeddings (embeddings/item_<m>_{generic,unique}.npy). */
export interface ItemParts {
  modality: string;
  generic: Matrix;
  unique: Matrix;
}

export interface UmapOptions {
  seed: number;
  /** default 15 (clamped to n − 1) */
  nNeighbors?: number;
  /** default 0.1 */
  minDist?: number;
  /** rows kept (deterministic subsample by seed); default 2000 */
  maxItems?: number;
  /** optimisation epochs; default 200 (umap-learn uses 200 for large, 500 for small data) */
  nEpochs?: number;
  /**
   * Rows wider than this are first mapped to this many dimensions by a seeded Gaussian random
   * projection (Johnson–Lindenstrauss: pairwise distances kept up to a small factor), because
   * umap-js's neighbour search costs O(d) per distance in plain JavaScript; default 64, 0 = never.
   */
  projectDims?: number;
}

export interface UmapResult {
  /** [indices.length, 2] row-major */
  coords: Float32Array;
  /** rows of x that were embedded, increasing */
  indices: Int32Array;
}

/** min(n, maxItems) distinct row indices in increasing order, the same for the same (n, maxItems, seed). */
export function subsampleIndices(n: number, maxItems: number, seed: number): Int32Array {
  if (n <= maxItems) return Int32Array.from({ length: n }, (_, i) => i);
  const perm = new Rng(seed).permutation(n);
  return perm.slice(0, maxItems).sort();
}

/**
 * 2-D UMAP of the rows of x ([n, d] row-major), seeded through the kit's Rng so the same input and
 * seed give the same picture. Rows beyond maxItems are subsampled deterministically (speed: umap-js
 * is pure JavaScript).
 */
export function umapEmbedding(x: Float32Array, n: number, d: number, options: UmapOptions): UmapResult {
  if (x.length !== n * d) throw new SeaError(`umapEmbedding: data has ${x.length} values, expected n·d = ${n}·${d}`);
  const indices = subsampleIndices(n, options.maxItems ?? 2000, options.seed);
  const m = indices.length;
  const coords = new Float32Array(m * 2);
  if (m < 3) {
    // UMAP needs neighbours; with < 3 points there is no structure to show: place them on a line.
    for (let i = 0; i < m; i++) coords[2 * i] = i;
    return { coords, indices };
  }
  const k = options.projectDims ?? 64;
  const rows = k > 0 && d > k ? randomProjectionRows(x, d, indices, k, options.seed) : Array.from(indices, (r) => Array.from(x.subarray(r * d, r * d + d)));
  const rng = new Rng(options.seed ^ 0x5eed);
  const umap = new UMAP({
    nComponents: 2,
    nNeighbors: Math.max(2, Math.min(options.nNeighbors ?? 15, m - 1)),
    minDist: options.minDist ?? 0.1,
    nEpochs: options.nEpochs ?? 200,
    random: () => rng.next(),
  });
  const emb = umap.fit(rows);
  for (let i = 0; i < m; i++) {
    coords[2 * i] = emb[i]![0]!;
    coords[2 * i + 1] = emb[i]![1]!;
  }
  return { coords, indices };
}

/** Selected rows of x times a seeded d×k Gaussian matrix scaled by 1/√k (so squared norms are kept in expectation). */
function randomProjectionRows(x: Float32Array, d: number, rows: Int32Array, k: number, seed: number): number[][] {
  const proj = new Float64Array(d * k);
  new Rng(seed ^ 0x0b7ec7).fillNormal(proj, 0, 1 / Math.sqrt(k));
  return Array.from(rows, (r) => {
    const out = new Float64Array(k);
    const base = r * d;
    for (let j = 0; j < d; j++) {
      const v = x[base + j]!;
      if (v === 0) continue;
      const p = j * k;
      for (let c = 0; c < k; c++) out[c] += v * proj[p + c]!;
    }
    return Array.from(out);
  });
}

function readMatrix(file: string): Matrix {
  let arr;
  try {
    arr = readNpy(file);
  } catch (e) {
    if (e instanceof SeaError) throw e;
    throw new SeaError(`cannot read: ${(e as Error).message}`, { where: file, cause: e });
  }
  if (arr.shape.length !== 2) throw new SeaError(`expected a 2-D array [items, dim], got shape [${arr.shape.join(", ")}]`, { where: file });
  if (arr.dtype !== "float32" && arr.dtype !== "float64") throw new SeaError(`expected float32 or float64, got ${arr.dtype}`, { where: file });
  const data = arr.data instanceof Float32Array ? arr.data : Float32Array.from(arr.data as Float64Array);
  return { data, n: arr.shape[0]!, d: arr.shape[1]! };
}

/**
 * Reads item_<m>_generic.npy and item_<m>_unique.npy for every modality m found in an embeddings
 * folder (modalities sorted by name). Both parts of a modality must have the same number of items.
 */
export function loadItemParts(embeddingsDir: string): ItemParts[] {
  if (!fs.existsSync(embeddingsDir)) throw new SeaError("embeddings folder does not exist", { where: embeddingsDir });
  const modalities = fs
    .readdirSync(embeddingsDir)
    .map((f) => /^item_(.+)_generic\.npy$/.exec(f)?.[1])
    .filter((m): m is string => m !== undefined)
    .sort();
  return modalities.map((m) => {
    const uniqueFile = path.join(embeddingsDir, `item_${m}_unique.npy`);
    if (!fs.existsSync(uniqueFile)) throw new SeaError(`item_${m}_generic.npy has no matching item_${m}_unique.npy`, { where: embeddingsDir });
    const generic = readMatrix(path.join(embeddingsDir, `item_${m}_generic.npy`));
    const unique = readMatrix(uniqueFile);
    if (generic.n !== unique.n) throw new SeaError(`generic part has ${generic.n} items, unique part ${unique.n}`, { where: uniqueFile });
    return { modality: m, generic, unique };
  });
}

/** Planted item clusters of a synthetic dataset (<datasetDir>/gt_cluster.npy, int [items]); undefined when absent. */
export function loadClusterLabels(datasetDir: string): Int32Array | undefined {
  const file = path.join(datasetDir, "gt_cluster.npy");
  if (!fs.existsSync(file)) return undefined;
  const arr = readNpy(file);
  if (arr.shape.length !== 1) throw new SeaError(`expected a 1-D array [items], got shape [${arr.shape.join(", ")}]`, { where: file });
  if (arr.dtype === "int32") return arr.data as Int32Array;
  if (arr.dtype === "int64") return Int32Array.from(arr.data as BigInt64Array, (v) => Number(v));
  throw new SeaError(`expected int32 or int64 cluster labels, got ${arr.dtype}`, { where: file });
}

export interface UmapPanelInput {
  /** column title, e.g. the variant name */
  label: string;
  parts: ItemParts[];
}

export interface UmapFigureOptions extends UmapOptions {
  /** planted cluster per item (synthetic data): colours points by cluster, marker shape by part */
  clusters?: Int32Array;
  title?: string;
}

/** Colours of (modality index, part) when points are coloured by part/modality. */
const PART_COLOURS: readonly { generic: string; unique: string }[] = [
  { generic: OKABE_ITO.blue, unique: OKABE_ITO.orange },
  { generic: OKABE_ITO.bluishGreen, unique: OKABE_ITO.vermillion },
  { generic: OKABE_ITO.skyBlue, unique: OKABE_ITO.reddishPurple },
];
const CLUSTER_COLOURS = [
  OKABE_ITO.blue, OKABE_ITO.orange, OKABE_ITO.bluishGreen, OKABE_ITO.vermillion, OKABE_ITO.reddishPurple,
  OKABE_ITO.skyBlue, OKABE_ITO.black, OKABE_ITO.yellow,
];
const PART_SYMBOLS = { generic: "circle", unique: "diamond" } as const;

/**
 * UMAP of items' generic and unique parts: one column per input (e.g. `sea` vs `orthogonal`), one row
 * per modality. Each panel embeds that modality's generic and unique rows of the same item subsample
 * jointly, so whether the two parts occupy separate regions is visible. Coloured by part (and
 * modality), or by planted cluster when `clusters` is given (then marker shape = part).
 */
export function umapPartsFigure(inputs: readonly UmapPanelInput[], options: UmapFigureOptions): Figure {
  const modalities = [...new Set(inputs.flatMap((inp) => inp.parts.map((p) => p.modality)))].sort();
  if (inputs.length === 0 || modalities.length === 0) return emptyFigure("No item embeddings to project");
  const cols = inputs.length;
  const specs = modalities.flatMap((m) => inputs.map((inp) => ({ title: `${inp.label}: ${m}`, xTitle: "UMAP 1", yTitle: "UMAP 2", x: { showticklabels: false, showgrid: false }, y: { showticklabels: false, showgrid: false } })));
  const rows = modalities.length;
  const layout = baseLayout(cols === 1 ? PAPER_SIZES.single.width + 60 : PAPER_SIZES.double.width, 130 + 300 * rows + 70 * (rows - 1), options.title);
  layout.margin = { l: 40, r: 16, t: options.title ? 80 : 40, b: 90 };
  addSubplotGrid(layout, specs, cols, { x: 60, y: 70 });
  legendBelow(layout, 40);
  layout.legend = { ...layout.legend, itemsizing: "constant" };

  const data: PlotlyScatterTrace[] = [];
  const legendShown = new Set<string>();
  modalities.forEach((m, mi) => {
    inputs.forEach((inp, ci) => {
      const parts = inp.parts.find((p) => p.modality === m);
      if (!parts) return;
      if (parts.generic.d !== parts.unique.d) {
        throw new SeaError(`${inp.label}: ${m} generic (${parts.generic.d}-d) and unique (${parts.unique.d}-d) parts differ in width; a joint UMAP needs equal widths`);
      }
      if (options.clusters && options.clusters.length !== parts.generic.n) {
        throw new SeaError(`cluster labels have ${options.clusters.length} entries but ${inp.label} has ${parts.generic.n} items`);
      }
      const items = subsampleIndices(parts.generic.n, options.maxItems ?? 2000, options.seed);
      const k = items.length;
      const d = parts.generic.d;
      const stacked = new Float32Array(2 * k * d);
      for (let i = 0; i < k; i++) {
        stacked.set(parts.generic.data.subarray(items[i]! * d, items[i]! * d + d), i * d);
        stacked.set(parts.unique.data.subarray(items[i]! * d, items[i]! * d + d), (k + i) * d);
      }
      const { coords } = umapEmbedding(stacked, 2 * k, d, { ...options, maxItems: Infinity });
      const ids = subplotAxisIds(mi * cols + ci);
      (["generic", "unique"] as const).forEach((part, pi) => {
        const x: number[] = [];
        const y: number[] = [];
        const text: string[] = [];
        for (let i = 0; i < k; i++) {
          x.push(round4(coords[2 * (pi * k + i)]!));
          y.push(round4(coords[2 * (pi * k + i) + 1]!));
          text.push(options.clusters ? `item ${items[i]}, cluster ${options.clusters[items[i]!]}` : `item ${items[i]}`);
        }
        const name = options.clusters ? part : `${m} ${part}`;
        const colour = options.clusters
          ? Array.from(items, (it) => withAlpha(CLUSTER_COLOURS[((options.clusters![it]! % CLUSTER_COLOURS.length) + CLUSTER_COLOURS.length) % CLUSTER_COLOURS.length]!, 0.7))
          : withAlpha(PART_COLOURS[mi % PART_COLOURS.length]![part], 0.6);
        data.push({
          type: "scatter",
          mode: "markers",
          name,
          legendgroup: name,
          showlegend: !legendShown.has(name),
          x,
          y,
          text,
          marker: { color: colour, size: 4, symbol: PART_SYMBOLS[part] },
          hovertemplate: `${escapeHtml(inp.label)} ${escapeHtml(m)} ${part}<br>%{text}<extra></extra>`,
          xaxis: ids.x,
          yaxis: ids.y,
        });
        legendShown.add(name);
      });
    });
  });
  return { data, layout };
}
