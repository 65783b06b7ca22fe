import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { ItemProjection, type ConsumerSpec } from "../../src/model/itemProjection";
import { ParamStore } from "../../src/model/params";
import { Rng } from "../../src/util/rng";

const SPECS: ConsumerSpec[] = [
  { name: "head1", source: "generic", out: 5 },
  { name: "genericMap", source: "generic", out: 3 },
  { name: "uniqueMap", source: "unique", out: 3 },
  { name: "encoder1", source: "full", out: 7 },
];

function maxRelDiff(a: Float32Array | Int32Array | Uint8Array, b: Float32Array | Int32Array | Uint8Array): number {
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]!), Math.abs(b[i]!));
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  }
  return diff / Math.max(scale, 1e-12);
}

test("reassociated item projection equals the naive square layer in outputs and gradients", async () => {
  await tf.setBackend("cpu");
  const before = tf.memory().numTensors;
  for (const dim of [9, 16]) {
    const store = new ParamStore(new Rng(7));
    const proj = new ItemProjection(store, "image", dim, dim, 0.5, SPECS);
    const xs = new Float32Array(23 * dim);
    new Rng(3).fillNormal(xs);
    const x = tf.tensor2d(xs, [23, dim]);
    // A fixed random linear functional of every consumer output, so each gradient path is exercised.
    const weights = SPECS.map((s, i) => {
      const w = new Float32Array(23 * s.out);
      new Rng(100 + i).fillNormal(w);
      return tf.tensor2d(w, [23, s.out]);
    });
    const lossOf = (reassociate: boolean) => () => {
      // forwardAs, not forward: at these sizes forward would pick the naive form both times.
      const out = proj.forwardAs(x, reassociate ? "reassociated" : "naive");
      return tf.addN(SPECS.map((s, i) => tf.sum(tf.mul(out.get(s.name)!, weights[i]!)))) as tf.Scalar;
    };
    for (const s of SPECS) {
      const [a, b] = tf.tidy(() => [proj.forwardAs(x, "reassociated").get(s.name)!.dataSync(), proj.forwardAs(x, "naive").get(s.name)!.dataSync()]);
      assert.ok(maxRelDiff(a as Float32Array, b as Float32Array) < 1e-5, `${s.name} output (d=${dim})`);
    }
    const g1 = tf.variableGrads(lossOf(true), store.all());
    const g2 = tf.variableGrads(lossOf(false), store.all());
    assert.ok(Math.abs(g1.value.dataSync()[0]! - g2.value.dataSync()[0]!) <= 1e-5 * Math.abs(g2.value.dataSync()[0]!));
    for (const name of Object.keys(g2.grads)) {
      const d = maxRelDiff(g1.grads[name]!.dataSync() as Float32Array, g2.grads[name]!.dataSync() as Float32Array);
      assert.ok(d < 1e-5, `gradient of ${name} differs by ${d} (d=${dim})`);
    }
    // Both blocks of the square layer get a non-zero gradient: reassociation really trains W.
    for (const block of ["generic", "unique"]) {
      const wGrad = g1.grads[store.get(`image.square.${block}.w`).name]!;
      assert.ok(tf.tidy(() => tf.max(tf.abs(wGrad)).dataSync()[0]!) > 0, `${block} block of W`);
    }
    [g1, g2].forEach((g) => (g.value.dispose(), Object.values(g.grads).forEach((t) => t.dispose())));
    x.dispose();
    weights.forEach((w) => w.dispose());
    store.dispose();
  }
  assert.equal(tf.memory().numTensors, before, "no leaked tensors");
});

test("generic and unique parts split the square layer's output at genericFraction", async () => {
  await tf.setBackend("cpu");
  const store = new ParamStore(new Rng(1));
  const proj = new ItemProjection(store, "text", 10, 10, 0.3, [{ name: "encoder1", source: "full", out: 2 }]);
  assert.equal(proj.genericWidth, 3);
  const x = tf.eye(10) as tf.Tensor2D;
  const { generic, unique } = proj.parts(x);
  assert.deepEqual(generic.shape, [10, 3]);
  assert.deepEqual(unique.shape, [10, 7]);
  // With X = I, E = W + b: row 0 of the generic part is W_g[0, :] + b_g, of the unique part W_u[0, :] + b_u.
  for (const [name, part, width] of [["generic", generic, 3], ["unique", unique, 7]] as const) {
    const w = store.get(`text.square.${name}.w`).dataSync();
    const b = store.get(`text.square.${name}.b`).dataSync();
    const e = part.dataSync();
    for (let j = 0; j < width; j++) assert.ok(Math.abs(e[j]! - (w[j]! + b[j]!)) < 1e-6, `${name}[0, ${j}]`);
  }
  tf.dispose([x, generic, unique]);
  store.dispose();
});

test("block-stored layers hold exactly the values of the whole layer drawn from the same seed", () => {
  const whole = new ParamStore(new Rng(5)).linear("w", 6, 10);
  const [left, right] = new ParamStore(new Rng(5)).linearColumnBlocks("w", 6, [4, 6], ["left", "right"]);
  const w = whole.w.dataSync();
  const b = whole.b.dataSync();
  for (let r = 0; r < 6; r++) {
    for (let c = 0; c < 10; c++) {
      const block = c < 4 ? left! : right!;
      const width = c < 4 ? 4 : 6;
      assert.equal(block.w.dataSync()[r * width + (c < 4 ? c : c - 4)], w[r * 10 + c]);
    }
  }
  assert.deepEqual([...left!.b.dataSync(), ...right!.b.dataSync()], [...b]);
  const rows = new ParamStore(new Rng(5)).linearRowBlocks("w", [2, 4], 10, ["top", "bottom"]);
  assert.deepEqual([...rows.w[0]!.dataSync(), ...rows.w[1]!.dataSync()], [...w]);
  assert.deepEqual([...rows.b.dataSync()], [...b]);
});

test("reassociation is used where it saves work: SEA's square layer yes, a narrow representation with SEA's consumers no", () => {
  const store = new ParamStore(new Rng(3));
  const separation: ConsumerSpec[] = [
    { name: "head1", source: "generic", out: 64 },
    { name: "genericMap", source: "generic", out: 32 },
    { name: "uniqueMap", source: "unique", out: 32 },
  ];
  // Baby's image modality: d = 4,096. SEA's square layer (w = d) with its encoder's first layer.
  const square = new ItemProjection(store, "square", 4096, 4096, 0.5, [...separation, { name: "encoder1", source: "full", out: 256 }]);
  assert.equal(square.reassociationSaves(7050), true);
  // VBPR's / FREEDOM's 64-wide representation read as it is, with the same separation consumers.
  const narrow = new ItemProjection(store, "narrow", 4096, 64, 0.5, [...separation, { name: "content", source: "identity", out: 64 }]);
  assert.equal(narrow.reassociationSaves(7050), false);
  // Read as it is only: a tie, one product of X (reassociated) rather than two.
  const alone = new ItemProjection(store, "alone", 4096, 64, 0.5, [{ name: "content", source: "identity", out: 64 }]);
  assert.equal(alone.reassociationSaves(7050), true);
  store.dispose();
});

test("an identity consumer reads E itself, reassociated or not", () => {
  const store = new ParamStore(new Rng(4));
  const proj = new ItemProjection(store, "m", 6, 4, 0.5, [{ name: "self", source: "identity", out: 4 }, { name: "g", source: "generic", out: 3 }]);
  const x = tf.tensor2d(Array.from({ length: 5 * 6 }, (_, i) => Math.sin(i)), [5, 6]);
  const [viaNaive, viaReassociated, e] = tf.tidy(() => {
    const parts = proj.parts(x);
    return [
      proj.forwardAs(x, "naive").get("self")!.arraySync(),
      proj.forwardAs(x, "reassociated").get("self")!.arraySync(),
      tf.concat([parts.generic, parts.unique], 1).arraySync(),
    ];
  });
  for (const got of [viaNaive, viaReassociated]) {
    got.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - e[i]![j]!) < 1e-5, `(${i}, ${j}): ${v} vs ${e[i]![j]}`)));
  }
  x.dispose();
  store.dispose();
});
