import { createHash } from "node:crypto";

/** Incremental SHA-256 over typed arrays and strings: dataset fingerprints and cache keys. */
export class Fingerprint {
  private readonly hash = createHash("sha256");

  add(part: string | ArrayBufferView): this {
    if (typeof part === "string") {
      this.hash.update(part, "utf8");
    } else {
      this.hash.update(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
    }
    this.hash.update("\u0000");
    return this;
  }

  /** Hex digest, shortened to `length` characters (16 = 64 bits: ample for cache keys). */
  digest(length = 16): string {
    return this.hash.digest("hex").slice(0, length);
  }
}
