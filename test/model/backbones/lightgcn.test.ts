import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { LIGHTGCN } from "../../../src/model/backbones/lightgcn";
import type { LossTerm } from "../../../src/model/backbones/backbone";
import {
  N_USERS, N_ITEMS, PAIRS, hostScope, makeFixture, testConfig, buildBackbone, values64, denseBipartite, layerMean, bpr64, embLoss64, assertRelClose, assertGradientsReachAll,
} from "./fixture";

const K = 4;

function total(terms: LossTerm[]): tf.Scalar {
  return tf.addN(terms.map((t) => tf.mul(t.value, t.weight))) as tf.Scalar;
}

test("LightGCN: declaration (ID-only, no representations, MMRec's lr)", () => {
  const fixture = makeFixture();
  assert.equal(LIGHTGCN.readsContent, false);
  assert.deepEqual(LIGHTGCN.representations(fixture.dims, testConfig()), []);
  assert.equal(LIGHTGCN.defaults.lr, 1e-3);
  fixture.dispose();
});

test("LightGCN: forward and loss terms equal a float64 recomputation", async () => {
  await tf.setBackend("cpu");
  const fixture = makeFixture();
  const before = tf.memory().numTensors;
  for (const layers of [0, 1, 3]) {
    const config = testConfig({ lightgcnLayers: layers, lightgcnRegWeight: 0.01 });
    const { store, backbone, declared, readings } = buildBackbone(LIGHTGCN, fixture, config);
    assert.deepEqual(declared, []);
    assert.deepEqual(store.names(), ["lightgcn.user", "lightgcn.item"]);
    const userEmb = values64(store.get("lightgcn.user"));
    const itemEmb = values64(store.get("lightgcn.item"));
    // Reference: mean of Âˡ·[E_u; E_i], l = 0..L.
    const x0 = new Float64Array((N_USERS + N_ITEMS) * K);
    x0.set(userEmb, 0);
    x0.set(itemEmb, N_USERS * K);
    const mean = layerMean(denseBipartite(PAIRS, N_USERS, N_ITEMS), x0, K, layers);
    const users64 = mean.subarray(0, N_USERS * K);
    const items64 = mean.subarray(N_USERS * K);

    const [got, terms] = hostScope(() => {
      const out = backbone.forward(fixture.data, readings(), { training: true });
      const t = backbone.lossTerms(out, fixture.batch);
      return [{ users: values64(out.users), items: values64(out.items) }, t.map((x) => ({ name: x.name, weight: x.weight, value: x.value.dataSync()[0]! }))] as const;
    });
    assertRelClose(got.users, users64, `users (L=${layers})`);
    assertRelClose(got.items, items64, `items (L=${layers})`);
    assert.deepEqual(terms.map((t) => t.name), ["bpr", "embLoss"]);
    assert.equal(terms[0]!.weight, 1);
    assert.ok(Math.abs(terms[1]!.weight - 0.01 / Math.LN2) < 1e-15, "EmbLoss weight = λ / ln 2 (the kit's BPR is base 2)");
    assertRelClose([terms[0]!.value], [bpr64(users64, items64, K, fixture.batch)], "BPR");
    // EmbLoss reads the layer-0 (ego) rows, not the propagated ones.
    assertRelClose([terms[1]!.value], [embLoss64(userEmb, itemEmb, K, fixture.batch)], "EmbLoss on ego embeddings");
    store.dispose();
  }
  assert.equal(tf.memory().numTensors, before, "no leaked tensors");
  fixture.dispose();
});

test("LightGCN: gradients reach every parameter", async () => {
  await tf.setBackend("cpu");
  const fixture = makeFixture();
  const { store, backbone, readings } = buildBackbone(LIGHTGCN, fixture, testConfig({ lightgcnLayers: 2 }));
  assertGradientsReachAll(store, () => total(backbone.lossTerms(backbone.forward(fixture.data, readings(), { training: true }), fixture.batch)));
  store.dispose();
  fixture.dispose();
});
