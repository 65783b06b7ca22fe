/**
 * Compressed sparse row matrix: row i's entries are indices[indptr[i] .. indptr[i+1]) with the
 * matching values. Column indices are sorted within each row. Used for interaction matrices
 * (users × items), the normalised user–item graph and item–item kNN graphs.
 *
 * It lives in util, the lowest layer, because it is plain typed arrays (no tensors, no domain meaning) and every
 * layer that holds one imports it downward: backend's sparse products, data's loaders and samplers, graph's
 * builders, eval's masks and the model. It is the sparse counterpart of the row-major helpers in rowMajor.ts.
 */
export interface Csr {
  readonly nRows: number;
  readonly nCols: number;
  /** length nRows + 1 */
  readonly indptr: Int32Array;
  /** length nnz, sorted within each row */
  readonly indices: Int32Array;
  /** length nnz */
  readonly values: Float32Array;
}

export function csrNnz(m: Csr): number {
  return m.indptr[m.nRows]!;
}

/** Builds a CSR matrix from COO triples; duplicates are summed, columns sorted per row. */
export function csrFromCoo(
  nRows: number,
  nCols: number,
  rows: ArrayLike<number>,
  cols: ArrayLike<number>,
  values?: ArrayLike<number>,
): Csr {
  const n = rows.length;
  const counts = new Int32Array(nRows + 1);
  for (let k = 0; k < n; k++) counts[rows[k]! + 1]!++;
  for (let i = 0; i < nRows; i++) counts[i + 1]! += counts[i]!;
  const cursor = counts.slice(0, nRows);
  const idx = new Int32Array(n);
  const val = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const r = rows[k]!;
    const p = cursor[r]!++;
    idx[p] = cols[k]!;
    val[p] = values ? values[k]! : 1;
  }
  // Sort each row by column and merge duplicates.
  const outPtr = new Int32Array(nRows + 1);
  let w = 0;
  for (let i = 0; i < nRows; i++) {
    const a = counts[i]!;
    const b = counts[i + 1]!;
    const order = Array.from({ length: b - a }, (_, t) => a + t).sort((x, y) => idx[x]! - idx[y]!);
    const rowIdx = order.map((o) => idx[o]!);
    const rowVal = order.map((o) => val[o]!);
    for (let t = 0; t < rowIdx.length; t++) {
      if (t > 0 && rowIdx[t] === idx[w - 1] && w > outPtr[i]!) {
        val[w - 1]! += rowVal[t]!;
      } else {
        idx[w] = rowIdx[t]!;
        val[w] = rowVal[t]!;
        w++;
      }
    }
    outPtr[i + 1] = w;
  }
  return { nRows, nCols, indptr: outPtr, indices: idx.slice(0, w), values: val.slice(0, w) };
}

/** Transpose (CSC of the input viewed as CSR of the transpose). */
export function csrTranspose(m: Csr): Csr {
  const nnz = csrNnz(m);
  const counts = new Int32Array(m.nCols + 1);
  for (let k = 0; k < nnz; k++) counts[m.indices[k]! + 1]!++;
  for (let j = 0; j < m.nCols; j++) counts[j + 1]! += counts[j]!;
  const cursor = counts.slice(0, m.nCols);
  const idx = new Int32Array(nnz);
  const val = new Float32Array(nnz);
  for (let i = 0; i < m.nRows; i++) {
    for (let k = m.indptr[i]!; k < m.indptr[i + 1]!; k++) {
      const p = cursor[m.indices[k]!]!++;
      idx[p] = i;
      val[p] = m.values[k]!;
    }
  }
  return { nRows: m.nCols, nCols: m.nRows, indptr: counts, indices: idx, values: val };
}

/** Row i's column indices (a view, no copy). */
export function csrRow(m: Csr, i: number): Int32Array {
  return m.indices.subarray(m.indptr[i]!, m.indptr[i + 1]!);
}
