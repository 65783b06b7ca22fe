/**
 * NumPy `.npy` files (format versions 1.0, 2.0 and 3.0): little-endian numeric arrays in C order.
 *
 * Layout: the magic "\x93NUMPY", one byte major and one byte minor version, the header length (uint16 LE
 * in v1, uint32 LE in v2/v3), then a Python dict literal such as
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` padded with spaces and a newline
 * (latin-1 in v1/v2, UTF-8 in v3), then the raw data. The dict is read by a small strict parser
 * (never `eval`, never unpickling): anything but the three known keys with the expected value types
 * is rejected with a message naming the file.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { writeFileAtomic } from "../util/atomicWrite";
import { SeaError } from "../util/errors";
import type { FeatureMatrix } from "./types";

export type NpyDtype = "float32" | "float64" | "int32" | "int64" | "uint8";
export type NpyData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: NpyData;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // "\x93NUMPY"
/** NumPy aligns the data start to 64 bytes (so memory-mapped data is aligned for any dtype). */
const HEADER_ALIGN = 64;
const V1_MAX_HEADER = 0xffff;

interface DtypeInfo {
  readonly dtype: NpyDtype;
  readonly descr: string;
  readonly itemSize: number;
}

const DTYPES: readonly DtypeInfo[] = [
  { dtype: "float32", descr: "<f4", itemSize: 4 },
  { dtype: "float64", descr: "<f8", itemSize: 8 },
  { dtype: "int32", descr: "<i4", itemSize: 4 },
  { dtype: "int64", descr: "<i8", itemSize: 8 },
  { dtype: "uint8", descr: "|u1", itemSize: 1 },
];

function dtypeInfo(dtype: NpyDtype): DtypeInfo {
  return DTYPES.find((d) => d.dtype === dtype)!;
}

/** Typed views below reinterpret file bytes in host order; .npy data here is little-endian. */
function assertLittleEndianHost(): void {
  if (os.endianness() !== "LE") throw new SeaError("reading and writing .npy files needs a little-endian machine");
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Reads a whole `.npy` file (one read); the data is a view on the file buffer when aligned, else a copy. */
export function readNpy(file: string): NpyArray {
  assertLittleEndianHost();
  const bytes = readWholeFile(file);
  const { header, dataOffset } = splitHeader(bytes, file);
  const parsed = parseHeaderDict(header, file);
  const info = descrToDtype(parsed.descr, file);
  if (parsed.fortranOrder) {
    throw new SeaError("Fortran-order (column-major) arrays are not supported; save with np.ascontiguousarray(a)", { where: file });
  }
  const count = elementCount(parsed.shape, file);
  const expectedBytes = count * info.itemSize;
  const actualBytes = bytes.length - dataOffset;
  if (actualBytes < expectedBytes) {
    throw new SeaError(
      `truncated: shape [${parsed.shape.join(", ")}] of ${info.descr} needs ${expectedBytes} data bytes, the file has ${actualBytes}`,
      { where: file },
    );
  }
  if (actualBytes > expectedBytes) {
    throw new SeaError(
      `${actualBytes - expectedBytes} unexpected trailing bytes after the data of shape [${parsed.shape.join(", ")}] (${info.descr})`,
      { where: file },
    );
  }
  return { dtype: info.dtype, shape: parsed.shape, data: typedView(bytes, dataOffset, count, info.dtype) };
}

function readWholeFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "file not found" : code === "EISDIR" ? "is a folder, expected a .npy file" : `cannot read (${code ?? String(e)})`;
    throw new SeaError(why, { where: file, cause: e });
  }
}

function splitHeader(bytes: Buffer, file: string): { header: string; dataOffset: number } {
  if (bytes.length < 10 || !bytes.subarray(0, 6).equals(MAGIC)) {
    throw new SeaError('not a NumPy .npy file (bad magic: expected "\\x93NUMPY" at the start)', { where: file });
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if ((major !== 1 && major !== 2 && major !== 3) || minor !== 0) {
    throw new SeaError(`unsupported .npy format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`, { where: file });
  }
  const lengthBytes = major === 1 ? 2 : 4;
  const prefix = 8 + lengthBytes;
  if (bytes.length < prefix) throw new SeaError("truncated: the file ends inside the header length", { where: file });
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  if (bytes.length < prefix + headerLength) {
    throw new SeaError(`truncated: header says ${headerLength} bytes, the file has ${bytes.length - prefix} after the prefix`, { where: file });
  }
  const raw = bytes.subarray(prefix, prefix + headerLength);
  // v1/v2 headers are latin-1 (every byte is a character); v3 is UTF-8 (for non-latin-1 field names).
  const header = major === 3 ? raw.toString("utf8") : raw.toString("latin1");
  return { header, dataOffset: prefix + headerLength };
}

function elementCount(shape: readonly number[], file: string): number {
  let count = 1;
  for (const n of shape) count *= n;
  if (!Number.isSafeInteger(count)) throw new SeaError(`shape [${shape.join(", ")}] is too large`, { where: file });
  return count;
}

function descrToDtype(descr: string, file: string): DtypeInfo {
  // Byte order is meaningless for one-byte items: numpy writes '|u1', but '<u1' and '>u1' are the same data.
  const found = DTYPES.find((d) => d.descr === descr) ?? (/^[<>=]u1$/.test(descr) ? dtypeInfo("uint8") : undefined);
  if (found) return found;
  if (descr.startsWith(">") && DTYPES.some((d) => d.descr.slice(1) === descr.slice(1))) {
    throw new SeaError(`big-endian data ('${descr}') is not supported; convert with a.astype('<${descr.slice(1)}')`, { where: file });
  }
  if (descr.slice(1) === "O") {
    throw new SeaError(`object arrays ('${descr}', pickled Python objects) are not supported and are never unpickled`, { where: file });
  }
  const supported = DTYPES.map((d) => `${d.descr} (${d.dtype})`).join(", ");
  throw new SeaError(`unsupported dtype '${descr}'; supported: ${supported}`, { where: file });
}

/** A typed array over the data bytes: a view when the offset suits the element size, otherwise a copy. */
function typedView(bytes: Buffer, offset: number, count: number, dtype: NpyDtype): NpyData {
  const itemSize = dtypeInfo(dtype).itemSize;
  const start = bytes.byteOffset + offset;
  const aligned = start % itemSize === 0;
  const buffer = aligned ? bytes.buffer : bytes.buffer.slice(start, start + count * itemSize);
  const at = aligned ? start : 0;
  switch (dtype) {
    case "float32":
      return new Float32Array(buffer, at, count);
    case "float64":
      return new Float64Array(buffer, at, count);
    case "int32":
      return new Int32Array(buffer, at, count);
    case "int64":
      return new BigInt64Array(buffer, at, count);
    case "uint8":
      return new Uint8Array(buffer, at, count);
  }
}

// ---------------------------------------------------------------------------------------------
// The header dict: a strict parser for the tiny Python literal subset NumPy writes.

interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

type PyValue = string | boolean | number | { tuple: PyValue[] } | { list: PyValue[] };

/** Recursive-descent reader over the header text; errors carry the character offset. */
class HeaderParser {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  fail(what: string): never {
    throw new SeaError(`malformed .npy header (${what} at character ${this.pos}): ${JSON.stringify(this.text.trim())}`, { where: this.file });
  }

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  peek(): string {
    this.skipSpace();
    return this.text[this.pos] ?? "";
  }

  expect(ch: string): void {
    if (this.peek() !== ch) this.fail(`expected '${ch}'`);
    this.pos++;
  }

  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length;
  }

  /** `{ key: value, ... }` with string keys and an optional trailing comma. */
  dict(): Map<string, PyValue> {
    const out = new Map<string, PyValue>();
    this.expect("{");
    while (this.peek() !== "}") {
      const key = this.value();
      if (typeof key !== "string") this.fail("expected a string key");
      if (out.has(key)) this.fail(`duplicate key '${key}'`);
      this.expect(":");
      out.set(key, this.value());
      if (this.peek() === ",") this.pos++;
      else if (this.peek() !== "}") this.fail("expected ',' or '}'");
    }
    this.pos++;
    return out;
  }

  value(): PyValue {
    const ch = this.peek();
    if (ch === "'" || ch === '"') return this.string(ch);
    if (ch === "(") return { tuple: this.sequence("(", ")", true) };
    if (ch === "[") return { list: this.sequence("[", "]", false) };
    if (/[0-9]/.test(ch)) return this.integer();
    for (const [word, v] of [["True", true], ["False", false]] as const) {
      if (this.text.startsWith(word, this.pos) && !/\w/.test(this.text[this.pos + word.length] ?? "")) {
        this.pos += word.length;
        return v;
      }
    }
    return this.fail("unexpected token");
  }

  string(quote: string): string {
    const start = ++this.pos;
    while (this.pos < this.text.length && this.text[this.pos] !== quote) {
      if (this.text[this.pos] === "\\") this.fail("escape sequences are not supported");
      this.pos++;
    }
    if (this.pos >= this.text.length) this.fail("unterminated string");
    return this.text.slice(start, this.pos++);
  }

  /** Non-negative decimal integer; a trailing `L` (Python 2 longs in old files) is accepted. */
  integer(): number {
    const m = /^[0-9]+L?/.exec(this.text.slice(this.pos));
    const digits = m![0].replace(/L$/, "");
    this.pos += m![0].length;
    const n = Number(digits);
    if (!Number.isSafeInteger(n)) this.fail(`integer ${digits} is too large`);
    return n;
  }

  /** `(a, b)` / `[a, b]`; a one-element tuple needs its comma, as in Python: `(3,)`. */
  sequence(open: string, close: string, isTuple: boolean): PyValue[] {
    this.expect(open);
    const items: PyValue[] = [];
    let trailingComma = false;
    while (this.peek() !== close) {
      items.push(this.value());
      trailingComma = false;
      if (this.peek() === ",") {
        this.pos++;
        trailingComma = true;
      } else if (this.peek() !== close) this.fail(`expected ',' or '${close}'`);
    }
    this.pos++;
    if (isTuple && items.length === 1 && !trailingComma) this.fail("a parenthesised value is not a tuple (missing ',')");
    return items;
  }
}

function parseHeaderDict(header: string, file: string): NpyHeader {
  const p = new HeaderParser(header, file);
  const dict = p.dict();
  if (!p.atEnd()) p.fail("unexpected text after the header dict");
  const keys = [...dict.keys()].sort().join(", ");
  if (keys !== "descr, fortran_order, shape") {
    throw new SeaError(`.npy header must have exactly the keys descr, fortran_order, shape; found: ${keys || "none"}`, { where: file });
  }
  const descr = dict.get("descr")!;
  const fortran = dict.get("fortran_order")!;
  const shape = dict.get("shape")!;
  if (typeof descr === "object" && "list" in descr) {
    throw new SeaError("structured (record) dtypes are not supported; save a plain numeric array", { where: file });
  }
  if (typeof descr !== "string") throw new SeaError("header 'descr' must be a dtype string such as '<f4'", { where: file });
  if (typeof fortran !== "boolean") throw new SeaError("header 'fortran_order' must be True or False", { where: file });
  if (typeof shape !== "object" || !("tuple" in shape) || !shape.tuple.every((n): n is number => typeof n === "number")) {
    throw new SeaError("header 'shape' must be a tuple of non-negative integers", { where: file });
  }
  return { descr, fortranOrder: fortran, shape: shape.tuple as number[] };
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Writes `array` as a C-order little-endian `.npy` file, atomically. Version 1.0 by default; 2.0 when
 * the header does not fit v1's 16-bit length (asking for 1 then is an error); 3.0 only when asked.
 */
export function writeNpy(file: string, array: NpyArray, options: { version?: 1 | 2 | 3 } = {}): void {
  assertLittleEndianHost();
  const info = DTYPES.find((d) => d.dtype === array.dtype);
  if (!info) throw new SeaError(`cannot write dtype '${String(array.dtype)}'`, { where: file });
  checkDataMatches(array, file);
  const dict = headerDict(info.descr, array.shape);
  const version = options.version ?? (Buffer.byteLength(paddedHeader(dict, 1), "latin1") <= V1_MAX_HEADER ? 1 : 2);
  const header = Buffer.from(paddedHeader(dict, version), version === 3 ? "utf8" : "latin1");
  if (version === 1 && header.length > V1_MAX_HEADER) {
    throw new SeaError(`the header (${header.length} bytes) is too long for .npy version 1.0; use version 2`, { where: file });
  }
  const prefixLength = version === 1 ? 10 : 12;
  const data = array.data;
  const out = new Uint8Array(prefixLength + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(header, prefixLength);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), prefixLength + header.length);
  writeFileAtomic(file, out);
}

function checkDataMatches(array: NpyArray, file: string): void {
  const ctor = { float32: Float32Array, float64: Float64Array, int32: Int32Array, int64: BigInt64Array, uint8: Uint8Array }[array.dtype];
  if (!(array.data instanceof ctor)) {
    throw new SeaError(`data is a ${array.data.constructor.name}, expected ${ctor.name} for dtype ${array.dtype}`, { where: file });
  }
  if (!array.shape.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new SeaError(`shape [${array.shape.join(", ")}] must be non-negative integers`, { where: file });
  }
  const count = elementCount(array.shape, file);
  if (array.data.length !== count) {
    throw new SeaError(`shape [${array.shape.join(", ")}] needs ${count} elements, data has ${array.data.length}`, { where: file });
  }
}

/** The dict as NumPy writes it; a 1-tuple keeps its comma: `(5,)`. */
function headerDict(descr: string, shape: readonly number[]): string {
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  return `{'descr': '${descr}', 'fortran_order': False, 'shape': ${tuple}, }`;
}

/** Pads with spaces and ends with a newline so that the data starts at a multiple of 64 bytes. */
function paddedHeader(dict: string, version: 1 | 2 | 3): string {
  const prefixLength = version === 1 ? 10 : 12;
  const unpadded = prefixLength + Buffer.byteLength(dict, version === 3 ? "utf8" : "latin1") + 1;
  return dict + " ".repeat((HEADER_ALIGN - (unpadded % HEADER_ALIGN)) % HEADER_ALIGN) + "\n";
}

// ---------------------------------------------------------------------------------------------
// Feature matrices

/**
 * Reads an item-feature matrix `[items, dim]`: float32, or float64 converted to float32. Rejects other
 * shapes and dtypes, and NaN/±Infinity (naming the row and column of the first one), since one bad
 * value silently turns every projected embedding it touches into NaN during training.
 */
export function readFeatureMatrix(file: string, name: string): FeatureMatrix {
  const array = readNpy(file);
  if (array.shape.length !== 2) {
    throw new SeaError(`feature matrix must be 2-D [items, dim], got shape [${array.shape.join(", ")}]`, { where: file });
  }
  const [rows, cols] = array.shape as [number, number];
  if (cols === 0) throw new SeaError(`feature matrix has shape [${rows}, 0]: no feature columns`, { where: file });
  let data: Float32Array;
  if (array.data instanceof Float32Array) {
    data = array.data;
  } else if (array.data instanceof Float64Array) {
    checkFinite(array.data, cols, file, "");
    data = Float32Array.from(array.data);
  } else {
    throw new SeaError(`feature matrix must be float32 (or float64), got ${array.dtype}`, { where: file });
  }
  checkFinite(data, cols, file, array.dtype === "float64" ? " after conversion to float32" : "");
  return { name, rows, cols, data };
}

function checkFinite(data: Float32Array | Float64Array, cols: number, file: string, note: string): void {
  for (let k = 0; k < data.length; k++) {
    const v = data[k]!;
    // v − v is 0 for finite values and NaN for NaN and ±Infinity: one cheap test per element.
    if (v - v !== 0) {
      const row = Math.floor(k / cols);
      throw new SeaError(`non-finite value ${v} at row ${row}, column ${k - row * cols}${note}`, { where: file });
    }
  }
}
