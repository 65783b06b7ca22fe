/** Placeholder until the implementation-switch branch merges (it owns this module). */
export type Implementation = "reference" | "fast";
let active: Implementation = "fast";
export function activeImplementation(): Implementation {
  return active;
}
export function setImplementation(i: Implementation): void {
  active = i;
}
export function withImplementation<T>(i: Implementation, fn: () => T): T {
  const previous = active;
  active = i;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    active = previous;
    throw e;
  }
  if (result instanceof Promise) return result.finally(() => (active = previous)) as T;
  active = previous;
  return result;
}
