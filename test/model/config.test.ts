import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_CONFIG, parseOverride, resolveConfig, CONFIG_SECTIONS, upgradeRecordedConfig } from "../../src/model/config";
import { variantOverrides, VARIANT_NAMES, ABLATION_VARIANT_NAMES } from "../../src/model/variants";
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
  assert.deepEqual(VARIANT_NAMES, ["sea", "no-club", "no-solosim", "no-both", "orthogonal", "neg-l2", "subtraction", "plain"]);
  assert.deepEqual(ABLATION_VARIANT_NAMES, VARIANT_NAMES.slice(0, 7), "sea ablate's default: the paper's ablation table");
  for (const v of VARIANT_NAMES) resolveConfig(variantOverrides(v));
  assert.equal(resolveConfig(variantOverrides("no-both")).alpha, 0);
  assert.equal(resolveConfig(variantOverrides("orthogonal")).distance, "orthogonal");
  assert.throws(() => variantOverrides("sea2"), /unknown variant "sea2"/);
});

test("every config key is in exactly one section", () => {
  const listed = Object.values(CONFIG_SECTIONS).flat() as string[];
  assert.deepEqual([...listed].sort(), Object.keys(DEFAULT_CONFIG).sort());
  assert.equal(new Set(listed).size, listed.length);
});

test("an unknown key names the closest key and its section", () => {
  assert.throws(
    () => parseOverride("alpah=0.1"),
    (e: unknown) => e instanceof SeaError && /unknown config key "alpah" — did you mean "alpha" \(section separation\)\?/.test(e.message) && /training: lr, /.test(e.message),
  );
  assert.throws(() => resolveConfig({ miEvry: 2 }), /did you mean "miEvery" \(section analysis\)/);
});

test("a config file may group keys by section; a key in the wrong section is an error naming its section", () => {
  const c = resolveConfig({ separation: { alpha: 0.5, distance: "negL2" }, training: { lr: 0.01 }, backbone: "sea", miEvery: 3 });
  assert.deepEqual([c.alpha, c.distance, c.lr, c.backbone, c.miEvery], [0.5, "negL2", 0.01, "sea", 3]);
  assert.throws(() => resolveConfig({ training: { alpha: 0.5 } }), /config key "alpha" belongs to section separation, not training/);
  assert.throws(() => resolveConfig({ analysis: { lrr: 1 } }), (e: unknown) => e instanceof SeaError && /section analysis/.test(e.message) && /"lrr"/.test(e.message));
});

test("a config recorded before backbones existed reads as today's: separation → partConstruction, new keys at their defaults", () => {
  const old = { ...DEFAULT_CONFIG } as Record<string, unknown>;
  delete old.backbone;
  delete old.implementation;
  delete old.partConstruction;
  old.separation = "subtraction";
  const upgraded = upgradeRecordedConfig(old);
  assert.equal(upgraded.partConstruction, "subtraction");
  assert.equal(upgraded.backbone, "sea");
  assert.equal(upgraded.implementation, "fast");
  assert.equal("separation" in upgraded, false);
  assert.deepEqual(Object.keys(upgraded).sort(), Object.keys(DEFAULT_CONFIG).sort());
});
