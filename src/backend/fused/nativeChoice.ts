/**
 * Who runs a fused op's host loops: "native" the addon's functions (an error when they are unavailable), "js" the JS
 * twins in the op's module, "auto" the addon's when available. Both give the same bits; tests pick each.
 */
export type NativeChoice = "auto" | "native" | "js";

/**
 * The addon's version (from `lookUp`) or the JS twin, for `choice`. `what` names what was asked for in the error,
 * e.g. "graphEncoders: native row passes".
 */
export function chooseNativeOrTwin<T>(choice: NativeChoice, lookUp: () => { readonly found: T | null; readonly reason: string | null }, twin: T, what: string): T {
  if (choice === "js") return twin;
  const { found, reason } = lookUp();
  if (found) return found;
  if (choice === "native") throw new Error(`${what} requested but unavailable: ${reason}`);
  return twin;
}
