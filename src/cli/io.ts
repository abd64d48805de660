// Output channels of a command bound to the process, so commands run the same from the CLI and from tests.
import type { CommandIO } from "../command-io.js";

export type { CommandIO };

export const processIO: CommandIO = {
  out: (line) => process.stdout.write(line + "\n"),
  err: (line) => process.stderr.write(line + "\n"),
};

/** Exit code of `run` and `replay` with --fail-on-dead-letters when a record was dead-lettered. */
export const DEAD_LETTERS_EXIT_CODE = 3;
