import { Command, CommanderError } from "commander";
import { isSeaError } from "../util/errors";
import { registerDataCheckCommand } from "./commands/dataCheck";
import { registerDataSynthCommand } from "./commands/dataSynth";
import { registerEvalCommand } from "./commands/eval";
import { registerTrainCommands } from "./commands/train";
import { registerExperimentCommands } from "./commands/experiment";
import { registerFiguresCommand } from "./commands/figures";

/**
 * Adds commands to the `sea` program. Programs that sit beside the CLI rather than below it (bench/) plug in this
 * way, through the entry point bin/sea.js, so that the CLI never imports them.
 */
export type CommandRegistrar = (program: Command) => void;

/** Builds the `sea` command tree. Each command module adds its own subcommands; `extraCommands` come last. */
export function buildProgram(extraCommands: readonly CommandRegistrar[] = []): Command {
  const program = new Command("sea")
    .description("SEA (Separate Learning) for multimedia recommendation: data, training, ablations, MI analysis, figures")
    .option("--verbose", "print stack traces on errors")
    .showHelpAfterError()
    .exitOverride();
  const data = program.command("data").description("check and generate datasets (MMRec format)");
  registerDataCheckCommand(data);
  registerDataSynthCommand(data);
  registerEvalCommand(program);
  registerTrainCommands(program);
  registerExperimentCommands(program);
  registerFiguresCommand(program);
  for (const register of extraCommands) register(program);
  exitOverrideEverywhere(program);
  return program;
}

function exitOverrideEverywhere(c: Command): void {
  c.exitOverride();
  for (const sub of c.commands) exitOverrideEverywhere(sub);
}

/** Entry point of bin/sea.js. Errors print one readable line (a stack trace only with --verbose). */
export async function main(argv: string[], extraCommands: readonly CommandRegistrar[] = []): Promise<void> {
  const verbose = argv.includes("--verbose");
  try {
    await buildProgram(extraCommands).parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors were already printed.
      process.exitCode = e.exitCode;
      return;
    }
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`sea: error: ${message}\n`);
    if (verbose && e instanceof Error && e.stack) process.stderr.write(e.stack + "\n");
    process.exitCode = isSeaError(e) ? e.exitCode : 1;
  }
}
