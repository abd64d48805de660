// Output lines of a command that prints one line per record: to the process's stdout in big chunks (one write
// per ~64 KiB instead of one per line), or line by line to any other CommandIO (tests). The bytes are the same.
import type { CommandIO } from "./io.js";

const CHUNK_CHARS = 64 * 1024;

export class LineOutput {
  private parts: string[] = [];
  private chars = 0;
  constructor(
    private readonly io: CommandIO,
    /** where chunks go; null: line by line through io.out */
    private readonly stream: NodeJS.WritableStream | null,
  ) {}

  /** set when the stream asked to wait for "drain" */
  private blocked = false;

  line(text: string): void {
    if (this.stream === null) {
      this.io.out(text);
      return;
    }
    this.parts.push(text);
    this.chars += text.length + 1;
    if (this.chars >= CHUNK_CHARS) this.blocked = !this.flush() || this.blocked;
  }

  /** A line on stderr, after the stdout lines before it (so that a terminal shows them in order). */
  err(text: string): void {
    this.flush();
    this.io.err(text);
  }

  /** Resolves at once, or when a stream that asked to wait has room again (a slow reader of a pipe). */
  async ready(): Promise<void> {
    const stream = this.stream;
    if (!this.blocked || stream === null) return;
    this.blocked = false;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        stream.off("drain", done);
        stream.off("close", done);
        stream.off("error", done);
        resolve();
      };
      stream.on("drain", done);
      stream.on("close", done);
      stream.on("error", done);
    });
  }

  /** Writes what is buffered; false when the stream asks the writer to wait for "drain". */
  flush(): boolean {
    if (this.stream === null || this.parts.length === 0) return true;
    const chunk = this.parts.join("\n") + "\n";
    this.parts = [];
    this.chars = 0;
    return this.stream.write(chunk);
  }
}
