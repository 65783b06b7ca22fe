import type { Command } from "commander";

// Placeholder until the issue that owns this command fills it in.
export function registerFiguresCommand(_program: Command): void {}
