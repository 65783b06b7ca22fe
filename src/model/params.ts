import * as tf from "@tensorflow/tfjs";
import { Rng } from "../util/rng";

/**
 * Owns a model's trainable variables by name, initialised from a seeded Rng so that the same seed
 * gives the same model on every backend. Names key checkpoints.
 */
export class ParamStore {
  private readonly vars = new Map<string, tf.Variable>();

  constructor(private readonly rng: Rng) {}

  /** PyTorch nn.Linear's default: U(−1/√fanIn, 1/√fanIn) for weight [fanIn, fanOut] and bias. */
  linear(name: string, fanIn: number, fanOut: number): Linear {
    const bound = 1 / Math.sqrt(fanIn);
    return {
      w: this.add(`${name}.w`, [fanIn, fanOut], this.uniform(fanIn * fanOut, bound)),
      b: this.add(`${name}.b`, [fanOut], this.uniform(fanOut, bound)),
    };
  }

  /**
   * A Linear(fanIn → Σwidths) stored as column blocks (one {w [fanIn, width], b [width]} per block), drawn
   * exactly as `linear(name, fanIn, Σwidths)` would draw the whole layer and then cut, so the split changes
   * no initial value. Block i is named `${name}.${blockNames[i]}`.
   */
  linearColumnBlocks(name: string, fanIn: number, widths: readonly number[], blockNames: readonly string[]): Linear[] {
    const fanOut = widths.reduce((a, b) => a + b, 0);
    const bound = 1 / Math.sqrt(fanIn);
    const w = this.uniform(fanIn * fanOut, bound);
    const b = this.uniform(fanOut, bound);
    let offset = 0;
    return widths.map((width, i) => {
      const block = new Float32Array(fanIn * width);
      for (let r = 0; r < fanIn; r++) block.set(w.subarray(r * fanOut + offset, r * fanOut + offset + width), r * width);
      const blockName = `${name}.${blockNames[i]}`;
      const linear = { w: this.add(`${blockName}.w`, [fanIn, width], block), b: this.add(`${blockName}.b`, [width], b.slice(offset, offset + width)) };
      offset += width;
      return linear;
    });
  }

  /**
   * A Linear(Σrows → fanOut) whose weight is stored as row blocks (`${name}.${blockNames[i]}.w`, [rows_i, fanOut])
   * with one bias `${name}.b`, drawn exactly as `linear(name, Σrows, fanOut)`: row blocks of a row-major weight
   * are contiguous, so the values are those of the whole layer.
   */
  linearRowBlocks(name: string, rows: readonly number[], fanOut: number, blockNames: readonly string[]): { w: tf.Variable[]; b: tf.Variable } {
    const fanIn = rows.reduce((a, b) => a + b, 0);
    const bound = 1 / Math.sqrt(fanIn);
    const w = this.uniform(fanIn * fanOut, bound);
    const b = this.uniform(fanOut, bound);
    let row = 0;
    const blocks = rows.map((n, i) => {
      const block = this.add(`${name}.${blockNames[i]}.w`, [n, fanOut], w.slice(row * fanOut, (row + n) * fanOut));
      row += n;
      return block;
    });
    return { w: blocks, b: this.add(`${name}.b`, [fanOut], b) };
  }

  /** Xavier/Glorot uniform, for free embedding tables such as the user preference matrix. */
  xavier(name: string, rows: number, cols: number): tf.Variable {
    return this.add(name, [rows, cols], this.uniform(rows * cols, Math.sqrt(6 / (rows + cols))));
  }

  constant(name: string, shape: number[], value: number): tf.Variable {
    const size = shape.reduce((a, b) => a * b, 1);
    return this.add(name, shape, new Float32Array(size).fill(value));
  }

  batchNorm(name: string, width: number): BatchNormParams {
    return { gamma: this.constant(`${name}.gamma`, [width], 1), beta: this.constant(`${name}.beta`, [width], 0) };
  }

  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v;
  }

  names(): string[] {
    return [...this.vars.keys()];
  }

  all(): tf.Variable[] {
    return [...this.vars.values()];
  }

  /** Total number of scalar parameters. */
  count(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }

  private add(name: string, shape: number[], values: Float32Array): tf.Variable {
    if (this.vars.has(name)) throw new Error(`duplicate parameter ${name}`);
    const v = tf.tidy(() => tf.variable(tf.tensor(values, shape, "float32"), true, `${name}#${uniqueSuffix()}`));
    this.vars.set(name, v);
    return v;
  }

  private uniform(n: number, bound: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (2 * this.rng.next() - 1) * bound;
    return out;
  }
}

// tfjs variable names must be unique per process; several models (a test, an ablation) coexist.
let counter = 0;
function uniqueSuffix(): number {
  return ++counter;
}

export interface Linear {
  readonly w: tf.Variable; // [in, out]
  readonly b: tf.Variable; // [out]
}

export interface BatchNormParams {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
}

export function applyLinear(x: tf.Tensor2D, l: Linear): tf.Tensor2D {
  return tf.add(tf.matMul(x, l.w as tf.Tensor2D), l.b) as tf.Tensor2D;
}

/**
 * Batch normalisation with batch statistics (training mode, biased variance, eps 1e-5 as PyTorch).
 * Running statistics are not kept: in SEA the BN layers sit only in the Solosim projection heads,
 * whose output feeds nothing but the training loss, so inference mode never reads them.
 */
export function batchNormTrain(x: tf.Tensor2D, p: BatchNormParams, eps = 1e-5): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, 0);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), p.gamma), p.beta) as tf.Tensor2D;
}
