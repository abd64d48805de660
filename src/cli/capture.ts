// `changecast capture`: copies live Debezium topics into a capture file (docs/records.md) that `replay` and
// embedded `run` read with no broker and no registry: kcat -J lines with base64 for bytes that are not UTF-8
// (every key and value of an AvroConverter source), headers kept, and a writer schema line before the first
// record of each schema id.
import { createWriteStream, renameSync, rmSync, type WriteStream } from "node:fs";
import { hostname } from "node:os";
import { Kafka, logLevel, type Consumer, type KafkaMessage } from "kafkajs";
import { loadPipelineConfig, type PipelineConfig } from "../config/pipeline-config.js";
import { ConfigError } from "../config/yaml-source.js";
import { formatCaptureLine, formatSchemaLine, type CapturedRecord } from "../decode/kcat.js";
import { kafkaClientConfig } from "../kafka/kafka-client.js";
import { FETCH_LIMITS } from "../kafka/kafka-transport.js";
import type { SchemaRegistry } from "../schemas/registry.js";
import { RemoteRegistry } from "../schemas/remote-registry.js";
import { openStateStore, type StateStore } from "../state/store.js";
import { loadTransforms, openRegistry } from "../worker/pipeline-setup.js";
import type { CommandIO } from "./io.js";
import { sourceTopics } from "./run.js";

export interface CaptureOptions {
  config: string;
  /** empty: the Debezium topics of the pipeline's transforms */
  topics: string[];
  /** file to write, `-` for stdout */
  output: string;
  /** read each partition from its first retained offset (the default unless `max` asks for a tail) */
  fromBeginning?: boolean;
  /** at most this many records per partition; without fromBeginning, the last `max` offsets of each */
  max?: number;
  /** give up when no partition makes progress for this long (default 60 s) */
  idleTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** The part of one partition to capture: offsets [from, end), at most `max` records. */
interface Range {
  topic: string;
  partition: number;
  from: bigint;
  end: bigint;
  next: bigint;
  count: number;
}

/**
 * Captures up to the end each partition has when the capture starts, then exits: 0 when every partition was
 * read to its end, 1 when it gave up (idle timeout; the lines read are kept in `<output>.partial`), 2 on
 * configuration errors (no brokers, unknown topic, an Avro source with no registry).
 */
export async function captureCommand(opts: CaptureOptions, io: CommandIO): Promise<number> {
  const config = loadPipelineConfig(opts.config, opts.env ? { env: opts.env } : {});
  if (config.kafka.brokers.length === 0) {
    io.err(`changecast capture: kafka.brokers is empty in ${config.file}: nothing to capture from`);
    return 2;
  }
  const topics = opts.topics.length === 0 ? transformTopics(config) : opts.topics;
  const avro = config.source.format === "avro";
  const kafka = captureKafka(config, opts);

  const ranges = await captureRanges(kafka, topics, opts);
  if (typeof ranges === "string") {
    io.err(`changecast capture: ${ranges}`);
    return 2;
  }
  // AvroConverter records name their writer schema by id: the registry the worker would ask (registry.url, else
  // the embedded registry of the state store)
  let store: StateStore | null = null;
  let registry: SchemaRegistry | null = null;
  const out = openOutput(opts.output, io);
  try {
    if (avro) {
      if (config.registry.url) registry = new RemoteRegistry(config.registry.url);
      else
        registry = await openRegistry(config, (store = await openStateStore(config.state, config.baseDir)));
    }
    const writer = new CaptureWriter(out, avro, registry, io);
    const unfinished = await readRanges(kafka, config, ranges, writer, {
      idleTimeoutMs: opts.idleTimeoutMs ?? 60_000,
      ...(opts.max !== undefined ? { max: opts.max } : {}),
    });
    await out.close(unfinished.length === 0);
    reportCapture(io, ranges, writer, out.name, avro);
    if (unfinished.length) {
      reportUnfinished(io, unfinished, opts.idleTimeoutMs ?? 60_000);
      return 1;
    }
    return 0;
  } catch (err) {
    await out.close(false);
    throw err;
  } finally {
    await registry?.close?.();
    await store?.close();
  }
}

/** The Debezium topics of the configured transforms. */
function transformTopics(config: PipelineConfig): string[] {
  const { transforms, problems } = loadTransforms(config);
  if (problems.length) throw new ConfigError(problems);
  return sourceTopics(config, transforms);
}

function captureKafka(config: PipelineConfig, opts: CaptureOptions): Kafka {
  return new Kafka({
    ...kafkaClientConfig({
      brokers: config.kafka.brokers,
      clientId: `${config.kafka.clientId}-capture-${hostname()}-${process.pid}`,
      env: opts.env ?? process.env,
    }),
    logLevel: logLevel.NOTHING,
  });
}

function reportCapture(
  io: CommandIO,
  ranges: Range[],
  writer: CaptureWriter,
  outName: string,
  avro: boolean,
): void {
  const total = ranges.reduce((n, r) => n + r.count, 0);
  io.err(
    `changecast capture: ${total} records of ${new Set(ranges.map((r) => r.topic)).size} topics` +
      ` (${ranges.length} partitions)${avro ? `, ${writer.schemaLines} writer schemas` : ""} → ${outName}` +
      (writer.missingSchemas.size
        ? `; the registry does not know schema ids ${[...writer.missingSchemas].join(", ")}: ` +
          `their records will be dead-lettered on replay`
        : ""),
  );
}

function reportUnfinished(io: CommandIO, unfinished: Range[], idleTimeoutMs: number): void {
  for (const r of unfinished) {
    io.err(
      `changecast capture: ${r.topic}[${r.partition}] stopped at offset ${r.next} of ${r.end}: ` +
        `no progress for ${Math.round(idleTimeoutMs / 1000)} s`,
    );
  }
}

/** Per partition: [low, high) at the start (or the last `max` offsets), partitions with nothing left out. */
async function captureRanges(
  kafka: Kafka,
  topics: string[],
  opts: CaptureOptions,
): Promise<Range[] | string> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length) return `no such topic: ${missing.join(", ")}`;
    const ranges: Range[] = [];
    for (const topic of [...new Set(topics)]) {
      for (const o of await admin.fetchTopicOffsets(topic)) {
        const low = BigInt(o.low);
        const end = BigInt(o.high);
        const tail = !opts.fromBeginning && opts.max !== undefined ? end - BigInt(opts.max) : low;
        const from = tail > low ? tail : low;
        if (from < end) ranges.push({ topic, partition: o.partition, from, end, next: from, count: 0 });
      }
    }
    return ranges.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  } finally {
    await admin.disconnect();
  }
}

/** Reads every range to its end with a throw-away group that commits nothing; returns the ranges not finished. */
async function readRanges(
  kafka: Kafka,
  config: PipelineConfig,
  ranges: Range[],
  writer: CaptureWriter,
  limits: { idleTimeoutMs: number; max?: number },
): Promise<Range[]> {
  const byKey = new Map(ranges.map((r) => [`${r.topic}|${r.partition}`, r]));
  const remaining = new Set(byKey.keys());
  if (remaining.size === 0) return [];
  const consumer = kafka.consumer({
    groupId: `changecast-capture-${config.pipeline}-${process.pid}-${Date.now()}`,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    ...FETCH_LIMITS,
    retry: { retries: 5, restartOnFailure: () => Promise.resolve(false) },
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...new Set(ranges.map((r) => r.topic))], fromBeginning: true });
    await readToEnds(consumer, ranges, byKey, remaining, writer, limits);
  } finally {
    await consumer.disconnect();
  }
  return ranges.filter((r) => remaining.has(`${r.topic}|${r.partition}`));
}

/** Runs the consumer until every range is done (its end or `max` reached), the reader idles or crashes. */
function readToEnds(
  consumer: Consumer,
  ranges: Range[],
  byKey: Map<string, Range>,
  remaining: Set<string>,
  writer: CaptureWriter,
  limits: { idleTimeoutMs: number; max?: number },
): Promise<void> {
  const cap = limits.max;
  const full = (r: Range) => cap !== undefined && r.count >= cap;
  return new Promise<void>((done, fail) => {
    let idle: NodeJS.Timeout | undefined;
    const progress = () => {
      clearTimeout(idle);
      idle = setTimeout(done, limits.idleTimeoutMs);
    };
    const finish = (key: string) => {
      remaining.delete(key);
      if (remaining.size === 0) {
        clearTimeout(idle);
        done();
      }
    };
    progress();
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      clearTimeout(idle);
      fail(payload.error);
    });
    // transaction markers occupy offsets without reaching eachBatch: a partition is done once a batch ends
    // at its bound (as `migrate backfill` decides)
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const key = `${payload.topic}|${payload.partition}`;
      const range = byKey.get(key);
      if (range && (BigInt(payload.lastOffset) + 1n >= range.end || full(range))) finish(key);
    });
    consumer
      .run({
        autoCommit: false,
        eachBatch: async ({ batch, heartbeat }) => {
          const key = `${batch.topic}|${batch.partition}`;
          const range = byKey.get(key);
          if (!range || !remaining.has(key)) return;
          const take = takeMessages(range, batch.messages, full);
          if (take.length) await writer.write(batch.topic, batch.partition, take);
          progress();
          await heartbeat();
        },
      })
      .catch((err: unknown) => {
        clearTimeout(idle);
        fail(err instanceof Error ? err : new Error(String(err)));
      });
    // a tail starts past the first retained offset
    for (const r of ranges)
      if (r.from > 0n) consumer.seek({ topic: r.topic, partition: r.partition, offset: String(r.from) });
  });
}

/** The messages of a batch the range still wants, in order; the range's next offset and count move on. */
function takeMessages(range: Range, messages: KafkaMessage[], full: (r: Range) => boolean): KafkaMessage[] {
  const take: KafkaMessage[] = [];
  for (const m of messages) {
    const offset = BigInt(m.offset);
    // a re-fetched or compressed batch may start before the next offset wanted
    if (offset < range.next || offset >= range.end || full(range)) continue;
    take.push(m);
    range.next = offset + 1n;
    range.count++;
  }
  return take;
}

/** Turns fetched messages into capture lines, the writer schema line of a new schema id first. */
class CaptureWriter {
  readonly missingSchemas = new Set<number>();
  schemaLines = 0;
  private readonly known = new Set<number>();

  constructor(
    private readonly out: Output,
    private readonly avro: boolean,
    private readonly registry: SchemaRegistry | null,
    private readonly io: CommandIO,
  ) {}

  async write(topic: string, partition: number, messages: KafkaMessage[]): Promise<void> {
    const lines: string[] = [];
    for (const m of messages) {
      const key = m.key ?? null;
      const value = m.value ?? null;
      if (this.avro) for (const bytes of [key, value]) await this.schemaOf(bytes, lines);
      const ts = Number(m.timestamp);
      const record: CapturedRecord = {
        topic,
        partition,
        offset: m.offset,
        timestamp: Number.isFinite(ts) && ts >= 0 ? ts : null,
        headers: headersOf(m),
        key,
        value,
      };
      // Avro: always base64 (an all-ASCII Avro body is still not text a reader should see as JSON)
      lines.push(formatCaptureLine(record, { base64: this.avro }));
    }
    await this.out.write(lines);
  }

  /** Adds the schema line of a Confluent wire-format record's schema id the first time it is seen. */
  private async schemaOf(bytes: Buffer | null, lines: string[]): Promise<void> {
    // not wire format: captured as is, replay dead-letters it with the reason
    if (bytes === null || bytes.length < 5 || bytes[0] !== 0) return;
    const id = bytes.readUInt32BE(1);
    if (this.known.has(id) || this.missingSchemas.has(id)) return;
    try {
      const schema = await this.registry!.schemaById(id);
      lines.push(formatSchemaLine(id, schema));
      this.known.add(id);
      this.schemaLines++;
    } catch (err) {
      const e = err as { status?: unknown; errorCode?: unknown };
      if (e.status !== 404 && e.errorCode !== 40403) throw err;
      this.missingSchemas.add(id);
      this.io.err(`changecast capture: the registry does not know schema id ${id}`);
    }
  }
}

/** Header values in order, a repeated header once per value (kafkajs gives repeats as an array). */
function headersOf(m: KafkaMessage): [string, Buffer | string][] {
  const out: [string, Buffer | string][] = [];
  for (const [name, value] of Object.entries(m.headers ?? {})) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.push([name, v]);
  }
  return out;
}

interface Output {
  readonly name: string;
  write(lines: string[]): Promise<void>;
  /** complete: the capture read everything (a file is moved from `.partial` into place) */
  close(complete: boolean): Promise<void>;
}

/** A file is written as `<file>.partial` and renamed when complete, so a capture that failed is not mistaken. */
function openOutput(path: string, io: CommandIO): Output {
  if (path === "-") {
    return {
      name: "stdout",
      write: (lines) => {
        for (const line of lines) io.out(line);
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    };
  }
  const partial = `${path}.partial`;
  rmSync(partial, { force: true });
  const stream: WriteStream = createWriteStream(partial, { flags: "wx" });
  let closed = false;
  return {
    name: path,
    write: (lines) =>
      new Promise<void>((done, fail) => {
        if (lines.length === 0) return done();
        stream.write(lines.join("\n") + "\n", (err) => (err ? fail(err) : done()));
      }),
    close: async (complete) => {
      if (closed) return;
      closed = true;
      await new Promise<void>((done, fail) => stream.end((err?: Error | null) => (err ? fail(err) : done())));
      if (complete) renameSync(partial, path);
      else io.err(`changecast capture: incomplete capture left in ${partial}`);
    },
  };
}
