// Counters of a run and its closing reconciliation: records in = mapped + filtered + dead letters, and the
// input lines that held no record (blank lines), so that every line read is accounted for.
import type { Outcome } from "./record-processor.js";

export class RunStats {
  recordsIn = 0;
  mapped = 0;
  filtered = 0;
  deadLetters = 0;
  eventsOut = 0;
  /** input lines skipped before processing because they hold no record (blank lines) */
  skippedLines = 0;
  readonly eventsByType = new Map<string, number>();
  readonly filteredByReason = new Map<string, number>();
  readonly deadLettersByStage = new Map<string, number>();
  private readonly startedAt = process.hrtime.bigint();

  count(outcome: Outcome): void {
    this.recordsIn++;
    switch (outcome.kind) {
      case "events":
        this.mapped++;
        for (const { view } of outcome.records) {
          this.eventsOut++;
          const type = view.headers.ce_type ?? view.topic;
          this.eventsByType.set(type, (this.eventsByType.get(type) ?? 0) + 1);
        }
        break;
      case "filtered":
        this.filtered++;
        this.filteredByReason.set(outcome.reason, (this.filteredByReason.get(outcome.reason) ?? 0) + 1);
        break;
      case "dead-letter":
        this.deadLetters++;
        this.deadLettersByStage.set(outcome.stage, (this.deadLettersByStage.get(outcome.stage) ?? 0) + 1);
        break;
    }
  }

  /** A line of line-based input (replay, embedded files) that holds no record. */
  skipLine(): void {
    this.skippedLines++;
  }

  get elapsedSeconds(): number {
    return Number(process.hrtime.bigint() - this.startedAt) / 1e9;
  }

  get balanced(): boolean {
    return this.recordsIn === this.mapped + this.filtered + this.deadLetters;
  }

  reconciliation(): string {
    return (
      `reconciliation: ${this.recordsIn} records in = ${this.mapped} mapped (${this.eventsOut} events out) + ` +
      `${this.filtered} filtered + ${this.deadLetters} dead letters ${this.balanced ? "✓" : "✗ MISMATCH"}` +
      (this.skippedLines > 0
        ? `; ${this.skippedLines} blank line${this.skippedLines === 1 ? "" : "s"} skipped`
        : "")
    );
  }

  summary(): string {
    const lines: string[] = [];
    const secs = this.elapsedSeconds;
    lines.push(`records in: ${this.recordsIn}`);
    lines.push(`events out: ${this.eventsOut}`);
    for (const [type, n] of [...this.eventsByType].sort((a, b) => a[0].localeCompare(b[0]))) {
      lines.push(`  ${type}: ${n}`);
    }
    lines.push(`filtered: ${this.filtered}${formatBreakdown(this.filteredByReason)}`);
    lines.push(`dead letters: ${this.deadLetters}${formatBreakdown(this.deadLettersByStage)}`);
    if (this.skippedLines > 0) lines.push(`skipped: ${this.skippedLines} blank lines (no record)`);
    lines.push(
      `throughput: ${secs > 0 ? Math.round(this.recordsIn / secs) : 0} records/s (${secs.toFixed(2)} s)`,
    );
    lines.push(this.reconciliation());
    return lines.join("\n");
  }
}

function formatBreakdown(map: Map<string, number>): string {
  if (map.size === 0) return "";
  return ` (${[...map].map(([k, v]) => `${k}: ${v}`).join(", ")})`;
}
