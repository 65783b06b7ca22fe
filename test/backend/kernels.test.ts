import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { before, describe, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { describeBlas } from "../../src/backend/addon";
import { disableNativeKernels, enableNativeKernels, nativeKernelsActive, planBatchMatMul, biasRepeatsOverRows } from "../../src/backend/kernels";
import { selectBackend } from "../../src/backend/select";
import { Rng } from "../../src/util/rng";
import { assertClose, assertNoLeak, availableAddon, NATIVE_SKIP, randomArray, referenceMatMul } from "./helpers";

// These tests run against whatever serves tf.matMul on the cpu backend: the BLAS kernels when the
// addon is built (and SEA_NATIVE is not 0), the original JS kernels otherwise. Both must match a
// float64 brute force.
const addon = availableAddon();

/** The backend every test here expects; tests that switch backends come back to it. */
async function useTestBackend(): Promise<void> {
  const info = await selectBackend({ quiet: true, backend: addon ? "native" : "cpu" });
  assert.equal(info.native, addon !== null);
}

before(useTestBackend);

function checkMatMul(rng: Rng, aShape: number[], bShape: number[], transA: boolean, transB: boolean): void {
  const a = randomArray(rng, aShape.reduce((p, d) => p * d, 1));
  const b = randomArray(rng, bShape.reduce((p, d) => p * d, 1));
  const want = referenceMatMul(a, aShape, b, bShape, transA, transB);
  const got = tf.tidy(() => tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), transA, transB));
  const label = `matMul ${JSON.stringify(aShape)}${transA ? "ᵀ" : ""} x ${JSON.stringify(bShape)}${transB ? "ᵀ" : ""}`;
  assert.deepEqual(got.shape, want.shape, label);
  assertClose(got.dataSync(), want.values, label);
  got.dispose();
}

/** Operand shapes for an [m,k]x[k,n] product under the given transposes. */
function shapes(m: number, k: number, n: number, transA: boolean, transB: boolean): [number[], number[]] {
  return [transA ? [k, m] : [m, k], transB ? [n, k] : [k, n]];
}

const TRANSPOSES: Array<[boolean, boolean]> = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

describe("backend selection", () => {
  test("native is chosen exactly when the addon is available and allowed", async () => {
    const info = await selectBackend({ quiet: true });
    assert.equal(info.name === "native", addon !== null);
    assert.equal(nativeKernelsActive(), addon !== null);
    if (addon) {
      assert.match(info.blas, /^(openblas|accelerate|cblas)/);
      assert.equal(info.blas, describeBlas(addon));
      assert.ok(info.threads >= 1);
    }
    await useTestBackend();
  });

  test("an unknown backend name is a SeaError naming the option", async () => {
    await assert.rejects(selectBackend({ backend: "tpu", quiet: true }), /--backend: unknown backend 'tpu' \(expected one of: tfjs-node-gpu, tfjs-node, native, wasm, cpu\)/);
  });

  test("the npm alias of tfjs is not mistaken for a real tfjs-node", async () => {
    await assert.rejects(selectBackend({ backend: "tfjs-node", quiet: true }), /tfjs-node: not installed/);
  });
});

describe("BatchMatMul on the cpu backend", () => {
  test("2-D products, every transpose combination, odd, 1x1 and empty shapes", () => {
    const rng = new Rng(11);
    const dims: Array<[number, number, number]> = [
      [1, 1, 1],
      [3, 5, 7],
      [17, 1, 9],
      [1, 33, 1],
      [65, 130, 33],
      [0, 4, 3],
      [4, 0, 3],
      [5, 3, 0],
    ];
    for (const [m, k, n] of dims) {
      for (const [tA, tB] of TRANSPOSES) {
        const [aShape, bShape] = shapes(m, k, n, tA, tB);
        checkMatMul(rng, aShape, bShape, tA, tB);
      }
    }
  });

  test("batched products with broadcast batch dims (1 vs B, rank mismatch)", () => {
    const rng = new Rng(12);
    const cases: Array<[number[], number[]]> = [
      [[3], [3]],
      [[1], [4]],
      [[4], [1]],
      [[4], []],
      [[], [2]],
      [[0], [0]],
    ];
    for (const [aOuter, bOuter] of cases) {
      for (const [tA, tB] of TRANSPOSES) {
        const [aMat, bMat] = shapes(4, 5, 6, tA, tB);
        checkMatMul(rng, [...aOuter, ...aMat], [...bOuter, ...bMat], tA, tB);
      }
    }
  });

  test("views, transposed and reshaped operands", () => {
    const rng = new Rng(13);
    const buffer = randomArray(rng, 200);
    const wantA = buffer.slice(7, 7 + 6 * 8);
    tf.tidy(() => {
      // A tensor over a Float32Array view with a byte offset: the kernel must honour the offset.
      const view = tf.tensor2d(buffer.subarray(7, 7 + 6 * 8), [6, 8]);
      const b = randomArray(rng, 8 * 3);
      const want = referenceMatMul(wantA, [6, 8], b, [8, 3], false, false);
      assertClose(tf.matMul(view, tf.tensor2d(b, [8, 3])).dataSync(), want.values, "offset view");
      // transpose() materialises a permuted copy; reshape() shares the buffer under another shape.
      const t = tf.transpose(view) as tf.Tensor2D; // [8, 6]
      const want2 = referenceMatMul(wantA, [6, 8], wantA, [6, 8], true, false);
      assertClose(tf.matMul(t, view.reshape([6, 8]) as tf.Tensor2D).dataSync(), want2.values, "transposed copy");
      const r = tf.reshape(view, [2, 3, 8]) as tf.Tensor3D;
      const want3 = referenceMatMul(wantA, [2, 3, 8], b, [8, 3], false, false);
      assertClose(tf.matMul(r, tf.tensor2d(b, [8, 3])).dataSync(), want3.values, "reshaped batch");
    });
  });

  test("int32 operands fall back to the JS kernel and stay exact", () => {
    tf.tidy(() => {
      const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], "int32");
      const b = tf.tensor2d([7, 8, 9, 10, 11, 12], [3, 2], "int32");
      const c = tf.matMul(a, b);
      assert.equal(c.dtype, "int32");
      assert.deepEqual(Array.from(c.dataSync()), [58, 64, 139, 154]);
    });
  });

  test("mismatched inner dimensions keep tfjs's own error", () => {
    assert.throws(() => tf.tidy(() => tf.matMul(tf.zeros([2, 3]) as tf.Tensor2D, tf.zeros([4, 2]) as tf.Tensor2D)), /inner shapes \(3\) and \(4\)/);
  });

  test("gradients of matMul match the float64 reference", () => {
    const rng = new Rng(14);
    const a = randomArray(rng, 5 * 7);
    const b = randomArray(rng, 7 * 4);
    // d/dA sum(A·B) = 1·Bᵀ: every row of dA is the row sums of B; d/dB = Aᵀ·1.
    const [da, db] = tf.tidy(() => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D)))([tf.tensor2d(a, [5, 7]), tf.tensor2d(b, [7, 4])]).map((g) => g.dataSync().slice()));
    const rowSumsB = Array.from({ length: 7 }, (_, t) => b.slice(t * 4, t * 4 + 4).reduce((s, v) => s + v, 0));
    const colSumsA = Array.from({ length: 7 }, (_, t) => Array.from({ length: 5 }, (_, i) => a[i * 7 + t]!).reduce((s, v) => s + v, 0));
    assertClose(da!, Array.from({ length: 35 }, (_, idx) => rowSumsB[idx % 7]!), "dA");
    assertClose(db!, Array.from({ length: 28 }, (_, idx) => colSumsA[Math.floor(idx / 4)]!), "dB");
  });

  test("no tensor leaks across repeated products and gradients", () => {
    const a = tf.randomNormal([9, 6]) as tf.Tensor2D;
    const b = tf.randomNormal([6, 5]) as tf.Tensor2D;
    assertNoLeak("matMul loop", () => {
      for (let i = 0; i < 20; i++) {
        tf.tidy(() => {
          tf.matMul(a, b);
          tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D, false, false)))([a, b]);
          tf.fused.matMul({ a, b, bias: tf.ones([5]), activation: "relu" });
          tf.fused.matMul({ a, b, bias: tf.ones([9, 1]), activation: "elu" });
        });
      }
    });
    tf.dispose([a, b]);
  });
});

describe("UnsortedSegmentSum on the cpu backend (linear-time replacement)", () => {
  test("sums rows per segment, drops out-of-range ids, and serves gather's gradient", () => {
    tf.tidy(() => {
      const x = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]);
      const ids = tf.tensor1d([2, 0, 2, 5], "int32"); // 5 is outside [0, 3): dropped
      const s = tf.unsortedSegmentSum(x, ids, 3);
      assert.deepEqual(s.shape, [3, 2]);
      assert.deepEqual(Array.from(s.dataSync()), [3, 4, 0, 0, 6, 8]);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, tf.tensor1d([1, 1, 0], "int32"))))(tf.zeros([3, 2]));
      assert.deepEqual(Array.from(g.dataSync()), [1, 1, 2, 2, 0, 0]);
      const xi = tf.tensor1d([4, 5, 6], "int32");
      const si = tf.unsortedSegmentSum(xi, tf.tensor1d([1, 1, 0], "int32"), 2);
      assert.equal(si.dtype, "int32");
      assert.deepEqual(Array.from(si.dataSync()), [6, 9]);
    });
  });
});

describe("_FusedMatMul on the cpu backend", () => {
  const activations: Record<string, (x: number) => number> = {
    linear: (x) => x,
    relu: (x) => Math.max(0, x),
    relu6: (x) => Math.min(6, Math.max(0, x)),
    elu: (x) => (x >= 0 ? x : Math.expm1(x)),
    leakyrelu: (x) => (x < 0 ? 0.3 * x : x),
    sigmoid: (x) => 1 / (1 + Math.exp(-x)),
    prelu: (x) => (x < 0 ? -0.5 * x : x),
  };
  const biasShapes: Array<number[] | null> = [null, [6], [1, 6], [4, 6], [], [4, 1], [1, 1, 6]];

  test("bias shapes x activations x transposes match bias-add-activate in float64", () => {
    const rng = new Rng(21);
    for (const [name, act] of Object.entries(activations)) {
      for (const biasShape of biasShapes) {
        for (const [tA, tB] of TRANSPOSES) {
          const [aShape, bShape] = shapes(4, 5, 6, tA, tB);
          const a = randomArray(rng, 20).map((v) => v * 3); // spread past relu6's cap
          const b = randomArray(rng, 30);
          const biasSize = biasShape ? biasShape.reduce((p, d) => p * d, 1) : 0;
          const bias = randomArray(rng, biasSize);
          const product = referenceMatMul(a, aShape, b, bShape, tA, tB).values;
                    const want = new Float64Array(24).map((_, idx) => {
            const i = Math.floor(idx / 6);
            const j = idx % 6;
            const biasValue = !biasShape ? 0 : biasSize === 1 ? bias[0]! : biasShape.at(-1) === 1 ? bias[i]! : bias[idx % biasSize]!;
            return act(product[i * 6 + j]! + biasValue);
          });
          const got = tf.tidy(() =>
            tf.fused
              .matMul({
                a: tf.tensor2d(a, aShape as [number, number]),
                b: tf.tensor2d(b, bShape as [number, number]),
                transposeA: tA,
                transposeB: tB,
                bias: biasShape ? tf.tensor(bias, biasShape) : undefined,
                activation: name as tf.fused.Activation,
                leakyreluAlpha: 0.3,
                preluActivationWeights: name === "prelu" ? tf.fill([6], -0.5) : undefined,
              })
              .dataSync(),
          );
          assertClose(got, want, `fused ${name} bias=${JSON.stringify(biasShape)} tA=${tA} tB=${tB}`);
        }
      }
    }
  });

  test("gradients of the fused op equal those of the unfused composition", () => {
    const rng = new Rng(22);
    const a = tf.tensor2d(randomArray(rng, 8 * 5), [8, 5]);
    const b = tf.tensor2d(randomArray(rng, 5 * 3), [5, 3]);
    const bias = tf.tensor1d(randomArray(rng, 3));
    for (const activation of ["relu", "elu", "sigmoid", "linear"] as const) {
      const fused = tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) => tf.sum(tf.fused.matMul({ a: x as tf.Tensor2D, b: y as tf.Tensor2D, bias: z, activation })));
      const plain = tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) => {
        const pre = tf.add(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D), z);
        const out = activation === "relu" ? tf.relu(pre) : activation === "elu" ? tf.elu(pre) : activation === "sigmoid" ? tf.sigmoid(pre) : pre;
        return tf.sum(out);
      });
      const g1 = fused([a, b, bias]);
      const g2 = plain([a, b, bias]);
      g1.forEach((g, i) => assertClose(g.dataSync(), g2[i]!.dataSync(), `${activation} grad ${i}`));
      tf.dispose([...g1, ...g2]);
    }
    tf.dispose([a, b, bias]);
  });
});

describe("native kernels (addon)", () => {
  test("BLAS kernels agree with the original JS kernels on random batched inputs", { skip: !addon && NATIVE_SKIP }, () => {
    const rng = new Rng(31);
    const cases: Array<[number[], number[], boolean, boolean]> = [
      [[3, 7, 9], [3, 9, 4], false, false],
      [[1, 9, 7], [5, 9, 4], true, false],
      [[5, 7, 9], [1, 4, 9], false, true],
      [[5, 9, 7], [4, 9], true, true],
      [[33, 17], [17, 65], false, false],
    ];
    for (const [aShape, bShape, tA, tB] of cases) {
      const a = randomArray(rng, aShape.reduce((p, d) => p * d, 1));
      const b = randomArray(rng, bShape.reduce((p, d) => p * d, 1));
      const run = () => tf.tidy(() => tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), tA, tB).dataSync().slice());
      const fast = run();
      disableNativeKernels();
      try {
        assert.equal(nativeKernelsActive(), false);
        assertClose(fast, run(), `native vs JS ${JSON.stringify(aShape)} x ${JSON.stringify(bShape)}`);
      } finally {
        enableNativeKernels(addon!);
      }
    }
  });

  test("two-sided batch broadcast, [2,1]x[1,3] and [2,1]x[3] (tfjs's JS kernel mis-sizes these outputs)", { skip: !addon && NATIVE_SKIP }, () => {
    const rng = new Rng(32);
    for (const bOuter of [[1, 3], [3]]) {
      for (const [tA, tB] of TRANSPOSES) {
        const [aMat, bMat] = shapes(4, 5, 6, tA, tB);
        checkMatMul(rng, [2, 1, ...aMat], [...bOuter, ...bMat], tA, tB);
      }
    }
  });

  test("enable/disable are idempotent", { skip: !addon && NATIVE_SKIP }, () => {
    enableNativeKernels(addon!);
    enableNativeKernels(addon!);
    assert.equal(nativeKernelsActive(), true);
    disableNativeKernels();
    disableNativeKernels();
    assert.equal(nativeKernelsActive(), false);
    enableNativeKernels(addon!);
  });

  test("the addon rejects arrays of the wrong type or length", { skip: !addon && NATIVE_SKIP }, () => {
    const one = Int32Array.of(0);
    assert.throws(() => addon!.sgemmBatched(false, false, 2, 2, 2, new Float32Array(4), new Float32Array(4), new Float32Array(3), one, one), /c has the wrong length/);
    assert.throws(() => addon!.sgemmBatched(false, false, 2, 2, 2, new Float32Array(3), new Float32Array(4), new Float32Array(4), one, one), /aBatch index out of range/);
    assert.throws(() => addon!.sgemmBatched(false, false, 2, 2, 2, new Float64Array(4) as unknown as Float32Array, new Float32Array(4), new Float32Array(4), one, one), /a must be a Float32Array/);
    assert.throws(() => addon!.biasActivation(new Float32Array(5), new Float32Array(2), 0, 0), /bias length must divide/);
    assert.throws(() => addon!.spmm(Int32Array.of(0, 1), Int32Array.of(3), Float32Array.of(1), 2, new Float32Array(2), 1, new Float32Array(1)), /column index out of range/);
  });

  test("copyStrided and binary2d equal the JS loops and refuse runs outside their arrays", { skip: !addon && NATIVE_SKIP }, () => {
    const rng = new Rng(31);
    const src = randomArray(rng, 5000);
    // 37 runs of 50 values, from every 120th value at 3 to every 61st at 7 (threads split the runs).
    const dst = new Float32Array(7 + 36 * 61 + 50);
    addon!.copyStrided(dst, 7, 61, src, 3, 120, 50, 37);
    const want = new Float32Array(dst.length);
    for (let r = 0; r < 37; r++) for (let j = 0; j < 50; j++) want[7 + r * 61 + j] = src[3 + r * 120 + j]!;
    assert.deepEqual(dst, want);
    const ints = Int32Array.from({ length: 300_000 }, (_, i) => i * 7 - 5);
    const intsOut = new Int32Array(300_000);
    addon!.copyStrided(intsOut, 0, 1000, ints, 0, 1000, 1000, 300);
    assert.deepEqual(intsOut, ints);

    // a [rows, n] op b [n] (a bias row), b [rows, 1] (a row scale), a scalar, and one long same-shape run.
    const rows = 301;
    const n = 517;
    const a = randomArray(rng, rows * n);
    const bias = randomArray(rng, n);
    const scale = randomArray(rng, rows);
    const ops: [number, (x: number, y: number) => number][] = [[0, (x, y) => x + y], [1, (x, y) => x - y], [2, (x, y) => x * y], [3, (x, y) => x / y]];
    for (const [code, f] of ops) {
      const check = (out: Float32Array, expect: (i: number, j: number) => number, what: string) => {
        for (let i = 0; i < rows; i++) {
          for (let j = 0; j < n; j++) {
            if (!Object.is(out[i * n + j], Math.fround(expect(i, j)))) assert.fail(`op ${code} ${what} [${i}, ${j}]: ${out[i * n + j]} vs ${Math.fround(expect(i, j))}`);
          }
        }
      };
      const out = new Float32Array(rows * n);
      addon!.binary2d(code, out, a, n, 1, bias, 0, 1, rows, n);
      check(out, (i, j) => f(a[i * n + j]!, bias[j]!), "bias row");
      addon!.binary2d(code, out, scale, 1, 0, a, n, 1, rows, n);
      check(out, (i, j) => f(scale[i]!, a[i * n + j]!), "row scale on the left");
      addon!.binary2d(code, out, a, 0, 1, bias, 0, 0, 1, rows * n);
      check(out, (i, j) => f(a[i * n + j]!, bias[0]!), "scalar, one long run");
      addon!.binary2d(code, out, a, 0, 1, a, 0, 1, 1, rows * n);
      check(out, (i, j) => f(a[i * n + j]!, a[i * n + j]!), "same shape, one long run");
    }
    assert.throws(() => addon!.copyStrided(dst, 7, 61, src, 3, 140, 50, 37), /copyStrided: 37 runs of 50 from offset 3 with stride 140 exceed src's 5000 values/);
    assert.throws(() => addon!.copyStrided(new Int32Array(10), 0, 1, new Float32Array(10), 0, 1, 10, 1), /dst and src must be of the same type/);
    const shared = new Float32Array(100);
    assert.throws(() => addon!.copyStrided(shared.subarray(10), 0, 10, shared, 0, 10, 5, 8), /copyStrided: dst and src overlap/);
    addon!.copyStrided(shared.subarray(50), 0, 10, shared, 0, 10, 5, 5); // disjoint views of one buffer are fine
    assert.throws(() => addon!.copyStrided(new Float64Array(10) as unknown as Float32Array, 0, 1, src, 0, 1, 10, 1), /dst must be a Float32Array or an Int32Array/);
    assert.throws(() => addon!.binary2d(0, new Float32Array(rows * n - 1), a, n, 1, bias, 0, 1, rows, n), /binary2d: 301 runs of 517 .* exceed out's/);
    assert.throws(() => addon!.binary2d(0, new Float32Array(rows * n), a, n, 1, bias, n, 1, rows, n), /exceed b's 517 values/);
    assert.throws(() => addon!.binary2d(4, new Float32Array(4), a, 0, 1, a, 0, 1, 1, 4), /op must be 0–3/);
    assert.throws(() => addon!.binary2d(0, new Float32Array(4), a, 0, 0, a, 0, 0, 1, 4), /not both 0/);
  });

  test("planBatchMatMul stacks batches into one sgemm when B is shared and A is not transposed", () => {
    const stacked = planBatchMatMul([4, 3, 5], [5, 2], false, false)!;
    assert.deepEqual([stacked.m, stacked.n, stacked.k, stacked.aBatch.length], [12, 2, 5, 1]);
    const perBatch = planBatchMatMul([4, 5, 3], [5, 2], true, false)!;
    assert.deepEqual([perBatch.m, Array.from(perBatch.aBatch), Array.from(perBatch.bBatch)], [3, [0, 1, 2, 3], [0, 0, 0, 0]]);
    const twoSided = planBatchMatMul([2, 1, 3, 5], [3, 5, 2], false, false)!;
    assert.deepEqual([Array.from(twoSided.aBatch), Array.from(twoSided.bBatch), twoSided.outShape], [[0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2], [2, 3, 3, 2]]);
    assert.equal(planBatchMatMul([2, 3, 5], [3, 5, 2], false, false), null);
  });

  test("biasRepeatsOverRows accepts row-vector biases only", () => {
    assert.equal(biasRepeatsOverRows([6], [4, 6]), true);
    assert.equal(biasRepeatsOverRows([1, 6], [4, 6]), true);
    assert.equal(biasRepeatsOverRows([1, 1, 6], [4, 6]), false);
    assert.equal(biasRepeatsOverRows([], [4, 6]), true);
    assert.equal(biasRepeatsOverRows([4, 6], [2, 4, 6]), true);
    assert.equal(biasRepeatsOverRows([4, 1], [4, 6]), false);
    assert.equal(biasRepeatsOverRows([3, 4, 6], [4, 6]), false);
  });
});

test("loading the addon sets OpenBLAS's idle spin to its minimum unless the user chose one (empty is no choice)", { skip: !addon && NATIVE_SKIP }, () => {
  const timeoutAfterLoad = (value: string | undefined): string => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (value === undefined) delete env.OPENBLAS_THREAD_TIMEOUT;
    else env.OPENBLAS_THREAD_TIMEOUT = value;
    const repo = path.resolve(__dirname, "../..");
    const script = 'require("./src/backend/addon").loadNativeAddon(); process.stdout.write(String(process.env.OPENBLAS_THREAD_TIMEOUT));';
    return execFileSync(process.execPath, ["--require", "tsx/cjs", "-e", script], { cwd: repo, env, encoding: "utf8" });
  };
  assert.equal(timeoutAfterLoad(undefined), "4");
  assert.equal(timeoutAfterLoad(""), "4");
  assert.equal(timeoutAfterLoad("12"), "12");
});
