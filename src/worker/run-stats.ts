// Counters of a run and its closing reconciliation: records in = mapped + filtered + dead letters, and the
// input lines that held no record (blank lines), so that every line read is accounted for.
import type { Outcome } from "./record-processor.js";
import type { HeldOutcome } from "./held-changes.js";

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
  /** dependencies (docs/state.md): records parked, released (parent arrived), timed out; still held at the end */
  parked = 0;
  released = 0;
  timedOut = 0;
  stillHeld = 0;
  /** transaction aggregates: evaluations published, of them partial, and those that failed (dead letters) */
  aggregates = 0;
  partialAggregates = 0;
  aggregateDeadLetters = 0;

  count(outcome: Outcome): void {
    // a parked record is counted once, when it is finally mapped, filtered or dead-lettered (countHeld)
    if (outcome.kind === "held") {
      this.parked++;
      return;
    }
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

  /** What became of held records: a released or timed-out record is counted now; an aggregate's events. */
  countHeld(held: HeldOutcome): void {
    if (held.kind !== "aggregate") {
      if (held.kind === "released") this.released++;
      else this.timedOut++;
      this.count(held.outcome);
      return;
    }
    if (held.deadLetter) {
      this.aggregateDeadLetters++;
      return;
    }
    this.aggregates++;
    if (held.partial) this.partialAggregates++;
    for (const { view } of held.records) {
      this.eventsOut++;
      const type = view.headers.ce_type ?? view.topic;
      this.eventsByType.set(type, (this.eventsByType.get(type) ?? 0) + 1);
    }
  }

  /** The summary line of the held changes, or null when there were none. */
  heldLine(): string | null {
    const lines: string[] = [];
    if (this.parked || this.released || this.timedOut || this.stillHeld)
      lines.push(
        `held (requires): ${this.parked} parked, ${this.released} released, ${this.timedOut} timed out` +
          (this.stillHeld ? `, ${this.stillHeld} still held for the next run` : ""),
      );
    if (this.aggregates || this.aggregateDeadLetters)
      lines.push(
        `aggregates: ${this.aggregates} published (${this.partialAggregates} partial)` +
          (this.aggregateDeadLetters ? `, ${this.aggregateDeadLetters} dead letters` : ""),
      );
    return lines.length ? lines.join("\n") : null;
  }

  /** A line of line-based input (replay, embedded files) that holds no record. */
  skipLine(): void {
    this.skippedLines++;
  }

  get elapsedSeconds(): number {
    return Number(process.hrtime.bigint() - this.startedAt) / 1e9;
  }

  /** any dead letter written: of a source record, or of an aggregate evaluation (--fail-on-dead-letters) */
  get anyDeadLetters(): boolean {
    return this.deadLetters + this.aggregateDeadLetters > 0;
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
    const held = this.heldLine();
    if (held) lines.push(held);
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
