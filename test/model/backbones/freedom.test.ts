import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { FREEDOM, PRUNING_STREAM } from "../../../src/model/backbones/freedom";
import type { LossTerm } from "../../../src/model/backbones/backbone";
import { degreeSensitiveEdgeSample } from "../../../src/graph/edgeSampling";
import { Rng, deriveSeed } from "../../../src/util/rng";
import {
  N_USERS, N_ITEMS, MODALITIES, PAIRS, hostScope, makeFixture, testConfig, buildBackbone, values64, affine, denseBipartite, denseMatMul, layerMean, bpr64,
  assertRelClose, assertGradientsReachAll, type Fixture,
} from "./fixture";
import type { SeaConfig } from "../../../src/model/config";

const K = 4;

function total(terms: LossTerm[]): tf.Scalar {
  return tf.addN(terms.map((t) => tf.mul(t.value, t.weight))) as tf.Scalar;
}

/** The edges the epoch's pruning keeps (the sampler has its own tests), as (user, item) pairs. */
function keptPairs(fixture: Fixture, config: SeaConfig, epoch: number): [number, number][] {
  const kept = degreeSensitiveEdgeSample(fixture.data.train, config.freedomDropout, new Rng(deriveSeed(config.seed, PRUNING_STREAM, epoch)));
  const out: [number, number][] = [];
  for (let u = 0; u < kept.nRows; u++) for (let p = kept.indptr[u]!; p < kept.indptr[u + 1]!; p++) out.push([u, kept.indices[p]!]);
  return out;
}

/** float64 FREEDOM forward over a given user–item edge set. */
function reference(fixture: Fixture, store: ReturnType<typeof buildBackbone>["store"], config: SeaConfig, edges: readonly (readonly [number, number])[]) {
  const userEmb = values64(store.get("freedom.user"));
  const itemEmb = values64(store.get("freedom.item"));
  const s = fixture.data.itemGraph!.toDense();
  const sRows = Array.from({ length: N_ITEMS }, (_, i) => Float64Array.from(s.dataSync().subarray(i * N_ITEMS, (i + 1) * N_ITEMS)));
  s.dispose();
  let h = itemEmb;
  for (let l = 0; l < config.freedomMmLayers; l++) h = denseMatMul(sRows, h, K);
  const x0 = new Float64Array((N_USERS + N_ITEMS) * K);
  x0.set(userEmb, 0);
  x0.set(itemEmb, N_USERS * K);
  const mean = layerMean(denseBipartite(edges, N_USERS, N_ITEMS), x0, K, config.freedomUiLayers);
  const users = mean.slice(0, N_USERS * K);
  const items = mean.slice(N_USERS * K).map((v, t) => v + h[t]!);
  return { users, items };
}

test("FREEDOM: one identity 'trs' representation of width k per modality, declared after the ID tables", () => {
  const fixture = makeFixture();
  const config = testConfig();
  assert.equal(FREEDOM.readsContent, true);
  assert.equal(FREEDOM.defaults.lr, 1e-3);
  assert.deepEqual(FREEDOM.representations(fixture.dims, config), MODALITIES.map(() => ({ layer: "trs", width: K, consumers: [{ name: "trs", out: K, identity: true }] })));
  const { store, declared } = buildBackbone(FREEDOM, fixture, config);
  assert.deepEqual(declared, [[0, "trs"], [1, "trs"]]);
  assert.deepEqual(store.names().slice(-2), ["freedom.user", "freedom.item"]);
  store.dispose();
  fixture.dispose();
});

test("FREEDOM: training forward uses the epoch's pruned graph, inference the full one; loss terms as MMRec (float64 check)", async () => {
  await tf.setBackend("cpu");
  const fixture = makeFixture();
  const before = tf.memory().numTensors;
  const config = testConfig({ freedomDropout: 0.5, freedomRegWeight: 0.3, freedomUiLayers: 2, freedomMmLayers: 2 });
  const { store, layers, backbone, readings } = buildBackbone(FREEDOM, fixture, config);
  assert.throws(() => hostScope(() => backbone.forward(fixture.data, readings(), { training: true })), /call beginEpoch first/);
  backbone.beginEpoch!(3, fixture.data);
  const pruned = keptPairs(fixture, config, 3);
  assert.equal(pruned.length, Math.floor(PAIRS.length * 0.5));

  const run = (training: boolean) =>
    hostScope(() => {
      const out = backbone.forward(fixture.data, readings(), { training });
      const terms = backbone.lossTerms(out, fixture.batch);
      return { users: values64(out.users), items: values64(out.items), terms: terms.map((t) => ({ name: t.name, weight: t.weight, value: t.value.dataSync()[0]! })) };
    });
  const projected = MODALITIES.map((m, mi) => affine(fixture.features[mi]!, N_ITEMS, m.dim, values64(layers[mi]!.w), values64(layers[mi]!.b)));
  for (const [training, edges] of [[true, pruned], [false, PAIRS]] as const) {
    const want = reference(fixture, store, config, edges);
    const got = run(training);
    assertRelClose(got.users, want.users, `users (training ${training})`);
    assertRelClose(got.items, want.items, `items (training ${training})`);
    assert.deepEqual(got.terms.map((t) => [t.name, t.weight]), [["bpr", 1], ["bpr.image", 0.3], ["bpr.text", 0.3]]);
    assertRelClose([got.terms[0]!.value], [bpr64(want.users, want.items, K, fixture.batch)], "BPR on the fused tables");
    MODALITIES.forEach((m, mi) => assertRelClose([got.terms[1 + mi]!.value], [bpr64(want.users, projected[mi]!, K, fixture.batch)], `BPR(users, E_${m.name})`));
  }
  // The two graphs really differ here, so the check above tells them apart.
  const full = reference(fixture, store, config, PAIRS);
  const prunedRef = reference(fixture, store, config, pruned);
  assert.ok(full.users.some((v, t) => Math.abs(v - prunedRef.users[t]!) > 1e-3));
  // Another epoch, another pruned graph; the same epoch replays the same one.
  backbone.beginEpoch!(4, fixture.data);
  assert.notDeepEqual(keptPairs(fixture, config, 4), pruned);
  assertRelClose(run(true).users, reference(fixture, store, config, keptPairs(fixture, config, 4)).users, "epoch 4");
  backbone.beginEpoch!(3, fixture.data);
  assertRelClose(run(true).users, prunedRef.users, "epoch 3 replayed");
  backbone.dispose!();
  store.dispose();
  assert.equal(tf.memory().numTensors, before, "no leaked tensors");
  fixture.dispose();
});

test("FREEDOM: dropout 0 trains on the full graph without beginEpoch's sample", async () => {
  await tf.setBackend("cpu");
  const fixture = makeFixture();
  const config = testConfig({ freedomDropout: 0 });
  const { store, backbone, readings } = buildBackbone(FREEDOM, fixture, config);
  backbone.beginEpoch!(0, fixture.data);
  const got = hostScope(() => values64(backbone.forward(fixture.data, readings(), { training: true }).users));
  assertRelClose(got, reference(fixture, store, config, PAIRS).users, "users");
  store.dispose();
  fixture.dispose();
});

test("FREEDOM: gradients reach every parameter", async () => {
  await tf.setBackend("cpu");
  const fixture = makeFixture();
  const { store, backbone, readings } = buildBackbone(FREEDOM, fixture, testConfig({ freedomRegWeight: 1e-4 }));
  backbone.beginEpoch!(1, fixture.data);
  assertGradientsReachAll(store, () => total(backbone.lossTerms(backbone.forward(fixture.data, readings(), { training: true }), fixture.batch)));
  store.dispose();
  fixture.dispose();
});
