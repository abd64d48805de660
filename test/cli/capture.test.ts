// `changecast capture` on the mock cluster: AvroConverter-encoded Debezium topics (writer schemas in a registry
// served over HTTP) captured to a file, then replayed and run in embedded mode with the broker and the registry
// gone — the same events as the JSON twins of the same records; and JSON topics, binary records included.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Message } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captureCommand } from "../../src/cli/capture.js";
import type { CommandIO } from "../../src/cli/io.js";
import { runRegistryServe } from "../../src/cli/registry-serve.js";
import { openPipeline } from "../../src/cli/pipeline.js";
import { replayCommand } from "../../src/cli/replay.js";
import { backfillEmbedded } from "../../src/migrate/backfill.js";
import { runCommand } from "../../src/cli/run.js";
import { formatCaptureLine, formatSchemaLine, parseCaptureLine } from "../../src/decode/kcat.js";
import { RemoteRegistry } from "../../src/schemas/remote-registry.js";
import { startMockKafka, type MockKafka } from "../infra/mock-kafka.js";
import {
  captureMessages,
  examplePipeline,
  itemRecord,
  quietKafka,
  repoRoot,
  SOURCE_TOPIC,
  syntheticPipeline,
  withProducer,
} from "../kafka/helpers.js";
import { Registry, shippedSchema, toAvroBytes } from "../support/avro-converter.js";
import { fixtureLine, tempProject } from "../support/project.js";

function collect(): CommandIO & { out: (l: string) => void; lines: string[]; errs: string[] } {
  const lines: string[] = [];
  const errs: string[] = [];
  return { lines, errs, out: (l) => lines.push(l), err: (l) => errs.push(l) };
}

async function replay(config: string, input: string): Promise<{ lines: string[]; errs: string[] }> {
  const io = collect();
  expect(await replayCommand({ config, input }, io)).toBe(0);
  return io;
}

/** Published records by ce_id (dead letters, which have no ce_id, left out), compared without `wire`. */
function byCeId(lines: string[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const line of lines) {
    const { wire: _wire, ...view } = JSON.parse(line) as { headers: Record<string, string>; wire?: unknown };
    const id = view.headers.ce_id;
    if (id !== undefined) out.set(id, view);
  }
  return out;
}

/** Rewrites a capture file with its schema lines first and its records by timestamp (stable). */
function inTimeOrder(file: string): void {
  const lines = readFileSync(file, "utf8").trim().split("\n");
  const parsed = lines.map((line, i) => ({ line, i, p: parseCaptureLine(line) }));
  const time = (x: (typeof parsed)[number]) => (x.p.kind === "record" ? (x.p.record.timestamp ?? 0) : -1);
  parsed.sort((a, b) => time(a) - time(b) || a.i - b.i);
  writeFileSync(file, parsed.map((x) => x.line).join("\n") + "\n");
}

const TABLE_TOPICS = [
  "dbserver1.inventory.addresses",
  "dbserver1.inventory.customers",
  "dbserver1.inventory.order_lines",
  "dbserver1.inventory.orders",
  "dbserver1.inventory.product_details",
  "dbserver1.inventory.products",
  // the transaction metadata (source.transactionTopic): BEGIN/END records that complete aggregates
  "dbserver1.transaction",
];

let mock: MockKafka;
let registry: { close(): Promise<void>; url: string } | null = null;

beforeAll(async () => {
  mock = await startMockKafka({
    brokers: 1,
    topics: [...TABLE_TOPICS, SOURCE_TOPIC].map((name) => ({ name, partitions: 2 })),
  });
  const dir = mkdtempSync(join(tmpdir(), "changecast-capture-registry-"));
  registry = await runRegistryServe({ port: 0, stateUrl: `sqlite:${join(dir, "r.sqlite")}`, baseDir: dir });
});
afterAll(async () => {
  await registry?.close();
  await mock?.stop();
});

describe("changecast capture", () => {
  it("captures JSON topics as kcat lines, base64 only for bytes that are not UTF-8, and --max tails", async () => {
    const kafka = quietKafka(mock.brokers);
    const poison = Buffer.from([0x00, 0xff, 0xfe, 0x7b]);
    const messages: Message[] = [itemRecord(1), itemRecord(2), itemRecord(3)];
    messages.push({ key: JSON.stringify({ id: 2 }), value: poison, headers: { h: "x" } });
    await withProducer(kafka, (p) => p.send({ topic: SOURCE_TOPIC, messages, acks: -1 }));

    const files = syntheticPipeline({ brokers: mock.bootstrap, delivery: "at-least-once" });
    const output = join(files.dir, "items.capture.jsonl");
    const io = collect();
    expect(await captureCommand({ config: files.config, topics: [], output }, io)).toBe(0);
    const lines = readFileSync(output, "utf8").trim().split("\n");
    expect(lines).toHaveLength(4);
    const records = lines.map((l) => {
      const parsed = parseCaptureLine(l);
      if (parsed.kind !== "record") throw new Error(l);
      return parsed.record;
    });
    // JSON records stay readable kcat text; the binary one is base64 and comes back byte for byte
    expect(lines.filter((l) => l.includes("Encoding"))).toHaveLength(1);
    const bad = records.find((r) => r.headers.h === "x")!;
    expect(bad.value!.equals(poison)).toBe(true);
    expect(bad.key!.toString()).toBe('{"id":2}');
    const texts = records.filter((r) => r !== bad).map((r) => r.value!.toString("utf8"));
    expect(texts.sort()).toEqual(
      [1, 2, 3].map((s) => Buffer.from(itemRecord(s).value as string).toString("utf8")).sort(),
    );

    // the command line: the same lines on stdout with --output -
    const cli = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        join(repoRoot, "src", "cli", "main.ts"),
        "capture",
        "-c",
        files.config,
        "-t",
        SOURCE_TOPIC,
        "-o",
        "-",
      ],
      { cwd: repoRoot, encoding: "utf8" },
    );
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout.trim().split("\n").sort()).toEqual([...lines].sort());

    const replayed = await replay(files.config, output);
    expect(byCeId(replayed.lines).size).toBe(3);
    expect(replayed.errs.at(-1)).toMatch(
      /4 records in = 3 mapped \(3 events out\) \+ 0 filtered \+ 1 dead letters/,
    );

    // without --from-beginning, --max 1 takes the last offset of each partition
    const tail = join(files.dir, "tail.jsonl");
    expect(
      await captureCommand({ config: files.config, topics: [SOURCE_TOPIC], output: tail, max: 1 }, collect()),
    ).toBe(0);
    const tailOffsets = readFileSync(tail, "utf8")
      .trim()
      .split("\n")
      .map((l) => parseCaptureLine(l))
      .map((p) => (p.kind === "record" ? `${p.record.partition}:${p.record.offset}` : ""));
    const last = new Map<number, number>();
    for (const r of records) last.set(r.partition, Math.max(last.get(r.partition) ?? -1, Number(r.offset)));
    expect(tailOffsets.sort()).toEqual([...last].map(([p, o]) => `${p}:${o}`).sort());
  });

  it("captures AvroConverter topics that replay and embedded run map offline to the JSON twins' events", async () => {
    const kafka = quietKafka(mock.brokers);
    // the JSON captures as AvroConverter would write them, schema ids from the served registry
    const local = new Registry();
    const remote = new RemoteRegistry(registry!.url);
    const ids = new Map<number, number>();
    const avroMessages = new Map<string, Message[]>();
    const json = captureMessages();
    let produced = 0;
    for (const topic of TABLE_TOPICS) {
      const list: Message[] = [];
      for (const [i, m] of (json.get(topic) ?? []).entries()) {
        const wire: (Buffer | null)[] = [];
        for (const [part, text] of [
          ["key", m.key],
          ["value", m.value],
        ] as const) {
          const bytes = toAvroBytes(
            text === null || text === undefined ? null : text.toString(),
            shippedSchema("postgres", topic, part),
            local,
          ).bytes;
          if (bytes !== null) {
            const localId = bytes.readUInt32BE(1);
            if (!ids.has(localId)) {
              const schema = await local.schemaById(localId);
              ids.set(localId, (await remote.register(`${topic}-${part}`, schema)).id);
            }
            bytes.writeUInt32BE(ids.get(localId)!, 1);
          }
          wire.push(bytes);
        }
        list.push({
          key: wire[0] ?? null,
          value: wire[1] ?? null,
          ...(m.timestamp ? { timestamp: m.timestamp } : {}),
          // headers are kept; a binary one is carried base64 (the first record of each topic)
          ...(i === 0 ? { headers: { trace: "t-1", raw: Buffer.from([0x00, 0xff]) } } : {}),
        });
      }
      avroMessages.set(topic, list);
      produced += list.length;
    }
    await remote.close();
    // registry ids start at 1 like the embedded registry's own (event schema) ids: offline decoding must not mix them
    expect([...ids.values()]).toContain(1);
    await withProducer(kafka, async (p) => {
      for (const [topic, messages] of avroMessages) await p.send({ topic, messages, acks: -1 });
    });

    const files = examplePipeline({
      brokers: mock.bootstrap,
      registryUrl: registry!.url,
      delivery: "exactly-once",
    });
    const jsonConfig = files.config;
    const avroConfig = join(files.dir, "avro.yaml");
    writeFileSync(avroConfig, readFileSync(jsonConfig, "utf8").replace("format: json", "format: avro"));
    const output = join(files.dir, "inventory.capture.jsonl");
    const io = collect();
    const captured = await captureCommand(
      { config: avroConfig, topics: [], output, fromBeginning: true },
      io,
    );
    expect(captured, io.errs.join("\n")).toBe(0);
    expect(io.errs.at(-1)).toMatch(
      new RegExp(
        `${produced} records of ${TABLE_TOPICS.length} topics \\(${2 * TABLE_TOPICS.length} partitions\\), ` +
          `${ids.size} writer schemas`,
      ),
    );

    const lines = readFileSync(output, "utf8").trim().split("\n");
    const parsed = lines.map((l) => parseCaptureLine(l));
    const schemaLines = parsed.filter((p) => p.kind === "schema");
    expect(schemaLines.map((p) => p.schemaId).sort()).toEqual([...ids.values()].sort());
    // every schema line comes before the first record that uses its id
    const seen = new Set<number>();
    for (const p of parsed) {
      if (p.kind === "schema") seen.add(p.schemaId);
      else
        for (const b of [p.record.key, p.record.value]) if (b) expect(seen.has(b.readUInt32BE(1))).toBe(true);
    }
    const records = parsed.flatMap((p) => (p.kind === "record" ? [p.record] : []));
    expect(records).toHaveLength(produced);
    // the bytes are the broker's, exactly, each key's records in the order produced
    const b64 = (b: Buffer | null) => (b === null ? "null" : b.toString("base64"));
    const sent = [...avroMessages].flatMap(([topic, list]) =>
      list.map((m) => `${topic} ${b64(m.key as Buffer)} ${m.timestamp} ${b64(m.value as Buffer | null)}`),
    );
    const got = records.map((r) => `${r.topic} ${b64(r.key)} ${r.timestamp} ${b64(r.value)}`);
    const perKey = (all: string[]) => {
      const m = new Map<string, string[]>();
      for (const s of all) {
        const k = s.split(" ").slice(0, 2).join(" ");
        m.set(k, [...(m.get(k) ?? []), s]);
      }
      return m;
    };
    expect(perKey(got)).toEqual(perKey(sent));
    expect(records.filter((r) => r.headers.trace === "t-1")).toHaveLength(TABLE_TOPICS.length);
    expect(records.find((r) => r.headers.trace === "t-1")!.headers.raw).toBe(
      Buffer.from([0x00, 0xff]).toString(),
    );

    // the reference: the JSON twins replayed, in one input (an order's aggregate completes with the END record
    // of its transaction, on another topic)
    const reference = new Map<string, unknown>();
    const twins = join(files.dir, "twins.json.jsonl");
    const textLines = TABLE_TOPICS.flatMap((topic) =>
      (json.get(topic) ?? []).map((m, i) =>
        formatCaptureLine({
          topic,
          partition: 0,
          offset: String(i),
          timestamp: m.timestamp ? Number(m.timestamp) : null,
          // the key-change headers of the captures (__debezium.newkey / oldkey) as the broker has them
          headers: Object.entries((m.headers ?? {}) as Record<string, string>),
          key: (m.key as Buffer | null) ?? null,
          value: (m.value as Buffer | null) ?? null,
        }),
      ),
    );
    writeFileSync(twins, textLines.join("\n") + "\n");
    inTimeOrder(twins);
    for (const [id, view] of byCeId((await replay(jsonConfig, twins)).lines)) reference.set(id, view);
    expect(reference.size).toBeGreaterThan(1000);

    // no broker, no registry from here on
    await registry!.close();
    registry = null;
    await mock.stop();

    // both inputs in time order, as the embedded run merges its files: a transaction's rows and END close
    // together (an aggregate completes before its transaction times out), customers before their orders
    inTimeOrder(output);
    const replayed = await replay(avroConfig, output);
    expect(replayed.errs.filter((e) => /^line \d+: dead letter/.test(e))).toEqual([]);
    expect(byCeId(replayed.lines)).toEqual(reference);

    const embedded = join(files.dir, "embedded.yaml");
    writeFileSync(
      embedded,
      readFileSync(avroConfig, "utf8")
        .replace(/^\s*brokers: .*$/m, '  brokers: ""')
        .replace(/^\s*url: .*$/m, '  url: ""')
        .replace(/^source:\n/m, `source:\n  files: [${output}]\n`)
        .replace(/^state: .*$/m, "state: sqlite:embedded.sqlite"),
    );
    const runIO = collect();
    expect(await runCommand({ config: embedded }, runIO)).toBe(0);
    const outDir = join(files.dir, ".changecast", "out");
    const published = readdirSync(outDir).flatMap((f) =>
      readFileSync(join(outDir, f), "utf8").trim().split("\n"),
    );
    expect(byCeId(published)).toEqual(reference);
    expect(runIO.lines.join("\n")).toMatch(new RegExp(`${produced} records in`));
  });
});

describe("offline writer schemas", () => {
  const schema = {
    type: "record",
    name: "Seen",
    namespace: "io.test",
    fields: [{ name: "id", type: "long" }],
  };
  const project = () =>
    tempProject({
      "changecast.yaml": [
        "pipeline: offline",
        "source: { connector: postgres, topicPrefix: dbserver1, format: avro }",
        "state: sqlite:state.sqlite",
        "transforms: [t.yaml]",
      ].join("\n"),
      "s.avsc": schema,
      "t.yaml": [
        "table: inventory.customers",
        "events:",
        "  - name: Seen",
        "    schema: s.avsc",
        "    topic: seen",
        "    key: after.id",
        "    fields: { id: after.id }",
      ].join("\n"),
    });

  /** The 05-create fixture as AvroConverter bytes, with its key and value schema lines. */
  function avroCapture(): { schemas: string[]; record: string } {
    const r = parseCaptureLine(fixtureLine("postgres", "05-create"));
    if (r.kind !== "record") throw new Error("fixture");
    const local = new Registry();
    const key = toAvroBytes(
      r.record.key!.toString(),
      shippedSchema("postgres", r.record.topic, "key"),
      local,
    ).bytes!;
    const value = toAvroBytes(
      r.record.value!.toString(),
      shippedSchema("postgres", r.record.topic, "value"),
      local,
    ).bytes!;
    const schemas = [key, value].map((b) => {
      const id = b.readUInt32BE(1);
      return formatSchemaLine(
        id,
        JSON.stringify(shippedSchema("postgres", r.record.topic, id === 100 ? "key" : "value")),
      );
    });
    const record = formatCaptureLine({ ...r.record, headers: [], key, value }, { base64: true });
    return { schemas, record };
  }

  it("embedded run resumed past the schema lines, and embedded backfill, decode with the capture's schemas", async () => {
    const dir = project();
    const { schemas, record } = avroCapture();
    const input = join(dir, "in.jsonl");
    const config = join(dir, "changecast.yaml");
    writeFileSync(
      config,
      readFileSync(config, "utf8").replace("format: avro }", "format: avro, files: [in.jsonl] }"),
    );
    writeFileSync(input, [...schemas, record].join("\n") + "\n");
    const first = collect();
    expect(await runCommand({ config }, first)).toBe(0);
    expect(first.lines.join("\n")).toMatch(/1 records in = 1 mapped/);
    // a second run starts after the committed line: the schema lines above it still count
    writeFileSync(input, [...schemas, record, record.replace('"offset":0', '"offset":1')].join("\n") + "\n");
    const second = collect();
    expect(await runCommand({ config }, second)).toBe(0);
    expect(second.lines.join("\n")).toMatch(/1 records in = 1 mapped/);

    // the embedded backfill of a new major reads the same files the same way
    writeFileSync(
      join(dir, "s2.avsc"),
      JSON.stringify({ ...schema, fields: [{ name: "id", type: "string" }] }),
    );
    writeFileSync(
      join(dir, "t.yaml"),
      readFileSync(join(dir, "t.yaml"), "utf8") +
        "\n    majors:\n      2:\n        schema: s2.avsc\n        fields: { id: string(after.id) }\n",
    );
    const pipeline = await openPipeline(config);
    try {
      const progress = await backfillEmbedded({
        config: pipeline.config,
        store: pipeline.store,
        registry: pipeline.registry,
        transforms: pipeline.transforms,
        event: "Seen",
        major: 2,
      });
      expect(progress).toMatchObject({ read: 2, published: 1, alreadyPresent: 1, failed: 0 });
    } finally {
      await pipeline.close();
    }
  });

  it("a record whose schema id has no schema line is a counted dead letter naming the id", async () => {
    const dir = project();
    const { schemas, record } = avroCapture();
    const input = join(dir, "in.jsonl");
    writeFileSync(input, [schemas[0], record, ...schemas, record].join("\n") + "\n");
    const { lines, errs } = await replay(join(dir, "changecast.yaml"), input);
    expect(errs[0]).toMatch(
      /line 2: dead letter: DECODE: value: unknown schema id 101: .*no schema line for it precedes its first record/,
    );
    // the unknown id stays unknown (ids are immutable): a later schema line does not change the verdict silently
    expect(errs.at(-1)).toMatch(/2 records in = 0 mapped \(0 events out\) \+ 0 filtered \+ 2 dead letters/);
    expect(lines).toHaveLength(2);
  });

  it("schema lines decode the records after them; two schemas under one id stop the run", async () => {
    const dir = project();
    const { schemas, record } = avroCapture();
    const input = join(dir, "in.jsonl");
    writeFileSync(input, [...schemas, record].join("\n") + "\n");
    const ok = await replay(join(dir, "changecast.yaml"), input);
    expect(ok.errs.at(-1)).toMatch(/1 records in = 1 mapped/);
    expect(JSON.parse(ok.lines[0]!).value).toEqual({ id: 1005 });

    writeFileSync(input, [...schemas, formatSchemaLine(100, '"string"'), record].join("\n") + "\n");
    await expect(replayCommand({ config: join(dir, "changecast.yaml"), input }, collect())).rejects.toThrow(
      /schema id 100 has two different schemas \(.*in\.jsonl:1 and .*in\.jsonl:3\)/,
    );
  });
});
