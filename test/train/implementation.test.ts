import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { selectBackend } from "../../src/backend/select";
import {
  activeImplementation,
  dispatchOp,
  fastKernelCalls,
  fastKernelOf,
  FUSED_OP_NAMES,
  registerFastKernel,
  resetFastKernelCalls,
  setImplementation,
  withImplementation,
  type FusedOpName,
  type Implementation,
} from "../../src/backend/implementation";
import { loadDatasetArg } from "../../src/data/resolveDataset";
import type { Dataset } from "../../src/data/types";
import { buildRunConfig } from "../../src/train/runSetup";
import { trainRun } from "../../src/train/trainer";
import type { RunMetrics } from "../../src/train/runRecord";

let dataset: Dataset;

before(async () => {
  // The kit's usual start: selectBackend also registers the built-in fast kernels (src/backend/fused/).
  await selectBackend({ quiet: true });
  dataset = await loadDatasetArg("tiny");
});

/**
 * Tolerances for "reference" against "fast" after 2 epochs on tiny. The two differ only in float32 rounding: the
 * fused kernels sum in other orders (and several in float64), and Adam and the CLUB loop round their bias
 * corrections at other points. Measured (native backend, 2 epochs, 32 steps): losses differ by at most 6.3e-8
 * relative (the CLUB bound) and every ranking metric was identical. LOSS_REL allows ~150× the measured difference
 * (a few float32 ulps, compounded over more steps or another BLAS). Metrics are counts of hits in the top K: a
 * difference in the last bits of two scores can swap two items at the cut-off, which moves Recall@K of one user by
 * 1/|held-out| and the mean over tiny's users by ~1e-3; METRIC_ABS allows a few such swaps.
 */
const LOSS_REL = 1e-5;
const METRIC_ABS = 5e-3;

async function twoEpochs(implementation: Implementation): Promise<{ metrics: RunMetrics; calls: ReadonlyMap<FusedOpName, number> }> {
  const config = buildRunConfig({ variant: "sea", sets: ["batchSize=256", "clubSteps=5", "evalBatchSize=128", "miEvery=0"], explicit: { epochs: 2, implementation } });
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), `sea-implementation-${implementation}-`));
  resetFastKernelCalls();
  // The run's config chooses the implementation (trainRun holds it for the run's duration).
  const metrics = await trainRun({ dataset, config, variant: "sea", outDir, quiet: true });
  return { metrics, calls: fastKernelCalls() };
}

test("2 epochs on tiny: the reference and the fast implementation agree on every loss and metric", async () => {
  const reference = await twoEpochs("reference");
  const fast = await twoEpochs("fast");
  assert.equal(reference.calls.size, 0, `"reference" ran registered kernels: ${JSON.stringify([...reference.calls])}`);
  // The fast run went through every kernel of the training step that applies on this backend (on wasm, e.g. under
  // SEA_NATIVE=0, the cpu-only ones do not; clubFit always does). The MI estimators' diagonalCrossEntropy is off here.
  const stepOps = ["graphEncoders", "projectionHeadRest", "bprLossOfTables", "adamMoments", "sparseMatMul", "clubFit"] as const;
  const applying = stepOps.filter((op) => fastKernelOf(op)?.applies() === true);
  assert.ok(applying.includes("clubFit"), "the CLUB inner loop's kernel applies on every backend");
  for (const op of applying) assert.ok((fast.calls.get(op) ?? 0) > 0, `"fast" did not run the ${op} kernel, which applies here`);
  assert.equal(reference.metrics.epochs.length, 2);
  assert.equal(fast.metrics.epochs.length, 2);
  reference.metrics.epochs.forEach((want, i) => {
    const got = fast.metrics.epochs[i]!;
    assert.deepEqual(Object.keys(got.loss).sort(), Object.keys(want.loss).sort());
    for (const [name, value] of Object.entries(want.loss)) {
      const other = got.loss[name]!;
      const rel = Math.abs(other - value!) / Math.max(Math.abs(value!), 1e-12);
      assert.ok(rel <= LOSS_REL, `epoch ${i + 1} loss ${name}: reference ${value}, fast ${other} (relative ${rel})`);
    }
    for (const split of ["valid", "test"] as const) {
      for (const [name, value] of Object.entries(want[split])) {
        const other = got[split][name]!;
        assert.ok(Math.abs(other - value!) <= METRIC_ABS, `epoch ${i + 1} ${split} ${name}: reference ${value}, fast ${other}`);
      }
    }
  });
});

test("under \"reference\" dispatchOp returns the readable function and no registered kernel is called", () => {
  const name: FusedOpName = "bprLossOfTables";
  const readable = (x: number): string => `readable ${x}`;
  assert.ok(FUSED_OP_NAMES.includes(name));
  // A counting probe in place of the op's built-in kernel, which withKernel puts back afterwards.
  const probe = { applies: () => true, run: (x: number): string => `fast ${x}` };
  let probed = 0;
  const counting = { ...probe, run: (x: number) => (probed++, probe.run(x)) };
  withKernel(name, counting, () => {
    resetFastKernelCalls();
    assert.equal(withImplementation("reference", () => dispatchOp(name, readable)(1)), "readable 1");
    assert.equal(probed, 0);
    assert.equal(fastKernelCalls().size, 0);
    assert.equal(withImplementation("fast", () => dispatchOp(name, readable)(2)), "fast 2");
    assert.equal(probed, 1);
    assert.equal(fastKernelCalls().get(name), 1);
  });
  withKernel(name, { ...counting, applies: () => false }, () => {
    assert.equal(withImplementation("fast", () => dispatchOp(name, readable)(3)), "readable 3", "a kernel that does not apply is not run");
    assert.equal(probed, 1);
  });
});

test("withImplementation restores the previous implementation after a return, a throw and a rejected promise", async () => {
  assert.equal(activeImplementation(), "fast", "the default");
  assert.equal(withImplementation("reference", () => activeImplementation()), "reference");
  assert.equal(activeImplementation(), "fast");
  assert.throws(() => withImplementation("reference", () => {
    throw new Error("boom");
  }), /boom/);
  assert.equal(activeImplementation(), "fast");
  await assert.rejects(withImplementation("reference", async () => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    assert.equal(activeImplementation(), "reference", "held while the promise runs");
    throw new Error("async boom");
  }), /async boom/);
  assert.equal(activeImplementation(), "fast");
  setImplementation("reference");
  withImplementation("fast", () => assert.equal(activeImplementation(), "fast"));
  assert.equal(activeImplementation(), "reference", "restores what was active, not the default");
  setImplementation("fast");
  assert.throws(() => setImplementation("quick" as Implementation), /unknown implementation 'quick'/);
});

/** Runs fn with `kernel` registered under `name`, then puts the kernel that was there back. */
function withKernel<F extends (...args: never[]) => unknown>(name: FusedOpName, kernel: { applies: () => boolean; run: F }, fn: () => void): void {
  const builtIn = fastKernelOfOrThrow(name);
  registerFastKernel(name, kernel);
  try {
    fn();
  } finally {
    registerFastKernel(name, builtIn);
  }
}

function fastKernelOfOrThrow(name: FusedOpName): { applies: () => boolean; run: (...args: never[]) => unknown } {
  const kernel = fastKernelOf(name);
  assert.ok(kernel, `no built-in kernel registered for ${name}`);
  return kernel;
}
