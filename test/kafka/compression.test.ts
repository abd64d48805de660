// Compressed Kafka record batches. Consume: the example captures produced by kcat (librdkafka, as Kafka
// Connect's producers are configured with compression.type) with each codec are mapped completely, the same
// events by ce_id as `changecast replay` of the same files. Publish: what the worker publishes with each
// `kafka.compression` is read back by kcat. A batch that cannot be decompressed stops the worker with an error
// naming topic, partition, offset and codec, after everything before it was mapped and committed.
import { execFile, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { globSync } from "tinyglobby";
import { promisify } from "node:util";
import kafkajs, { CompressionTypes, Partitioners, type Message } from "kafkajs";
import { pino } from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { openPipeline } from "../../src/cli/pipeline.js";
import { runKafkaWorker } from "../../src/cli/run.js";
import { ConfigError } from "../../src/config/yaml-source.js";
import {
  KAFKA_COMPRESSIONS,
  loadPipelineConfig,
  type KafkaCompression,
} from "../../src/config/pipeline-config.js";
import {
  BatchDecompressionError,
  codecCounts,
  CompressionCodecError,
  registerCompressionCodecs,
  type CodecName,
} from "../../src/kafka/compression.js";
import { classifyFailure, consumerGroupId } from "../../src/kafka/kafka-transport.js";
import { startMockKafka, type MockKafka } from "../infra/mock-kafka.js";
import {
  examplePipeline,
  expectedViews,
  KAFKA_CLIENTS_UNDER_TEST,
  partitionReport,
  quietKafka,
  repoRoot,
  waitFor,
} from "./helpers.js";

const run = promisify(execFile);
const CODECS: CodecName[] = ["gzip", "snappy", "lz4", "zstd"];
const TYPE: Record<CodecName, CompressionTypes> = {
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};
// every captured topic (the worker subscribes to all of them) ...
const CAPTURES = globSync("captures/postgres/dbserver1.*.jsonl", { cwd: repoRoot, absolute: true }).sort();
// ... of which the tables mapped row by row are produced: the codecs are under test here, not the stateful
// features (orders are transaction aggregates waiting for their customers: test/kafka/e2e.test.ts)
const PRODUCED = ["addresses", "customers", "products"].map((t) => `dbserver1.inventory.${t}`);
const producedFile = (file: string) => PRODUCED.some((t) => file.endsWith(`${t}.jsonl`));

interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}
const codecTable = kafkajs.CompressionCodecs as unknown as Record<number, () => KafkajsCodec>;
const kafkajsCodec = (codec: CodecName): KafkajsCodec => codecTable[TYPE[codec]]!();

registerCompressionCodecs();

/** Some Debezium values: compressible, like a real batch. */
const SAMPLE = Buffer.from(readFileSync(CAPTURES[2]!, "utf8").slice(0, 200_000));

describe("codecs", () => {
  it.each(CODECS)("%s: a batch compressed through kafkajs comes back byte for byte", async (codec) => {
    const c = kafkajsCodec(codec);
    const packed = await c.compress({ buffer: SAMPLE });
    expect(packed.length).toBeLessThan(SAMPLE.length / 3);
    expect((await c.decompress(packed)).equals(SAMPLE)).toBe(true);
  });

  it.each(CODECS)("%s: a corrupt batch fails with an error naming the codec, not retried", async (codec) => {
    const packed = await kafkajsCodec(codec).compress({ buffer: SAMPLE });
    // cut in the middle and the tail garbled: no codec can make sense of it
    const corrupt = Buffer.concat([packed.subarray(0, packed.length >> 1), Buffer.alloc(64, 0xa5)]);
    const err = await kafkajsCodec(codec)
      .decompress(corrupt)
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(CompressionCodecError);
    const e = err as CompressionCodecError;
    expect(e.codec).toBe(codec);
    expect(e.message).toMatch(new RegExp(`^${codec} decompression failed: .+`));
    // kafkajs' retrier gives up on retriable === false instead of refetching the same bytes forever
    expect(e.retriable).toBe(false);
  });

  it("snappy: xerial-framed batches (Java clients) are read; a truncated chunk is an error", async () => {
    const c = kafkajsCodec("snappy");
    const halves = [SAMPLE.subarray(0, 70_000), SAMPLE.subarray(70_000)];
    const chunks = await Promise.all(halves.map((h) => c.compress({ buffer: h })));
    const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
    const framed = Buffer.concat([
      header,
      ...chunks.flatMap((chunk) => {
        const length = Buffer.alloc(4);
        length.writeInt32BE(chunk.length);
        return [length, chunk];
      }),
    ]);
    expect((await c.decompress(framed)).equals(SAMPLE)).toBe(true);
    await expect(c.decompress(framed.subarray(0, framed.length - 10))).rejects.toThrow(
      /^snappy decompression failed: truncated xerial chunk/,
    );
  });

  it("lz4 writes the frame Kafka's Java reader accepts: version 1, independent blocks, no checksums", async () => {
    const frame = await kafkajsCodec("lz4").compress({ buffer: SAMPLE });
    expect(frame.readUInt32LE(0)).toBe(0x184d2204); // LZ4 frame magic
    const flg = frame[4]!;
    expect(flg >> 6).toBe(1); // version
    expect((flg >> 5) & 1).toBe(1); // block independence ("Dependent block stream is unsupported")
    expect((flg >> 4) & 1).toBe(0); // block checksum
    expect((flg >> 2) & 1).toBe(0); // content checksum
    const blockSize = (frame[5]! >> 4) & 7;
    expect(blockSize).toBeGreaterThanOrEqual(4);
    expect(blockSize).toBeLessThanOrEqual(7);
  });

  it("kafka.compression: default none, a codec name, anything else a file:line problem", () => {
    const text = (extra: string) =>
      [
        "pipeline: p",
        "source: { connector: postgres, topicPrefix: db }",
        `kafka: { brokers: "localhost:9092"${extra} }`,
        "transforms: [transforms/postgres/*.yaml]",
        "",
      ].join("\n");
    const file = join(repoRoot, "compression-test.yaml");
    expect(loadPipelineConfig(file, { text: text("") }).kafka.compression).toBe("none");
    for (const c of KAFKA_COMPRESSIONS)
      expect(loadPipelineConfig(file, { text: text(`, compression: ${c}`) }).kafka.compression).toBe(c);
    const bad = (() => {
      try {
        loadPipelineConfig(file, { text: text(", compression: brotli") });
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(bad).toBeInstanceOf(ConfigError);
    expect((bad as Error).message).toContain(
      'compression-test.yaml:3: kafka.compression: "brotli" is not one of none, gzip, snappy, lz4, zstd',
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// The Fetch response path, without a broker: kafkajs' own record-batch encoder and its Fetch v11 decoder
// (the version kafkajs uses with the mock and current brokers).

const kafkajsRequire = createRequire(join(repoRoot, "node_modules", "kafkajs", "index.js"));
type Encoded = { buffer: Buffer };
const Record = kafkajsRequire("./src/protocol/recordBatch/record/v0/index.js") as (r: {
  offsetDelta: number;
  key: Buffer;
  value: Buffer;
}) => Encoded;
const { RecordBatch } = kafkajsRequire("./src/protocol/recordBatch/v0/index.js") as {
  RecordBatch: (b: {
    compression: number;
    firstOffset: unknown;
    lastOffsetDelta: number;
    records: Encoded[];
  }) => Promise<Encoded>;
};
const Long = kafkajsRequire("./src/utils/long.js") as { fromInt(n: number): unknown };
const fetchV11 = kafkajsRequire("./src/protocol/requests/fetch/v11/response.js") as {
  decode(raw: Buffer): Promise<{
    responses: { topicName: string; partitions: { partition: number; messages: { offset: string }[] }[] }[];
  }>;
};

async function batch(codec: CodecName, firstOffset: number, count: number, corrupt = false): Promise<Buffer> {
  const records = Array.from({ length: count }, (_, i) =>
    Record({ offsetDelta: i, key: Buffer.from(`k${i}`), value: SAMPLE.subarray(i * 1000, i * 1000 + 4000) }),
  );
  const encoded = await RecordBatch({
    compression: TYPE[codec],
    firstOffset: Long.fromInt(firstOffset),
    lastOffsetDelta: count - 1,
    records,
  });
  const bytes = Buffer.from(encoded.buffer);
  // the compressed records start after the 61-byte batch header; garble their middle
  if (corrupt) bytes.fill(0x5a, 61 + 20, bytes.length - 8);
  return bytes;
}

/** A Fetch v11 response: one topic, the given partitions and their record sets. */
function fetchResponse(topic: string, partitions: [number, Buffer][]): Buffer {
  const parts: Buffer[] = [];
  const i16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
  const i32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  const i64 = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt(n));
    return b;
  };
  parts.push(i32(0), i16(0), i32(0), i32(1), i16(topic.length), Buffer.from(topic), i32(partitions.length));
  for (const [partition, records] of partitions) {
    // partition, error, high watermark, last stable, log start, aborted (none), preferred replica, records
    parts.push(
      i32(partition),
      i16(0),
      i64(100),
      i64(100),
      i64(0),
      i32(-1),
      i32(-1),
      i32(records.length),
      records,
    );
  }
  return Buffer.concat(parts);
}

describe("a Fetch response with a batch that cannot be decompressed", () => {
  it.each(["lz4", "zstd"] as const)(
    "%s: the records before it are delivered; a fetch starting at it fails naming topic, partition, offset, codec",
    async (codec) => {
      const good = await batch(codec, 0, 5);
      const bad = await batch(codec, 5, 3, true);
      const after = await batch(codec, 8, 4);
      const other = await batch("gzip", 40, 2);
      // partition 1 holds good, bad, after; partition 2 is fine and must not be held back by partition 1
      const decoded = await fetchV11.decode(
        fetchResponse("dbserver1.inventory.orders", [
          [1, Buffer.concat([good, bad, after])],
          [2, other],
        ]),
      );
      const parts = decoded.responses[0]!.partitions;
      expect(parts.map((p) => [p.partition, p.messages.map((m) => m.offset)])).toEqual([
        [1, ["0", "1", "2", "3", "4"]],
        [2, ["40", "41"]],
      ]);

      const err = await fetchV11
        .decode(fetchResponse("dbserver1.inventory.orders", [[1, Buffer.concat([bad, after])]]))
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(BatchDecompressionError);
      const e = err as BatchDecompressionError;
      expect([e.topic, e.partition, e.offset, e.lastOffset, e.codec]).toEqual([
        "dbserver1.inventory.orders",
        1,
        "5",
        "7",
        codec,
      ]);
      expect(e.message).toMatch(
        new RegExp(
          `^cannot decompress the record batch at topic dbserver1\\.inventory\\.orders partition 1 offset 5 ` +
            `\\(records 5–7\\), codec ${codec}: .+`,
        ),
      );
      expect(e.retriable).toBe(false);
    },
  );

  it("legacy message sets (magic 1): a compressed wrapper message that cannot be decompressed is named too", async () => {
    // offset, size, crc, magic 1, attributes (codec), timestamp, key (null), value (the compressed inner set)
    const value = Buffer.alloc(300, 0x5a);
    const body = Buffer.alloc(4 + 1 + 1 + 8 + 4 + 4);
    body.writeInt8(1, 4);
    body.writeInt8(TYPE.zstd, 5);
    body.writeInt32BE(-1, 14);
    body.writeInt32BE(value.length, 18);
    const head = Buffer.alloc(12);
    head.writeBigInt64BE(17n);
    head.writeInt32BE(body.length + value.length, 8);
    const err = await fetchV11
      .decode(fetchResponse("legacy", [[0, Buffer.concat([head, body, value])]]))
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(BatchDecompressionError);
    expect((err as Error).message).toMatch(
      /^cannot decompress the record batch at topic legacy partition 0 offset 17, codec zstd: .+/,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// On the mock cluster, with kcat (librdkafka) on the other side.

interface Output {
  topic: string;
  key: string | null;
  headers: Record<string, string>;
}

/** `changecast replay` of the capture files: the reference outputs, by ce_id. */
async function replayReference(config: string): Promise<Map<string, Output>> {
  // the offline processor over every captured topic, as replay does (aggregates complete once END is read)
  // kcat -P sends no record headers: the key-change headers of the captures are not produced either
  const views = await expectedViews(config, { headers: false, topics: PRODUCED });
  return new Map([...views].map(([id, v]) => [id, { topic: v.topic, key: v.key, headers: v.headers }]));
}

/** Produces a capture file with kcat: keys and values as captured, tombstones as null values. */
async function kcatProduce(bootstrap: string, file: string, codec: KafkaCompression): Promise<void> {
  const lines = readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { topic: string; key: string | null; payload: string | null });
  const topic = lines[0]!.topic;
  const input = lines.map((r) => `${r.key ?? ""}\t${r.payload ?? ""}\n`).join("");
  const args = [
    "-P",
    "-b",
    bootstrap,
    "-t",
    topic,
    "-K",
    "\t",
    "-Z",
    ...(codec === "none" ? [] : ["-z", codec]),
  ];
  await new Promise<void>((done, fail) => {
    const child = spawn("kcat", args, { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", fail);
    child.on("exit", (code) => (code === 0 ? done() : fail(new Error(`kcat -P exited ${code}: ${stderr}`))));
    child.stdin.end(input);
  });
}

/** Reads topics to their end with kcat (a librdkafka consumer): topic, key and headers of every record. */
async function kcatConsume(bootstrap: string, topics: string[]): Promise<Output[]> {
  const all: Output[] = [];
  for (const topic of topics) {
    const { stdout } = await run("kcat", ["-C", "-b", bootstrap, "-t", topic, "-e", "-q", "-J"], {
      maxBuffer: 64 * 1024 * 1024,
    });
    for (const line of stdout.split("\n")) {
      if (!line.trim()) continue;
      const r = JSON.parse(line) as { topic: string; key: string | null; headers?: string[] };
      const headers: Record<string, string> = {};
      for (let i = 0; i + 1 < (r.headers ?? []).length; i += 2) headers[r.headers![i]!] = r.headers![i + 1]!;
      all.push({ topic: r.topic, key: r.key, headers });
    }
  }
  return all;
}

function withCompression(config: string, compression: KafkaCompression): void {
  const text = readFileSync(config, "utf8");
  if (!/^kafka:\n/m.test(text)) throw new Error("no kafka: section in the example config");
  writeFileSync(config, text.replace(/^kafka:\n/m, `kafka:\n  compression: ${compression}\n`));
}

let kcatAvailable = false;
beforeAll(async () => {
  kcatAvailable = await run("kcat", ["-V"]).then(
    () => true,
    () => false,
  );
});

describe.each(
  KAFKA_CLIENTS_UNDER_TEST.flatMap((client) =>
    (
      [
        ["lz4", "exactly-once"],
        ["zstd", "at-least-once"],
        ["snappy", "exactly-once"],
        ["gzip", "at-least-once"],
        ["none", "at-least-once"],
      ] as const
    ).map(([codec, delivery]) => [codec, delivery, client] as const),
  ),
)("Debezium topics produced by kcat with %s (%s, %s)", (codec, delivery, client) => {
  let mock: MockKafka | undefined;
  afterEach(async () => {
    await mock?.stop();
    mock = undefined;
  });

  it(`are mapped completely, and the events published with kafka.compression=${codec} are read by kcat`, async () => {
    // kcat is a Debian package (scripts/setup-test-infra.sh installs it)
    expect(kcatAvailable, "kcat is not installed").toBe(true);
    mock = await startMockKafka({ brokers: 1 });
    const files = examplePipeline({ brokers: mock.bootstrap, registryUrl: "", delivery, client });
    withCompression(files.config, codec);
    const reference = await replayReference(files.config);
    expect(reference.size).toBeGreaterThan(500);
    for (const file of CAPTURES) {
      const topic = (JSON.parse(readFileSync(file, "utf8").split("\n")[0]!) as { topic: string }).topic;
      if (producedFile(file)) await kcatProduce(mock.bootstrap, file, codec);
      else await mock.createTopic(topic, 1);
    }

    const before = codecCounts();
    const pipeline = await openPipeline(files.config);
    expect(pipeline.config.kafka.compression).toBe(codec);
    const controller = new AbortController();
    const worker = runKafkaWorker(pipeline, {
      signal: controller.signal,
      logger: pino({ level: "silent" }),
      env: { KAFKA_SESSION_TIMEOUT_MS: "6000", KAFKA_HEARTBEAT_INTERVAL_MS: "1000" },
    });
    const outputTopics = [...new Set([...reference.values()].map((o) => o.topic))].sort();
    let received: Output[] = [];
    try {
      await waitFor(
        "every reference event",
        async () => {
          // an output topic the worker has not created yet is an error for kcat: not yet
          received = await kcatConsume(mock!.bootstrap, outputTopics).catch(() => []);
          return new Set(received.map((r) => r.headers.ce_id)).size >= reference.size;
        },
        120_000,
      );
    } finally {
      controller.abort();
    }
    const stats = await worker;
    await pipeline.close();
    const after = codecCounts();

    // librdkafka (kafka.client: librdkafka) compresses and decompresses natively, without changecast's codecs:
    // there the complete mapping and kcat reading the outputs are the proof
    if (codec !== "none" && client === "kafkajs") {
      // the batches really were compressed both ways (librdkafka skips compression that does not pay off)
      expect(after[codec].decompressed).toBeGreaterThan(before[codec].decompressed);
      expect(after[codec].compressed).toBeGreaterThan(before[codec].compressed);
    }
    // and with no other codec
    for (const other of CODECS.filter((c) => c !== codec))
      expect(after[other].compressed).toBe(before[other].compressed);
    expect(stats.balanced).toBe(true);

    const ids = received.map((r) => r.headers.ce_id!);
    expect(new Set(ids).size).toBe(ids.length); // no duplicate
    expect([...ids].sort()).toEqual([...reference.keys()].sort());
    for (const r of received) {
      const ref = reference.get(r.headers.ce_id!)!;
      expect({ topic: r.topic, key: r.key, headers: r.headers }).toEqual(ref);
    }
  }, 240_000);
});

describe.each(KAFKA_CLIENTS_UNDER_TEST)("a source batch that cannot be decompressed (%s)", (client) => {
  let mock: MockKafka | undefined;
  afterEach(async () => {
    await mock?.stop();
    mock = undefined;
  });

  it(
    client === "kafkajs"
      ? "stops the CLI worker (exit 2) with one error naming topic, partition, offset and codec; all before it is committed"
      : "stops the CLI worker (exit 2) with librdkafka's error; all before it is committed, nothing from it on",
    async () => {
      mock = await startMockKafka({ brokers: 1 });
      const files = examplePipeline({
        brokers: mock.bootstrap,
        registryUrl: "",
        delivery: "at-least-once",
        client,
      });
      // products: a table no other is bootstrapped from (customers is, as the parent of orders), so the worker
      // itself reads the bad batch
      const topic = "dbserver1.inventory.products";
      for (const file of CAPTURES) {
        const t = JSON.parse(readFileSync(file, "utf8").split("\n")[0]!) as { topic: string };
        if (t.topic !== topic) await mock.createTopic(t.topic, 1);
      }
      await mock.createTopic(topic, 1);
      const productsFile = CAPTURES.find((f) => f.endsWith(`${topic}.jsonl`))!;
      const messages: Message[] = readFileSync(productsFile, "utf8")
        .split("\n")
        .filter((l) => l.trim())
        .slice(0, 20)
        .map((l) => {
          const r = JSON.parse(l) as { key: string | null; payload: string | null };
          return { key: r.key, value: r.payload };
        });
      const kafka = quietKafka(mock.brokers);
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      const lz4 = codecTable[CompressionTypes.LZ4]!;
      try {
        // offsets 0–7 fine, 8–11 a garbled lz4 batch, 12–19 fine again
        const send = (m: Message[]) =>
          producer.send({
            topic,
            messages: m.map((x) => ({ ...x, partition: 0 })),
            compression: CompressionTypes.LZ4,
          });
        await send(messages.slice(0, 8));
        codecTable[CompressionTypes.LZ4] = () => ({
          compress: async (encoder) => {
            const frame = await lz4().compress(encoder);
            return Buffer.concat([frame.subarray(0, 7), Buffer.alloc(frame.length - 7, 0x5a)]);
          },
          decompress: (b) => lz4().decompress(b),
        });
        await send(messages.slice(8, 12));
        codecTable[CompressionTypes.LZ4] = lz4;
        await send(messages.slice(12));

        // publishing: a codec failing is fatal for the transport (it would fail the same way on every retry)
        codecTable[CompressionTypes.LZ4] = () => ({
          compress: () => Promise.reject(new CompressionCodecError("lz4", "compress", "out of memory")),
          decompress: (b) => lz4().decompress(b),
        });
        const publishError = await send(messages.slice(0, 1)).then(
          () => null,
          (e: unknown) => e,
        );
        codecTable[CompressionTypes.LZ4] = lz4;
        expect((publishError as Error).message).toBe("lz4 compression failed: out of memory");
        expect(classifyFailure(publishError)).toBe("fatal");
      } finally {
        codecTable[CompressionTypes.LZ4] = lz4;
        await producer.disconnect();
      }

      const child = spawn(
        process.execPath,
        ["--import", "tsx", join(repoRoot, "src", "cli", "main.ts"), "run", "--config", files.config],
        {
          cwd: repoRoot,
          env: { ...process.env, LOG_LEVEL: "info", KAFKA_SESSION_TIMEOUT_MS: "6000" },
          stdio: ["ignore", "ignore", "pipe"],
        },
      );
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
      const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
      const code = await exited;
      clearTimeout(timer);

      expect(code, stderr.slice(-3_000)).toBe(2);
      if (client === "librdkafka") {
        // librdkafka reports the batch as a consume error (its own message, no offset range): the worker stops
        // with PUBLISH_KAFKA_FATAL and nothing from the batch on is committed
        expect(stderr).toMatch(/librdkafka error -19[89]/);
        const report = await partitionReport(kafka, topic, consumerGroupId("inventory"));
        expect(report).toEqual([{ partition: 0, low: "0", high: "20", committed: "8" }]);
        return;
      }
      const lines = stderr.trim().split("\n");
      // one plain line says it all (the JSON log lines are written asynchronously, before or after it)
      const plain = lines.filter((l) => l.startsWith("changecast: "));
      expect(plain).toHaveLength(1);
      expect(plain[0]).toMatch(
        /^changecast: cannot decompress the record batch at topic dbserver1\.inventory\.products partition 0 offset 8 \(records 8–11\), codec lz4: .+/,
      );
      const logged = lines
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.level === 50 && l.codec !== undefined);
      // and the worker's error log carries the same as fields
      expect(logged, stderr.slice(-3_000)).toHaveLength(1);
      expect(logged[0]).toMatchObject({
        topic: "dbserver1.inventory.products",
        partition: 0,
        offset: "8",
        lastOffset: "11",
        codec: "lz4",
      });
      // everything before the batch was mapped and committed, nothing from it on
      const report = await partitionReport(kafka, topic, consumerGroupId("inventory"));
      expect(report).toEqual([{ partition: 0, low: "0", high: "20", committed: "8" }]);
      const events = await partitionReport(kafka, "inventory.product-events");
      expect(events.reduce((n, p) => n + Number(p.high), 0)).toBeGreaterThan(0);
    },
    180_000,
  );
});
