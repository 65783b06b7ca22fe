import * as fs from "node:fs";
import { writeFileAtomic } from "../util/atomicWrite";
import { SeaError } from "../util/errors";
import type { SavedTensor } from "../util/savedTensor";

/** A named float32 array with its shape: parameters, optimiser moments, CLUB weights (defined in util, shared with optim/adam.ts). */
export type { SavedTensor };

const MAGIC = "SEACKPT1";

/**
 * One self-describing file: magic, JSON header length (uint32 LE), JSON header (state + tensor
 * manifest), zero padding to a 4-byte boundary, then every tensor's float32 values in order.
 * Written atomically, so a killed run always leaves the previous complete checkpoint.
 */
export function saveCheckpoint(file: string, state: unknown, tensors: readonly SavedTensor[]): void {
  const manifest = tensors.map((t) => ({ name: t.name, shape: t.shape, length: t.values.length }));
  const header = Buffer.from(JSON.stringify({ state, tensors: manifest }), "utf8");
  const headStart = MAGIC.length + 4;
  const dataStart = Math.ceil((headStart + header.length) / 4) * 4;
  const total = dataStart + 4 * tensors.reduce((n, t) => n + t.values.length, 0);
  const buf = Buffer.alloc(total);
  buf.write(MAGIC, 0, "latin1");
  buf.writeUInt32LE(header.length, MAGIC.length);
  header.copy(buf, headStart);
  let offset = dataStart;
  for (const t of tensors) {
    Buffer.from(t.values.buffer, t.values.byteOffset, t.values.byteLength).copy(buf, offset);
    offset += t.values.byteLength;
  }
  writeFileAtomic(file, buf);
}

export function loadCheckpoint<S>(file: string): { state: S; tensors: Map<string, SavedTensor> } {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new SeaError(`cannot read checkpoint (${(e as Error).message})`, { where: file });
  }
  if (buf.length < MAGIC.length + 4 || buf.toString("latin1", 0, MAGIC.length) !== MAGIC) {
    throw new SeaError("not a SEA checkpoint (bad magic)", { where: file });
  }
  const headLen = buf.readUInt32LE(MAGIC.length);
  const headStart = MAGIC.length + 4;
  const parsed = JSON.parse(buf.toString("utf8", headStart, headStart + headLen)) as {
    state: S;
    tensors: { name: string; shape: number[]; length: number }[];
  };
  let offset = Math.ceil((headStart + headLen) / 4) * 4;
  const tensors = new Map<string, SavedTensor>();
  for (const t of parsed.tensors) {
    if (offset + 4 * t.length > buf.length) throw new SeaError("checkpoint is truncated", { where: file });
    const values = new Float32Array(t.length);
    Buffer.from(values.buffer).set(buf.subarray(offset, offset + 4 * t.length));
    tensors.set(t.name, { name: t.name, shape: t.shape, values });
    offset += 4 * t.length;
  }
  return { state: parsed.state, tensors };
}
