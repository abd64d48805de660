// Reading published topics and a consumer group's offsets, in both modes. Embedded mode: the topics are the
// output files `<outputDir>/<topic>.jsonl` (one partition, offset = line number, only the committed length
// counts) and group offsets live in the state store. Kafka mode: kafkajs admin and a throw-away reader.
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import type { Knex } from "knex";
import { Kafka, logLevel, type Admin, type KafkaConfig } from "kafkajs";
import { EmbeddedGroupOffsets } from "./state.js";
import type { FactRef, PartitionSnapshot, TopicSnapshot } from "./switch.js";

/** A record of an embedded output topic, as an embedded consumer sees it. */
export interface EmbeddedRecord {
  topic: string;
  partition: 0;
  offset: bigint;
  key: string | null;
  headers: Record<string, string>;
  value: unknown;
}

/** The two things the migrator needs from a deployment: topic contents and group offsets. */
export interface TopicAccess {
  readonly mode: "embedded" | "kafka";
  snapshot(topic: string): Promise<TopicSnapshot>;
  /** the group's committed next offsets (absent partition: nothing committed) */
  fetchGroup(group: string, topic: string): Promise<Map<number, bigint>>;
  commitGroup(group: string, topic: string, offsets: Map<number, bigint>): Promise<void>;
  /** log end offsets per partition */
  endOffsets(topic: string): Promise<Map<number, bigint>>;
  close(): Promise<void>;
}

/**
 * The committed records of an embedded output topic from `fromOffset` on. Lines written after the worker's
 * last commit (a batch interrupted by a crash, cut off at its next start) are not part of the topic yet.
 */
export async function readEmbeddedTopic(
  knex: Knex,
  pipeline: string,
  outputDir: string,
  topic: string,
  fromOffset = 0n,
): Promise<EmbeddedRecord[]> {
  const name = `${topic}.jsonl`;
  const path = join(outputDir, name);
  if (!existsSync(path)) return [];
  const length = await committedLength(knex, pipeline, name);
  if (length === 0) return [];
  const buffer = Buffer.alloc(length);
  const fd = openSync(path, "r");
  try {
    let read = 0;
    while (read < length) {
      const n = readSync(fd, buffer, read, length - read, read);
      if (n === 0) break;
      read += n;
    }
  } finally {
    closeSync(fd);
  }
  const lines = buffer.toString("utf8").split("\n");
  const out: EmbeddedRecord[] = [];
  let offset = 0n;
  for (const line of lines) {
    if (line.trim() === "") continue;
    if (offset >= fromOffset) {
      const parsed = JSON.parse(line) as {
        key: string | null;
        headers: Record<string, string>;
        value: unknown;
      };
      out.push({
        topic,
        partition: 0,
        offset,
        key: parsed.key,
        headers: parsed.headers,
        value: parsed.value,
      });
    }
    offset++;
  }
  return out;
}

async function committedLength(knex: Knex, pipeline: string, file: string): Promise<number> {
  if (!(await knex.schema.hasTable("output_positions"))) return 0;
  const row = (await knex("output_positions").where({ pipeline, file }).first("length")) as
    { length: string | number } | undefined;
  return row ? Number(row.length) : 0;
}

function factOf(offset: bigint, headers: Record<string, string>): FactRef {
  return { offset, ceId: headers.ce_id ?? `?${offset}`, position: headers.changecast_position ?? "" };
}

export class EmbeddedTopicAccess implements TopicAccess {
  readonly mode = "embedded";
  private constructor(
    private readonly knex: Knex,
    private readonly pipeline: string,
    private readonly outputDir: string,
    private readonly groups: EmbeddedGroupOffsets,
  ) {}

  static async open(knex: Knex, pipeline: string, outputDir: string): Promise<EmbeddedTopicAccess> {
    return new EmbeddedTopicAccess(knex, pipeline, outputDir, await EmbeddedGroupOffsets.open(knex));
  }

  async snapshot(topic: string): Promise<TopicSnapshot> {
    const records = await readEmbeddedTopic(this.knex, this.pipeline, this.outputDir, topic);
    const partition: PartitionSnapshot = {
      partition: 0,
      records: records.map((r) => factOf(r.offset, r.headers)),
      end: BigInt(records.length),
    };
    return { topic, partitions: [partition] };
  }

  fetchGroup(group: string, topic: string): Promise<Map<number, bigint>> {
    return this.groups.fetch(group, topic);
  }

  commitGroup(group: string, topic: string, offsets: Map<number, bigint>): Promise<void> {
    return this.groups.commit(group, topic, offsets);
  }

  async endOffsets(topic: string): Promise<Map<number, bigint>> {
    const records = await readEmbeddedTopic(this.knex, this.pipeline, this.outputDir, topic);
    return new Map([[0, BigInt(records.length)]]);
  }

  async close(): Promise<void> {}
}

export class KafkaTopicAccess implements TopicAccess {
  readonly mode = "kafka";
  private constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
  ) {}

  static async open(config: KafkaConfig): Promise<KafkaTopicAccess> {
    const kafka = new Kafka({ logLevel: logLevel.NOTHING, ...config });
    const admin = kafka.admin();
    await admin.connect();
    return new KafkaTopicAccess(kafka, admin);
  }

  async endOffsets(topic: string): Promise<Map<number, bigint>> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  }

  /**
   * Reads the topic from the beginning to the high watermarks taken at the start, read_committed (aborted
   * transactions are not facts), with a throw-away group that commits nothing.
   */
  async snapshot(topic: string): Promise<TopicSnapshot> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    const partitions = new Map<number, PartitionSnapshot>(
      offsets.map((o) => [o.partition, { partition: o.partition, records: [], end: BigInt(o.high) }]),
    );
    const low = new Map(offsets.map((o) => [o.partition, BigInt(o.low)]));
    const remaining = new Set(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => o.partition));
    if (remaining.size > 0) {
      const consumer = this.kafka.consumer({
        groupId: `changecast-migrate-reader-${process.pid}-${Date.now()}`,
        readUncommitted: false,
        allowAutoTopicCreation: false,
      });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic, fromBeginning: true });
        await new Promise<void>((done, fail) => {
          consumer
            .run({
              autoCommit: false,
              eachBatch: async ({ batch }) => {
                const p = partitions.get(batch.partition);
                if (!p) return;
                for (const m of batch.messages) {
                  const offset = BigInt(m.offset);
                  if (offset >= p.end) continue;
                  p.records.push(factOf(offset, headerStrings(m.headers)));
                }
                // transaction markers occupy offsets: a partition is done once the batch reaches the watermark
                const last = BigInt(batch.lastOffset());
                if (last + 1n >= p.end || (low.get(batch.partition) ?? 0n) >= p.end)
                  remaining.delete(batch.partition);
                if (remaining.size === 0) done();
              },
            })
            .catch(fail);
        });
      } finally {
        await consumer.disconnect();
      }
    }
    for (const p of partitions.values()) {
      p.records.sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
      // a re-fetched batch can deliver a record twice: keep one per offset
      p.records = p.records.filter((r, i, all) => i === 0 || all[i - 1]?.offset !== r.offset);
    }
    return { topic, partitions: [...partitions.values()].sort((a, b) => a.partition - b.partition) };
  }

  async fetchGroup(group: string, topic: string): Promise<Map<number, bigint>> {
    const result = await this.admin.fetchOffsets({ groupId: group, topics: [topic] });
    const out = new Map<number, bigint>();
    for (const t of result) {
      for (const p of t.partitions) if (BigInt(p.offset) >= 0n) out.set(p.partition, BigInt(p.offset));
    }
    return out;
  }

  async commitGroup(group: string, topic: string, offsets: Map<number, bigint>): Promise<void> {
    await this.admin.setOffsets({
      groupId: group,
      topic,
      partitions: [...offsets].map(([partition, offset]) => ({ partition, offset: offset.toString() })),
    });
  }

  async close(): Promise<void> {
    await this.admin.disconnect();
  }
}

function headerStrings(
  headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = typeof first === "string" ? first : first.toString("utf8");
  }
  return out;
}
