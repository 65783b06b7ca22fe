import { SeaError } from "../util/errors";
import { csrNnz, type Csr } from "../util/csr";
import type { Rng } from "../util/rng";

/**
 * FREEDOM's degree-sensitive edge pruning (Zhou & Shen, "A Tale of Two Graphs", MM 2023; MMRec's
 * FREEDOM.pre_epoch_processing): each training edge (u, i) gets the weight
 *
 *   w_ui = 1/√d_u · 1/√d_i      (d = the node's number of training edges)
 *
 * and m = ⌊nnz·(1 − dropout)⌋ distinct edges are kept, drawn one after another WITHOUT replacement, each draw
 * proportional to w among the edges not yet drawn (torch.multinomial(w, m), whose default is replacement=False).
 * Edges between low-degree nodes are the likeliest to survive; hubs lose most of theirs.
 *
 * That successive sampling is drawn in one pass by Efraimidis–Spirakis keys: key_e = ln(v_e) / w_e with v_e
 * uniform in (0, 1]; the m largest keys are a sample with exactly that distribution. One random number per
 * edge in row-major (CSR) order, so the result is a function of (train, dropout, rng state).
 *
 * Returns the kept edges as a users × items CSR with value 1, rows and columns as in `train` (columns stay
 * sorted). m is computed as MMRec does, in float64: int(nnz * (1. - dropout)).
 */
export function degreeSensitiveEdgeSample(train: Csr, dropout: number, rng: Rng): Csr {
  if (!(dropout >= 0 && dropout < 1)) throw new SeaError(`dropout must be in [0, 1), got ${dropout}`, { where: "degreeSensitiveEdgeSample" });
  const nnz = csrNnz(train);
  const keep = Math.floor(nnz * (1 - dropout));
  const weights = edgeDegreeWeights(train);
  const keys = new Float64Array(nnz);
  for (let e = 0; e < nnz; e++) keys[e] = Math.log(1 - rng.next()) / weights[e]!;
  const kept = largestKeys(keys, keep);
  return keptEdges(train, kept);
}

/** w_e = 1/√(d_u·d_i) for every stored edge, in CSR order (degrees count edges, as MMRec's ones-valued adjacency). */
export function edgeDegreeWeights(train: Csr): Float64Array {
  const nnz = csrNnz(train);
  const userDegree = new Float64Array(train.nRows);
  const itemDegree = new Float64Array(train.nCols);
  for (let u = 0; u < train.nRows; u++) {
    userDegree[u] = train.indptr[u + 1]! - train.indptr[u]!;
    for (let p = train.indptr[u]!; p < train.indptr[u + 1]!; p++) itemDegree[train.indices[p]!]! += 1;
  }
  const weights = new Float64Array(nnz);
  for (let u = 0; u < train.nRows; u++) {
    for (let p = train.indptr[u]!; p < train.indptr[u + 1]!; p++) weights[p] = 1 / Math.sqrt(userDegree[u]! * itemDegree[train.indices[p]!]!);
  }
  return weights;
}

/** A mask of the `count` largest keys (exactly `count`; equal keys at the threshold go to the lower index). */
function largestKeys(keys: Float64Array, count: number): Uint8Array {
  const mask = new Uint8Array(keys.length);
  if (count <= 0) return mask;
  if (count >= keys.length) return mask.fill(1);
  const threshold = Float64Array.from(keys).sort()[keys.length - count]!;
  let taken = 0;
  for (let e = 0; e < keys.length; e++) {
    if (keys[e]! > threshold) {
      mask[e] = 1;
      taken++;
    }
  }
  for (let e = 0; e < keys.length && taken < count; e++) {
    if (keys[e] === threshold) {
      mask[e] = 1;
      taken++;
    }
  }
  return mask;
}

function keptEdges(train: Csr, kept: Uint8Array): Csr {
  const indptr = new Int32Array(train.nRows + 1);
  const indices: number[] = [];
  for (let u = 0; u < train.nRows; u++) {
    for (let p = train.indptr[u]!; p < train.indptr[u + 1]!; p++) if (kept[p]) indices.push(train.indices[p]!);
    indptr[u + 1] = indices.length;
  }
  return { nRows: train.nRows, nCols: train.nCols, indptr, indices: Int32Array.from(indices), values: new Float32Array(indices.length).fill(1) };
}
