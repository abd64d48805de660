// Progress of a long run on stderr: nothing for a run that ends within a few seconds, then one line every few
// seconds with the records so far, their rate, dead letters, and how much of the input is done when its size
// is known.

export interface ProgressOptions {
  /** the first line after this long (ms) */
  afterMs?: number;
  /** then one line per this long (ms) */
  everyMs?: number;
  now?: () => number;
}

export interface ProgressCounts {
  records: number;
  deadLetters: number;
  /** input bytes read and the input's size, when known */
  bytes?: { done: number; total: number };
}

export class Progress {
  private readonly startedAt: number;
  private next: number;
  private readonly everyMs: number;
  private readonly now: () => number;

  constructor(
    private readonly write: (line: string) => void,
    options: ProgressOptions = {},
  ) {
    this.now = options.now ?? (() => performance.now());
    this.startedAt = this.now();
    this.next = this.startedAt + (options.afterMs ?? 3_000);
    this.everyMs = options.everyMs ?? 5_000;
  }

  /** Cheap enough per record: prints only when a line is due. */
  update(counts: ProgressCounts | (() => ProgressCounts)): void {
    const now = this.now();
    if (now < this.next) return;
    this.next = now + this.everyMs;
    this.write(
      formatProgress(typeof counts === "function" ? counts() : counts, (now - this.startedAt) / 1000),
    );
  }
}

export function formatProgress(counts: ProgressCounts, seconds: number): string {
  const rate = seconds > 0 ? Math.round(counts.records / seconds) : 0;
  const parts = [`progress: ${counts.records} records`];
  const { bytes } = counts;
  if (bytes && bytes.total > 0) {
    const percent = Math.min(100, Math.floor((bytes.done / bytes.total) * 100));
    parts.push(`${percent} % of the input (${mib(bytes.done)} of ${mib(bytes.total)} MiB)`);
  }
  parts.push(`${rate} records/s`, `${counts.deadLetters} dead letters`, `${Math.round(seconds)} s`);
  return parts.join(", ");
}

function mib(bytes: number): string {
  return (bytes / 1_048_576).toFixed(1);
}
