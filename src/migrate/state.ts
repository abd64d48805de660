// Migration state in the state store: the lifecycle of each major-version migration (`migrations`), the consumer
// groups registered for an event (`migration_groups`) and, in embedded mode, consumer-group offsets on the output
// files (`consumer_group_offsets`, the embedded stand-in for Kafka's __consumer_offsets).
import type { Knex } from "knex";

export type MigrationStatus = "started" | "cutover" | "finished" | "aborted";
export type BackfillStatus = "none" | "running" | "done";

export interface Migration {
  pipeline: string;
  event: string;
  fromMajor: number;
  toMajor: number;
  oldTopic: string;
  newTopic: string;
  newSubject: string;
  /** ce_type of the event's records on the old / new topic ("" in rows written before it was recorded) */
  oldType: string;
  newType: string;
  status: MigrationStatus;
  backfill: BackfillStatus;
  /** records read by the last backfill run, for status output */
  backfillProgress: string;
  startedAt: string;
  updatedAt: string;
}

export interface ConsumerGroupEntry {
  event: string;
  group: string;
  /** the major the group consumes since `migrate switch` (null: not switched) */
  switchedTo: number | null;
  switchedAt: string | null;
  /** how the switch was made: "exact" or "filter" (with the skip set in `skipIds`) */
  switchCase: string | null;
  /** JSON array of ce_ids the group's switch filter skips on the new topic */
  skipIds: string[];
}

interface MigrationRow {
  pipeline: string;
  event: string;
  from_major: number;
  to_major: number;
  old_topic: string;
  new_topic: string;
  new_subject: string;
  old_type: string | null;
  new_type: string | null;
  status: string;
  backfill: string;
  backfill_progress: string;
  started_at: string;
  updated_at: string;
}

interface GroupRow {
  event: string;
  group_id: string;
  switched_to: number | null;
  switched_at: string | null;
  switch_case: string | null;
  skip_ids: string | null;
}

export class MigrationStore {
  private constructor(
    readonly knex: Knex,
    readonly pipeline: string,
  ) {}

  static open(knex: Knex, pipeline: string): Promise<MigrationStore> {
    // its tables are created and upgraded by the state store's migrations (src/state/migrations/migration.ts)
    return Promise.resolve(new MigrationStore(knex, pipeline));
  }

  async migrations(event?: string): Promise<Migration[]> {
    const query = this.knex<MigrationRow>("migrations").where({ pipeline: this.pipeline });
    if (event) void query.andWhere({ event });
    const rows = (await query.orderBy([{ column: "event" }, { column: "to_major" }])) as MigrationRow[];
    return rows.map(toMigration);
  }

  /** Inserts or replaces a migration row (every lifecycle step writes the whole row: re-running is harmless). */
  async save(m: Omit<Migration, "updatedAt">): Promise<void> {
    const row: MigrationRow = {
      pipeline: m.pipeline,
      event: m.event,
      from_major: m.fromMajor,
      to_major: m.toMajor,
      old_topic: m.oldTopic,
      new_topic: m.newTopic,
      new_subject: m.newSubject,
      old_type: m.oldType,
      new_type: m.newType,
      status: m.status,
      backfill: m.backfill,
      backfill_progress: m.backfillProgress,
      started_at: m.startedAt,
      updated_at: new Date().toISOString(),
    };
    await this.knex("migrations").insert(row).onConflict(["pipeline", "event", "to_major"]).merge();
  }

  async groups(event: string): Promise<ConsumerGroupEntry[]> {
    const rows = (await this.knex("migration_groups")
      .where({ pipeline: this.pipeline, event })
      .orderBy("group_id")) as GroupRow[];
    return rows.map((r) => ({
      event: r.event,
      group: r.group_id,
      switchedTo: r.switched_to,
      switchedAt: r.switched_at,
      switchCase: r.switch_case,
      skipIds: r.skip_ids ? (JSON.parse(r.skip_ids) as string[]) : [],
    }));
  }

  /** Registers a consumer group of the event (idempotent: an existing entry keeps its switch state). */
  async registerGroup(event: string, group: string): Promise<void> {
    await this.knex("migration_groups")
      .insert({
        pipeline: this.pipeline,
        event,
        group_id: group,
        switched_to: null,
        switched_at: null,
        switch_case: null,
        skip_ids: null,
      })
      .onConflict(["pipeline", "event", "group_id"])
      .ignore();
  }

  async markSwitched(
    event: string,
    group: string,
    toMajor: number,
    switchCase: string,
    skipIds: string[],
  ): Promise<void> {
    await this.registerGroup(event, group);
    await this.knex("migration_groups")
      .where({ pipeline: this.pipeline, event, group_id: group })
      .update({
        switched_to: toMajor,
        switched_at: new Date().toISOString(),
        switch_case: switchCase,
        skip_ids: JSON.stringify(skipIds),
      });
  }
}

function toMigration(r: MigrationRow): Migration {
  return {
    pipeline: r.pipeline,
    event: r.event,
    fromMajor: Number(r.from_major),
    toMajor: Number(r.to_major),
    oldTopic: r.old_topic,
    newTopic: r.new_topic,
    newSubject: r.new_subject,
    oldType: r.old_type ?? "",
    newType: r.new_type ?? "",
    status: r.status as MigrationStatus,
    backfill: r.backfill as BackfillStatus,
    backfillProgress: r.backfill_progress,
    startedAt: r.started_at,
    updatedAt: r.updated_at,
  };
}

/** Consumer-group offsets of embedded mode (the output files are the topics, one partition each). */
export class EmbeddedGroupOffsets {
  private constructor(private readonly knex: Knex) {}

  static async open(knex: Knex): Promise<EmbeddedGroupOffsets> {
    await MigrationStore.open(knex, "");
    return new EmbeddedGroupOffsets(knex);
  }

  /** committed next offsets of the group on the topic, by partition (empty: nothing committed) */
  async fetch(group: string, topic: string): Promise<Map<number, bigint>> {
    const rows = (await this.knex("consumer_group_offsets").where({ group_id: group, topic })) as {
      partition: number;
      next_offset: string;
    }[];
    return new Map(rows.map((r) => [Number(r.partition), BigInt(r.next_offset)]));
  }

  /**
   * Commits the group's next offsets. With a guard, only if the group's offsets on `guard.topic` are still
   * exactly `guard.offsets` (checked in the same transaction); returns whether it committed.
   */
  async commit(
    group: string,
    topic: string,
    offsets: ReadonlyMap<number, bigint>,
    guard?: { topic: string; offsets: ReadonlyMap<number, bigint> },
  ): Promise<boolean> {
    return this.knex.transaction(async (trx) => {
      if (guard) {
        // a write first: SQLite cannot upgrade a transaction that started with a read while a worker writes
        await trx("consumer_group_offsets").whereRaw("1 = 0").update({ next_offset: "0" });
        const rows = (await trx("consumer_group_offsets").where({ group_id: group, topic: guard.topic })) as {
          partition: number;
          next_offset: string;
        }[];
        if (rows.length !== guard.offsets.size) return false;
        for (const r of rows)
          if (guard.offsets.get(Number(r.partition)) !== BigInt(r.next_offset)) return false;
      }
      for (const [partition, next] of offsets) {
        await trx("consumer_group_offsets")
          .insert({ group_id: group, topic, partition, next_offset: next.toString() })
          .onConflict(["group_id", "topic", "partition"])
          .merge(["next_offset"]);
      }
      return true;
    });
  }

  /** topics the group has committed offsets on */
  async topics(group: string): Promise<string[]> {
    const rows = (await this.knex("consumer_group_offsets").where({ group_id: group }).distinct("topic")) as {
      topic: string;
    }[];
    return rows.map((r) => r.topic).sort();
  }
}
