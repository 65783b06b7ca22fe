/**
 * A user-facing error: bad input, bad configuration, a missing file. The CLI prints its message
 * alone (no stack trace unless --verbose) and exits non-zero. `where` names the file, line or field.
 */
export class SeaError extends Error {
  readonly where: string | undefined;
  readonly exitCode: number;

  constructor(message: string, options: { where?: string; exitCode?: number; cause?: unknown } = {}) {
    super(options.where ? `${options.where}: ${message}` : message, { cause: options.cause });
    this.name = "SeaError";
    this.where = options.where;
    this.exitCode = options.exitCode ?? 1;
  }
}

export function isSeaError(e: unknown): e is SeaError {
  return e instanceof SeaError;
}
