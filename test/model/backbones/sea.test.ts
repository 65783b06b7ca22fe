import { test, before } from "node:test";
import { selectBackend } from "../../../src/backend/select";
import { createModel } from "../../../src/model/createModel";
import { resolveVariantConfig } from "../../../src/model/variants";
import { NORM_EPS } from "../../../src/util/normEps";
import { N_USERS, N_ITEMS, MODALITIES, PAIRS, hostScope, makeFixture, values64, affine, denseBipartite, denseMatMul, bpr64, assertRelClose } from "./fixture";

before(async () => {
  await selectBackend({ quiet: true }); // the fast kernels (fused graph encoders) are what the check reaches
});

const K = 4;
const HIDDEN = 5;
const LAYERS = 2;
const SLOPE = 0.01;

/** Row-major concatenation of two [rows, a] and [rows, b] blocks. */
function concatColumns(x: Float64Array, a: number, y: Float64Array, b: number, rows: number): Float64Array {
  const out = new Float64Array(rows * (a + b));
  for (let i = 0; i < rows; i++) {
    out.set(x.subarray(i * a, (i + 1) * a), i * (a + b));
    out.set(y.subarray(i * b, (i + 1) * b), i * (a + b) + a);
  }
  return out;
}

test("the sea backbone's whole forward (square layer, encoders, propagation, fusion, item graph) against float64 loops", () => {
  const fixture = makeFixture();
  const config = resolveVariantConfig("plain", [{ embeddingDim: K, encoderHidden: HIDDEN, graphLayers: LAYERS, leakySlope: SLOPE, seed: 3 }]);
  const model = createModel(fixture.dims, config);
  try {
    const p = (name: string) => values64(model.store.get(name));
    const adjacency = denseBipartite(PAIRS, N_USERS, N_ITEMS);
    const weights = p("modalityWeights"); // [U, M]
    const M = MODALITIES.length;
    const users = new Float64Array(N_USERS * M * K);
    const items = new Float64Array(N_ITEMS * M * K);
    MODALITIES.forEach((m, mi) => {
      const d = m.dim;
      const h = Math.round(d * config.genericFraction);
      // E = X·[W_g W_u] + [b_g b_u] (the square layer, stored as column blocks), then encoder1 over all of E.
      const generic = affine(fixture.features[mi]!, N_ITEMS, d, p(`${m.name}.square.generic.w`), p(`${m.name}.square.generic.b`));
      const unique = affine(fixture.features[mi]!, N_ITEMS, d, p(`${m.name}.square.unique.w`), p(`${m.name}.square.unique.b`));
      const e = concatColumns(generic, h, unique, d - h, N_ITEMS);
      const w1 = new Float64Array(d * HIDDEN);
      w1.set(p(`${m.name}.encoder1.generic.w`), 0);
      w1.set(p(`${m.name}.encoder1.unique.w`), h * HIDDEN);
      const hidden = affine(e, N_ITEMS, d, w1, p(`${m.name}.encoder1.b`)).map((v) => (v > 0 ? v : SLOPE * v));
      const itemIn = affine(hidden, N_ITEMS, HIDDEN, p(`${m.name}.encoder2.w`), p(`${m.name}.encoder2.b`));
      // x0 = normalizeRows([userPreference; itemIn]); the layer SUM over L propagations (SEA's encoder, §5.2).
      const x0 = new Float64Array((N_USERS + N_ITEMS) * K);
      x0.set(p(`${m.name}.userPreference`), 0);
      x0.set(itemIn, N_USERS * K);
      for (let r = 0; r < N_USERS + N_ITEMS; r++) {
        let sq = 0;
        for (let j = 0; j < K; j++) sq += x0[r * K + j]! ** 2;
        const inv = 1 / Math.max(Math.sqrt(sq), NORM_EPS);
        for (let j = 0; j < K; j++) x0[r * K + j]! *= inv;
      }
      const sum = Float64Array.from(x0);
      let x = x0;
      for (let l = 0; l < LAYERS; l++) {
        x = denseMatMul(adjacency, x, K);
        for (let t = 0; t < sum.length; t++) sum[t]! += x[t]!;
      }
      for (let u = 0; u < N_USERS; u++) for (let j = 0; j < K; j++) users[u * M * K + mi * K + j] = sum[u * K + j]! * weights[u * M + mi]!;
      for (let i = 0; i < N_ITEMS; i++) for (let j = 0; j < K; j++) items[i * M * K + mi * K + j] = sum[(N_USERS + i) * K + j]!;
    });
    // items + S·items over the mixed item–item kNN graph.
    const s = fixture.data.itemGraph!.toDense();
    const sRows = Array.from({ length: N_ITEMS }, (_, i) => Float64Array.from(s.dataSync().subarray(i * N_ITEMS, (i + 1) * N_ITEMS)));
    s.dispose();
    const propagated = denseMatMul(sRows, items, M * K);
    const itemsOut = items.map((v, t) => v + propagated[t]!);

    const got = hostScope(() => {
      const out = model.forward(fixture.data, { training: false });
      const bpr = model.lossParts(out, fixture.batch, []).bpr!.dataSync()[0]!;
      return { users: values64(out.users), items: values64(out.items), bpr };
    });
    assertRelClose(got.users, users, "users");
    assertRelClose(got.items, itemsOut, "items");
    assertRelClose([got.bpr], [bpr64(users, itemsOut, M * K, fixture.batch)], "bpr");
  } finally {
    model.dispose();
    fixture.dispose();
  }
});
