import type { Command } from "commander";

// Placeholder until the issue that owns this command fills it in. `data` is the parent command.
export function registerDataSynthCommand(_data: Command): void {}
