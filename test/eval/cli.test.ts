import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { csrFromCoo } from "../../src/util/csr";
import { evaluateScoreMatrix } from "../../src/eval/fullRanking";
import { Rng } from "../../src/util/rng";

const REPO = path.resolve(__dirname, "../..");
const N_USERS = 6;
const N_ITEMS = 8;

/** Minimal .npy v1.0 writer (little-endian, C order), independent of src/data/npy.ts. */
function npyBytes(descr: "<f4" | "<f8" | "<i4", shape: number[], data: Float32Array | Float64Array | Int32Array): Buffer {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  const unpadded = 10 + dict.length + 1;
  const header = dict + " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
  const prefix = Buffer.alloc(10);
  prefix.write("\x93NUMPY", 0, "latin1");
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  return Buffer.concat([prefix, Buffer.from(header, "latin1"), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

// (user, item, x_label): user 5 has held-out items only in valid; every user has train items.
const INTERACTIONS: [number, number, number][] = [
  [0, 0, 0], [0, 1, 0], [0, 2, 0], [0, 3, 1], [0, 4, 2],
  [1, 1, 0], [1, 5, 0], [1, 6, 0], [1, 7, 1], [1, 0, 2], [1, 2, 2],
  [2, 2, 0], [2, 3, 0], [2, 4, 0], [2, 5, 1], [2, 6, 2],
  [3, 0, 0], [3, 7, 0], [3, 6, 0], [3, 1, 1], [3, 3, 2],
  [4, 4, 0], [4, 5, 0], [4, 6, 0], [4, 2, 1], [4, 7, 2],
  [5, 3, 0], [5, 1, 0], [5, 2, 0], [5, 0, 1], [5, 5, 1],
];

let dir = "";
let datasetDir = "";
const scores = new Float32Array(N_USERS * N_ITEMS);

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "sea-eval-cli-"));
  datasetDir = path.join(dir, "mini");
  fs.mkdirSync(datasetDir);
  const lines = ["userID\titemID\trating\ttimestamp\tx_label"];
  INTERACTIONS.forEach(([u, i, x], t) => lines.push(`${u}\t${i}\t1\t${1000 + t}\t${x}`));
  fs.writeFileSync(path.join(datasetDir, "mini.inter"), lines.join("\n") + "\n");
  const rng = new Rng(3);
  const image = new Float32Array(N_ITEMS * 4);
  const text = new Float32Array(N_ITEMS * 3);
  rng.fillNormal(image);
  rng.fillNormal(text);
  fs.writeFileSync(path.join(datasetDir, "image_feat.npy"), npyBytes("<f4", [N_ITEMS, 4], image));
  fs.writeFileSync(path.join(datasetDir, "text_feat.npy"), npyBytes("<f4", [N_ITEMS, 3], text));
  for (let i = 0; i < scores.length; i++) scores[i] = Math.round(rng.normal() * 4) / 4; // ties included
  fs.writeFileSync(path.join(dir, "scores.npy"), npyBytes("<f4", [N_USERS, N_ITEMS], scores));
  fs.writeFileSync(path.join(dir, "scores64.npy"), npyBytes("<f8", [N_USERS, N_ITEMS], Float64Array.from(scores)));
  fs.writeFileSync(path.join(dir, "wrong.npy"), npyBytes("<f4", [N_USERS, N_ITEMS - 1], scores.subarray(0, N_USERS * (N_ITEMS - 1))));
  fs.writeFileSync(path.join(dir, "ints.npy"), npyBytes("<i4", [N_USERS, N_ITEMS], new Int32Array(N_USERS * N_ITEMS)));
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

function sea(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(REPO, "bin/sea.js"), ...args], { cwd: REPO, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The expected metrics, computed in-process from the same triples (no loader, no CLI). */
function expected(label: number, ks: number[]): Record<string, number> {
  const pick = (x: number): [number[], number[]] => {
    const rows = INTERACTIONS.filter((t) => t[2] === x);
    return [rows.map((t) => t[0]), rows.map((t) => t[1])];
  };
  const train = csrFromCoo(N_USERS, N_ITEMS, ...pick(0));
  const held = csrFromCoo(N_USERS, N_ITEMS, ...pick(label));
  const res = evaluateScoreMatrix(scores, N_USERS, N_ITEMS, train, held, ks);
  return { ...res.metrics, users: res.nUsers };
}

test("sea eval --json prints one JSON object equal to the library's metrics (test and valid splits)", () => {
  const r = sea("eval", "--dataset", datasetDir, "--scores", path.join(dir, "scores.npy"), "--json");
  assert.equal(r.status, 0, r.stderr);
  const parsed = JSON.parse(r.stdout) as Record<string, number>;
  assert.deepEqual(parsed, expected(2, [10, 20]));
  assert.equal(parsed.users, 5, "user 5 has no test item");
  assert.deepEqual(Object.keys(parsed).slice(0, 2), ["recall@10", "recall@20"]);

  const v = sea("eval", "--dataset", datasetDir, "--scores", path.join(dir, "scores64.npy"), "--split", "valid", "--k", "1,3", "--json");
  assert.equal(v.status, 0, v.stderr);
  assert.deepEqual(JSON.parse(v.stdout), expected(1, [1, 3]));
});

test("sea eval prints a readable table by default", () => {
  const r = sea("eval", "--dataset", datasetDir, "--scores", path.join(dir, "scores.npy"), "--k", "2");
  assert.equal(r.status, 0, r.stderr);
  const want = expected(2, [2]);
  assert.match(r.stdout, /5 users evaluated/);
  assert.match(r.stdout, new RegExp(`recall\\s+${want["recall@2"]!.toFixed(4)}`));
  assert.match(r.stdout, new RegExp(`map\\s+${want["map@2"]!.toFixed(4)}`));
});

test("sea eval errors: exit 1, one readable line naming the file or flag, no stack trace", () => {
  const cases: [string[], RegExp][] = [
    [["--scores", path.join(dir, "wrong.npy")], /wrong\.npy.*\[6, 7\].*\[6, 8\]/],
    [["--scores", path.join(dir, "ints.npy")], /ints\.npy.*int32/],
    [["--scores", path.join(dir, "scores.npy"), "--k", "10,0"], /--k/],
    [["--scores", path.join(dir, "scores.npy"), "--k", "ten"], /--k/],
    [["--scores", path.join(dir, "scores.npy"), "--split", "train"], /--split/],
  ];
  for (const [args, re] of cases) {
    const r = sea("eval", "--dataset", datasetDir, ...args);
    assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.match(r.stderr, /^sea: error: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    assert.equal(r.stdout, "");
  }
});

test("sea eval on the committed fixture data/fixtures/mini, all-equal scores, worked by hand", () => {
  // All scores 0 → every user ranks its non-train items by item index. Test split, K = 1, 3:
  //   user 0: train {0,1,2}, test {4}: ranking 3,4,5 → hit at rank 2
  //   user 1: train {1,2},   test {0}: ranking 0,3,4 → hit at rank 1
  //   user 2: train {2,3,4}, test {5}: ranking 0,1,5 → hit at rank 3
  //   user 3: train {0,5},   test {3}: ranking 1,2,3 → hit at rank 3
  //   user 4: train {3,4,5}, test {1}: ranking 0,1,2 → hit at rank 2
  // @1: only user 1 hits → recall = ndcg = precision = map = 1/5 = 0.2
  // @3: everyone hits → recall 1, precision 1/3;
  //     ndcg = (1/log2(3) + 1 + 1/log2(4) + 1/log2(4) + 1/log2(3)) / 5 = 3.261859507142915 / 5 = 0.652371901428583
  //     map  = (1/2 + 1 + 1/3 + 1/3 + 1/2) / 5 = (8/3) / 5 = 0.5333…
  const zeros = path.join(dir, "zeros.npy");
  fs.writeFileSync(zeros, npyBytes("<f4", [5, 6], new Float32Array(30)));
  const r = sea("eval", "--dataset", path.join(REPO, "data/fixtures/mini"), "--scores", zeros, "--k", "3,1", "--json");
  assert.equal(r.status, 0, r.stderr);
  const m = JSON.parse(r.stdout) as Record<string, number>;
  assert.equal(m.users, 5);
  for (const key of ["recall@1", "ndcg@1", "precision@1", "map@1"]) assert.ok(Math.abs(m[key]! - 0.2) < 1e-12, key);
  assert.equal(m["recall@3"], 1);
  assert.ok(Math.abs(m["precision@3"]! - 1 / 3) < 1e-12);
  assert.ok(Math.abs(m["ndcg@3"]! - 0.652371901428583) < 1e-12);
  assert.ok(Math.abs(m["map@3"]! - 8 / 15) < 1e-12);
});
