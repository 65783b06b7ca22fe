import type { Command } from "commander";

// Placeholder until the issue that owns this command fills it in. `data` is the parent command.
export function registerDataCheckCommand(_data: Command): void {}
