import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { selectBackend } from "../../src/backend/select";
import { createModel, type ComposedForward } from "../../src/model/createModel";
import { resolveVariantConfig, variantOverrides, VARIANT_NAMES } from "../../src/model/variants";
import type { ModelData } from "../../src/model/modelData";
import { SparseMatrix } from "../../src/backend/sparse";
import { normalizedBipartiteAdjacency } from "../../src/graph/bipartite";
import { csrFromCoo } from "../../src/util/csr";
import { solosimLoss } from "../../src/losses/solosim";
import { orthogonalPenalty } from "../../src/losses/orthogonal";
import { negL2 } from "../../src/losses/negL2";
import { normalizeRows } from "../../src/losses/normalize";
import { bprLossOfTables } from "../../src/losses/bprTables";
import type { ClubCompanion } from "../../src/model/separation/clubCompanion";
import { Rng } from "../../src/util/rng";

const U = 6;
const N = 9;
const DIMS = [10, 8, 6]; // three modalities: Solosim averages over 3 pairs, the distance over 3 modalities

let data: ModelData;

before(async () => {
  await selectBackend({ quiet: true });
  const rng = new Rng(5);
  const users: number[] = [];
  const items: number[] = [];
  for (let u = 0; u < U; u++) for (let i = 0; i < N; i++) if ((u + 2 * i) % 3 === 0) (users.push(u), items.push(i));
  const train = csrFromCoo(U, N, Int32Array.from(users), Int32Array.from(items));
  data = {
    nUsers: U,
    nItems: N,
    train,
    modalities: DIMS.map((d, m) => ({ name: `m${m}`, features: tf.tensor2d(Array.from({ length: N * d }, () => rng.normal()), [N, d]) })),
    userItemGraph: SparseMatrix.fromCsr(normalizedBipartiteAdjacency(train)),
    itemGraph: null,
  };
});

const batch = { users: Int32Array.of(0, 1, 2, 3), pos: Int32Array.of(0, 2, 4, 6), neg: Int32Array.of(1, 3, 5, 7) };
const permutations = DIMS.map((_, m) => Int32Array.from({ length: N }, (_, i) => (i + 1 + m) % N));

/** Which loss parts each variant has, beside bpr and total. */
const EXPECTED: Record<string, string[]> = {
  sea: ["solosim", "club"],
  "no-club": ["solosim"],
  "no-solosim": ["club"],
  "no-both": [],
  plain: [],
  orthogonal: ["solosim", "orthogonal"],
  "neg-l2": ["solosim", "negL2"],
  subtraction: ["solosim"],
};

for (const variant of VARIANT_NAMES) {
  test(`loss assembly of ${variant}: its terms, weights alpha and clubWeight, averages over modality pairs and modalities`, () => {
    // alpha = 0.3 unless the variant switches Solosim off (its override would be beneath this layer).
    const alpha = variantOverrides(variant).alpha ?? 0.3;
    const config = resolveVariantConfig(variant, [{ alpha, clubWeight: 0.7, embeddingDim: 4, encoderHidden: 6, projHidden: 5, projOut: 3, clubDim: 4, clubHidden: 4, seed: 11 }]);
    const model = createModel({ nUsers: U, nItems: N, modalities: DIMS.map((dim, m) => ({ name: `m${m}`, dim })) }, config);
    try {
      tf.tidy(() => {
        const out = model.forward(data, { training: true }) as ComposedForward;
        const parts = model.lossParts(out, batch, permutations);
        const value = (t: tf.Scalar): number => t.dataSync()[0]!;
        assert.deepEqual(Object.keys(parts).sort(), ["bpr", "total", ...EXPECTED[variant]!].sort());
        assert.ok(Math.abs(value(parts.bpr!) - value(bprLossOfTables(out.users, out.items, batch))) < 1e-7);

        const heads = out.separation.heads;
        if (parts.solosim) {
          assert.equal(heads.length, 3);
          const pairs = [solosimLoss(heads[0]!, heads[1]!, config.tau), solosimLoss(heads[0]!, heads[2]!, config.tau), solosimLoss(heads[1]!, heads[2]!, config.tau)];
          const mean = pairs.reduce((s, p) => s + value(p), 0) / 3;
          assert.ok(Math.abs(value(parts.solosim) - mean) < 1e-5 * Math.max(1, Math.abs(mean)), `${variant}: solosim is the mean over the 3 pairs`);
        }
        const distanceName = EXPECTED[variant]!.find((p) => p !== "solosim");
        if (distanceName) {
          const pairsOf = out.separation.distanceParts;
          assert.equal(pairsOf.length, 3);
          const perModality = pairsOf.map((p, m) => {
            if (distanceName === "club") return value((model.companion as ClubCompanion).club.upperBound(p.generic, p.unique, permutations[m]!));
            if (distanceName === "orthogonal") return value(orthogonalPenalty(p.generic, p.unique, config.orthogonalMode));
            return value(negL2(normalizeRows(p.generic), normalizeRows(p.unique)));
          });
          const mean = perModality.reduce((s, v) => s + v, 0) / 3;
          assert.ok(Math.abs(value(parts[distanceName]!) - mean) < 1e-5 * Math.max(1, Math.abs(mean)), `${variant}: ${distanceName} is the mean over modalities`);
        }
        // total = bpr + alpha·solosim + clubWeight·distance, recomputed in float64 from the parts.
        const weights: Record<string, number> = { bpr: 1, solosim: 0.3, club: 0.7, orthogonal: 0.7, negL2: 0.7 };
        const expected = Object.entries(parts).filter(([k]) => k !== "total").reduce((s, [k, t]) => s + weights[k]! * value(t), 0);
        assert.ok(Math.abs(value(parts.total!) - expected) < 1e-5 * Math.max(1, Math.abs(expected)), `${variant}: total ${value(parts.total!)} vs ${expected}`);
      });
    } finally {
      model.dispose();
    }
  });
}

test("a separation variant over a backbone without modalities, or with one modality, is refused with a message", () => {
  const config = resolveVariantConfig("sea", [{ seed: 1 }]);
  assert.throws(() => createModel({ nUsers: U, nItems: N, modalities: [{ name: "m0", dim: 10 }] }, config), /needs ≥ 2 modalities/);
});

for (const backbone of ["vbpr", "freedom"]) {
  test(`every separation variant plugs into ${backbone}: its terms on top of the backbone's, a finite gradient for every parameter`, () => {
    for (const variant of VARIANT_NAMES) {
      const config = resolveVariantConfig(variant, [{ backbone, embeddingDim: 4, projHidden: 5, projOut: 3, clubDim: 4, clubHidden: 4, freedomDropout: 0.5, knnK: 3, seed: 7 }]);
      const model = createModel({ nUsers: U, nItems: N, modalities: DIMS.map((dim, m) => ({ name: `m${m}`, dim })) }, config);
      try {
        // FREEDOM propagates items over the item–item graph: give it one (the identity scaled, enough for the loss's shape).
        const withItemGraph: ModelData = { ...data, itemGraph: SparseMatrix.fromCsr(csrFromCoo(N, N, [...Array(N).keys()], [...Array(N).keys()], Array(N).fill(0.5))) };
        model.beginEpoch(1, withItemGraph);
        const { value, grads } = tf.variableGrads(() => {
          const out = model.forward(withItemGraph, { training: true });
          const parts = model.lossParts(out, batch, permutations);
          const own = backbone === "vbpr" ? ["bpr", "embLoss"] : ["bpr", "bpr.m0", "bpr.m1", "bpr.m2"];
          assert.deepEqual(Object.keys(parts).sort(), [...own, "total", ...EXPECTED[variant]!].sort(), `${backbone} + ${variant}`);
          return parts.total!;
        }, model.variables());
        assert.ok(Number.isFinite(value.dataSync()[0]!), `${backbone} + ${variant}: finite loss`);
        // Every parameter is on the loss's tape with a finite gradient. Some are legitimately zero at a given point:
        // CLUB's bound is clamped at 0, and a bias on E_m cancels in a BPR difference (FREEDOM's modality terms).
        for (const name of model.store.names()) {
          const g = grads[model.store.get(name).name];
          assert.ok(g, `${backbone} + ${variant}: ${name} is not on the loss's tape`);
          assert.ok(tf.tidy(() => tf.all(tf.isFinite(g)).dataSync()[0]!) === 1, `${backbone} + ${variant}: gradient of ${name} not finite`);
        }
        value.dispose();
        Object.values(grads).forEach((g) => g.dispose());
      } finally {
        model.dispose();
      }
    }
  });
}
