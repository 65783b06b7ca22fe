import type { Command } from "commander";
import * as tf from "@tensorflow/tfjs";
import { describeBlas, loadNativeAddon, nativeAllowed, type SeaNativeAddon } from "../src/backend/addon";
import { selectBackend } from "../src/backend/select";
import { SparseMatrix, type SparseStrategy } from "../src/backend/sparse";
import { csrFromCoo, type Csr } from "../src/util/csr";
import { Rng } from "../src/util/rng";
import { SeaError } from "../src/util/errors";

/** m x k x n: A is [m, k], B is [k, n]. The SEA shapes: item projection, graph layers, scoring. */
const SHAPES: ReadonlyArray<readonly [number, number, number]> = [
  [1024, 1024, 1024],
  [7050, 4096, 384],
  [7050, 384, 256],
  [2048, 128, 7050],
];
const REFERENCE_SHAPE = "1024x1024x1024";
/** Pure-JS/wasm backends measure a shape only if one call is estimated to finish within this. */
const SLOW_BACKEND_BUDGET_S = 15;
/** Baby-scale bipartite graph: users + items nodes, interactions stored in both directions. */
const BABY = { users: 19_445, items: 7_050, interactions: 118_500, columns: 64 };

type Gflops = Record<string, number | null>;

interface KernelBenchResult {
  raw: Gflops;
  backends: Record<string, Gflops>;
  spmm_ms: Record<string, { forward: number; backward: number; forwardBackward: number }>;
  skipped: Record<string, string>;
  ratios: { nativeOverRaw1024: number | null; nativeOverCpu1024: number | null };
  meta: { blas: string; threads: number; repeat: number; spmmGraph: { nodes: number; edges: number; columns: number } };
}

/** `sea bench kernels`: raw sgemm vs tf.matMul per backend, and the sparse graph product, in one process. */
export function registerKernelBench(bench: Command): void {
  bench
    .command("kernels")
    .description("GFLOP/s of raw sgemm and tf.matMul per backend (native, wasm, cpu) and ms of the sparse graph product")
    .option("--json", "print one JSON object")
    .option("--repeat <n>", "timed calls per measurement (after one warm-up call)", "3")
    .action(async (opts: { json?: boolean; repeat: string }) => {
      const repeat = Number(opts.repeat);
      if (!Number.isInteger(repeat) || repeat < 1) throw new SeaError(`--repeat must be a positive integer (got '${opts.repeat}')`, { where: "--repeat" });
      const result = await runKernelBench(repeat, opts.json ? () => undefined : (line) => process.stderr.write(`${line}\n`));
      process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : formatTable(result));
    });
}

function shapeKey([m, k, n]: readonly [number, number, number]): string {
  return `${m}x${k}x${n}`;
}

function flops([m, k, n]: readonly [number, number, number]): number {
  return 2 * m * k * n;
}

function fill(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.next() - 0.5; // uniform: normal sampling of 29M values is slow
  return out;
}

/** Median seconds of `repeat` calls after one warm-up call. */
function timeCalls(repeat: number, call: () => void, warmUp = true): number {
  if (warmUp) call();
  const times: number[] = [];
  for (let r = 0; r < repeat; r++) {
    const t0 = process.hrtime.bigint();
    call();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export async function runKernelBench(repeat: number, log: (line: string) => void): Promise<KernelBenchResult> {
  const rng = new Rng(20240611);
  const addon = nativeAllowed() ? loadNativeAddon() : null;
  const skipped: Record<string, string> = {};
  const raw: Gflops = {};
  const operands = new Map<string, { a: Float32Array; b: Float32Array }>();
  for (const shape of SHAPES) operands.set(shapeKey(shape), { a: fill(rng, shape[0] * shape[1]), b: fill(rng, shape[1] * shape[2]) });

  if (addon) {
    for (const shape of SHAPES) raw[shapeKey(shape)] = measureRaw(addon, shape, operands.get(shapeKey(shape))!, repeat);
    log(`raw sgemm: ${JSON.stringify(raw)}`);
  } else {
    skipped.raw = "native addon unavailable";
  }

  const backends: Record<string, Gflops> = {};
  for (const name of addon ? ["native", "wasm", "cpu"] : ["wasm", "cpu"]) {
    await selectBackend({ backend: name, quiet: true });
    backends[name] = measureBackend(name, operands, repeat, skipped);
    log(`${name} tf.matMul: ${JSON.stringify(backends[name])}`);
  }
  if (!addon) skipped.native = "native addon unavailable";

  await selectBackend({ backend: addon ? "native" : "cpu", quiet: true });
  const spmm = measureSpmm(rng, addon !== null, repeat);
  log(`spmm ms: ${JSON.stringify(spmm.ms)}`);

  const ratio = (x: number | null | undefined, y: number | null | undefined) => (x && y ? x / y : null);
  return {
    raw,
    backends,
    spmm_ms: spmm.ms,
    skipped,
    ratios: {
      nativeOverRaw1024: ratio(backends.native?.[REFERENCE_SHAPE], raw[REFERENCE_SHAPE]),
      nativeOverCpu1024: ratio(backends.native?.[REFERENCE_SHAPE], backends.cpu?.[REFERENCE_SHAPE]),
    },
    meta: { blas: addon ? describeBlas(addon) : "none", threads: addon?.getThreads() ?? 1, repeat, spmmGraph: spmm.graph },
  };
}

function measureRaw(addon: SeaNativeAddon, shape: readonly [number, number, number], ops: { a: Float32Array; b: Float32Array }, repeat: number): number {
  const [m, k, n] = shape;
  const c = new Float32Array(m * n);
  const one = Int32Array.of(0);
  const seconds = timeCalls(repeat, () => addon.sgemmBatched(false, false, m, n, k, ops.a, ops.b, c, one, one));
  return flops(shape) / seconds / 1e9;
}

/** tf.matMul GFLOP/s on the active backend; slow backends skip shapes that would take minutes. */
function measureBackend(name: string, operands: Map<string, { a: Float32Array; b: Float32Array }>, repeat: number, skipped: Record<string, string>): Gflops {
  const out: Gflops = {};
  const slow = name === "cpu" || name === "wasm";
  let reference: number | null = null; // GFLOP/s at 1024³, for estimating the other shapes
  for (const shape of SHAPES) {
    const key = shapeKey(shape);
    if (slow && reference !== null && flops(shape) / (reference * 1e9) > SLOW_BACKEND_BUDGET_S) {
      out[key] = null;
      skipped[`${name} ${key}`] = `estimated ${(flops(shape) / (reference * 1e9)).toFixed(0)} s per call at ${reference.toFixed(2)} GFLOP/s`;
      continue;
    }
    const { a, b } = operands.get(key)!;
    const at = tf.tensor2d(a, [shape[0], shape[1]]);
    const bt = tf.tensor2d(b, [shape[1], shape[2]]);
    // Slow backends: one timed call, warmed up by a small product instead of a full-size one.
    if (slow) tf.tidy(() => tf.matMul(tf.ones([64, 64]) as tf.Tensor2D, tf.ones([64, 64]) as tf.Tensor2D).dataSync());
    const seconds = timeCalls(slow ? 1 : repeat, () => tf.tidy(() => void tf.matMul(at, bt).dataSync()), !slow);
    tf.dispose([at, bt]);
    out[key] = flops(shape) / seconds / 1e9;
    if (key === REFERENCE_SHAPE) reference = out[key];
  }
  return out;
}

/** Symmetrically normalised user-item graph D^-1/2 A D^-1/2 at Baby scale, random interactions. */
function babyGraph(rng: Rng): Csr {
  const nodes = BABY.users + BABY.items;
  const rows = new Int32Array(2 * BABY.interactions);
  const cols = new Int32Array(2 * BABY.interactions);
  for (let e = 0; e < BABY.interactions; e++) {
    const u = rng.int(BABY.users);
    const i = BABY.users + rng.int(BABY.items);
    rows[2 * e] = u;
    cols[2 * e] = i;
    rows[2 * e + 1] = i;
    cols[2 * e + 1] = u;
  }
  const degree = new Float64Array(nodes);
  for (const r of rows) degree[r]!++;
  const values = new Float32Array(rows.length);
  for (let p = 0; p < rows.length; p++) values[p] = 1 / Math.sqrt(degree[rows[p]!]! * degree[cols[p]!]!);
  return csrFromCoo(nodes, nodes, rows, cols, values);
}

function measureSpmm(rng: Rng, native: boolean, repeat: number): { ms: KernelBenchResult["spmm_ms"]; graph: KernelBenchResult["meta"]["spmmGraph"] } {
  const csr = babyGraph(rng);
  const x = tf.tensor2d(fill(rng, csr.nCols * BABY.columns), [csr.nCols, BABY.columns]);
  const dy = tf.tensor2d(fill(rng, csr.nRows * BABY.columns), [csr.nRows, BABY.columns]);
  const ms: KernelBenchResult["spmm_ms"] = {};
  const strategies: SparseStrategy[] = native ? ["native", "js", "ops"] : ["js", "ops"];
  for (const strategy of strategies) {
    const a = SparseMatrix.fromCsr(csr, { strategy });
    const reps = strategy === "native" ? Math.max(repeat, 5) : repeat;
    const forward = timeCalls(reps, () => tf.tidy(() => void a.matMul(x).dataSync()));
    const backward = timeCalls(reps, () => tf.tidy(() => void a.transposeMatMul(dy).dataSync()));
    const both = timeCalls(reps, () => tf.tidy(() => void tf.grad((t: tf.Tensor) => tf.sum(tf.mul(a.matMul(t as tf.Tensor2D), dy)))(x).dataSync()));
    ms[strategy] = { forward: forward * 1e3, backward: backward * 1e3, forwardBackward: both * 1e3 };
  }
  tf.dispose([x, dy]);
  return { ms, graph: { nodes: csr.nRows, edges: csr.indptr[csr.nRows]!, columns: BABY.columns } };
}

function formatTable(r: KernelBenchResult): string {
  const fmt = (v: number | null | undefined) => (v === null || v === undefined ? "skipped" : v.toFixed(v < 10 ? 2 : 1));
  const keys = SHAPES.map(shapeKey);
  const rows: string[][] = [["GFLOP/s (m x k x n)", ...keys]];
  if (Object.keys(r.raw).length) rows.push(["raw sgemm (addon)", ...keys.map((k) => fmt(r.raw[k]))]);
  for (const [name, g] of Object.entries(r.backends)) rows.push([`tf.matMul ${name}`, ...keys.map((k) => fmt(g[k]))]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const lines = rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
  lines.push("");
  lines.push(`sparse A·X at Baby scale (${r.meta.spmmGraph.nodes} nodes, ${r.meta.spmmGraph.edges} edges, ${r.meta.spmmGraph.columns} columns), ms:`);
  for (const [s, t] of Object.entries(r.spmm_ms)) {
    lines.push(`  ${s.padEnd(7)} forward ${t.forward.toFixed(1).padStart(8)}  backward ${t.backward.toFixed(1).padStart(8)}  grad step ${t.forwardBackward.toFixed(1).padStart(8)}`);
  }
  lines.push("");
  lines.push(`native / raw sgemm at 1024³: ${r.ratios.nativeOverRaw1024 === null ? "n/a" : `${(100 * r.ratios.nativeOverRaw1024).toFixed(0)}%`}`);
  lines.push(`native / pure-JS cpu at 1024³: ${r.ratios.nativeOverCpu1024 === null ? "n/a" : `${r.ratios.nativeOverCpu1024.toFixed(0)}x`}`);
  lines.push(`BLAS: ${r.meta.blas}, ${r.meta.threads} thread(s); median of ${r.meta.repeat} timed calls (slow backends: 1)`);
  for (const [what, why] of Object.entries(r.skipped)) lines.push(`skipped ${what}: ${why}`);
  return `${lines.join("\n")}\n`;
}
