import * as tf from "@tensorflow/tfjs";
import { cpuBackendOf, float32Values, type KernelArgs, type KernelResult } from "./cpuBackendAccess";

/**
 * Float32 unary kernels for the tfjs `cpu` backend (Neg, Exp, Log, Sqrt, Rsqrt, Relu, LeakyRelu, Tanh,
 * Sigmoid, Softplus, Step, …). Square and Abs are left alone: tfjs already gives each its own loop.
 *
 * What tfjs-backend-cpu 4.22 does slowly: all unary kernels share one loop that calls the op's closure
 * per element, so the call is megamorphic and never inlined (~15–25 ns per element in a training step;
 * Neg even goes through the generic broadcasting Multiply with a -1 scalar). Here each op has its own
 * loop. Each computes exactly the expression tfjs's closure computes — the same Math functions, in the
 * same order, rounded once on the float32 store — so results are bit-identical; other dtypes go to the
 * original kernel.
 */

/** The loop of one op; p and q are the op's numeric attributes (alpha, clip bounds), when it has any. */
type UnaryLoop = (x: Float32Array, out: Float32Array, p: number, q: number) => void;

interface UnaryOp {
  loop: UnaryLoop;
  /** Numeric attributes [p, q] read from the kernel's attrs; null sends the call to the original kernel. */
  params?: (attrs: Record<string, unknown>) => [number, number] | null;
}

// tfjs's softplus cut-offs: log(float32 epsilon) + 2 (exp(x) under-/overflow beyond them is within epsilon).
const SOFTPLUS_THRESHOLD = Math.log(1.1920928955078125e-7) + 2.0;

function numberAttr(...names: string[]): (attrs: Record<string, unknown>) => [number, number] | null {
  return (attrs) => {
    const values = names.map((n) => attrs[n]);
    if (!values.every((v): v is number => typeof v === "number")) return null;
    return [values[0]!, values[1] ?? 0];
  };
}

// One function literal per op so that each loop is compiled for its own operation (see module comment).
// BRANCH-FREE: a sign test on a random-signed array mispredicts half the time (~10 ns per value: Relu
// took 13 ms for 1.7M values as Math.max(0, v) or v > 0 ? v : 0, 5 ms as below). The masks of Relu,
// LeakyRelu and Step (their gradients, too) are exactly such arrays, so those compute the same values
// with arithmetic instead, and keep a branch only for the rare special values.
const UNARY: Record<string, UnaryOp> = {
  // tfjs computes Neg as the product with a -1 scalar; -1 * x is kept (same value, same signed zero).
  Neg: { loop: (x, out) => { for (let i = 0; i < x.length; i++) out[i] = -1 * x[i]!; } },
  Exp: { loop: (x, out) => { for (let i = 0; i < x.length; i++) out[i] = Math.exp(x[i]!); } },
  Log: { loop: (x, out) => { for (let i = 0; i < x.length; i++) out[i] = Math.log(x[i]!); } },
  Log1p: { loop: (x, out) => { for (let i = 0; i < x.length; i++) out[i] = Math.log1p(x[i]!); } },
  Sqrt: { loop: (x, out) => { for (let i = 0; i < x.length; i++) out[i] = Math.sqrt(x[i]!); } },
  Rsqrt: { loop: (x, out) => { for (let i = 0; i < x.length; i++) out[i] = 1 / Math.sqrt(x[i]!); } },
  Reciprocal: { loop: (x, out) => { for (let i = 0; i < x.length; i++) out[i] = 1 / x[i]!; } },
  // tfjs: v < 0 ? -1 : v > 0 ? 1 : 0 (also 0 for NaN and ±0), as two branch-free comparisons.
  Sign: { loop: (x, out) => { for (let i = 0; i < x.length; i++) { const v = x[i]!; out[i] = +(v > 0) - +(v < 0); } } },
  // Math.max(0, v) without a branch on the sign (see BRANCH-FREE above): (v + |v|) / 2 is exact for
  // float32 values (2v cannot overflow in float64) and gives +0 for -0 and NaN for NaN, as Math.max does;
  // only -Inf (−Inf + Inf = NaN) needs the rare fix-up.
  Relu: {
    loop: (x, out) => {
      for (let i = 0; i < x.length; i++) {
        const v = x[i]!;
        const r = (v + Math.abs(v)) * 0.5;
        out[i] = r === r ? r : v === -Infinity ? 0 : r;
      }
    },
  },
  Relu6: { loop: (x, out) => { for (let i = 0; i < x.length; i++) out[i] = Math.min(Math.max(0, x[i]!), 6); } },
  Elu: { loop: (x, out) => { for (let i = 0; i < x.length; i++) { const v = x[i]!; out[i] = v >= 0 ? v : Math.exp(v) - 1; } } },
  Tanh: { loop: (x, out) => { for (let i = 0; i < x.length; i++) out[i] = Math.tanh(x[i]!); } },
  Sigmoid: { loop: (x, out) => { for (let i = 0; i < x.length; i++) out[i] = 1 / (1 + Math.exp(-x[i]!)); } },
  Softplus: {
    loop: (x, out) => {
      for (let i = 0; i < x.length; i++) {
        const v = x[i]!;
        const e = Math.exp(v);
        out[i] = v < SOFTPLUS_THRESHOLD ? e : v > -SOFTPLUS_THRESHOLD ? v : Math.log(1.0 + e);
      }
    },
  },
  LeakyRelu: {
    loop: (x, out, alpha) => leakyReluValues(x, alpha, out),
    params: numberAttr("alpha"),
  },
  // tfjs: isNaN(v) ? NaN : v > 0 ? 1 : alpha. With s = +(v > 0), s + (1 − s)·alpha is 1 or alpha exactly
  // for a finite alpha other than -0 (0 + -0 would be +0); the NaN test is a well-predicted branch.
  Step: {
    loop: (x, out, alpha) => {
      if (!Number.isFinite(alpha) || Object.is(alpha, -0)) {
        for (let i = 0; i < x.length; i++) { const v = x[i]!; out[i] = Number.isNaN(v) ? NaN : v > 0 ? 1 : alpha; }
        return;
      }
      for (let i = 0; i < x.length; i++) {
        const v = x[i]!;
        const s = +(v > 0);
        out[i] = v === v ? s + (1 - s) * alpha : NaN;
      }
    },
    params: numberAttr("alpha"),
  },
  ClipByValue: {
    loop: (x, out, lo, hi) => { for (let i = 0; i < x.length; i++) { const v = x[i]!; out[i] = v > hi ? hi : v < lo ? lo : v; } },
    params: numberAttr("clipValueMin", "clipValueMax"),
  },
};

export const UNARY_KERNEL_NAMES: readonly string[] = Object.keys(UNARY);

/** Replacement for unary kernel `name` (one of UNARY_KERNEL_NAMES), falling back to `original`. */
export function makeUnaryKernel(name: string, original: tf.KernelFunc): tf.KernelFunc {
  const op = UNARY[name];
  if (!op) throw new Error(`no cpu unary kernel for ${name}`);
  return (args: KernelArgs): KernelResult => {
    const backend = cpuBackendOf(args);
    const x = args.inputs.x;
    const values = float32Values(backend, x);
    if (!values) return original(args);
    const params = op.params ? op.params(args.attrs ?? {}) : [0, 0];
    if (!params) return original(args);
    const out = new Float32Array(values.length);
    op.loop(values, out, params[0], params[1]);
    return backend.makeTensorInfo([...x!.shape], "float32", out);
  };
}

/**
 * tfjs's LeakyRelu kernel, out = v < 0 ? alpha·v : v with the product in float64 rounded once, without a branch
 * on the sign (random-signed values mispredict half the time; ~2x slower): for finite non-zero v,
 * (v + |v|)/2 + alpha·(v − |v|)/2 is exactly that — the halves are v and +0 (exact in float64), and adding ±0 to
 * a non-zero value is exact — provided alpha·v cannot round to 0, hence the bound on alpha. ±0, ±Inf and NaN
 * take tfjs's expression. Also the fused graph encoders' JS pass.
 */
export function leakyReluValues(x: Float32Array, alpha: number, out: Float32Array): void {
  if (!(Math.abs(alpha) >= 1e-250 && Math.abs(alpha) < Infinity)) {
    for (let i = 0; i < x.length; i++) { const v = x[i]!; out[i] = v < 0 ? alpha * v : v; }
    return;
  }
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    const a = Math.abs(v);
    out[i] = a > 0 && a < Infinity ? (v + a) * 0.5 + alpha * ((v - a) * 0.5) : v < 0 ? alpha * v : v;
  }
}
