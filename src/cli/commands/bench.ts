import type { Command } from "commander";
import { registerKernelBench } from "../../../bench/kernels";
import { registerEvalBench } from "../../../bench/eval";
import { registerStepBench } from "../../../bench/step";
import { registerSweepBench } from "../../../bench/sweep";

/** `sea bench …`: the benchmark programs live in bench/; each registers its own subcommand. */
export function registerBenchCommands(program: Command): void {
  const bench = program.command("bench").description("benchmarks (print ratios measured in one run; never part of the tests)");
  registerKernelBench(bench);
  registerEvalBench(bench);
  registerStepBench(bench);
  registerSweepBench(bench);
}
