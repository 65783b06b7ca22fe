import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readFeatureMatrix, readNpy, writeNpy, type NpyArray, type NpyData, type NpyDtype } from "../../src/data/npy";
import { SeaError } from "../../src/util/errors";

const NUMPY_DIR = path.resolve(__dirname, "../../data/fixtures/npy");
let dir = "";

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "sea-npy-"));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Deterministic contents per dtype, with negative values, extremes and fractions where the type has them. */
function sampleData(dtype: NpyDtype, n: number): NpyData {
  switch (dtype) {
    case "float32":
      return Float32Array.from({ length: n }, (_, k) => (k - 3) * 0.5 + (k === 1 ? 3e38 : 0));
    case "float64":
      return Float64Array.from({ length: n }, (_, k) => (k - 3) / 3 + (k === 1 ? 1e300 : 0));
    case "int32":
      return Int32Array.from({ length: n }, (_, k) => (k === 1 ? -2147483648 : (k - 3) * 1000));
    case "int64":
      return BigInt64Array.from({ length: n }, (_, k) => (k === 1 ? -(2n ** 62n) : BigInt(k - 3) * 10n ** 12n));
    case "uint8":
      return Uint8Array.from({ length: n }, (_, k) => (k * 37) % 256);
  }
}

const DTYPES: NpyDtype[] = ["float32", "float64", "int32", "int64", "uint8"];
const SHAPES: number[][] = [[], [0], [7], [2, 3, 4], [0, 3], [3, 1, 1, 2]];

function expectSeaError(fn: () => unknown, fragment: string | RegExp, file: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SeaError, `expected a SeaError, got ${String(e)}`);
    assert.ok(e.message.includes(file), `message should name ${file}: ${e.message}`);
    if (typeof fragment === "string") assert.ok(e.message.includes(fragment), `expected "${fragment}" in: ${e.message}`);
    else assert.match(e.message, fragment);
    return true;
  });
}

test("round trip: every dtype × header version × shape (0-d, empty, 1-d, 3-d, 4-d)", () => {
  for (const dtype of DTYPES) {
    for (const version of [1, 2, 3] as const) {
      for (const shape of SHAPES) {
        const n = shape.reduce((a, b) => a * b, 1);
        const array: NpyArray = { dtype, shape, data: sampleData(dtype, n) };
        const file = path.join(dir, `rt_${dtype}_v${version}_${shape.join("x") || "scalar"}.npy`);
        writeNpy(file, array, { version });
        const bytes = fs.readFileSync(file);
        assert.equal(bytes[6], version, "major version byte");
        const headerLength = version === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
        const dataOffset = (version === 1 ? 10 : 12) + headerLength;
        assert.equal(dataOffset % 64, 0, "data starts 64-byte aligned, as numpy writes it");
        assert.equal(bytes[dataOffset - 1], 0x0a, "header ends with a newline");
        const back = readNpy(file);
        assert.equal(back.dtype, dtype);
        assert.deepEqual(back.shape, shape);
        assert.equal(back.data.constructor, array.data.constructor);
        assert.deepEqual(Array.from(back.data as ArrayLike<unknown>), Array.from(array.data as ArrayLike<unknown>), `${file}`);
      }
    }
  }
});

test("header text matches numpy's dict literal, including the 1-tuple comma", () => {
  const file = path.join(dir, "hdr.npy");
  writeNpy(file, { dtype: "uint8", shape: [5], data: new Uint8Array(5) });
  const bytes = fs.readFileSync(file);
  const header = bytes.subarray(10, 10 + bytes.readUInt16LE(8)).toString("latin1");
  assert.match(header, /^\{'descr': '\|u1', 'fortran_order': False, 'shape': \(5,\), \} *\n$/);
});

test("default version is 1.0; a header too long for v1 becomes v2, and asking for v1 then fails", () => {
  const small = path.join(dir, "v1default.npy");
  writeNpy(small, { dtype: "float32", shape: [2], data: new Float32Array(2) });
  assert.equal(fs.readFileSync(small)[6], 1);
  // 25,000 unit axes: a legal (if silly) shape whose header is ~75 kB, beyond v1's 16-bit length.
  const shape = new Array<number>(25000).fill(1);
  const big = path.join(dir, "v2auto.npy");
  writeNpy(big, { dtype: "float32", shape, data: Float32Array.of(4.5) });
  const bytes = fs.readFileSync(big);
  assert.equal(bytes[6], 2);
  const back = readNpy(big);
  assert.equal(back.shape.length, 25000);
  assert.deepEqual(Array.from(back.data as Float32Array), [4.5]);
  expectSeaError(() => writeNpy(path.join(dir, "v1forced.npy"), { dtype: "float32", shape, data: Float32Array.of(1) }, { version: 1 }), "too long for .npy version 1.0", "v1forced.npy");
});

test("writes atomically: no temp files left, an existing file is replaced whole", () => {
  const sub = fs.mkdtempSync(path.join(dir, "atomic-"));
  const file = path.join(sub, "a.npy");
  writeNpy(file, { dtype: "float64", shape: [3], data: Float64Array.of(1, 2, 3) });
  writeNpy(file, { dtype: "int32", shape: [2], data: Int32Array.of(9, 8) });
  assert.deepEqual(fs.readdirSync(sub), ["a.npy"]);
  const back = readNpy(file);
  assert.equal(back.dtype, "int32");
  assert.deepEqual(Array.from(back.data as Int32Array), [9, 8]);
});

test("writeNpy rejects data that does not match the dtype or the shape", () => {
  expectSeaError(() => writeNpy(path.join(dir, "w1.npy"), { dtype: "float32", shape: [2, 2], data: new Float32Array(3) }), "needs 4 elements, data has 3", "w1.npy");
  expectSeaError(() => writeNpy(path.join(dir, "w2.npy"), { dtype: "float32", shape: [2], data: new Float64Array(2) }), "expected Float32Array", "w2.npy");
  expectSeaError(() => writeNpy(path.join(dir, "w3.npy"), { dtype: "int32", shape: [-1], data: new Int32Array(0) }), "non-negative", "w3.npy");
  assert.equal(fs.existsSync(path.join(dir, "w1.npy")), false);
});

test("reads arrays written by numpy: every dtype, 0-d, empty, 3-d, v2 and v3 headers", () => {
  const cases: { file: string; dtype: NpyDtype; shape: number[]; values: unknown[] }[] = [
    { file: "f8_2x3x4.npy", dtype: "float64", shape: [2, 3, 4], values: Array.from({ length: 24 }, (_, k) => (k - 11.5) / 2) },
    { file: "i8_5.npy", dtype: "int64", shape: [5], values: [0n, -1n, 2n ** 40n, -(2n ** 40n), 7n] },
    { file: "i4_2x2.npy", dtype: "int32", shape: [2, 2], values: [1, -2, 3, 2147483647] },
    { file: "u1_4.npy", dtype: "uint8", shape: [4], values: [0, 1, 128, 255] },
    { file: "f4_scalar.npy", dtype: "float32", shape: [], values: [2.5] },
    { file: "f4_0x3.npy", dtype: "float32", shape: [0, 3], values: [] },
    { file: "f4_3_v2.npy", dtype: "float32", shape: [3], values: [1.5, -2, 0.25] },
    { file: "f4_3_v3.npy", dtype: "float32", shape: [3], values: [1.5, -2, 0.25] },
  ];
  for (const c of cases) {
    const a = readNpy(path.join(NUMPY_DIR, c.file));
    assert.equal(a.dtype, c.dtype, c.file);
    assert.deepEqual(a.shape, c.shape, c.file);
    assert.deepEqual(Array.from(a.data as ArrayLike<unknown>), c.values, c.file);
  }
  const mini = readNpy(path.resolve(__dirname, "../../data/fixtures/mini/image_feat.npy"));
  assert.deepEqual(mini.shape, [6, 4]);
  assert.deepEqual(Array.from(mini.data as Float32Array), Array.from({ length: 24 }, (_, k) => k / 4));
});

/** A v1 file with a hand-written header dict (padded like numpy's) followed by `data`. */
function handMade(name: string, dict: string, data: Uint8Array = new Uint8Array(0), align = 64): string {
  const unpadded = 10 + dict.length + 1;
  const header = dict + " ".repeat((align - (unpadded % align)) % align) + "\n";
  const prefix = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  prefix.writeUInt16LE(header.length, 8);
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.concat([prefix, Buffer.from(header, "latin1"), data]));
  return file;
}

test("data at an offset that is not a multiple of the element size is copied, not misread", () => {
  // Header padded to end at byte 131: 131 % 4 ≠ 0, so a Float32Array view is impossible.
  const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  const pad = 131 - 10 - dict.length - 1;
  const header = dict + " ".repeat(pad) + "\n";
  const prefix = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  prefix.writeUInt16LE(header.length, 8);
  const values = Float32Array.of(1.25, -7, 3e-5);
  const file = path.join(dir, "unaligned.npy");
  fs.writeFileSync(file, Buffer.concat([prefix, Buffer.from(header, "latin1"), Buffer.from(values.buffer)]));
  const a = readNpy(file);
  assert.deepEqual(Array.from(a.data as Float32Array), Array.from(values));
});

test("header parser: key order, double quotes, spacing and Python-2 longs are accepted", () => {
  const data = new Uint8Array(Int32Array.of(5, 6).buffer);
  const file = handMade("variant.npy", '{ "shape" : (1L, 2L) ,"fortran_order":False,  "descr":"<i4"}', data, 16);
  const a = readNpy(file);
  assert.deepEqual(a.shape, [1, 2]);
  assert.deepEqual(Array.from(a.data as Int32Array), [5, 6]);
});

test("bad inputs: each rejected with a message naming the file and the problem", () => {
  const f4 = (n: number): Uint8Array => new Uint8Array(new Float32Array(n).buffer);
  const good = fs.readFileSync(path.join(NUMPY_DIR, "i4_2x2.npy"));
  const write = (name: string, bytes: Uint8Array): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    return file;
  };
  const cases: [string, string | RegExp][] = [
    [write("bad_magic.npy", Buffer.concat([Buffer.from("PK\x03\x04NUMPY"), good.subarray(10)])), "bad magic"],
    [write("empty.npy", new Uint8Array(0)), "bad magic"],
    [write("bad_version.npy", Buffer.concat([good.subarray(0, 6), Buffer.from([4, 0]), good.subarray(8)])), "unsupported .npy format version 4.0"],
    [write("truncated_header.npy", good.subarray(0, 40)), "truncated: header says"],
    [write("truncated_data.npy", good.subarray(0, good.length - 3)), "truncated: shape [2, 2] of <i4 needs 16 data bytes, the file has 13"],
    [write("trailing.npy", Buffer.concat([good, Buffer.from("junk")])), "4 unexpected trailing bytes"],
    [path.join(NUMPY_DIR, "bad_fortran.npy"), "Fortran-order"],
    [path.join(NUMPY_DIR, "bad_bigendian.npy"), "big-endian data ('>f4') is not supported"],
    [path.join(NUMPY_DIR, "bad_complex.npy"), "unsupported dtype '<c8'"],
    [handMade("object.npy", "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(16)), "object arrays ('|O', pickled Python objects) are not supported"],
    [handMade("structured.npy", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", f4(1)), "structured (record) dtypes are not supported"],
    [handMade("float16.npy", "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(4)), "unsupported dtype '<f2'"],
    [handMade("missing_key.npy", "{'descr': '<f4', 'shape': (1,), }", f4(1)), "exactly the keys descr, fortran_order, shape; found: descr, shape"],
    [handMade("extra_key.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", f4(1)), "found: descr, fortran_order, shape, x"],
    [handMade("dup_key.npy", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", f4(1)), "duplicate key 'descr'"],
    [handMade("eval.npy", "{'descr': __import__('os').system('echo hi'), 'fortran_order': False, 'shape': (1,)}", f4(1)), "malformed .npy header (unexpected token"],
    [handMade("after_dict.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } x", f4(1)), "unexpected text after the header dict"],
    [handMade("not_tuple.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1), }", f4(1)), "missing ','"],
    [handMade("list_shape.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': [1], }", f4(1)), "'shape' must be a tuple"],
    [handMade("neg_shape.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", f4(1)), "unexpected token"],
    [handMade("fortran_str.npy", "{'descr': '<f4', 'fortran_order': 'no', 'shape': (1,), }", f4(1)), "'fortran_order' must be True or False"],
    [handMade("unterminated.npy", "{'descr': '<f4, 'fortran_order': False, 'shape': (1,), }", f4(1)), "malformed .npy header"],
    [path.join(dir, "does-not-exist.npy"), "file not found"],
    [dir, "is a folder"],
  ];
  for (const [file, fragment] of cases) expectSeaError(() => readNpy(file), fragment, file);
});

test("readFeatureMatrix: float32 as is, float64 converted, other shapes/dtypes and non-finite values rejected", () => {
  const f32 = path.join(dir, "feat32.npy");
  writeNpy(f32, { dtype: "float32", shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) });
  const m = readFeatureMatrix(f32, "image");
  assert.deepEqual({ name: m.name, rows: m.rows, cols: m.cols }, { name: "image", rows: 2, cols: 3 });
  assert.deepEqual(Array.from(m.data), [1, 2, 3, 4, 5, 6]);

  const f64 = path.join(dir, "feat64.npy");
  const values = Float64Array.of(0.1, -1 / 3, 1e-3, 2 ** 30 + 0.5);
  writeNpy(f64, { dtype: "float64", shape: [2, 2], data: values });
  const c = readFeatureMatrix(f64, "text");
  assert.ok(c.data instanceof Float32Array);
  assert.deepEqual(Array.from(c.data), Array.from(Float32Array.from(values)));

  const bad = (name: string, array: NpyArray): string => {
    const file = path.join(dir, name);
    writeNpy(file, array);
    return file;
  };
  const nan = new Float32Array(12);
  nan[1 * 4 + 2] = NaN;
  nan[2 * 4 + 0] = NaN;
  const inf = new Float64Array(6);
  inf[5] = -Infinity;
  const cases: [string, string][] = [
    [bad("f1d.npy", { dtype: "float32", shape: [4], data: new Float32Array(4) }), "must be 2-D [items, dim], got shape [4]"],
    [bad("f3d.npy", { dtype: "float32", shape: [2, 2, 1], data: new Float32Array(4) }), "got shape [2, 2, 1]"],
    [bad("fint.npy", { dtype: "int32", shape: [2, 2], data: new Int32Array(4) }), "must be float32 (or float64), got int32"],
    [bad("fnan.npy", { dtype: "float32", shape: [3, 4], data: nan }), "non-finite value NaN at row 1, column 2"],
    [bad("finf.npy", { dtype: "float64", shape: [3, 2], data: inf }), "non-finite value -Infinity at row 2, column 1"],
    [bad("fover.npy", { dtype: "float64", shape: [1, 2], data: Float64Array.of(1, 1e39) }), "value Infinity at row 0, column 1 after conversion to float32"],
    [bad("fnocols.npy", { dtype: "float32", shape: [3, 0], data: new Float32Array(0) }), "no feature columns"],
  ];
  for (const [file, fragment] of cases) expectSeaError(() => readFeatureMatrix(file, "x"), fragment, file);
});
