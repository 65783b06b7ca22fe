/**
 * Which implementation of the method runs (docs/method.md §0, "Implementations: reference and fast"), and the one
 * dispatch point through which every fused op is reached.
 *
 *  - "reference": only the readable tfjs compositions written next to the equations (src/model, src/losses,
 *    src/optim): no custom op over host arrays, no addon call, no registered kernel. What a reader checks the
 *    method against, and what the fast kernels are tested against.
 *  - "fast" (the default): an op runs its registered fast kernel when one is registered and `applies()` (e.g. the
 *    tfjs cpu backend, the addon loaded); otherwise its readable composition, as tfjs falls back to a kernel's
 *    default implementation.
 *
 * The design follows tfjs's kernel registry: a research module names the op and hands over its readable function,
 * `dispatchOp("graphEncoders", graphEncodersReadable)(...args)`; a kernel module registers, under the same name,
 * the fast version and when it applies (`registerFastKernel`). Research modules never import kernel modules, so
 * imports flow downward: kernels (src/backend/fused/) import this file, backend and util; src/backend/select.ts
 * imports src/backend/fused/index.ts, which registers the built-in kernels once the backend is chosen.
 *
 * The switch is process-wide state (as tfjs's backend): `withImplementation` around an async function holds it for
 * the function's whole duration, so two runs with different implementations must not interleave in one process.
 */

export const IMPLEMENTATIONS = ["reference", "fast"] as const;

export type Implementation = (typeof IMPLEMENTATIONS)[number];

/** The ops that have a fast kernel (docs/method.md §0 lists each with its readable function). */
export const FUSED_OP_NAMES = [
  "graphEncoders",
  "projectionHeadRest",
  "bprLossOfTables",
  "solosimOfNormalized",
  "diagonalCrossEntropy",
  "clubUpperBound",
  "clubFit",
  "adamMoments",
  "sparseMatMul",
] as const;

export type FusedOpName = (typeof FUSED_OP_NAMES)[number];

/**
 * Any op (every function type extends this one). The readable function and the kernel registered under its name
 * take the same arguments; names, not types, join them (as in tfjs's registry), and each op's agreement test
 * checks that they compute the same thing.
 */
type OpFunction = (...args: never[]) => unknown;

export interface FastKernel<F extends OpFunction> {
  /** Whether the kernel can run now (backend, addon, native kernels); asked on every call, so it must be cheap. */
  readonly applies: () => boolean;
  /** Same arguments and result as the op's readable function, to float32 rounding (its agreement test says how close). */
  readonly run: F;
}

let active: Implementation = "fast";
const registry = new Map<FusedOpName, FastKernel<OpFunction>>();
const calls = new Map<FusedOpName, number>();

export function isImplementation(name: string): name is Implementation {
  return (IMPLEMENTATIONS as readonly string[]).includes(name);
}

export function setImplementation(implementation: Implementation): void {
  if (!isImplementation(implementation)) throw new Error(`unknown implementation '${String(implementation)}' (expected ${IMPLEMENTATIONS.join(" or ")})`);
  active = implementation;
}

export function activeImplementation(): Implementation {
  return active;
}

/**
 * Runs fn with `implementation` active and restores the previous one afterwards, also when fn throws; for an
 * async fn, when its promise settles.
 */
export function withImplementation<T>(implementation: Implementation, fn: () => T): T {
  const previous = active;
  setImplementation(implementation);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    active = previous;
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => {
      active = previous;
    }) as T;
  }
  active = previous;
  return result;
}

/** Registers (or replaces) the fast kernel of `name`; called at load time by the kernel's own module. */
export function registerFastKernel<F extends OpFunction>(name: FusedOpName, kernel: FastKernel<F>): void {
  registry.set(name, kernel as FastKernel<OpFunction>);
}

/** The registered kernel of `name`, if any (whether or not it applies now). */
export function fastKernelOf(name: FusedOpName): FastKernel<OpFunction> | undefined {
  return registry.get(name);
}

/**
 * The function that computes op `name` now: the registered fast kernel when the implementation is "fast" and the
 * kernel applies, else `readable`. Call the result at once (`dispatchOp(name, f)(...args)`): the choice is made
 * per call, so a change of implementation or backend takes effect at the next call.
 */
export function dispatchOp<F extends OpFunction>(name: FusedOpName, readable: F): F {
  if (active === "reference") return readable;
  const kernel = registry.get(name);
  if (!kernel || !kernel.applies()) return readable;
  calls.set(name, (calls.get(name) ?? 0) + 1);
  return kernel.run as F;
}

/** How many times each op's fast kernel was dispatched since the last reset (tests: "reference" calls none). */
export function fastKernelCalls(): ReadonlyMap<FusedOpName, number> {
  return new Map(calls);
}

export function resetFastKernelCalls(): void {
  calls.clear();
}

/** For logs and the bench: the implementation and, under "fast", which ops would run their kernel now. */
export function describeImplementation(): string {
  if (active === "reference") return "implementation reference (readable tfjs compositions only)";
  const fast = FUSED_OP_NAMES.filter((name) => registry.get(name)?.applies() === true);
  const readable = FUSED_OP_NAMES.filter((name) => !fast.includes(name));
  return `implementation fast (fast kernels: ${fast.join(", ") || "none"}; readable: ${readable.join(", ") || "none"})`;
}
