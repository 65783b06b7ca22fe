import * as tf from "@tensorflow/tfjs";
import { csrNnz, csrTranspose, type Csr } from "../util/csr";
import { SeaError } from "../util/errors";
import { loadNativeAddon, type SeaNativeAddon } from "./addon";
import { nativeKernelsActive } from "./kernels";
import { dispatchOp } from "./implementation";

/**
 * How SparseMatrix.matMul computes A·X:
 *  - "native": CSR kernel in the addon, on host memory (threads over rows);
 *  - "js":     the same CSR loop in JavaScript (correct everywhere, ~10x slower);
 *  - "ops":    tf.gather + tf.mul + tf.unsortedSegmentSum, staying on the backend's device
 *              (for tfjs-node(-gpu) / webgl; costs an [nnz × d] intermediate);
 *  - "auto":   the op "sparseMatMul" of the implementation switch (src/backend/implementation.ts): under
 *              "reference" the readable ops composition differentiated by tfjs (opsMatMul); under "fast" on
 *              host backends (cpu, wasm) the fast kernel (src/backend/fused/sparseMatMul.ts), native when the
 *              native kernels are active, else js; else ops.
 * Host strategies read X with dataSync (zero-copy on the cpu backend, a copy on wasm).
 */
export type SparseStrategy = "auto" | "native" | "js" | "ops";

const HOST_BACKENDS = new Set(["cpu", "wasm"]);

/**
 * A constant sparse matrix A (a normalised graph) usable inside differentiable tfjs code:
 * `matMul(X)` = A·X with gradient Aᵀ·dy w.r.t. X (A itself gets no gradient). The transposed CSR is
 * built once, in the constructor.
 */
export class SparseMatrix {
  readonly nRows: number;
  readonly nCols: number;
  readonly nnz: number;
  private readonly csr: Csr;
  private readonly csrT: Csr;
  private readonly strategy: SparseStrategy;
  private readonly product: (x: tf.Tensor) => tf.Tensor;

  private constructor(csr: Csr, strategy: SparseStrategy) {
    this.csr = csr;
    this.csrT = csrTranspose(csr);
    this.nRows = csr.nRows;
    this.nCols = csr.nCols;
    this.nnz = csrNnz(csr);
    this.strategy = strategy;
    this.product = tf.customGrad((x, _save) => ({
      value: this.apply(this.csr, x as tf.Tensor2D),
      gradFunc: (dy) => this.apply(this.csrT, dy as tf.Tensor2D),
    }));
  }

  /** Validates the CSR (a malformed one would otherwise read out of bounds in the native kernel). */
  static fromCsr(csr: Csr, options: { strategy?: SparseStrategy } = {}): SparseMatrix {
    validateCsr(csr);
    return new SparseMatrix(csr, options.strategy ?? "auto");
  }

  /** A·X for X of shape [nCols, d] → [nRows, d]; differentiable in X. */
  matMul(dense: tf.Tensor2D): tf.Tensor2D {
    this.checkOperand(dense, this.nCols, "matMul");
    // A forced strategy (tests, benchmarks) runs as asked; "auto" is the op "sparseMatMul" of the implementation switch.
    if (this.strategy !== "auto") return this.product(dense) as tf.Tensor2D;
    return dispatchOp("sparseMatMul", sparseMatMulReadable)(this, dense);
  }

  /** A·X by tf ops alone (gather, scale, segment sum), differentiated by tfjs: the readable composition. */
  opsMatMul(dense: tf.Tensor2D): tf.Tensor2D {
    this.checkOperand(dense, this.nCols, "opsMatMul");
    return opsSpmm(this.csr, dense);
  }

  /** A·X as one custom op with the explicit gradient Aᵀ·dy, by the strategy "auto" resolves to (the fast kernel). */
  customMatMul(dense: tf.Tensor2D): tf.Tensor2D {
    this.checkOperand(dense, this.nCols, "customMatMul");
    return this.product(dense) as tf.Tensor2D;
  }

  /** Aᵀ·Y for Y of shape [nRows, d] → [nCols, d] (not differentiable; the gradient path uses it). */
  transposeMatMul(dense: tf.Tensor2D): tf.Tensor2D {
    this.checkOperand(dense, this.nRows, "transposeMatMul");
    return this.apply(this.csrT, dense);
  }

  /**
   * out = A·x, or Aᵀ·x with `transpose`, on host arrays: x is row-major [nCols, d] ([nRows, d] transposed),
   * out [nRows, d] ([nCols, d]) is overwritten. For custom ops that keep their state in typed arrays (no
   * tensors, no tape). Native when strategy "native" is asked for, or "auto" finds the native kernels
   * active; else the JS loop ("ops" means nothing for host arrays). Aᵀ runs the row kernel on the stored
   * transposed CSR, so it is threaded like A·x rather than a single-threaded scatter.
   */
  multiplyHost(x: Float32Array, d: number, out: Float32Array, transpose = false): void {
    const m = transpose ? this.csrT : this.csr;
    if (!Number.isInteger(d) || d < 1 || x.length !== m.nCols * d || out.length !== m.nRows * d) {
      throw new Error(
        `SparseMatrix.multiplyHost: x of length ${x.length} and out of length ${out.length} do not fit ` +
          `${transpose ? "the transpose of " : ""}a ${this.nRows}x${this.nCols} sparse matrix with d = ${d} ` +
          `(need ${m.nCols}·d and ${m.nRows}·d)`,
      );
    }
    if (overlaps(x, out)) throw new Error("SparseMatrix.multiplyHost: x and out share memory (the product would read what it overwrites)");
    if (this.hostStrategy() === "native") requireAddon().spmm(m.indptr, m.indices, m.values, m.nCols, x, d, out);
    else jsSpmm(m, x, d, out);
  }

  /** The dense [nRows, nCols] matrix (tests and tiny graphs only). */
  toDense(): tf.Tensor2D {
    const out = new Float32Array(this.nRows * this.nCols);
    for (let i = 0; i < this.nRows; i++) {
      for (let p = this.csr.indptr[i]!; p < this.csr.indptr[i + 1]!; p++) out[i * this.nCols + this.csr.indices[p]!]! += this.csr.values[p]!;
    }
    return tf.tensor2d(out, [this.nRows, this.nCols]);
  }

  private checkOperand(dense: tf.Tensor, rows: number, op: string): void {
    if (dense.rank !== 2 || dense.shape[0] !== rows) {
      throw new Error(`SparseMatrix.${op}: operand of shape [${dense.shape}] does not fit a ${this.nRows}x${this.nCols} sparse matrix (need [${rows}, d])`);
    }
  }

  private apply(m: Csr, x: tf.Tensor2D): tf.Tensor2D {
    const strategy = this.resolveStrategy();
    if (strategy === "ops") return opsSpmm(m, x);
    return tf.tidy(() => {
      const x32 = x.dtype === "float32" ? x : tf.cast(x, "float32");
      const d = x32.shape[1];
      const xValues = x32.dataSync() as Float32Array;
      const out = new Float32Array(m.nRows * d);
      const addon = strategy === "native" ? requireAddon() : null;
      if (addon) addon.spmm(m.indptr, m.indices, m.values, m.nCols, xValues, d, out);
      else jsSpmm(m, xValues, d, out);
      return tf.tensor2d(out, [m.nRows, d]);
    });
  }

  /** multiplyHost's choice: the backend plays no part (the arrays are already on the host). */
  private hostStrategy(): "native" | "js" {
    if (this.strategy === "native") return "native";
    return this.strategy === "auto" && nativeKernelsActive() ? "native" : "js";
  }

  private resolveStrategy(): Exclude<SparseStrategy, "auto"> {
    if (this.strategy !== "auto") return this.strategy;
    if (!HOST_BACKENDS.has(tf.getBackend())) return "ops";
    return nativeKernelsActive() && tf.getBackend() === "cpu" ? "native" : "js";
  }
}

/** The readable version of the op "sparseMatMul". */
function sparseMatMulReadable(matrix: SparseMatrix, dense: tf.Tensor2D): tf.Tensor2D {
  return matrix.opsMatMul(dense);
}

function requireAddon(): SeaNativeAddon {
  const addon = loadNativeAddon();
  if (!addon) throw new Error("SparseMatrix: strategy 'native' requested but the native addon is not available");
  return addon;
}

function overlaps(a: Float32Array, b: Float32Array): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** out[nRows×d] = A·x, row by row (the same loop as the native kernel). */
export function jsSpmm(m: Csr, x: Float32Array, d: number, out: Float32Array): void {
  out.fill(0);
  for (let i = 0; i < m.nRows; i++) {
    const o = i * d;
    for (let p = m.indptr[i]!; p < m.indptr[i + 1]!; p++) {
      const v = m.values[p]!;
      const xr = m.indices[p]! * d;
      for (let j = 0; j < d; j++) out[o + j]! += v * x[xr + j]!;
    }
  }
}

/** A·x with tf ops only: gather the needed rows of x, scale by the values, sum per output row. */
function opsSpmm(m: Csr, x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const nnz = csrNnz(m);
    const rowOfEntry = new Int32Array(nnz);
    for (let i = 0; i < m.nRows; i++) rowOfEntry.fill(i, m.indptr[i]!, m.indptr[i + 1]!);
    const cols = tf.tensor1d(m.indices.subarray(0, nnz), "int32");
    const vals = tf.tensor2d(m.values.subarray(0, nnz), [nnz, 1]);
    const scaled = tf.mul(tf.gather(x, cols), vals);
    return tf.unsortedSegmentSum(scaled, tf.tensor1d(rowOfEntry, "int32"), m.nRows) as tf.Tensor2D;
  });
}

function validateCsr(m: Csr): void {
  const where = "SparseMatrix.fromCsr";
  if (!Number.isInteger(m.nRows) || !Number.isInteger(m.nCols) || m.nRows < 0 || m.nCols < 0) {
    throw new SeaError(`bad shape ${m.nRows}x${m.nCols}`, { where });
  }
  if (m.indptr.length !== m.nRows + 1 || m.indptr[0] !== 0) {
    throw new SeaError(`indptr must have nRows + 1 = ${m.nRows + 1} entries starting at 0 (has ${m.indptr.length})`, { where });
  }
  const nnz = m.indptr[m.nRows]!;
  if (m.indices.length < nnz || m.values.length < nnz) {
    throw new SeaError(`indptr ends at ${nnz} but there are ${m.indices.length} indices and ${m.values.length} values`, { where });
  }
  for (let i = 0; i < m.nRows; i++) {
    if (m.indptr[i + 1]! < m.indptr[i]!) throw new SeaError(`indptr decreases at row ${i}`, { where });
  }
  for (let p = 0; p < nnz; p++) {
    const c = m.indices[p]!;
    if (c < 0 || c >= m.nCols) throw new SeaError(`column index ${c} at entry ${p} is outside [0, ${m.nCols})`, { where });
  }
}
