import type { Command } from "commander";
import { registerKernelBench } from "./kernels";
import { registerEvalBench } from "./eval";
import { registerStepBench } from "./step";
import { registerSweepBench } from "./sweep";

/**
 * `sea bench …`: each benchmark program registers its own subcommand. bench/ sits beside the CLI, above the
 * library: it imports src/, and src/cli does not import it; bin/sea.js hands this registrar to the CLI's main.
 */
export function registerBenchCommands(program: Command): void {
  const bench = program.command("bench").description("benchmarks (print ratios measured in one run; never part of the tests)");
  registerKernelBench(bench);
  registerEvalBench(bench);
  registerStepBench(bench);
  registerSweepBench(bench);
}
