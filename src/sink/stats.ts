// Every counter of a sink in one object, so that a metrics endpoint can export it as it is.

export class SinkStats {
  /** records read from the topics (or output files) */
  read = 0;
  /** records dropped by a switch filter (facts the sink applied from the other major's topic) */
  switchFiltered = 0;
  /** records whose ce_type no projection handles */
  noProjection = 0;
  /** projections whose `when` was false */
  filtered = 0;
  /** row operations applied (one event may apply to several tables) */
  applied = 0;
  /** row operations skipped by the position rule: the row already holds this event or a later one */
  skippedOlder = 0;
  /** updates of a row that does not exist yet, parked until an upsert creates it (apply.ts) */
  parked = 0;
  /** records sent to the dead-letter topic (file), by error code */
  deadLetters = 0;
  readonly deadLettersByCode = new Map<string, number>();
  /** rows written, per table and action */
  readonly byTable = new Map<string, { upsert: number; update: number; delete: number }>();
  /** database transactions committed */
  batches = 0;
  /** batches applied event by event after the multi-row statements failed */
  slowBatches = 0;
  readonly startedAt = Date.now();

  deadLetter(code: string): void {
    this.deadLetters++;
    this.deadLettersByCode.set(code, (this.deadLettersByCode.get(code) ?? 0) + 1);
  }

  countApplied(table: string, action: "upsert" | "update" | "delete"): void {
    this.applied++;
    let t = this.byTable.get(table);
    if (!t) this.byTable.set(table, (t = { upsert: 0, update: 0, delete: 0 }));
    t[action]++;
  }

  /** The summary printed at the end of `changecast sink`. */
  summary(): string[] {
    const secs = Math.max(0.001, (Date.now() - this.startedAt) / 1000);
    const lines = [
      `records read: ${this.read}`,
      `applied: ${this.applied} row operations (${Math.round(this.applied / secs)}/s)`,
    ];
    for (const [table, t] of [...this.byTable].sort(([a], [b]) => a.localeCompare(b)))
      lines.push(`  ${table}: ${t.upsert} upserts, ${t.update} updates, ${t.delete} deletes`);
    lines.push(
      `skipped: ${this.skippedOlder} already applied (position), ${this.filtered} by when, ${this.noProjection} without projection, ${this.switchFiltered} by the switch filter`,
      `parked: ${this.parked} updates of rows that did not exist yet (applied when the row is created)`,
    );
    const codes = [...this.deadLettersByCode].map(([c, n]) => `${c}: ${n}`).join(", ");
    lines.push(`dead letters: ${this.deadLetters}${codes ? ` (${codes})` : ""}`);
    return lines;
  }
}
