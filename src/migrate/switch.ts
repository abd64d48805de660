// The switch-over: from a stopped consumer group's committed offsets on the old major's topic, the offsets on the
// new major's topic from which it neither reprocesses nor skips a fact. Facts are matched by ce_id, which both
// majors share (docs/records.md); pure functions over topic snapshots, so Kafka and embedded mode share them.

/** One published record as the switch-over needs it. */
export interface FactRef {
  offset: bigint;
  ceId: string;
  /** the changecast_position header (reported, not needed for matching) */
  position: string;
  /** the ce_type header: the event's record full name (absent on records without one) */
  type?: string;
}

/**
 * Which records of each topic are facts of the migrated event, by `ce_type` (the event's record full name on
 * each major). Without it every record counts: right only when each topic carries that one event.
 */
export interface SwitchTypes {
  /** ce_type of the old major's records on the old topic */
  old: string;
  /** ce_type of the new major's records on the new topic */
  new: string;
}

export interface PartitionSnapshot {
  partition: number;
  /** records in offset order (Kafka offsets may skip transaction markers) */
  records: FactRef[];
  /** the log end offset (high watermark): the next offset to be written */
  end: bigint;
}

export interface TopicSnapshot {
  topic: string;
  partitions: PartitionSnapshot[];
}

export type SwitchCase = "exact" | "filter" | "blocked";

export interface PartitionStart {
  partition: number;
  /** the offset to commit: the first fact not yet processed on the old topic (or the end) */
  offset: bigint;
  /** facts at or after `offset` that the group already processed on the old topic */
  skip: number;
  /** ce_ids either side of the boundary, as evidence for an exact switch */
  lastProcessed: string | null;
  firstUnprocessed: string | null;
}

export interface SwitchPlan {
  case: SwitchCase;
  oldTopic: string;
  newTopic: string;
  oldPartitions: number;
  newPartitions: number;
  /** facts the group processed on the old topic */
  processed: number;
  /** facts on the old topic the group has not processed yet */
  pending: number;
  /** records of other event types on the old topic (a shared topic): the group keeps consuming them there */
  otherOnOld: number;
  /** the migrated event's ce_type on each topic (null: every record counted) */
  types: SwitchTypes | null;
  starts: PartitionStart[];
  /** ce_ids the switch filter must drop on the new topic (empty for "exact") */
  skipIds: string[];
  /** facts pending on the old topic that the new topic does not carry (blocked: published before `migrate start`) */
  missing: (FactRef & { partition: number })[];
  /** old partitions the group never committed (treated as nothing processed) */
  uncommitted: number[];
  /** the group's committed offsets on the old topic the plan rests on (the switch commits only if unchanged) */
  committed: ReadonlyMap<number, bigint>;
}

/**
 * Computes the switch. `committed` holds the group's next offset per old partition (Kafka's convention).
 * With `types`, only the migrated event's records count, on both topics: an old topic shared with other event
 * types (one topic per aggregate) keeps those, and the group keeps consuming them there (the switch filter
 * drops the migrated type on the old topic). Without it every record of both topics counts.
 *
 * Per new partition, the start offset is the first record whose fact the group has not processed; facts after
 * it that the group did process (possible when partition counts differ or history was backfilled) form the
 * skip set. Equal partition counts with the same key keep the old topic's order on the new one, so the skip
 * set is empty and the offsets alone are exact. A pending fact missing from the new topic blocks the switch:
 * committing past it would skip it.
 */
export function computeSwitch(
  oldTopic: TopicSnapshot,
  newTopic: TopicSnapshot,
  committed: ReadonlyMap<number, bigint>,
  types?: SwitchTypes,
): SwitchPlan {
  const isOld = (r: FactRef) => !types || r.type === types.old;
  const isNew = (r: FactRef) => !types || r.type === types.new;
  const { processed, pending, uncommitted, otherOnOld } = readOldTopic(oldTopic, committed, isOld);
  // the new topic's facts of the event (it carries nothing else when its major has the topic to itself)
  const newPartitions = newTopic.partitions.map((p) => ({ ...p, records: p.records.filter(isNew) }));
  const onNew = new Set<string>();
  for (const p of newPartitions) for (const r of p.records) onNew.add(r.ceId);
  // in at-least-once mode a fact can appear twice on the old topic: processed once is processed
  const missing = pending.filter((r) => !onNew.has(r.ceId) && !processed.has(r.ceId));

  const starts: PartitionStart[] = [];
  const skipIds: string[] = [];
  for (const p of newPartitions.sort((a, b) => a.partition - b.partition)) {
    const { start, skips } = partitionStart(p, processed);
    skipIds.push(...skips);
    starts.push(start);
  }
  const switchCase: SwitchCase = missing.length ? "blocked" : skipIds.length ? "filter" : "exact";
  return {
    case: switchCase,
    oldTopic: oldTopic.topic,
    newTopic: newTopic.topic,
    oldPartitions: oldTopic.partitions.length,
    newPartitions: newTopic.partitions.length,
    processed: processed.size,
    pending: pending.length,
    otherOnOld,
    types: types ? { ...types } : null,
    starts,
    skipIds: [...new Set(skipIds)],
    missing,
    uncommitted,
    committed: new Map(committed),
  };
}

/** The old topic split at the group's committed offsets: the facts processed, those pending, the rest. */
function readOldTopic(
  oldTopic: TopicSnapshot,
  committed: ReadonlyMap<number, bigint>,
  isOld: (r: FactRef) => boolean,
): {
  processed: Set<string>;
  pending: (FactRef & { partition: number })[];
  uncommitted: number[];
  otherOnOld: number;
} {
  const processed = new Set<string>();
  const pending: (FactRef & { partition: number })[] = [];
  const uncommitted: number[] = [];
  let otherOnOld = 0;
  for (const p of oldTopic.partitions) {
    const next = committed.get(p.partition);
    if (next === undefined || next < 0n) uncommitted.push(p.partition);
    const boundary = next !== undefined && next > 0n ? next : 0n;
    for (const r of p.records) {
      if (!isOld(r)) otherOnOld++;
      else if (r.offset < boundary) processed.add(r.ceId);
      else pending.push({ ...r, partition: p.partition });
    }
  }
  return { processed, pending, uncommitted, otherOnOld };
}

/** Where the group starts on one new partition: the first fact it has not processed; processed ones after it are skipped. */
function partitionStart(
  p: { partition: number; end: bigint; records: FactRef[] },
  processed: ReadonlySet<string>,
): { start: PartitionStart; skips: string[] } {
  const firstIndex = p.records.findIndex((r) => !processed.has(r.ceId));
  const offset = firstIndex < 0 ? p.end : (p.records[firstIndex] as FactRef).offset;
  const after = firstIndex < 0 ? [] : p.records.slice(firstIndex);
  const skips = after.filter((r) => processed.has(r.ceId)).map((r) => r.ceId);
  const before = firstIndex < 0 ? p.records : p.records.slice(0, firstIndex);
  return {
    start: {
      partition: p.partition,
      offset,
      skip: skips.length,
      lastProcessed: before.at(-1)?.ceId ?? null,
      firstUnprocessed: firstIndex < 0 ? null : (p.records[firstIndex] as FactRef).ceId,
    },
    skips,
  };
}

/** Header values as kafkajs hands them (Buffer) or as the embedded output files hold them (string). */
export type HeaderBag = Record<string, string | Buffer | (string | Buffer)[] | undefined>;

/** Where a switched group still reads the old topic: a shared one, for the event types that stay there. */
export interface SwitchFilterScope {
  oldTopic: string;
  /** ce_type of the migrated event on the old topic: dropped there, the group reads it on the new topic */
  oldType: string;
}

export interface SwitchFilter {
  /**
   * false for a record to skip (commit past it as usual): on the new topic a fact the group already processed
   * on the old topic; with a scope, on the old topic (`topic` = the old topic) every record of the migrated
   * event, which the group now reads on the new topic. Records of other types on the old topic are accepted.
   */
  accept(headers: HeaderBag, topic?: string): boolean;
  /** skip ids not met yet; 0 means the filter is inert and can be dropped */
  readonly remaining: number;
}

/**
 * The consumer-side filter of a switched group. On the new topic it drops, by ce_id, the facts of the overlap
 * that the group processed on the old topic (a "filter" switch); each skip id is dropped once — a later record
 * with the same id is a re-delivery the consumer's own ce_id deduplication handles as before. With a scope (an
 * old topic shared with other event types, which the group keeps consuming for them) it also drops, for good,
 * the migrated event's records on the old topic: the group reads that event on the new topic now.
 */
export function createSwitchFilter(skipIds: Iterable<string>, scope?: SwitchFilterScope): SwitchFilter {
  const pending = new Set(skipIds);
  return {
    accept(headers: HeaderBag, topic?: string): boolean {
      if (scope && topic === scope.oldTopic) return headerText(headers.ce_type) !== scope.oldType;
      if (pending.size === 0) return true;
      const id = headerText(headers.ce_id);
      if (id !== null && pending.has(id)) {
        pending.delete(id);
        return false;
      }
      return true;
    },
    get remaining() {
      return pending.size;
    },
  };
}

function headerText(value: HeaderBag[string]): string | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return null;
  return typeof v === "string" ? v : v.toString("utf8");
}

/** One human line per partition start, for the CLI. */
export function describeSwitch(plan: SwitchPlan): string[] {
  const lines: string[] = [];
  const shape = `${plan.oldTopic} (${plan.oldPartitions} partition${plan.oldPartitions === 1 ? "" : "s"}) → ${plan.newTopic} (${plan.newPartitions} partition${plan.newPartitions === 1 ? "" : "s"})`;
  lines.push(shape);
  const what = plan.types ? `${plan.types.old} facts` : "facts";
  lines.push(`processed on the old topic: ${plan.processed} ${what}; pending: ${plan.pending}`);
  if (plan.otherOnOld > 0)
    lines.push(
      `${plan.oldTopic} is shared: ${plan.otherOnOld} records of other event types stay there — the group keeps consuming ` +
        `${plan.oldTopic} for them from its offsets, dropping ${plan.types?.old ?? "the migrated event"} (the switch filter)`,
    );
  if (plan.uncommitted.length)
    lines.push(
      `old partition${plan.uncommitted.length === 1 ? "" : "s"} ${plan.uncommitted.join(", ")}: no committed offset (nothing processed)`,
    );
  for (const s of plan.starts) {
    const evidence =
      s.lastProcessed || s.firstUnprocessed
        ? ` (last processed ${s.lastProcessed ?? "-"}, first unprocessed ${s.firstUnprocessed ?? "- (end)"})`
        : "";
    lines.push(
      `  partition ${s.partition}: start at offset ${s.offset}${s.skip ? `, ${s.skip} overlap facts to skip` : ""}${evidence}`,
    );
  }
  if (plan.case === "exact")
    lines.push(
      "case: exact — offsets alone are exact (verified by ce_id at each boundary); no filter needed",
    );
  else if (plan.case === "filter") {
    lines.push(
      `case: filter — no single offset per partition is exact; commits the earliest safe offsets, ` +
        `the switch filter skips ${plan.skipIds.length} facts already processed on ${plan.oldTopic}`,
    );
  } else {
    const first = plan.missing[0];
    // they are history before `migrate start`, changes published in the seconds before a worker noticed the
    // start, or history a backfill `--from` left out: which one is not known here, only that they are missing
    lines.push(
      `case: blocked — ${plan.missing.length} ${what} the group has not processed are on ${plan.oldTopic} but not on ${plan.newTopic}` +
        `${first ? ` (first at partition ${first.partition} offset ${first.offset}, position ${first.position})` : ""}; ` +
        `run \`changecast migrate backfill\` (without --from) or let the group catch up on ${plan.oldTopic} first`,
    );
  }
  return lines;
}
