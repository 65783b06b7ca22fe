import * as tf from "@tensorflow/tfjs";
import { SeaError } from "../util/errors";
import type { SavedTensor } from "../util/savedTensor";
import { dispatchOp } from "../backend/implementation";

export interface AdamSettings {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
}

/** PyTorch's Adam defaults (the reference's optimiser), with the run's learning rate. */
export function pytorchAdam(lr: number): AdamSettings {
  return { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
}

/** The constants of one Adam step t (bias corrections in float64 from the step count). */
export interface AdamStep {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** lr / (1 − β₁ᵗ) */
  readonly stepSize: number;
  /** 1 / (1 − β₂ᵗ) */
  readonly invCorrection2: number;
}

/**
 * One variable's first and second moments and its update. The op "adamMoments" (docs/method.md, "Implementations:
 * reference and fast") makes one per variable: TensorMoments below (tf.Variables updated with tf ops), or under the
 * "fast" implementation on tfjs's cpu and wasm backends, where a variable's values are host memory, typed arrays
 * updated in one fused loop per variable (src/backend/fused/adam.ts): tfjs ops are a chain of ~12 element-wise
 * kernels per variable, each allocating a full-size tensor (2.7 s per step for the 4096² image layer alone).
 */
export interface AdamMoments {
  /** m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − stepSize·m / (√(v·invCorrection2) + ε). */
  update(variable: tf.Variable, grad: tf.Tensor, step: AdamStep): void;
  /** Copies of m and v (for a checkpoint). */
  read(): { m: Float32Array; v: Float32Array };
  /** Sets m and v (from a checkpoint; lengths checked by the caller). */
  write(m: Float32Array, v: Float32Array): void;
  dispose(): void;
}

/** The readable moments: two tf.Variables, the update written with tf ops as the equation reads. */
export class TensorMoments implements AdamMoments {
  private readonly m: tf.Variable;
  private readonly v: tf.Variable;

  constructor(private readonly shape: readonly number[]) {
    this.m = tf.tidy(() => tf.variable(tf.zeros([...shape]), false));
    this.v = tf.tidy(() => tf.variable(tf.zeros([...shape]), false));
  }

  update(variable: tf.Variable, grad: tf.Tensor, { beta1, beta2, eps, stepSize, invCorrection2 }: AdamStep): void {
    tf.tidy(() => {
      this.m.assign(tf.add(tf.mul(this.m, beta1), tf.mul(grad, 1 - beta1)));
      this.v.assign(tf.add(tf.mul(this.v, beta2), tf.mul(tf.square(grad), 1 - beta2)));
      const denominator = tf.add(tf.sqrt(tf.mul(this.v, invCorrection2)), eps);
      variable.assign(tf.sub(variable, tf.div(tf.mul(this.m, stepSize), denominator)));
    });
  }

  read(): { m: Float32Array; v: Float32Array } {
    return { m: Float32Array.from(this.m.dataSync() as Float32Array), v: Float32Array.from(this.v.dataSync() as Float32Array) };
  }

  write(m: Float32Array, v: Float32Array): void {
    tf.tidy(() => {
      this.m.assign(tf.tensor(m, [...this.shape]));
      this.v.assign(tf.tensor(v, [...this.shape]));
    });
  }

  dispose(): void {
    this.m.dispose();
    this.v.dispose();
  }
}

function tensorMoments(variable: tf.Variable): AdamMoments {
  return new TensorMoments(variable.shape);
}

export interface NamedVariable {
  /** Stable name (checkpoints): the model's parameter name, not tfjs's process-unique variable name. */
  readonly name: string;
  readonly variable: tf.Variable;
}

/**
 * Adam as PyTorch computes it (the reference): m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
 * p ← p − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε), with the bias corrections in float64 from the step count
 * (tfjs keeps β^t as running float32 products, which a restored run cannot reproduce exactly; a step count can).
 */
export class Adam {
  private step = 0;
  private readonly moments = new Map<string, AdamMoments>();

  /** The moments' kind is chosen here, once, by the implementation active at construction (op "adamMoments"). */
  constructor(
    private readonly entries: readonly NamedVariable[],
    private readonly settings: AdamSettings,
  ) {
    for (const { name, variable } of entries) {
      if (this.moments.has(name)) throw new Error(`Adam: duplicate variable name ${name}`);
      this.moments.set(name, dispatchOp("adamMoments", tensorMoments)(variable));
    }
  }

  /** Steps taken so far. */
  get iterations(): number {
    return this.step;
  }

  /** One step on every variable that has a gradient in `grads` (keyed by tfjs variable name, as tf.variableGrads returns). */
  apply(grads: tf.NamedTensorMap): void {
    this.step++;
    const { lr, beta1, beta2, eps } = this.settings;
    const step: AdamStep = { beta1, beta2, eps, stepSize: lr / (1 - Math.pow(beta1, this.step)), invCorrection2: 1 / (1 - Math.pow(beta2, this.step)) };
    for (const { name, variable } of this.entries) {
      const grad = grads[variable.name];
      if (grad) this.moments.get(name)!.update(variable, grad, step);
    }
  }

  /** The step count and both moments of every variable, for a checkpoint. */
  save(prefix: string): SavedTensor[] {
    const out: SavedTensor[] = [{ name: `${prefix}/step`, shape: [1], values: Float32Array.of(this.step) }];
    for (const { name, variable } of this.entries) {
      const { m, v } = this.moments.get(name)!.read();
      out.push({ name: `${prefix}/m/${name}`, shape: variable.shape, values: m }, { name: `${prefix}/v/${name}`, shape: variable.shape, values: v });
    }
    return out;
  }

  /** Restores what `save(prefix)` wrote; `where` names the checkpoint in errors. */
  restore(tensors: ReadonlyMap<string, SavedTensor>, prefix: string, where: string): void {
    const step = tensors.get(`${prefix}/step`);
    if (!step) throw new SeaError(`checkpoint has no optimiser state '${prefix}' (written by an older version of the kit? start the run afresh)`, { where });
    for (const { name, variable } of this.entries) {
      const [m, v] = (["m", "v"] as const).map((kind) => {
        const saved = tensors.get(`${prefix}/${kind}/${name}`);
        if (!saved || saved.values.length !== variable.size) {
          throw new SeaError(`checkpoint's optimiser state does not match parameter ${name}; was the config changed?`, { where });
        }
        return saved.values;
      }) as [Float32Array, Float32Array];
      this.moments.get(name)!.write(m, v);
    }
    this.step = step.values[0]!;
  }

  dispose(): void {
    for (const moments of this.moments.values()) moments.dispose();
    this.moments.clear();
  }
}
