import { before, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { graphEncoders, type GraphEncoderModality, type GraphEncoderOptions, type GraphEncoderOutput } from "../../src/model/graphEncoder";
import { graphEncoderPasses, graphEncodersFused, nativeGraphEncoderPasses, type GraphEncoderPasses } from "../../src/backend/fused/graphEncoders";
import { withImplementation } from "../../src/backend/implementation";
import { SparseMatrix, type SparseStrategy } from "../../src/backend/sparse";
import { selectBackend } from "../../src/backend/select";
import { csrFromCoo } from "../../src/util/csr";
import { Rng } from "../../src/util/rng";
import { availableAddon, assertSameBits, withAddonThreads } from "../backend/helpers";

const addon = availableAddon();

/** "fused": the fast kernel (through the dispatch for "auto" passes, so shapes are checked); "tfjs": the readable composition. */
type GraphEncoderPath = "fused" | "tfjs";

function graphEncodersWith(
  modalities: readonly GraphEncoderModality[],
  modalityWeights: tf.Tensor2D,
  options: GraphEncoderOptions,
  path: GraphEncoderPath,
  passes: GraphEncoderPasses = "auto",
): GraphEncoderOutput {
  if (path === "tfjs") return withImplementation("reference", () => graphEncoders(modalities, modalityWeights, options));
  if (passes !== "auto") return graphEncodersFused(modalities, modalityWeights, options, passes);
  return withImplementation("fast", () => graphEncoders(modalities, modalityWeights, options));
}

before(async () => {
  // The kit's training backend: cpu with the native BLAS/sparse kernels when the addon is built.
  await selectBackend({ quiet: true, backend: addon ? "native" : "cpu" });
});

interface Sizes {
  readonly U: number;
  readonly N: number;
  readonly k: number;
  readonly H: number;
  readonly M: number;
  readonly L: number;
  readonly slope: number;
}

interface Setup {
  readonly sizes: Sizes;
  readonly modalities: GraphEncoderModality[];
  readonly modalityWeights: tf.Variable;
  readonly options: GraphEncoderOptions;
  /** Dense copy of A (row-major, (U+N)²) for the float64 reference. */
  readonly dense: Float64Array;
  /** Weights of the linear functional Σ Ru ⊙ users + Σ Ri ⊙ items that the gradients differentiate. */
  readonly rUsers: tf.Tensor2D;
  readonly rItems: tf.Tensor2D;
  /** All inputs as variables, in the fused op's order: modalityWeights, then hidden, w2, b2, userPreference. */
  readonly vars: tf.Variable[];
  readonly names: string[];
}

function randomValues(rng: Rng, n: number, mean = 0, std = 1): Float32Array {
  const v = new Float32Array(n);
  rng.fillNormal(v, mean, std);
  return v;
}

/**
 * Random inputs with the cases that need care: a user row of userPreference that is all zero (the
 * normalisation's eps branch), hidden entries exactly 0 (LeakyReLU's gradient takes the slope there) and
 * negative, and a sparse A that is not symmetric (so a backward using A instead of Aᵀ would show).
 */
function setUp(sizes: Sizes, seed: number, strategy: SparseStrategy = "auto"): Setup {
  const { U, N, k, H, M, L, slope } = sizes;
  const rng = new Rng(seed);
  const n = U + N;
  const rows: number[] = [];
  const cols: number[] = [];
  const vals: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (rng.next() < 0.35) {
        rows.push(i);
        cols.push(j);
        vals.push(0.2 + 0.6 * rng.next());
      }
    }
  }
  const csr = csrFromCoo(n, n, rows, cols, vals);
  const dense = new Float64Array(n * n);
  for (let p = 0; p < rows.length; p++) dense[rows[p]! * n + cols[p]!]! += Math.fround(vals[p]!);
  let asymmetric = false;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (dense[i * n + j] !== dense[j * n + i]) asymmetric = true;
  assert.ok(asymmetric, "the test graph should not be symmetric");

  const variable = (values: Float32Array, shape: number[], name: string) => tf.variable(tf.tensor(values, shape, "float32"), true, `${name}_${seed}_${Math.floor(rng.next() * 1e9)}`);
  const vars: tf.Variable[] = [];
  const names: string[] = [];
  const modalityWeights = variable(randomValues(rng, U * M, 0.5, 0.4), [U, M], "modalityWeights");
  vars.push(modalityWeights);
  names.push("modalityWeights");
  const modalities: GraphEncoderModality[] = [];
  for (let m = 0; m < M; m++) {
    const hiddenValues = randomValues(rng, N * H, 0, 1);
    hiddenValues[0] = 0;
    hiddenValues[H + 1] = 0;
    hiddenValues[(N - 1) * H] = 0;
    const preference = randomValues(rng, U * k, 0, 1);
    preference.fill(0, (U - 2) * k, (U - 1) * k); // user U−2 of every modality: a zero row
    const hidden = variable(hiddenValues, [N, H], `hidden${m}`);
    const w = variable(randomValues(rng, H * k, 0, 1 / Math.sqrt(H)), [H, k], `w2_${m}`);
    const b = variable(randomValues(rng, k, 0, 0.3), [k], `b2_${m}`);
    const userPreference = variable(preference, [U, k], `userPreference${m}`);
    modalities.push({ hidden: hidden as tf.Tensor as tf.Tensor2D, second: { w, b }, userPreference: userPreference as tf.Tensor as tf.Tensor2D });
    vars.push(hidden, w, b, userPreference);
    names.push(`hidden${m}`, `w2_${m}`, `b2_${m}`, `userPreference${m}`);
  }
  const rUsers = tf.tensor2d(randomValues(rng, U * M * k), [U, M * k]);
  const rItems = tf.tensor2d(randomValues(rng, N * M * k), [N, M * k]);
  const options: GraphEncoderOptions = { graph: SparseMatrix.fromCsr(csr, { strategy }), layers: L, leakySlope: slope };
  return { sizes, modalities, modalityWeights, options, dense, rUsers, rItems, vars, names };
}

function tearDown(s: Setup): void {
  for (const v of s.vars) v.dispose();
  s.rUsers.dispose();
  s.rItems.dispose();
}

function functional(s: Setup, path: GraphEncoderPath | "default", passes: GraphEncoderPasses = "auto"): tf.Scalar {
  const mw = s.modalityWeights as tf.Tensor as tf.Tensor2D;
  const out = path === "default" ? graphEncoders(s.modalities, mw, s.options) : graphEncodersWith(s.modalities, mw, s.options, path, passes);
  return tf.add(tf.sum(tf.mul(out.users, s.rUsers)), tf.sum(tf.mul(out.items, s.rItems))) as tf.Scalar;
}

/** Outputs and the gradients of the functional w.r.t. every input, as host arrays. */
function run(s: Setup, path: GraphEncoderPath, passes: GraphEncoderPasses = "auto"): { users: Float32Array; items: Float32Array; grads: Float32Array[] } {
  const mw = s.modalityWeights as tf.Tensor as tf.Tensor2D;
  const { users, items } = tf.tidy(() => {
    const out = graphEncodersWith(s.modalities, mw, s.options, path, passes);
    return { users: Float32Array.from(out.users.dataSync()), items: Float32Array.from(out.items.dataSync()) };
  });
  const { value, grads } = tf.variableGrads(() => functional(s, path, passes), s.vars);
  const arrays = s.vars.map((v) => {
    const g = grads[v.name];
    assert.ok(g, `no gradient for ${v.name}`);
    assert.deepEqual(g.shape, v.shape);
    return Float32Array.from(g.dataSync());
  });
  value.dispose();
  for (const g of Object.values(grads)) g.dispose();
  return { users, items, grads: arrays };
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** max |a − b| over max(|a|, |b|): one scale per tensor. */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  return diff / Math.max(maxAbs(a), maxAbs(b), 1e-30);
}

/** The user rows other than the zero one, and the zero row: its gradient is d/eps (~1e12), its own scale. */
function splitZeroRow(a: Float32Array, s: Setup): [Float32Array, Float32Array] {
  const { U, k } = s.sizes;
  const zero = U - 2;
  const others = new Float32Array((U - 1) * k);
  others.set(a.subarray(0, zero * k));
  others.set(a.subarray((zero + 1) * k), zero * k);
  return [others, a.slice(zero * k, (zero + 1) * k)];
}

function assertPathsAgree(s: Setup, tolerance = 1e-5): ReturnType<typeof run> {
  const fused = run(s, "fused");
  const ref = run(s, "tfjs");
  const label = JSON.stringify(s.sizes);
  assert.ok(relDiff(fused.users, ref.users) < tolerance, `${label} users: rel. diff ${relDiff(fused.users, ref.users)}`);
  assert.ok(relDiff(fused.items, ref.items) < tolerance, `${label} items: rel. diff ${relDiff(fused.items, ref.items)}`);
  assert.ok(maxAbs(ref.users) > 0 && maxAbs(ref.items) > 0);
  for (let i = 0; i < s.names.length; i++) {
    const name = s.names[i]!;
    const [a, b] = [fused.grads[i]!, ref.grads[i]!];
    for (let j = 0; j < a.length; j++) assert.ok(Number.isFinite(a[j]!), `${label} fused d${name}[${j}] = ${a[j]}`);
    const parts: [string, Float32Array, Float32Array][] = [];
    if (name.startsWith("userPreference")) {
      const [aRest, aZero] = splitZeroRow(a, s);
      const [bRest, bZero] = splitZeroRow(b, s);
      parts.push([name, aRest, bRest], [`${name} (zero row)`, aZero, bZero]);
      // tf.maximum routes the zero row's gradient to the constant eps: d/eps, huge but finite.
      assert.ok(maxAbs(bZero) > 1e9, `${label} ${name}: zero row's gradient ${maxAbs(bZero)} should be d/eps`);
    } else {
      parts.push([name, a, b]);
    }
    for (const [what, x, y] of parts) {
      const d = relDiff(x, y);
      assert.ok(d < tolerance, `${label} gradient w.r.t. ${what}: rel. diff ${d}`);
      assert.ok(maxAbs(y) > 0, `${label} gradient w.r.t. ${what} is identically zero (the test exercises nothing)`);
    }
  }
  return fused;
}

const BASE = { U: 7, N: 5, k: 4, H: 6 };

test("fused graph encoders equal the tfjs composition in both outputs and every gradient (M = 1, 2; L = 0 … 4)", () => {
  let seed = 100;
  for (const M of [1, 2]) {
    for (const L of [0, 1, 2, 3, 4]) {
      const s = setUp({ ...BASE, M, L, slope: 0.01 }, seed++);
      assertPathsAgree(s);
      tearDown(s);
    }
  }
});

test("a negative, a zero and a large leaky slope, and the JS sparse product, agree too", () => {
  let seed = 200;
  for (const slope of [-0.3, 0, 0.7]) {
    const s = setUp({ ...BASE, M: 2, L: 2, slope }, seed++);
    assertPathsAgree(s);
    tearDown(s);
  }
  const s = setUp({ ...BASE, M: 2, L: 2, slope: 0.01 }, seed++, "js");
  assertPathsAgree(s);
  tearDown(s);
});

test("larger sizes (and distinct hidden widths checked through one modality) agree", () => {
  const s = setUp({ U: 60, N: 40, k: 16, H: 24, M: 2, L: 2, slope: 0.01 }, 300);
  assertPathsAgree(s);
  tearDown(s);
});

/** The whole map in float64, straight from the definition, and the functional. */
function functional64(s: Setup, values: Float64Array[]): number {
  const { U, N, k, H, M, L, slope } = s.sizes;
  const n = U + N;
  const rU = s.rUsers.dataSync();
  const rI = s.rItems.dataSync();
  const mw = values[0]!;
  let total = 0;
  for (let m = 0; m < M; m++) {
    const [hidden, w2, b2, pref] = values.slice(1 + 4 * m, 5 + 4 * m) as Float64Array[];
    const x = new Float64Array(n * k);
    for (let i = 0; i < U; i++) for (let j = 0; j < k; j++) x[i * k + j] = pref![i * k + j]!;
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < k; j++) {
        let v = b2![j]!;
        for (let t = 0; t < H; t++) {
          const h = hidden![i * H + t]!;
          v += (h < 0 ? slope * h : h) * w2![t * k + j]!;
        }
        x[(U + i) * k + j] = v;
      }
    }
    for (let i = 0; i < n; i++) {
      let sq = 0;
      for (let j = 0; j < k; j++) sq += x[i * k + j]! ** 2;
      const r = 1 / Math.sqrt(Math.max(sq, 1e-24));
      for (let j = 0; j < k; j++) x[i * k + j]! *= r;
    }
    const sum = Float64Array.from(x);
    let h = x;
    for (let l = 0; l < L; l++) {
      const next = new Float64Array(n * k);
      for (let i = 0; i < n; i++) {
        for (let c = 0; c < n; c++) {
          const a = s.dense[i * n + c]!;
          if (a !== 0) for (let j = 0; j < k; j++) next[i * k + j]! += a * h[c * k + j]!;
        }
      }
      for (let q = 0; q < sum.length; q++) sum[q]! += next[q]!;
      h = next;
    }
    for (let i = 0; i < U; i++) for (let j = 0; j < k; j++) total += sum[i * k + j]! * mw[i * M + m]! * rU[i * M * k + m * k + j]!;
    for (let i = 0; i < N; i++) for (let j = 0; j < k; j++) total += sum[(U + i) * k + j]! * rI[i * M * k + m * k + j]!;
  }
  return total;
}

test("fused gradients match float64 central differences of a direct float64 implementation", () => {
  for (const [L, seed] of [[2, 400], [1, 401]] as const) {
    const s = setUp({ ...BASE, M: 2, L, slope: 0.01 }, seed);
    const fused = run(s, "fused");
    const values = s.vars.map((v) => Float64Array.from(v.dataSync() as Float32Array));
    const step = 1e-5;
    const zeroUser = s.sizes.U - 2;
    for (let p = 0; p < values.length; p++) {
      const x = values[p]!;
      const name = s.names[p]!;
      let diff = 0;
      let scale = 0;
      let checked = 0;
      for (let i = 0; i < x.length; i++) {
        // Skip the kinks: hidden near 0 (LeakyReLU) and the zero user row (normalisation's eps branch).
        if (name.startsWith("hidden") && Math.abs(x[i]!) < 1e-3) continue;
        if (name.startsWith("userPreference") && Math.floor(i / s.sizes.k) === zeroUser) continue;
        const saved = x[i]!;
        x[i] = saved + step;
        const up = functional64(s, values);
        x[i] = saved - step;
        const down = functional64(s, values);
        x[i] = saved;
        const reference = (up - down) / (2 * step);
        scale = Math.max(scale, Math.abs(reference));
        diff = Math.max(diff, Math.abs(reference - fused.grads[p]![i]!));
        checked++;
      }
      assert.ok(checked > 0 && scale > 0, `${name}: nothing checked`);
      assert.ok(diff < 2e-5 * scale, `L = ${L}, d${name}: fused vs float64 finite differences ${diff} at scale ${scale}`);
    }
    // And the outputs against the float64 map: the functional itself.
    const direct = functional64(s, values);
    const viaFused = tf.tidy(() => functional(s, "fused").dataSync()[0]!);
    assert.ok(Math.abs(viaFused - direct) < 1e-5 * Math.max(1, Math.abs(direct)), `functional ${viaFused} vs float64 ${direct}`);
    tearDown(s);
  }
});

test("no tensor leaks over repeated forward + backward; the default path on cpu is the fused one", () => {
  assert.equal(tf.getBackend(), "cpu");
  const s = setUp({ ...BASE, M: 2, L: 2, slope: 0.01 }, 500);
  const once = () => {
    const { value, grads } = tf.variableGrads(() => functional(s, "default"), s.vars);
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
  };
  once();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) once();
  tf.tidy(() => {
    graphEncoders(s.modalities, s.modalityWeights as tf.Tensor as tf.Tensor2D, s.options); // a forward without a tape
  });
  const out = graphEncoders(s.modalities, s.modalityWeights as tf.Tensor as tf.Tensor2D, s.options);
  assert.equal(tf.memory().numTensors, before + 2, "a call outside tidy leaves exactly its two outputs");
  const viaFused = tf.tidy(() => {
    const f = graphEncodersWith(s.modalities, s.modalityWeights as tf.Tensor as tf.Tensor2D, s.options, "fused");
    return [Array.from(f.users.dataSync()), Array.from(f.items.dataSync())];
  });
  assert.deepEqual([Array.from(out.users.dataSync()), Array.from(out.items.dataSync())], viaFused);
  out.users.dispose();
  out.items.dispose();
  assert.equal(tf.memory().numTensors, before);
  tearDown(s);
});

test("inconsistent shapes are refused with a message naming the input and the shapes", () => {
  const s = setUp({ ...BASE, M: 2, L: 1, slope: 0.01 }, 600);
  const mw = s.modalityWeights as tf.Tensor as tf.Tensor2D;
  const [m0, m1] = s.modalities as [GraphEncoderModality, GraphEncoderModality];
  const wrongRows = tf.zeros([BASE.U + 1, BASE.k]) as tf.Tensor2D;
  const wrongW = tf.zeros([BASE.H + 2, BASE.k]);
  const wrongWeights = tf.zeros([BASE.U, 3]) as tf.Tensor2D;
  for (const path of ["fused", "tfjs"] as const) {
    assert.throws(() => graphEncodersWith([m0, { ...m1, userPreference: wrongRows }], mw, s.options, path), /graphEncoders: modality 1: userPreference must be \[U = 7, k = 4\] \(.*userPreference \[8,4\]/);
    assert.throws(() => graphEncodersWith([{ ...m0, second: { w: wrongW, b: m0.second.b } }], mw.slice([0, 0], [-1, 1]), s.options, path), /modality 0: w2 must be \[H = 6, k = 4\]/);
    assert.throws(() => graphEncodersWith([m0, m1], wrongWeights, s.options, path), /modalityWeights must be \[U, 2\] \(modalityWeights \[7,3\]/);
    assert.throws(() => graphEncodersWith([m0, m1], mw, { ...s.options, layers: -1 }, path), /layers must be an integer ≥ 0/);
    assert.throws(() => graphEncodersWith([], mw, s.options, path), /need at least one modality/);
    const small = SparseMatrix.fromCsr(csrFromCoo(3, 3, [0], [1], [1]));
    assert.throws(() => graphEncodersWith([m0, m1], mw, { ...s.options, graph: small }, path), /graph must be \(U\+N\)x\(U\+N\) = 12x12 .*graph 3x3/);
  }
  for (const t of [wrongRows, wrongW, wrongWeights]) t.dispose();
  tearDown(s);
});

test("SparseMatrix.multiplyHost: A·x and Aᵀ·x on host arrays, native and js, and its argument checks", () => {
  const rng = new Rng(700);
  const [nRows, nCols, d] = [9, 6, 3];
  const rows: number[] = [];
  const cols: number[] = [];
  const vals: number[] = [];
  for (let i = 0; i < nRows; i++) for (let j = 0; j < nCols; j++) if (rng.next() < 0.4) { rows.push(i); cols.push(j); vals.push(rng.normal()); }
  const csr = csrFromCoo(nRows, nCols, rows, cols, vals);
  const a = new Float64Array(nRows * nCols);
  for (let p = 0; p < rows.length; p++) a[rows[p]! * nCols + cols[p]!]! += Math.fround(vals[p]!);
  const x = randomValues(rng, nCols * d);
  const y = randomValues(rng, nRows * d);
  const want = new Float64Array(nRows * d);
  const wantT = new Float64Array(nCols * d);
  for (let i = 0; i < nRows; i++) {
    for (let c = 0; c < nCols; c++) {
      for (let j = 0; j < d; j++) {
        want[i * d + j]! += a[i * nCols + c]! * x[c * d + j]!;
        wantT[c * d + j]! += a[i * nCols + c]! * y[i * d + j]!;
      }
    }
  }
  const strategies: SparseStrategy[] = addon ? ["auto", "js", "ops", "native"] : ["auto", "js", "ops"];
  for (const strategy of strategies) {
    const m = SparseMatrix.fromCsr(csr, { strategy });
    const out = new Float32Array(nRows * d).fill(7); // overwritten, not added to
    m.multiplyHost(x, d, out);
    assert.ok(relDiff(out, want) < 1e-6, `${strategy}: A·x`);
    const outT = new Float32Array(nCols * d).fill(7);
    m.multiplyHost(y, d, outT, true);
    assert.ok(relDiff(outT, wantT) < 1e-6, `${strategy}: Aᵀ·y`);
  }
  const m = SparseMatrix.fromCsr(csr);
  assert.throws(() => m.multiplyHost(y, d, new Float32Array(nRows * d)), /multiplyHost: x of length 27 and out of length 27 do not fit a 9x6 sparse matrix with d = 3/);
  assert.throws(() => m.multiplyHost(x, d, new Float32Array(nCols * d), true), /the transpose of a 9x6/);
  const shared = new Float32Array(64);
  assert.throws(() => m.multiplyHost(shared.subarray(0, nCols * d), d, shared.subarray(nCols * d - 1, nCols * d - 1 + nRows * d)), /share memory/);
});

// ---------- the addon's row passes (native/src/row_ops.cc) against the JS loops they replace ----------

/** The addon's row passes, or null after noting why they are missing (a failure under SEA_EXPECT_NATIVE=1). */
function nativePassesOrNote(t: TestContext, note = ""): ReturnType<typeof graphEncoderPasses> | null {
  const lookup = nativeGraphEncoderPasses();
  if (lookup.passes) return lookup.passes;
  assert.notEqual(process.env.SEA_EXPECT_NATIVE, "1", `SEA_EXPECT_NATIVE=1 but the native graph-encoder passes are unavailable: ${lookup.reason}`);
  t.diagnostic(`native row passes unavailable (${lookup.reason})${note}`);
  return null;
}

test("native row passes give the same bits as the JS loops: outputs and every gradient, odd row counts, M = 1, 2, L = 0 … 4", (t) => {
  if (!nativePassesOrNote(t, "; checked only that the native choice refuses")) {
    const s = setUp({ ...BASE, M: 1, L: 1, slope: 0.01 }, 400);
    assert.throws(() => run(s, "fused", "native"), /native row passes requested but unavailable/);
    tearDown(s);
    return;
  }
  let seed = 400;
  // U, N, U + N and k odd; slopes: negative (a copy of hidden is the positive test), zero, tiny (the JS loop's
  // plain branch), the usual one.
  const cases: Sizes[] = [];
  for (const M of [1, 2]) for (const L of [0, 1, 2, 3, 4]) cases.push({ U: 9, N: 7, k: 5, H: 3, M, L, slope: 0.01 });
  for (const slope of [-0.3, 0, 1e-300]) cases.push({ U: 11, N: 6, k: 3, H: 5, M: 2, L: 2, slope });
  // Large enough that every pass splits its rows (or columns) over the addon's threads, 3 of them so the split is
  // uneven; the user/item boundary falls inside a thread's rows.
  const threaded: Sizes = { U: 1501, N: 2003, k: 67, H: 97, M: 2, L: 2, slope: 0.01 };
  cases.push(threaded);
  const addon = availableAddon()!;
  for (const sizes of cases) {
    const s = setUp(sizes, seed++);
    const native = sizes === threaded ? withAddonThreads(addon, 3, () => run(s, "fused", "native")) : run(s, "fused", "native");
    const js = run(s, "fused", "js");
    const label = JSON.stringify(sizes);
    assertSameBits(native.users, js.users, `${label} users`);
    assertSameBits(native.items, js.items, `${label} items`);
    s.names.forEach((name, i) => assertSameBits(native.grads[i]!, js.grads[i]!, `${label} d${name}`));
    assert.ok(maxAbs(js.users) > 0 && maxAbs(js.grads[1]!) > 0, `${label}: the comparison exercises nothing`);
    tearDown(s);
  }
});

test("native leakyRelu and its gradient give the JS twins' bits on signed zeros, infinities, NaN and subnormals", (t) => {
  const passes = nativePassesOrNote(t);
  if (!passes) return;
  const special = [0, -0, 1, -1, Infinity, -Infinity, NaN, 1e-45, -1e-45, 3.4e38, -3.4e38, 0.5, -2.5];
  // Enough values that the vectorised loops run whole vectors and a tail, over the addon's threads.
  const n = 3 * 65536 + 7;
  const x = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? special[i % special.length]! : Math.sin(i) * 10));
  const dOut = Float32Array.from({ length: n }, (_, i) => (i % 5 === 0 ? special[(i + 3) % special.length]! : Math.cos(i)));
  for (const slope of [0.01, -0.3, 0, 1e-300, Infinity, NaN]) {
    const native = { out: new Float32Array(n), dx: new Float32Array(n) };
    const js = { out: new Float32Array(n), dx: new Float32Array(n) };
    withAddonThreads(availableAddon()!, 3, () => {
      passes.leakyRelu(x, slope, native.out);
      passes.leakyReluGrad(dOut, x, Math.fround(slope), native.dx);
    });
    graphEncoderPasses("js").leakyRelu(x, slope, js.out);
    graphEncoderPasses("js").leakyReluGrad(dOut, x, Math.fround(slope), js.dx);
    // A NaN's sign and payload carry nothing (x86 makes negative ones, JS positive ones): NaN must match NaN.
    const canonical = (a: Float32Array) => a.map((v) => (Number.isNaN(v) ? NaN : v));
    assertSameBits(canonical(native.out), canonical(js.out), `leakyRelu, slope ${slope}`);
    assertSameBits(canonical(native.dx), canonical(js.dx), `leakyReluGrad, slope ${slope}`);
  }
});

test("the native row passes refuse wrong lengths and types with a message naming the function and argument", (t) => {
  const p = nativePassesOrNote(t);
  if (!p) return;
  const f32 = (n: number) => new Float32Array(n);
  assert.throws(() => p.columnSums(f32(5), 2, 3, f32(3)), /columnSums: x has 5 values, expected 6 \(2 rows × w 3\)/);
  assert.throws(() => p.leakyRelu(f32(4), 0.1, f32(3)), /leakyRelu: out has 3 values, expected 4/);
  assert.throws(() => p.leakyReluGrad(f32(4), new Float64Array(4) as unknown as Float32Array, 0.1, f32(4)), /positiveTest must be a Float32Array/);
  // Rows [2, 5) of a 4-row x0.
  assert.throws(() => p.encoderNormalizeRows(f32(6), null, f32(8), 2, 3, 2, 1e-24, f32(4), new Uint8Array(4)), /encoderNormalizeRows: rows \[2, 5\) exceed x0's 4 rows/);
  assert.throws(() => p.encoderWriteOutputs(f32(8), f32(8), null, f32(2), f32(1), 1, 1, f32(8), 1, 3, 2), /m = 1 must be < M = 1/);
  assert.throws(() => p.encoderLayerSumGradient(f32(8), f32(1), f32(2), 0, 1, f32(7), f32(1), 1, 3, 2), /encoderLayerSumGradient: g has 7 values, expected 8/);
  assert.throws(() => p.normalizeRowsBackward(f32(8), null, f32(8), f32(8), f32(4), new Uint8Array(4), f32(8), 0, 4, 2), /last given without next/);
});
