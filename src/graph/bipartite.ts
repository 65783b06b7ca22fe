import { SeaError } from "../util/errors";
import { csrNnz, csrTranspose, type Csr } from "../util/csr";

/**
 * The symmetric-normalised adjacency D^-1/2 A D^-1/2 of the user–item bipartite graph (docs/method.md §5.2, the
 * graph the per-modality encoders propagate over): A = [[0, R], [Rᵀ, 0]] of size (users + items)²,
 * node order users then items (item i is node users + i), no self loops, D = row sums of A. R's stored
 * values are the edge weights (1 for a binary interaction matrix). Nodes without edges keep empty rows
 * instead of dividing by zero. Normalisation is computed in float64, stored as float32.
 */
export function normalizedBipartiteAdjacency(train: Csr): Csr {
  const nUsers = train.nRows;
  const nItems = train.nCols;
  const n = nUsers + nItems;
  const nnz = csrNnz(train);
  const userDegree = new Float64Array(nUsers);
  const itemDegree = new Float64Array(nItems);
  for (let u = 0; u < nUsers; u++) {
    for (let p = train.indptr[u]!; p < train.indptr[u + 1]!; p++) {
      const w = train.values[p]!;
      if (!(w >= 0) || !Number.isFinite(w)) throw new SeaError(`interaction weight ${w} of user ${u} must be finite and ≥ 0`, { where: "normalizedBipartiteAdjacency" });
      userDegree[u] += w;
      itemDegree[train.indices[p]!] += w;
    }
  }
  const invSqrt = (deg: number): number => (deg > 0 ? 1 / Math.sqrt(deg) : 0);
  const itemsByUser = csrTranspose(train); // items × users: the lower-left block Rᵀ
  const indptr = new Int32Array(n + 1);
  const indices = new Int32Array(2 * nnz);
  const values = new Float32Array(2 * nnz);
  for (let u = 0; u < nUsers; u++) {
    const du = invSqrt(userDegree[u]!);
    for (let p = train.indptr[u]!; p < train.indptr[u + 1]!; p++) {
      const i = train.indices[p]!;
      indices[p] = nUsers + i;
      values[p] = train.values[p]! * du * invSqrt(itemDegree[i]!);
    }
    indptr[u + 1] = train.indptr[u + 1]!;
  }
  for (let i = 0; i < nItems; i++) {
    const di = invSqrt(itemDegree[i]!);
    for (let p = itemsByUser.indptr[i]!; p < itemsByUser.indptr[i + 1]!; p++) {
      const u = itemsByUser.indices[p]!;
      indices[nnz + p] = u;
      values[nnz + p] = itemsByUser.values[p]! * di * invSqrt(userDegree[u]!);
    }
    indptr[nUsers + i + 1] = nnz + itemsByUser.indptr[i + 1]!;
  }
  return { nRows: n, nCols: n, indptr, indices, values };
}
