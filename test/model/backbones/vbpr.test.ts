import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { VBPR } from "../../../src/model/backbones/vbpr";
import type { LossTerm } from "../../../src/model/backbones/backbone";
import {
  N_USERS, N_ITEMS, MODALITIES, hostScope, makeFixture, testConfig, buildBackbone, values64, affine, bpr64, embLoss64, assertRelClose, assertGradientsReachAll,
} from "./fixture";

const K = 4;

function total(terms: LossTerm[]): tf.Scalar {
  return tf.addN(terms.map((t) => tf.mul(t.value, t.weight))) as tf.Scalar;
}

test("VBPR: one identity 'content' representation of width k per modality, declared after the ID tables", () => {
  const fixture = makeFixture();
  const config = testConfig();
  assert.equal(VBPR.readsContent, true);
  assert.equal(VBPR.defaults.lr, 1e-3);
  assert.deepEqual(VBPR.representations(fixture.dims, config), MODALITIES.map(() => ({ layer: "content", width: K, consumers: [{ name: "content", out: K, identity: true }] })));
  const { store, declared } = buildBackbone(VBPR, fixture, config);
  assert.deepEqual(declared, [[0, "content"], [1, "content"]]);
  assert.deepEqual(store.names().slice(-2), ["vbpr.user", "vbpr.item"]);
  assert.deepEqual(store.get("vbpr.user").shape, [N_USERS, 2 * K]);
  assert.deepEqual(store.get("vbpr.item").shape, [N_ITEMS, K]);
  store.dispose();
  fixture.dispose();
});

test("VBPR: forward and loss terms equal a float64 recomputation of MMRec's single linear map over the concatenation", async () => {
  await tf.setBackend("cpu");
  const fixture = makeFixture();
  const before = tf.memory().numTensors;
  const config = testConfig({ vbprRegWeight: 0.1 });
  const { store, layers, backbone, readings } = buildBackbone(VBPR, fixture, config);
  // Reference: the concatenation [X_image ‖ X_text] through one layer whose weight is [W_image; W_text] and
  // whose bias is b_image + b_text (MMRec's item_linear), then items = [Q ‖ that].
  const dSum = MODALITIES.reduce((s, m) => s + m.dim, 0);
  const xCat = new Float64Array(N_ITEMS * dSum);
  for (let i = 0; i < N_ITEMS; i++) {
    let offset = 0;
    MODALITIES.forEach((m, mi) => {
      for (let t = 0; t < m.dim; t++) xCat[i * dSum + offset + t] = fixture.features[mi]![i * m.dim + t]!;
      offset += m.dim;
    });
  }
  const wCat = new Float64Array(dSum * K);
  wCat.set(values64(layers[0]!.w), 0);
  wCat.set(values64(layers[1]!.w), MODALITIES[0].dim * K);
  const bSum = values64(layers[0]!.b).map((v, j) => v + values64(layers[1]!.b)[j]!);
  const content = affine(xCat, N_ITEMS, dSum, wCat, bSum);
  const q = values64(store.get("vbpr.item"));
  const items64 = new Float64Array(N_ITEMS * 2 * K);
  for (let i = 0; i < N_ITEMS; i++) {
    for (let j = 0; j < K; j++) {
      items64[i * 2 * K + j] = q[i * K + j]!;
      items64[i * 2 * K + K + j] = content[i * K + j]!;
    }
  }
  const users64 = values64(store.get("vbpr.user"));

  const [got, terms] = hostScope(() => {
    const out = backbone.forward(fixture.data, readings(), { training: true });
    const t = backbone.lossTerms(out, fixture.batch);
    return [{ users: values64(out.users), items: values64(out.items) }, t.map((x) => ({ name: x.name, weight: x.weight, value: x.value.dataSync()[0]! }))] as const;
  });
  assertRelClose(got.users, users64, "users");
  assertRelClose(got.items, items64, "items");
  assert.deepEqual(terms.map((t) => t.name), ["bpr", "embLoss"]);
  assert.ok(Math.abs(terms[1]!.weight - 0.1 / Math.LN2) < 1e-15);
  assertRelClose([terms[0]!.value], [bpr64(users64, items64, 2 * K, fixture.batch)], "BPR");
  // EmbLoss on the full scoring rows (content half included), as MMRec's reg_loss(user_e, pos_e, neg_e).
  assertRelClose([terms[1]!.value], [embLoss64(users64, items64, 2 * K, fixture.batch)], "EmbLoss");
  store.dispose();
  assert.equal(tf.memory().numTensors, before, "no leaked tensors");
  fixture.dispose();
});

test("VBPR: gradients reach every parameter, the representation layers included", async () => {
  await tf.setBackend("cpu");
  const fixture = makeFixture();
  const { store, backbone, readings } = buildBackbone(VBPR, fixture, testConfig());
  assertGradientsReachAll(store, () => total(backbone.lossTerms(backbone.forward(fixture.data, readings(), { training: true }), fixture.batch)));
  store.dispose();
  fixture.dispose();
});
