// Output channels of a command, so commands run the same from the CLI and from tests. Neutral: any stage that
// reports to a command (migrate) takes one; src/cli/io.ts binds it to the process.
export interface CommandIO {
  out(line: string): void;
  err(line: string): void;
}
