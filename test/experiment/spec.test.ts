import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { parseExperimentText, readExperimentFile, validateExperiment } from "../../src/experiment/spec";
import { SeaError } from "../../src/util/errors";

const REPO = path.resolve(__dirname, "../..");

const VALID = {
  name: "t",
  output: "runs/t",
  datasets: ["tiny"],
  variants: ["sea", "no-club"],
  seeds: [1, 2],
  epochs: 3,
  set: { batchSize: 256, ks: [10, 20], itemGraphWeights: { image: 0.5, text: 0.5 } },
  grids: [{ alpha: [0.01, 0.02] }],
  configSets: { base: {}, fast: { lr: 0.005 } },
  slurm: { partition: "cpu", time: "01:00:00", cpusPerTask: 2, mem: "4G", extra: ["#SBATCH --account=abc", "--qos=low"], setup: ["module load nodejs"] },
};

/** The message of the SeaError `fn` throws (fails the test when it throws nothing or something else). */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SeaError, `expected a SeaError, got ${String(e)}`);
    assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
    return e.message;
  }
  assert.fail("expected an error");
}

test("a valid experiment is read with every value converted to its config key's type", () => {
  const spec = validateExperiment(VALID, "x.yaml");
  assert.equal(spec.name, "t");
  assert.deepEqual(spec.set, { batchSize: 256, ks: [10, 20], itemGraphWeights: { image: 0.5, text: 0.5 }, epochs: 3 });
  assert.deepEqual(spec.datasets, [{ path: "tiny", set: {} }]);
  assert.deepEqual(spec.grids, [[{ key: "alpha", values: [0.01, 0.02] }]]);
  assert.deepEqual(spec.configSets.map((c) => c.name), ["base", "fast"]);
  assert.equal(spec.threadsPerCell, 1, "one thread per cell unless the file says otherwise");
  assert.deepEqual(spec.slurm.extra, ["--account=abc", "--qos=low"], "#SBATCH prefixes dropped");
  assert.equal(spec.slurm.cpusPerTask, 2);
});

test("bad experiments: one message naming the file and the field", () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["missing name", { ...VALID, name: undefined }, /^x\.yaml: name: required field is missing$/],
    ["unknown field", { ...VALID, backbone: "vbpr" }, /^x\.yaml: backbone: unknown field \(known: name, /],
    ["unknown variant", { ...VALID, variants: ["sea", "nope"] }, /^x\.yaml: variants\[1\]: unknown variant "nope"/],
    ["seed that is not an integer", { ...VALID, seeds: [1, "two"] }, /^x\.yaml: seeds\[1\]: expected an integer ≥ 0, got text "two"/],
    ["duplicate seed", { ...VALID, seeds: [1, 1] }, /^x\.yaml: seeds\[1\]: duplicate value "1"/],
    ["empty variants", { ...VALID, variants: [] }, /^x\.yaml: variants: must list at least one value/],
    ["unknown config key", { ...VALID, set: { alhpa: 1 } }, /^x\.yaml: set\.alhpa: unknown config key "alhpa"/],
    ["config value of the wrong type", { ...VALID, set: { batchSize: "big" } }, /^x\.yaml: set\.batchSize: batchSize must be an integer, got "big"/],
    ["seed inside set", { ...VALID, set: { seed: 3 } }, /^x\.yaml: set\.seed: the seed is an axis of the experiment/],
    ["epochs given twice", { ...VALID, set: { epochs: 2 } }, /^x\.yaml: epochs: given twice/],
    ["grid value that is a list", { ...VALID, grids: [{ alpha: [[0.1]] }] }, /^x\.yaml: grids\[0\]\.alpha\[0\]: grid values are single numbers/],
    ["grid value of the wrong type", { ...VALID, grids: [{ tau: [0.1, "warm"] }] }, /^x\.yaml: grids\[0\]\.tau\[1\]: tau must be a finite number/],
    ["empty grid", { ...VALID, grids: [{}] }, /^x\.yaml: grids\[0\]: a grid needs at least one config key/],
    ["config set with a bad name", { ...VALID, configSets: { "a b": {} } }, /^x\.yaml: configSets\.a b: "a b" must be letters/],
    ["dataset entry with an unknown field", { ...VALID, datasets: [{ path: "tiny", patience: 3 }] }, /^x\.yaml: datasets\[0\]\.patience: unknown field/],
    ["dataset config value", { ...VALID, datasets: [{ path: "tiny", set: { patience: -1.5 } }] }, /^x\.yaml: datasets\[0\]\.set\.patience: patience must be an integer/],
    ["two datasets with one folder name", { ...VALID, datasets: ["/a/baby", "/b/baby"] }, /^x\.yaml: datasets\[1\]: two datasets with the same folder name "baby"/],
    ["SLURM time", { ...VALID, slurm: { time: "two hours" } }, /^x\.yaml: slurm\.time: "two hours" is not a SLURM time limit/],
    ["SLURM memory", { ...VALID, slurm: { mem: "4 GB" } }, /^x\.yaml: slurm\.mem: "4 GB" is not a SLURM memory size/],
    ["SLURM extra line that is not an option", { ...VALID, slurm: { extra: ["account=abc"] } }, /^x\.yaml: slurm\.extra\[0\]: "account=abc" is not an sbatch option/],
    ["unknown SLURM field", { ...VALID, slurm: { queue: "cpu" } }, /^x\.yaml: slurm\.queue: unknown field/],
    ["threads per cell", { ...VALID, threadsPerCell: 0 }, /^x\.yaml: threadsPerCell: expected an integer ≥ 1, got 0/],
  ];
  for (const [what, raw, expected] of cases) assert.match(errorOf(() => validateExperiment(raw, "x.yaml")), expected, what);
  assert.match(errorOf(() => validateExperiment(["a list"], "x.yaml")), /^x\.yaml: expected a mapping of experiment fields/);
});

test("YAML and JSON syntax errors name the file (and the line for YAML); other extensions are refused", () => {
  assert.match(errorOf(() => parseExperimentText("name: a\nseeds: [1, 2\n", "e.yaml")), /^e\.yaml:\d+:\d+: not valid YAML/);
  assert.match(errorOf(() => parseExperimentText("name: a\nname: b\n", "e.yml")), /^e\.yml:2:1: not valid YAML \(Map keys must be unique/);
  assert.match(errorOf(() => parseExperimentText("{\"name\": }", "e.json")), /^e\.json: not valid JSON/);
  assert.match(errorOf(() => parseExperimentText("name: a", "e.txt")), /^e\.txt: expected an experiment file ending in \.yaml, \.yml or \.json/);
  assert.match(errorOf(() => readExperimentFile("/no/such/experiment.yaml")), /^\/no\/such\/experiment\.yaml: cannot read experiment file/);
});

test("every shipped experiment file is valid", () => {
  const dir = path.join(REPO, "experiments");
  const files = fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => /\.(ya?ml|json)$/.test(f));
  assert.ok(files.length >= 5, `experiments/ holds ${files.length} files`);
  for (const f of files) assert.doesNotThrow(() => readExperimentFile(path.join(dir, f)), f);
});

test("sea experiment check on a bad file: exit 1 and one error line naming the field", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sea-exp-spec-"));
  try {
    const file = path.join(dir, "bad.yaml");
    fs.writeFileSync(file, "name: bad\noutput: out\ndatasets: [tiny]\nvariants: [sea]\nseeds: [1]\ngrids:\n  - alpha: [0.1, oops]\n");
    const r = spawnSync(process.execPath, [path.join(REPO, "bin/sea.js"), "experiment", "check", file], { encoding: "utf8" });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr.trim(), `sea: error: ${file}: grids[0].alpha[1]: alpha must be a finite number, got "oops"`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
