import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { csrFromCoo, type Csr } from "../../../src/util/csr";
import { normalizedBipartiteAdjacency } from "../../../src/graph/bipartite";
import { knnGraph, mixedItemGraph } from "../../../src/graph/knn";
import { SparseMatrix } from "../../../src/backend/sparse";
import { ParamStore, applyLinear, type Linear } from "../../../src/model/params";
import { resolveConfig, type SeaConfig } from "../../../src/model/config";
import type { ModelData } from "../../../src/model/modelData";
import type { ModelDims } from "../../../src/model/contract";
import type { BackboneBuildContext, BackboneDefinition, ConsumerReadings } from "../../../src/model/backbones/backbone";
import type { BprTriples } from "../../../src/data/bprSampling";
import { sampleBprTriples } from "../../../src/data/bprSampling";
import { Rng } from "../../../src/util/rng";

/**
 * A hand-made 7-user × 9-item dataset with two modalities (image d = 6, text d = 4), its graphs built by the
 * kit, and float64 helpers for the backbone tests' plain-loop recomputations.
 */
export const N_USERS = 7;
export const N_ITEMS = 9;
export const MODALITIES = [
  { name: "image", dim: 6 },
  { name: "text", dim: 4 },
] as const;

/** Interactions: user 0 is a hub (7 items), others have 1–4. */
export const PAIRS: readonly (readonly [number, number])[] = [
  [0, 0], [0, 1], [0, 2], [0, 3], [0, 4], [0, 5], [0, 6],
  [1, 0], [1, 7],
  [2, 1], [2, 8], [2, 3],
  [3, 2],
  [4, 4], [4, 5], [4, 8], [4, 0],
  [5, 6], [5, 7],
  [6, 8],
];

export interface Fixture {
  readonly data: ModelData;
  readonly dims: ModelDims;
  /** Raw features per modality, float64 copies. */
  readonly features: Float64Array[];
  readonly batch: BprTriples;
  dispose(): void;
}

export function trainCsr(): Csr {
  return csrFromCoo(N_USERS, N_ITEMS, PAIRS.map((p) => p[0]), PAIRS.map((p) => p[1]));
}

export function makeFixture(): Fixture {
  const rng = new Rng(2024);
  const train = trainCsr();
  const raw = MODALITIES.map((m) => {
    const x = new Float32Array(N_ITEMS * m.dim);
    rng.fillNormal(x);
    return x;
  });
  const itemGraph = mixedItemGraph(
    MODALITIES.map((m, i) => ({ graph: knnGraph({ name: m.name, rows: N_ITEMS, cols: m.dim, data: raw[i]! }, 3, { multiply: "js" }), weight: m.name === "image" ? 0.1 : 0.9 })),
  );
  const data: ModelData = {
    nUsers: N_USERS,
    nItems: N_ITEMS,
    train,
    modalities: MODALITIES.map((m, i) => ({ name: m.name, features: tf.tensor2d(raw[i]!, [N_ITEMS, m.dim]) })),
    userItemGraph: SparseMatrix.fromCsr(normalizedBipartiteAdjacency(train)),
    itemGraph: SparseMatrix.fromCsr(itemGraph),
  };
  return {
    data,
    dims: { nUsers: N_USERS, nItems: N_ITEMS, modalities: MODALITIES.map((m) => ({ name: m.name, dim: m.dim })) },
    features: raw.map((x) => Float64Array.from(x)),
    batch: sampleBprTriples(train, new Rng(5)),
    dispose: () => data.modalities.forEach((m) => m.features.dispose()),
  };
}

export function testConfig(overrides: Record<string, unknown> = {}): SeaConfig {
  return resolveConfig({ embeddingDim: 4, ...overrides });
}

/**
 * What the composition does around a backbone, by hand: the representation layers first (PyTorch-default
 * Linear(d_m → width), named `<modality>.<layer>`), then the backbone with a context that records
 * declareConsumer calls. Readings are X_m·W_m + b_m under each identity consumer's name.
 */
export function buildBackbone(definition: BackboneDefinition, fixture: Fixture, config: SeaConfig, seed = 11) {
  const store = new ParamStore(new Rng(seed));
  const specs = definition.representations(fixture.dims, config);
  const layers: Linear[] = specs.map((s, m) => store.linear(`${fixture.dims.modalities[m]!.name}.${s.layer}`, fixture.dims.modalities[m]!.dim, s.width));
  const declared: [number, string][] = [];
  const context: BackboneBuildContext = { dims: fixture.dims, config, store, declareConsumer: (m, name) => declared.push([m, name]) };
  const backbone = definition.create(context);
  const readings = (): ConsumerReadings =>
    specs.map((s, m) => new Map(s.consumers.map((c) => [c.name, applyLinear(fixture.data.modalities[m]!.features, layers[m]!)] as const)));
  return { store, specs, layers, declared, backbone, readings };
}

// ---------------------------------------------------------------------------------------------
// float64 reference helpers (plain loops)

export function values64(t: tf.Tensor): Float64Array {
  return Float64Array.from(t.dataSync() as Float32Array);
}

/** Dense symmetric-normalised bipartite adjacency of the given edges, (U+N)², users first. */
export function denseBipartite(edges: readonly (readonly [number, number])[], nUsers: number, nItems: number): Float64Array[] {
  const n = nUsers + nItems;
  const a = Array.from({ length: n }, () => new Float64Array(n));
  for (const [u, i] of edges) a[u]![nUsers + i] = a[nUsers + i]![u] = 1;
  const deg = a.map((row) => row.reduce((s, v) => s + v, 0));
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (a[r]![c]) a[r]![c] = 1 / Math.sqrt(deg[r]! * deg[c]!);
  return a;
}

/** A·X for dense A (rows) and row-major X [cols, k]. */
export function denseMatMul(a: readonly Float64Array[], x: Float64Array, k: number): Float64Array {
  const out = new Float64Array(a.length * k);
  a.forEach((row, r) => {
    for (let c = 0; c < row.length; c++) {
      const v = row[c]!;
      if (v !== 0) for (let j = 0; j < k; j++) out[r * k + j]! += v * x[c * k + j]!;
    }
  });
  return out;
}

/** X·W + b, X [rows, d], W [d, out] row-major. */
export function affine(x: Float64Array, rows: number, d: number, w: Float64Array, b: Float64Array): Float64Array {
  const out = b.length;
  const y = new Float64Array(rows * out);
  for (let i = 0; i < rows; i++) for (let j = 0; j < out; j++) {
    let s = b[j]!;
    for (let t = 0; t < d; t++) s += x[i * d + t]! * w[t * out + j]!;
    y[i * out + j] = s;
  }
  return y;
}

/** mean_{l=0..L} Aˡ·X0. */
export function layerMean(a: readonly Float64Array[], x0: Float64Array, k: number, layers: number): Float64Array {
  const sum = Float64Array.from(x0);
  let x = x0;
  for (let l = 0; l < layers; l++) {
    x = denseMatMul(a, x, k);
    for (let t = 0; t < sum.length; t++) sum[t]! += x[t]!;
  }
  return sum.map((v) => v / (layers + 1));
}

function dotRows(a: Float64Array, i: number, b: Float64Array, j: number, k: number): number {
  let s = 0;
  for (let t = 0; t < k; t++) s += a[i * k + t]! * b[j * k + t]!;
  return s;
}

/** The kit's BPR: mean_b −log₂ σ(u_b·p_b − u_b·n_b). */
export function bpr64(users: Float64Array, items: Float64Array, k: number, batch: BprTriples): number {
  let total = 0;
  for (let b = 0; b < batch.users.length; b++) {
    const x = dotRows(users, batch.users[b]!, items, batch.pos[b]!, k) - dotRows(users, batch.users[b]!, items, batch.neg[b]!, k);
    total += Math.log1p(Math.exp(-x));
  }
  return total / batch.users.length / Math.LN2;
}

/** MMRec's EmbLoss of the gathered rows: (‖U_b‖ + ‖P_b‖ + ‖N_b‖) / B, Frobenius norms not squared. */
export function embLoss64(users: Float64Array, items: Float64Array, k: number, batch: BprTriples): number {
  const norm = (table: Float64Array, ids: Int32Array): number => {
    let s = 0;
    for (const id of ids) for (let t = 0; t < k; t++) s += table[id * k + t]! ** 2;
    return Math.sqrt(s);
  };
  return (norm(users, batch.users) + norm(items, batch.pos) + norm(items, batch.neg)) / batch.users.length;
}

export function assertRelClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rel = 1e-5): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < actual.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
  }
  assert.ok(diff <= rel * Math.max(scale, 1e-12), `${what}: max |diff| ${diff} vs scale ${scale}`);
}

/** Every variable of the store gets a gradient with a non-zero entry from `loss`. */
export function assertGradientsReachAll(store: ParamStore, loss: () => tf.Scalar): void {
  const { value, grads } = tf.variableGrads(loss, store.all());
  for (const name of store.names()) {
    const g = grads[store.get(name).name];
    assert.ok(g, `no gradient for ${name}`);
    const maxAbs = tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]!);
    assert.ok(Number.isFinite(maxAbs) && maxAbs > 0, `gradient of ${name} is zero or not finite (${maxAbs})`);
  }
  value.dispose();
  Object.values(grads).forEach((g) => g.dispose());
}

/** Runs fn in a tensor scope and returns its host values (tf.tidy returns tensors only). */
export function hostScope<T>(fn: () => T): T {
  tf.engine().startScope();
  try {
    return fn();
  } finally {
    tf.engine().endScope();
  }
}
