// Source offsets and embedded output positions, committed together in one transaction so that an embedded
// run killed at any instant resumes without loss or duplicates.
import type { Knex } from "knex";

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** the next offset to read (Kafka's committed-offset convention), decimal string */
  next: string;
}

export class OffsetStore {
  private constructor(
    private readonly knex: Knex,
    private readonly pipeline: string,
  ) {}

  static open(knex: Knex, pipeline: string): Promise<OffsetStore> {
    // its tables are created and upgraded by the state store's migrations (src/state/migrations/offsets.ts)
    return Promise.resolve(new OffsetStore(knex, pipeline));
  }

  async offsets(): Promise<Map<string, bigint>> {
    const rows: { topic: string; partition: number; next_offset: string }[] = await this.knex(
      "source_offsets",
    )
      .where({ pipeline: this.pipeline })
      .select("topic", "partition", "next_offset");
    return new Map(rows.map((r) => [`${r.topic}/${r.partition}`, BigInt(r.next_offset)]));
  }

  async outputLengths(): Promise<Map<string, number>> {
    const rows: { file: string; length: string | number }[] = await this.knex("output_positions")
      .where({ pipeline: this.pipeline })
      .select("file", "length");
    return new Map(rows.map((r) => [r.file, Number(r.length)]));
  }

  /**
   * The committed length of one embedded output file (bytes written before the last commit); 0 when nothing
   * was committed yet or the state predates the table.
   */
  async outputLength(file: string): Promise<number> {
    if (!(await this.knex.schema.hasTable("output_positions"))) return 0;
    const row = (await this.knex("output_positions")
      .where({ pipeline: this.pipeline, file })
      .first("length")) as { length: string | number } | undefined;
    return row ? Number(row.length) : 0;
  }

  /** Commits offsets (and output file lengths) atomically. */
  async commit(
    offsets: TopicPartitionOffset[],
    outputLengths: Map<string, number> = new Map(),
  ): Promise<void> {
    await this.knex.transaction(async (trx) => {
      for (const o of offsets) {
        await trx("source_offsets")
          .insert({ pipeline: this.pipeline, topic: o.topic, partition: o.partition, next_offset: o.next })
          .onConflict(["pipeline", "topic", "partition"])
          .merge(["next_offset"]);
      }
      for (const [file, length] of outputLengths) {
        await trx("output_positions")
          .insert({ pipeline: this.pipeline, file, length })
          .onConflict(["pipeline", "file"])
          .merge(["length"]);
      }
    });
  }
}
