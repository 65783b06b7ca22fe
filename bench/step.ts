import type { Command } from "commander";

// Placeholder until the issue that owns this benchmark fills it in. `bench` is the parent command.
export function registerStepBench(_bench: Command): void {}
