// Table state on Kafka: two worker processes of one consumer group, table state in Postgres, one of them
// SIGKILLed at random moments ≥ 10 times (each kill and restart is a rebalance) while a stream of document
// changes arrives. The documents table runs under REPLICA IDENTITY DEFAULT: an update that leaves the TOASTed
// body alone carries no `before` and the body as `__debezium_unavailable_value`; every event must carry the
// full body (TOAST fill), `changed` must be right (before-image fill), and every label looked up in the code
// table (whose topic has more partitions than the documents topic) must be the one a model of the source
// tables gives. Accounting by ce_id: every expected event present, nothing unexpected, duplicates (at-least-
// once) only as copies of the same event with the same value.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import avro from "avsc";
import { CompressionTypes, type Message } from "kafkajs";
import { describe, expect, it } from "vitest";
import { openPipeline } from "../../src/cli/pipeline.js";
import type { SourceRecord } from "../../src/decode/change-event.js";
import { consumeUntil, partitionReport, quietKafka, withProducer, type Received } from "./helpers.js";
import {
  expectCleanExits,
  killSecondWorkerRepeatedly,
  postgresAndMockKafka,
  runToTheEnd,
  sleep,
  withWorkers,
} from "./worker-process.js";

const CODES_TOPIC = "dbserver1.test.codes";
const DOCS_TOPIC = "dbserver1.test.docs";
const EVENT_TOPIC = "test.doc-events";
const CODE_PARTITIONS = 8;
const DOC_PARTITIONS = 4;
const EVENT_PARTITIONS = 8;
const CODES = 64;
const DOCS = 400;
const N = 16_000;
const KILLS = 12;
const PLACEHOLDER = "__debezium_unavailable_value";

const SCHEMA = {
  type: "record",
  name: "DocChanged",
  namespace: "io.example.test",
  fields: [
    { name: "id", type: "long" },
    { name: "seq", type: "long" },
    { name: "title", type: "string" },
    { name: "body", type: "string" },
    { name: "code", type: "string" },
    { name: "label", type: ["null", "string"], default: null },
    { name: "bodyChanged", type: "boolean" },
  ],
};

function pipelineFiles(stateUrl: string): string {
  const dir = mkdtempSync(join(tmpdir(), "changecast-state-kill-"));
  mkdirSync(join(dir, "schemas"));
  mkdirSync(join(dir, "transforms"));
  writeFileSync(join(dir, "schemas", "DocChanged.avsc"), JSON.stringify(SCHEMA, null, 2));
  writeFileSync(
    join(dir, "transforms", "codes.yaml"),
    ["table: test.codes", "state: rows", "events: []", ""].join("\n"),
  );
  writeFileSync(
    join(dir, "transforms", "docs.yaml"),
    [
      "table: test.docs",
      "state: rows",
      "events:",
      "  - name: DocChanged",
      "    schema: schemas/DocChanged.avsc",
      `    topic: ${EVENT_TOPIC}`,
      '    when: op == "c" || op == "u"',
      "    key: after.id",
      "    fields:",
      "      id: after.id",
      "      seq: after.seq",
      "      title: after.title",
      "      body: after.body",
      "      code: after.code",
      '      label: lookup("test.codes", after.code).label',
      '      bodyChanged: op == "c" || "body" in changed',
      "",
    ].join("\n"),
  );
  const config = join(dir, "changecast.yaml");
  writeFileSync(
    config,
    [
      "pipeline: docs",
      "source:",
      "  connector: postgres",
      "  topicPrefix: dbserver1",
      "  format: json",
      "kafka:",
      "  brokers: ${KAFKA_BROKERS}",
      "registry:",
      '  url: ""',
      `state: ${stateUrl}`,
      "delivery: at-least-once",
      "errors:",
      "  tolerance: all",
      "  deadLetterTopic: changecast.docs.dlq",
      "transforms: [transforms/*.yaml]",
      "",
    ].join("\n"),
  );
  return config;
}

// --- the source tables and their model ----------------------------------------------------------

interface Doc {
  id: number;
  seq: number;
  code: string;
  title: string;
  body: string;
}

/** A Debezium (JsonConverter, schemas.enable=false) change of `table` at log position `lsn`. */
function record(
  table: "codes" | "docs",
  key: Record<string, unknown>,
  op: "c" | "u",
  after: Record<string, unknown>,
  lsn: number,
): Message {
  const ts = 1_700_000_000_000 + Math.floor(lsn / 8);
  return {
    key: JSON.stringify(key),
    value: JSON.stringify({
      before: null,
      after,
      source: {
        version: "3.6.1.Final",
        connector: "postgresql",
        name: "dbserver1",
        ts_ms: ts,
        snapshot: "false",
        db: "postgres",
        sequence: `["${lsn}","${lsn}"]`,
        schema: "test",
        table,
        txId: 1_000 + Math.floor(lsn / 8),
        lsn,
        xmin: null,
      },
      op,
      ts_ms: ts + 5,
    }),
    timestamp: String(ts),
  };
}

const bodyOf = (id: number, version: number): string =>
  `Document ${id}, text version ${version}. ` + "Lorem ipsum dolor sit amet. ".repeat(8);

/**
 * The code table (relabelled a few times, all before the documents stream: the label a document sees is the
 * code's final one, whatever worker maps it after whichever restart) and the documents' changes with what each
 * event must say.
 */
function model(): {
  codes: Message[];
  labels: Map<string, string>;
  docs: Message[];
  expected: Map<number, Record<string, unknown>>;
} {
  let lsn = 40_000_000;
  const codes: Message[] = [];
  const labels = new Map<string, string>();
  for (let round = 0; round < 3; round++)
    for (let c = 0; c < CODES; c++) {
      const code = `C${c}`;
      const label = `Label of ${code}, revision ${round}`;
      labels.set(code, label);
      codes.push(record("codes", { code }, round === 0 ? "c" : "u", { code, label }, (lsn += 8)));
    }
  const docs: Message[] = [];
  const expected = new Map<number, Record<string, unknown>>();
  const current = new Map<number, Doc & { version: number }>();
  for (let seq = 0; seq < N; seq++) {
    const id = (seq * 7919) % DOCS;
    const prev = current.get(id);
    // a new text every 5th change of a document; a new code every 11th
    const textChange = prev === undefined || seq % 5 === 0;
    const version = prev === undefined ? 0 : prev.version + (textChange ? 1 : 0);
    const code = prev === undefined || seq % 11 === 0 ? `C${(seq * 31 + id) % CODES}` : prev.code;
    const doc = { id, seq, code, title: `Title ${id}/${seq}`, body: bodyOf(id, version), version };
    current.set(id, doc);
    const after = { id, seq, code, title: doc.title, body: textChange ? doc.body : PLACEHOLDER };
    docs.push(record("docs", { id }, prev === undefined ? "c" : "u", after, (lsn += 8)));
    expected.set(seq, {
      id,
      seq,
      title: doc.title,
      body: doc.body,
      code,
      label: labels.get(code) ?? null,
      bodyChanged: textChange,
    });
  }
  return { codes, labels, docs, expected };
}

/** The ce_id of every document change, from the same processor offline (ids depend on the source change only). */
async function expectedIds(config: string, codes: Message[], docs: Message[]): Promise<Map<string, number>> {
  const pipeline = await openPipeline(config, {
    stateUrl: "sqlite::memory:",
    embeddedRegistry: true,
    tableState: "memory",
  });
  const ids = new Map<string, number>();
  try {
    const all: [string, Message][] = [
      ...codes.map((m) => [CODES_TOPIC, m] as [string, Message]),
      ...docs.map((m) => [DOCS_TOPIC, m] as [string, Message]),
    ];
    for (const [i, [topic, m]] of all.entries()) {
      const r: SourceRecord = {
        topic,
        partition: 0,
        offset: String(i),
        timestamp: null,
        headers: {},
        key: Buffer.from(m.key as string),
        value: Buffer.from(m.value as string),
      };
      await pipeline.processor.prepare([r]);
      const outcome = pipeline.processor.process(r);
      await pipeline.processor.beforeCommit([r]);
      if (topic !== DOCS_TOPIC) continue;
      if (outcome.kind !== "events") throw new Error(`document change ${i} did not map: ${outcome.kind}`);
      const seq = Number((JSON.parse(m.value as string) as { after: { seq: number } }).after.seq);
      for (const e of outcome.records) ids.set(e.view.headers.ce_id!, seq);
    }
  } finally {
    await pipeline.close();
  }
  return ids;
}

async function produce(
  kafka: ReturnType<typeof quietKafka>,
  topic: string,
  messages: Message[],
  opts: { chunk: number; pauseMs?: number },
): Promise<void> {
  await withProducer(kafka, async (p) => {
    for (let i = 0; i < messages.length; i += opts.chunk) {
      await p.send({
        topic,
        messages: messages.slice(i, i + opts.chunk),
        acks: -1,
        compression: CompressionTypes.GZIP,
      });
      if (opts.pauseMs) await sleep(opts.pauseMs);
    }
  });
}

describe("table state on Kafka: two workers, Postgres state, kill -9 loop", () => {
  const infra = postgresAndMockKafka();

  it(
    "fills TOAST values and before-images and looks labels up correctly across rebalances and SIGKILLs",
    { timeout: 600_000 },
    async () => {
      const mock = await infra.startMock([
        { name: CODES_TOPIC, partitions: CODE_PARTITIONS },
        { name: DOCS_TOPIC, partitions: DOC_PARTITIONS },
        { name: EVENT_TOPIC, partitions: EVENT_PARTITIONS },
      ]);
      const config = pipelineFiles(infra.postgres().url);
      const m = model();
      const ids = await expectedIds(config, m.codes, m.docs);
      expect(ids.size).toBe(N);
      const kafka = quietKafka(mock.brokers);
      // the code table first (its topic is read to its end before any document is mapped), then a backlog of
      // documents; the rest arrives while the workers are being killed
      await produce(kafka, CODES_TOPIC, m.codes, { chunk: 64 });
      await produce(kafka, DOCS_TOPIC, m.docs.slice(0, N / 4), { chunk: 1_000 });
      const streaming = produce(kafka, DOCS_TOPIC, m.docs.slice(N / 4), { chunk: 500, pauseMs: 700 });

      await withWorkers(config, mock.bootstrap, async (workers) => {
        // worker A stays up the whole time; worker B is killed and restarted (each time a rebalance); A once too
        const kills = await killSecondWorkerRepeatedly(workers, { kills: KILLS, minPauseMs: 500 });
        await streaming;
        const { result: received, exits } = await runToTheEnd(workers, 2, () =>
          consumeUntil(
            kafka,
            [EVENT_TOPIC],
            (all) => new Set(all.map((r) => r.headers.ce_id)).size >= ids.size,
            { idleMs: 2_000, timeoutMs: 240_000 },
          ),
        );

        const report = check(received, ids, m.expected);
        const source = await partitionReport(kafka, DOCS_TOPIC, "changecast.docs");
        console.log(`[state kill loop] ${kills} kills; ${workers.summary()}; ${report.summary}`);
        expect(kills).toBeGreaterThanOrEqual(10);
        expect(report.missing, report.summary).toBe(0);
        expect(report.unexpected, report.summary).toBe(0);
        expect(report.wrong, report.summary).toEqual([]);
        // every document change was committed; the mock dropped nothing
        expect(
          source.every((p) => p.low === "0" && p.committed === p.high),
          JSON.stringify(source),
        ).toBe(true);
        expectCleanExits(workers, exits);
      });
    },
  );
});

/** Every received event against the model: by ce_id, each copy's value. */
function check(
  received: Received[],
  ids: Map<string, number>,
  expected: Map<number, Record<string, unknown>>,
): { missing: number; unexpected: number; wrong: string[]; summary: string } {
  const type = avro.Type.forSchema(SCHEMA as avro.Schema);
  const seen = new Map<string, number>();
  const wrong: string[] = [];
  let unexpected = 0;
  for (const r of received) {
    const id = r.headers.ce_id ?? "";
    seen.set(id, (seen.get(id) ?? 0) + 1);
    const seq = ids.get(id);
    if (seq === undefined) {
      unexpected++;
      continue;
    }
    const value = type.fromBuffer(r.value!.subarray(5)) as Record<string, unknown>;
    const plain = { ...value, id: Number(value.id), seq: Number(value.seq) };
    const want = expected.get(seq);
    if (JSON.stringify(plain) !== JSON.stringify(want) && wrong.length < 5)
      wrong.push(`seq ${seq}: got ${JSON.stringify(plain)}, want ${JSON.stringify(want)}`);
  }
  const missing = [...ids.keys()].filter((id) => !seen.has(id)).length;
  const duplicates = [...seen.values()].reduce((n, c) => n + c - 1, 0);
  return {
    missing,
    unexpected,
    wrong,
    summary:
      `${received.length} records, ${seen.size} distinct ce_id of ${ids.size}, ${missing} missing, ` +
      `${unexpected} unexpected, ${duplicates} duplicates, ${wrong.length} wrong values`,
  };
}
