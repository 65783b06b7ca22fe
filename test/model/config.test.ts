import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_CONFIG, parseOverride, resolveConfig } from "../../src/model/config";
import { variantOverrides, VARIANT_NAMES } from "../../src/model/variants";
import { SeaError } from "../../src/util/errors";

test("defaults are the reference's constants (DESIGN §1)", () => {
  assert.equal(DEFAULT_CONFIG.embeddingDim, 64);
  assert.equal(DEFAULT_CONFIG.batchSize, 2048);
  assert.equal(DEFAULT_CONFIG.lr, 1e-4);
  assert.equal(DEFAULT_CONFIG.alpha, 0.012);
  assert.equal(DEFAULT_CONFIG.tau, 0.2);
  assert.equal(DEFAULT_CONFIG.clubWeight, 0.006);
  assert.equal(DEFAULT_CONFIG.clubSteps, 50);
  assert.equal(DEFAULT_CONFIG.clubHidden, 16);
  assert.equal(DEFAULT_CONFIG.knnK, 10);
  assert.deepEqual(DEFAULT_CONFIG.itemGraphWeights, { image: 0.1, text: 0.9 });
  assert.equal(DEFAULT_CONFIG.seed, 999);
  assert.equal(DEFAULT_CONFIG.patience, 20);
});

test("--set parses typed values and rejects unknown keys and bad values with the key named", () => {
  assert.deepEqual(parseOverride("alpha=0.02"), { alpha: 0.02 });
  assert.deepEqual(parseOverride("ks=5,10"), { ks: [5, 10] });
  assert.deepEqual(parseOverride("reassociate=false"), { reassociate: false });
  assert.deepEqual(parseOverride("itemGraphWeights=image:0.5,text:0.5"), { itemGraphWeights: { image: 0.5, text: 0.5 } });
  assert.throws(() => parseOverride("alpah=0.1"), (e: unknown) => e instanceof SeaError && /unknown config key "alpah"/.test(e.message));
  assert.throws(() => parseOverride("batchSize=1.5"), /batchSize must be an integer/);
  assert.throws(() => parseOverride("distance=l1"), /distance must be one of club, orthogonal, negL2, none/);
  assert.throws(() => parseOverride("noequals"), /expected key=value/);
});

test("resolveConfig layers overrides and validates the result", () => {
  const c = resolveConfig({ alpha: 0.5 }, { alpha: 0.25, epochs: 3 });
  assert.equal(c.alpha, 0.25);
  assert.equal(c.epochs, 3);
  assert.throws(() => resolveConfig({ stopMetric: "recall@50" }), /stopMetric "recall@50"/);
  assert.throws(() => resolveConfig({ tau: 0 }), /tau must be > 0/);
  assert.throws(() => resolveConfig({ nope: 1 }), /unknown config key "nope"/);
});

test("every variant is a valid configuration of the one model", () => {
  assert.deepEqual(VARIANT_NAMES, ["sea", "no-club", "no-solosim", "no-both", "orthogonal", "neg-l2", "subtraction"]);
  for (const v of VARIANT_NAMES) resolveConfig(variantOverrides(v));
  assert.equal(resolveConfig(variantOverrides("no-both")).alpha, 0);
  assert.equal(resolveConfig(variantOverrides("orthogonal")).distance, "orthogonal");
  assert.throws(() => variantOverrides("sea2"), /unknown variant "sea2"/);
});
