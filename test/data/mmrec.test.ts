import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { csrRow, type Csr } from "../../src/util/csr";
import { readInteractions } from "../../src/data/interactions";
import { loadMmrecDataset } from "../../src/data/mmrec";
import { writeNpy } from "../../src/data/npy";
import { SeaError } from "../../src/util/errors";

const MINI = path.resolve(__dirname, "../../data/fixtures/mini");
const HEADER = "userID\titemID\trating\ttimestamp\tx_label";

// The rows of data/fixtures/mini/mini.inter as (user, item, x_label), in file order (lines 2..24).
const ROWS: [number, number, number][] = [
  [0, 0, 0], [0, 1, 0], [0, 2, 0], [0, 3, 1], [0, 4, 2],
  [1, 1, 0], [1, 2, 0], [1, 5, 1], [1, 0, 2],
  [2, 2, 0], [2, 3, 0], [2, 4, 0], [2, 1, 1], [2, 5, 2],
  [3, 0, 0], [3, 5, 0], [3, 2, 1], [3, 3, 2],
  [4, 3, 0], [4, 4, 0], [4, 5, 0], [4, 0, 1], [4, 1, 2],
];

let tmp = "";
let caseNo = 0;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sea-mmrec-"));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A fresh copy of the mini fixture, under the folder name `name`, with its .inter renamed to match. */
function copyMini(name = "mini"): string {
  const dir = path.join(tmp, `case${caseNo++}`, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(MINI)) {
    const target = f === "mini.inter" ? `${name}.inter` : f;
    fs.copyFileSync(path.join(MINI, f), path.join(dir, target));
  }
  return dir;
}

function interLines(rows: readonly (readonly number[])[], header = HEADER): string {
  return [header, ...rows.map(([u, i, x]) => `${u}\t${i}\t5\t1600000000\t${x}`)].join("\n") + "\n";
}

function rowsOf(m: Csr): number[][] {
  return Array.from({ length: m.nRows }, (_, u) => Array.from(csrRow(m, u)));
}

/** The hand count of the fixture: row lists per split, user by user. */
function expectedSplit(x: number, nUsers = 5): number[][] {
  const out: number[][] = Array.from({ length: nUsers }, () => []);
  for (const [u, i, s] of ROWS) if (s === x) out[u]!.push(i);
  return out.map((r) => r.sort((a, b) => a - b));
}

test("mini fixture: sizes, splits, stats, modalities and features match the hand counts", async () => {
  const d = await loadMmrecDataset(MINI);
  assert.equal(d.name, "mini");
  assert.equal(d.dir, MINI);
  assert.equal(d.nUsers, 5);
  assert.equal(d.nItems, 6);
  assert.deepEqual(rowsOf(d.train), [[0, 1, 2], [1, 2], [2, 3, 4], [0, 5], [3, 4, 5]]);
  assert.deepEqual(rowsOf(d.valid), [[3], [5], [1], [2], [0]]);
  assert.deepEqual(rowsOf(d.test), [[4], [0], [5], [3], [1]]);
  for (const [m, x] of [[d.train, 0], [d.valid, 1], [d.test, 2]] as const) {
    assert.deepEqual(rowsOf(m), expectedSplit(x));
    assert.deepEqual([m.nRows, m.nCols], [5, 6]);
    assert.ok(m.values.every((v) => v === 1));
  }
  assert.deepEqual(d.stats, {
    users: 5,
    items: 6,
    interactions: { train: 13, valid: 5, test: 5 },
    sparsity: 1 - 23 / 30,
    duplicatesDropped: 0,
    usersWithoutTrain: 0,
  });
  assert.deepEqual(d.warnings, []);
  assert.deepEqual(d.modalities.map((m) => [m.name, m.rows, m.cols]), [["image", 6, 4], ["text", 6, 3]]);
  assert.deepEqual(Array.from(d.modalities[0]!.data), Array.from({ length: 24 }, (_, k) => k / 4));
  assert.deepEqual(Array.from(d.modalities[1]!.data), Array.from({ length: 18 }, (_, k) => k / 8 - 1));
  assert.match(d.fingerprint, /^[0-9a-f]{16}$/);
});

test("fingerprint: stable across loads and row order / ignored columns; changes with any feature byte or interaction", async () => {
  const base = (await loadMmrecDataset(MINI)).fingerprint;
  assert.equal((await loadMmrecDataset(copyMini("renamed"))).fingerprint, base, "folder name is not part of it");

  const shuffled = copyMini();
  const reordered = [...ROWS].reverse();
  const header = "x_label\trating\titemID\tuserID"; // other column order, no timestamp
  fs.writeFileSync(path.join(shuffled, "mini.inter"), [header, ...reordered.map(([u, i, x]) => `${x}\t1\t${i}\t${u}`)].join("\n") + "\n");
  assert.equal((await loadMmrecDataset(shuffled)).fingerprint, base);

  const feature = copyMini();
  const image = Float32Array.from({ length: 24 }, (_, k) => k / 4);
  image[23] = 5.5;
  writeNpy(path.join(feature, "image_feat.npy"), { dtype: "float32", shape: [6, 4], data: image });
  assert.notEqual((await loadMmrecDataset(feature)).fingerprint, base);

  const moved = copyMini();
  const rows = ROWS.map((r) => [...r]);
  rows[3]![2] = 2; // (0, 3) moves from valid to test
  fs.writeFileSync(path.join(moved, "mini.inter"), interLines(rows));
  assert.notEqual((await loadMmrecDataset(moved)).fingerprint, base);
});

interface BadCase {
  what: string;
  mutate: (dir: string) => void;
  /** message fragment */
  message: string | RegExp;
  /** file (relative to the dataset folder, "" for the folder itself) the message must name */
  names: string;
}

const withRows = (rows: (readonly number[])[], header = HEADER) => (dir: string) => fs.writeFileSync(path.join(dir, "mini.inter"), interLines(rows, header));
const withText = (text: string) => (dir: string) => fs.writeFileSync(path.join(dir, "mini.inter"), text);
const withLine = (lineNo: number, line: string) => (dir: string) => {
  const lines = fs.readFileSync(path.join(dir, "mini.inter"), "utf8").split("\n");
  lines[lineNo - 1] = line;
  fs.writeFileSync(path.join(dir, "mini.inter"), lines.join("\n"));
};
const withBytes = (file: string, edit: (b: Buffer) => Buffer) => (dir: string) => {
  const f = path.join(dir, file);
  fs.writeFileSync(f, edit(fs.readFileSync(f)));
};
const withFeature = (file: string, shape: number[], data: Float32Array | Float64Array | Int32Array) => (dir: string) => {
  const dtype = data instanceof Float32Array ? "float32" : data instanceof Float64Array ? "float64" : "int32";
  writeNpy(path.join(dir, file), { dtype, shape, data });
};
const nanAt = (n: number, k: number, v: number): Float32Array => {
  const a = new Float32Array(n);
  a[k] = v;
  return a;
};
/** Replaces the header dict of a v1 file written by numpy, keeping the header length (space padded). */
const withHeader = (file: string, from: string, to: string) =>
  withBytes(file, (b) => {
    const text = b.toString("latin1");
    assert.ok(text.includes(from) && to.length <= from.length);
    return Buffer.from(text.replace(from, to.padEnd(from.length, " ")), "latin1");
  });

const BAD: BadCase[] = [
  { what: "npy bad magic", mutate: withBytes("image_feat.npy", (b) => Buffer.concat([Buffer.from("GARBAGE"), b.subarray(7)])), message: "bad magic", names: "image_feat.npy" },
  { what: "npy big-endian", mutate: withHeader("image_feat.npy", "'<f4'", "'>f4'"), message: "big-endian data ('>f4')", names: "image_feat.npy" },
  { what: "npy fortran order", mutate: withHeader("text_feat.npy", "'fortran_order': False", "'fortran_order': True"), message: "Fortran-order", names: "text_feat.npy" },
  { what: "npy object/pickle", mutate: withHeader("text_feat.npy", "'<f4'", "'|O'"), message: "pickled Python objects", names: "text_feat.npy" },
  { what: "npy truncated", mutate: withBytes("image_feat.npy", (b) => b.subarray(0, b.length - 4)), message: "truncated: shape [6, 4] of <f4 needs 96 data bytes, the file has 92", names: "image_feat.npy" },
  { what: "npy trailing garbage", mutate: withBytes("image_feat.npy", (b) => Buffer.concat([b, Buffer.alloc(8)])), message: "8 unexpected trailing bytes", names: "image_feat.npy" },
  { what: "npy complex dtype", mutate: withHeader("image_feat.npy", "'<f4'", "'<c8'"), message: "unsupported dtype '<c8'", names: "image_feat.npy" },
  { what: "int features", mutate: withFeature("image_feat.npy", [6, 4], new Int32Array(24)), message: "must be float32 (or float64), got int32", names: "image_feat.npy" },
  { what: "1-D feature file", mutate: withFeature("text_feat.npy", [18], new Float32Array(18)), message: "must be 2-D [items, dim], got shape [18]", names: "text_feat.npy" },
  { what: "NaN feature", mutate: withFeature("text_feat.npy", [6, 3], nanAt(18, 3 * 3 + 1, NaN)), message: "non-finite value NaN at row 3, column 1", names: "text_feat.npy" },
  { what: "Inf feature", mutate: withFeature("image_feat.npy", [6, 4], nanAt(24, 5 * 4 + 3, Infinity)), message: "non-finite value Infinity at row 5, column 3", names: "image_feat.npy" },
  { what: "feature rows ≠ items (more)", mutate: withFeature("text_feat.npy", [7, 3], new Float32Array(21)), message: "has 6 rows, expected 7 (one per item, as text_feat.npy has)", names: "image_feat.npy" },
  { what: "item id beyond feature rows", mutate: withRows([...ROWS, [4, 6, 0]]), message: /has 6 rows, but .*mini\.inter:25 uses itemID 6: expected 7 rows/, names: "image_feat.npy" },
  { what: "no feature files", mutate: (d) => ["image_feat.npy", "text_feat.npy"].forEach((f) => fs.rmSync(path.join(d, f))), message: "no feature files", names: "" },
  { what: "missing .inter", mutate: (d) => fs.rmSync(path.join(d, "mini.inter")), message: "no interaction file: expected mini.inter", names: "" },
  { what: "several .inter, none named", mutate: (d) => { fs.renameSync(path.join(d, "mini.inter"), path.join(d, "a.inter")); fs.copyFileSync(path.join(d, "a.inter"), path.join(d, "b.inter")); }, message: "several .inter files (a.inter, b.inter)", names: "" },
  { what: "empty .inter", mutate: withText(""), message: "empty file: expected a tab-separated header line", names: "mini.inter" },
  { what: "missing column", mutate: withRows(ROWS, "userID\titemID\trating\ttimestamp\tlabel"), message: "mini.inter:1: header lacks required column(s) x_label", names: "mini.inter" },
  { what: "space-separated header", mutate: withText("userID itemID x_label\n0 0 0\n"), message: "header lacks required column(s) userID, itemID, x_label", names: "mini.inter" },
  { what: "repeated column", mutate: withText("userID\titemID\tuserID\tx_label\n0\t0\t0\t0\n"), message: "header names column userID twice", names: "mini.inter" },
  { what: "wrong field count", mutate: withLine(7, "1\t1\t5\t0"), message: "mini.inter:7: expected 5 tab-separated fields (as in the header), got 4", names: "mini.inter" },
  { what: "non-integer item id", mutate: withLine(4, "0\t2.5\t5\t1\t0"), message: 'mini.inter:4: itemID must be a non-negative integer, got "2.5"', names: "mini.inter" },
  { what: "non-numeric user id", mutate: withLine(9, "u1\t0\t5\t1\t2"), message: 'mini.inter:9: userID must be a non-negative integer, got "u1"', names: "mini.inter" },
  { what: "empty id", mutate: withLine(9, "\t0\t5\t1\t2"), message: 'mini.inter:9: userID must be a non-negative integer, got ""', names: "mini.inter" },
  { what: "negative id", mutate: withLine(12, "-2\t0\t5\t1\t0"), message: "mini.inter:12: userID must be a non-negative integer, got negative -2", names: "mini.inter" },
  { what: "id too large for int32", mutate: withLine(12, "2\t99999999999\t5\t1\t0"), message: "mini.inter:12: itemID 99999999999 is too large", names: "mini.inter" },
  { what: "bad x_label", mutate: withLine(20, "4\t3\t5\t1\t3"), message: 'mini.inter:20: x_label must be 0 (train), 1 (valid) or 2 (test), got "3"', names: "mini.inter" },
  { what: "x_label as float", mutate: withLine(20, "4\t3\t5\t1\t0.0"), message: 'got "0.0"', names: "mini.inter" },
  { what: "empty train split", mutate: withRows(ROWS.map(([u, i, x]) => [u, i, x === 0 ? 1 : x])), message: "empty train split: no row has x_label 0", names: "mini.inter" },
  { what: "header only", mutate: withText(HEADER + "\n"), message: "empty train split", names: "mini.inter" },
  { what: "dataset folder missing", mutate: (d) => fs.rmSync(d, { recursive: true }), message: "dataset folder does not exist", names: "" },
];

test("bad-input corpus: each case is a SeaError naming the file and the problem", async () => {
  for (const c of BAD) {
    const dir = copyMini();
    c.mutate(dir);
    const named = c.names === "" ? dir : path.join(dir, c.names);
    await assert.rejects(loadMmrecDataset(dir), (e: unknown) => {
      assert.ok(e instanceof SeaError, `${c.what}: expected a SeaError, got ${String(e)}`);
      assert.ok(e.message.includes(named), `${c.what}: message should name ${named}: ${e.message}`);
      if (typeof c.message === "string") assert.ok(e.message.includes(c.message), `${c.what}: expected "${c.message}" in: ${e.message}`);
      else assert.match(e.message, c.message, c.what);
      return true;
    });
  }
});

test("duplicate rows are dropped with a warning; pairs in two splits are kept with a warning", async () => {
  const dir = copyMini();
  // line 25 repeats line 2 (0,0 train) twice; line 27 repeats (2,1 valid); line 28 puts (1,1) in test too.
  fs.writeFileSync(path.join(dir, "mini.inter"), interLines([...ROWS, [0, 0, 0], [0, 0, 0], [2, 1, 1], [1, 1, 2]]));
  const d = await loadMmrecDataset(dir);
  assert.equal(d.stats.duplicatesDropped, 3);
  assert.deepEqual(d.stats.interactions, { train: 13, valid: 5, test: 6 });
  assert.deepEqual(rowsOf(d.train), expectedSplit(0));
  assert.deepEqual(rowsOf(d.test)[1], [0, 1]);
  assert.ok(d.train.values.every((v) => v === 1), "duplicates are not summed into the CSR values");
  assert.equal(d.warnings.length, 2);
  assert.match(d.warnings[0]!, /dropped 3 duplicate \(userID, itemID, x_label\) row\(s\).*line 25 repeats line 2/);
  assert.match(d.warnings[1]!, /1 \(userID, itemID\) pair\(s\) appear in more than one split; all kept.*lines 7 and 28/);
  assert.ok(d.warnings[0]!.includes(path.join(dir, "mini.inter")));
});

test("users with held-out items but no train items are kept, counted and warned about", async () => {
  const dir = copyMini();
  fs.writeFileSync(path.join(dir, "mini.inter"), interLines([...ROWS, [5, 2, 1], [5, 3, 2], [6, 0, 2]]));
  const d = await loadMmrecDataset(dir);
  assert.equal(d.nUsers, 7);
  assert.equal(d.stats.usersWithoutTrain, 2);
  assert.deepEqual(d.stats.interactions, { train: 13, valid: 6, test: 7 });
  assert.equal(d.stats.sparsity, 1 - 26 / 42);
  assert.deepEqual(rowsOf(d.valid)[5], [2]);
  assert.deepEqual(d.warnings, [
    "2 user(s) have valid/test interactions but no train interactions; they are kept in the data but excluded from evaluation",
  ]);
});

test("id gaps: users without any row and items only in the features are allowed (warned / counted)", async () => {
  const dir = copyMini();
  // user 2 removed entirely; item 5 never occurs (its feature row stays).
  const rows = ROWS.filter(([u, i]) => u !== 2 && i !== 5);
  fs.writeFileSync(path.join(dir, "mini.inter"), interLines(rows));
  const d = await loadMmrecDataset(dir);
  assert.equal(d.nUsers, 5);
  assert.equal(d.nItems, 6, "nItems = feature rows when they exceed max item id + 1");
  assert.deepEqual(rowsOf(d.train)[2], []);
  assert.deepEqual(d.warnings, ["1 user id(s) below 5 have no interactions at all (ids should be contiguous)"]);
});

test("float64 features are converted; a differently named single .inter is accepted; modalities can be chosen", async () => {
  const dir = copyMini("baby");
  fs.renameSync(path.join(dir, "baby.inter"), path.join(dir, "interactions.inter"));
  const text = Float64Array.from({ length: 18 }, (_, k) => k / 3);
  writeNpy(path.join(dir, "text_feat.npy"), { dtype: "float64", shape: [6, 3], data: text });
  writeNpy(path.join(dir, "audio_feat.npy"), { dtype: "float32", shape: [6, 2], data: new Float32Array(12).fill(0.5) });
  const all = await loadMmrecDataset(dir);
  assert.equal(all.name, "baby");
  assert.deepEqual(all.modalities.map((m) => m.name), ["audio", "image", "text"]);
  assert.deepEqual(Array.from(all.modalities[2]!.data), Array.from(Float32Array.from(text)));
  const some = await loadMmrecDataset(dir, { modalities: ["text", "image"] });
  assert.deepEqual(some.modalities.map((m) => m.name), ["image", "text"]);
  assert.notEqual(some.fingerprint, all.fingerprint);
  await assert.rejects(loadMmrecDataset(dir, { modalities: ["video"] }), /modality "video" requested but video_feat.npy is missing \(found: audio, image, text\)/);
});

test("readInteractions: CRLF endings, blank lines, no final newline, extra columns in any order", async () => {
  const file = path.join(tmp, "crlf.inter");
  fs.writeFileSync(file, "timestamp\tx_label\tuserID\titemID\r\n9\t0\t3\t1\r\n\r\n9\t2\t0\t4\r\n9\t1\t3\t2");
  const r = await readInteractions(file);
  assert.equal(r.count, 3);
  assert.deepEqual(Array.from(r.users), [3, 0, 3]);
  assert.deepEqual(Array.from(r.items), [1, 4, 2]);
  assert.deepEqual(Array.from(r.splits), [0, 2, 1]);
  assert.deepEqual(Array.from(r.lines), [2, 4, 5]);
  assert.deepEqual([r.maxUser, r.maxItem, r.duplicatesDropped, r.crossSplitPairs], [3, 4, 0, 0]);
});

test("readInteractions: many rows across stream chunks are parsed exactly (checked against a running sum)", async () => {
  const file = path.join(tmp, "big.inter");
  const n = 120_000; // > 1 MiB of text: several read chunks, so lines split across chunk edges
  const parts = [HEADER];
  let sum = 0;
  for (let k = 0; k < n; k++) {
    const u = k % 997;
    const i = (k * 7919) % 50_000;
    const x = k % 10 === 0 ? 2 : k % 10 === 1 ? 1 : 0;
    sum += u * 3 + i * 5 + x;
    parts.push(`${u}\t${i}\t4\t1234567890\t${x}`);
  }
  fs.writeFileSync(file, parts.join("\n") + "\n");
  const r = await readInteractions(file);
  let got = 0;
  for (let k = 0; k < r.count; k++) got += r.users[k]! * 3 + r.items[k]! * 5 + r.splits[k]!;
  assert.equal(r.count + r.duplicatesDropped, n);
  // A (u, i) pair repeats only when k − k′ is a multiple of 997·50,000 (7919 is prime to 50,000): never here.
  assert.equal(r.duplicatesDropped, 0);
  assert.equal(got, sum);
  assert.equal(r.lines[n - 1], n + 1);
});
