/**
 * Item–item graphs from raw item features (docs/method.md §5.4): cosine kNN per modality, symmetric-normalised,
 * then a weighted mix of the modalities' graphs (0.1 image + 0.9 text in the reference).
 *
 * Self-inclusion: like the reference (MMRec / FREEDOM-style), the top-k is taken over the full
 * similarity row, the item itself included, so an item is normally its own first neighbour
 * (cosine 1) and gets k − 1 other neighbours. Ties are broken towards the lower item index.
 *
 * Cost: the similarity matrix is computed block by block (a block of rows against the items at or
 * after the block's first row: the matrix is symmetric, so each pair is computed once and offered to
 * both rows' candidate lists). No items × items matrix is ever held. A block is multiplied either by
 * a register-blocked JS kernel (~3.5 GFLOP/s on one core here, ~10× tfjs's pure-JS cpu backend)
 * or through `tf.matMul` when the active tfjs backend multiplies faster (the native BLAS kernels);
 * "auto" measures both once per process. Measured here, k = 10: Baby-sized 7,050 × 4096 and
 * Clothing-sized 23,033 × 384 take ~60 s each in JS, ~3 s and ~4 s through the native kernels.
 * Either way the multiply only shortlists `k + margin` candidates per item; the final top-k is
 * re-ranked with cosines recomputed in float64 from the raw features, so the graph does not depend
 * on which path ran (nor on float32 rounding) except in the vanishing case of more than `margin`
 * near-ties at the boundary.
 */
import * as tf from "@tensorflow/tfjs";
import { takeData } from "../util/takeData";
import { SeaError } from "../util/errors";
import type { FeatureMatrix } from "../data/types";
import type { Csr } from "../util/csr";

export type KnnMultiply = "auto" | "js" | "tfjs";

export interface KnnOptions {
  /** Rows of the similarity matrix computed at once (memory: blockRows × items doubles). Default 128. */
  blockRows?: number;
  /** How similarity blocks are multiplied; default "auto". */
  multiply?: KnnMultiply;
  /** Extra candidates per item kept from the fast pass for the exact float64 re-ranking. Default max(8, k). */
  margin?: number;
}

/**
 * Cosine kNN graph of the items, symmetric-normalised: A[i, j] = 1 for the k most similar items j of
 * item i (self included, see above), then D^-1/2 A D^-1/2 with D the row sums of A, as the reference
 * normalises its (directed) kNN adjacency. Rows with zero norm have cosine 0 to everything.
 */
export function knnGraph(features: FeatureMatrix, k: number, options: KnnOptions = {}): Csr {
  const n = features.rows;
  const d = features.cols;
  if (!Number.isInteger(k) || k < 1) throw new SeaError(`k must be a positive integer, got ${k}`, { where: `knnGraph(${features.name})` });
  if (features.data.length !== n * d) {
    throw new SeaError(`data has ${features.data.length} values, expected rows·cols = ${n * d}`, { where: `knnGraph(${features.name})` });
  }
  const kk = Math.min(k, n);
  const blockRows = options.blockRows ?? 128;
  if (!Number.isInteger(blockRows) || blockRows < 1) throw new SeaError(`blockRows must be a positive integer, got ${blockRows}`, { where: "knnGraph" });
  const margin = options.margin ?? Math.max(8, k);
  const width = Math.min(n, kk + margin);
  const norms = rowNorms(features.data, n, d);
  const unit = unitRows(features.data, norms, n, d);
  const candidates = new TopLists(n, width);
  const multiply = chooseMultiply(options.multiply ?? "auto");
  for (let r0 = 0; r0 < n; r0 += blockRows) {
    const r1 = Math.min(n, r0 + blockRows);
    const sims = multiply === "tfjs" ? tfjsBlock(unit, d, r0, r1, n) : jsBlock(unit, d, r0, r1, n);
    offerBlock(candidates, sims, r0, r1, n);
  }
  const neighbours = exactTopK(features.data, norms, d, candidates, kk);
  return normalisedKnnAdjacency(neighbours, n, kk);
}

/** Weighted sum of item graphs of the same shape (union of their entries). */
export function mixedItemGraph(graphs: readonly { graph: Csr; weight: number }[]): Csr {
  if (graphs.length === 0) throw new SeaError("mixedItemGraph needs at least one graph");
  const { nRows, nCols } = graphs[0]!.graph;
  graphs.forEach(({ graph, weight }, g) => {
    if (graph.nRows !== nRows || graph.nCols !== nCols) {
      throw new SeaError(`graph ${g} is ${graph.nRows}×${graph.nCols}, graph 0 is ${nRows}×${nCols}`, { where: "mixedItemGraph" });
    }
    if (!Number.isFinite(weight)) throw new SeaError(`weight of graph ${g} must be finite, got ${weight}`, { where: "mixedItemGraph" });
  });
  const acc = new Float64Array(nCols);
  const seen = new Uint8Array(nCols);
  const indptr = new Int32Array(nRows + 1);
  const idx: number[] = [];
  const val: number[] = [];
  for (let i = 0; i < nRows; i++) {
    const cols: number[] = [];
    for (const { graph, weight } of graphs) {
      for (let p = graph.indptr[i]!; p < graph.indptr[i + 1]!; p++) {
        const j = graph.indices[p]!;
        if (!seen[j]) {
          seen[j] = 1;
          cols.push(j);
        }
        acc[j] += weight * graph.values[p]!;
      }
    }
    cols.sort((a, b) => a - b);
    for (const j of cols) {
      idx.push(j);
      val.push(acc[j]!);
      acc[j] = 0;
      seen[j] = 0;
    }
    indptr[i + 1] = idx.length;
  }
  return { nRows, nCols, indptr, indices: Int32Array.from(idx), values: Float32Array.from(val) };
}

// ---------------------------------------------------------------------------------------------
// Candidate lists

/**
 * Per row, the best `width` (value, column) pairs seen so far, unordered, with the position of the
 * current worst one. "Better" = larger value, or equal value and lower column (deterministic ties).
 */
class TopLists {
  readonly values: Float64Array;
  readonly cols: Int32Array;
  readonly size: Int32Array;
  /** Position (within the row's slots) of the worst kept entry, valid once the row is full. */
  private readonly worst: Int32Array;
  /** Value of the worst kept entry (−Infinity until the row is full), for a one-compare fast reject. */
  readonly floor: Float64Array;

  constructor(
    readonly rows: number,
    readonly width: number,
  ) {
    this.values = new Float64Array(rows * width);
    this.cols = new Int32Array(rows * width);
    this.size = new Int32Array(rows);
    this.worst = new Int32Array(rows);
    this.floor = new Float64Array(rows).fill(-Infinity);
  }

  offer(row: number, col: number, value: number): void {
    const w = this.width;
    const base = row * w;
    const s = this.size[row]!;
    if (s < w) {
      this.values[base + s] = value;
      this.cols[base + s] = col;
      this.size[row] = s + 1;
      if (s + 1 === w) this.findWorst(row);
      return;
    }
    const p = base + this.worst[row]!;
    const wv = this.values[p]!;
    if (value < wv || (value === wv && col > this.cols[p]!)) return;
    this.values[p] = value;
    this.cols[p] = col;
    this.findWorst(row);
  }

  private findWorst(row: number): void {
    const base = row * this.width;
    let at = 0;
    for (let t = 1; t < this.width; t++) {
      const v = this.values[base + t]!;
      const wv = this.values[base + at]!;
      if (v < wv || (v === wv && this.cols[base + t]! > this.cols[base + at]!)) at = t;
    }
    this.worst[row] = at;
    this.floor[row] = this.values[base + at]!;
  }
}

/**
 * Offers every pair of a block: S[i, j] for rows r0 ≤ i < r1 and columns j ≥ r0 (row-major,
 * n − r0 columns). By symmetry, S[i, j] with j ≥ r1 also goes to row j's list as S[j, i].
 */
function offerBlock(top: TopLists, sims: Float64Array | Float32Array, r0: number, r1: number, n: number): void {
  const ld = n - r0;
  const floor = top.floor;
  for (let i = r0; i < r1; i++) {
    const o = (i - r0) * ld - r0;
    for (let j = r0; j < n; j++) {
      const v = sims[o + j]!;
      // A cheap reject first: most pairs are worse than both rows' current worst.
      if (v >= floor[i]!) top.offer(i, j, v);
      if (j >= r1 && v >= floor[j]!) top.offer(j, i, v);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Similarity blocks

function rowNorms(x: Float32Array, n: number, d: number): Float64Array {
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let t = i * d; t < (i + 1) * d; t++) s += x[t]! * x[t]!;
    norms[i] = Math.sqrt(s);
  }
  return norms;
}

/** L2-normalised rows (zero rows stay zero, so their cosines are 0). */
function unitRows(x: Float32Array, norms: Float64Array, n: number, d: number): Float32Array {
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const inv = norms[i]! > 0 ? 1 / norms[i]! : 0;
    for (let t = i * d; t < (i + 1) * d; t++) out[t] = x[t]! * inv;
  }
  return out;
}

/**
 * S[i − r0, j − r0] = <u_i, u_j> for r0 ≤ i < r1, r0 ≤ j < n. A 4×4 register-blocked kernel: per step
 * of the inner loop 8 loads feed 16 multiply-adds, which is what lets plain JS reach a few GFLOP/s.
 */
function jsBlock(u: Float32Array, d: number, r0: number, r1: number, n: number): Float64Array {
  const ld = n - r0;
  const out = new Float64Array((r1 - r0) * ld);
  const rowQuads = r0 + ((r1 - r0) & ~3);
  const colQuads = r0 + ((n - r0) & ~3);
  for (let i = r0; i < rowQuads; i += 4) {
    for (let j = r0; j < colQuads; j += 4) dot4x4(u, d, i, j, out, (i - r0) * ld + (j - r0), ld);
    for (let j = colQuads; j < n; j++) for (let a = i; a < i + 4; a++) out[(a - r0) * ld + (j - r0)] = dot(u, d, a, j);
  }
  for (let i = rowQuads; i < r1; i++) for (let j = r0; j < n; j++) out[(i - r0) * ld + (j - r0)] = dot(u, d, i, j);
  return out;
}

function dot(u: Float32Array, d: number, a: number, b: number): number {
  let s = 0;
  const pa = a * d;
  const pb = b * d;
  for (let t = 0; t < d; t++) s += u[pa + t]! * u[pb + t]!;
  return s;
}

function dot4x4(u: Float32Array, d: number, i: number, j: number, out: Float64Array, o: number, ld: number): void {
  const a0 = i * d, a1 = a0 + d, a2 = a1 + d, a3 = a2 + d;
  const b0 = j * d, b1 = b0 + d, b2 = b1 + d, b3 = b2 + d;
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  for (let t = 0; t < d; t++) {
    const x0 = u[b0 + t]!, x1 = u[b1 + t]!, x2 = u[b2 + t]!, x3 = u[b3 + t]!;
    let y = u[a0 + t]!;
    c00 += y * x0; c01 += y * x1; c02 += y * x2; c03 += y * x3;
    y = u[a1 + t]!;
    c10 += y * x0; c11 += y * x1; c12 += y * x2; c13 += y * x3;
    y = u[a2 + t]!;
    c20 += y * x0; c21 += y * x1; c22 += y * x2; c23 += y * x3;
    y = u[a3 + t]!;
    c30 += y * x0; c31 += y * x1; c32 += y * x2; c33 += y * x3;
  }
  out[o] = c00; out[o + 1] = c01; out[o + 2] = c02; out[o + 3] = c03;
  o += ld;
  out[o] = c10; out[o + 1] = c11; out[o + 2] = c12; out[o + 3] = c13;
  o += ld;
  out[o] = c20; out[o + 1] = c21; out[o + 2] = c22; out[o + 3] = c23;
  o += ld;
  out[o] = c30; out[o + 1] = c31; out[o + 2] = c32; out[o + 3] = c33;
}

/**
 * The same blocks through tf.matMul (float32). Rows r0… of the row-major unit rows are one contiguous range, so
 * each operand is a tensor over a subarray of `u`: on the cpu backend that is no copy (slicing them from one
 * tensor copied up to n·d values per block, 115 MB at Baby scale), elsewhere the one upload a slice would cost.
 */
function tfjsBlock(u: Float32Array, d: number, r0: number, r1: number, n: number): Float32Array {
  const product = tf.tidy(() => {
    const rows = tf.tensor2d(u.subarray(r0 * d, r1 * d), [r1 - r0, d]);
    const cols = tf.tensor2d(u.subarray(r0 * d, n * d), [n - r0, d]);
    return tf.matMul(rows, cols, false, true);
  });
  return takeData(product); // read outside tidy (see takeData)
}

let measuredChoice: "js" | "tfjs" | undefined;

/**
 * "auto": times one small product both ways, once per process, and keeps the faster. The choice
 * only affects speed (the final ranking is exact, see the file comment).
 */
function chooseMultiply(requested: KnnMultiply): "js" | "tfjs" {
  if (requested !== "auto") return requested;
  if (measuredChoice) return measuredChoice;
  // Big enough (~34 MFLOP) that per-call overheads do not decide; ~10 ms in JS.
  const n = 512;
  const d = 256;
  const rows = 128;
  const u = new Float32Array(n * d);
  for (let t = 0; t < u.length; t++) u[t] = ((t * 2654435761) % 1000) / 1000 - 0.5;
  const time = (f: () => void): number => {
    const t0 = process.hrtime.bigint();
    f();
    return Number(process.hrtime.bigint() - t0);
  };
  time(() => jsBlock(u, d, 0, rows, n)); // warm-up: JIT
  const js = time(() => jsBlock(u, d, 0, rows, n));
  // The first call includes kernel set-up; a slow backend (pure-JS tfjs) is not timed twice.
  const first = time(() => tfjsBlock(u, d, 0, rows, n));
  const faster = first < js / 2 || (first < 4 * js && time(() => tfjsBlock(u, d, 0, rows, n)) < js / 2);
  measuredChoice = faster ? "tfjs" : "js";
  return measuredChoice;
}

// ---------------------------------------------------------------------------------------------
// Exact re-ranking and normalisation

/** Per row, the k best candidates by float64 cosine from the raw features; ties → lower index. */
function exactTopK(x: Float32Array, norms: Float64Array, d: number, top: TopLists, k: number): Int32Array {
  const n = top.rows;
  const out = new Int32Array(n * k);
  const scored: { col: number; value: number }[] = [];
  for (let i = 0; i < n; i++) {
    scored.length = 0;
    const base = i * top.width;
    for (let t = 0; t < top.size[i]!; t++) {
      const j = top.cols[base + t]!;
      scored.push({ col: j, value: exactCosine(x, norms, d, i, j) });
    }
    scored.sort((a, b) => b.value - a.value || a.col - b.col);
    for (let t = 0; t < k; t++) out[i * k + t] = scored[t]!.col;
  }
  return out;
}

function exactCosine(x: Float32Array, norms: Float64Array, d: number, a: number, b: number): number {
  const na = norms[a]!;
  const nb = norms[b]!;
  if (na === 0 || nb === 0) return 0;
  let s = 0;
  const pa = a * d;
  const pb = b * d;
  for (let t = 0; t < d; t++) s += x[pa + t]! * x[pb + t]!;
  return s / (na * nb);
}

/** A[i, j] = 1 for j in row i's neighbours; value d_i^-1/2 d_j^-1/2 with d = row sums of A (float64). */
function normalisedKnnAdjacency(neighbours: Int32Array, n: number, k: number): Csr {
  // Every row has exactly k distinct neighbours, so every degree is k; computed generally all the same.
  const degree = new Float64Array(n).fill(k);
  const indptr = new Int32Array(n + 1);
  const indices = new Int32Array(n * k);
  const values = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    const row = neighbours.slice(i * k, (i + 1) * k).sort();
    indptr[i + 1] = (i + 1) * k;
    for (let t = 0; t < k; t++) {
      const j = row[t]!;
      indices[i * k + t] = j;
      values[i * k + t] = 1 / Math.sqrt(degree[i]! * degree[j]!);
    }
  }
  return { nRows: n, nCols: n, indptr, indices, values };
}
