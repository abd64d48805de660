// The Kafka bootstrap of the table state: the looked-up table's topic is read to its current end before the worker
// maps anything, so a document whose code is produced after it (on another partition and topic) is mapped with the
// code's label; a second start reads only what is new (from the state's applied offsets).
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import avro from "avsc";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { openPipeline } from "../../src/cli/pipeline.js";
import { runKafkaWorker } from "../../src/cli/run.js";
import { readToCurrentEnd } from "../../src/kafka/state-bootstrap.js";
import { kafkaClientConfig } from "../../src/kafka/kafka-client.js";
import { startMockKafka, type MockKafka } from "../infra/mock-kafka.js";
import { consumeUntil, quietKafka, withProducer } from "./helpers.js";

const CODES = "dbserver1.test.codes";
const DOCS = "dbserver1.test.docs";

function message(table: string, key: object, after: object, lsn: number) {
  const [schema, name] = table.split(".");
  return {
    key: JSON.stringify(key),
    value: JSON.stringify({
      before: null,
      after,
      source: {
        connector: "postgresql",
        name: "dbserver1",
        ts_ms: 1710497000000 + lsn,
        snapshot: "false",
        schema,
        table: name,
        lsn,
      },
      op: "c",
      ts_ms: 1710497000000 + lsn,
    }),
  };
}

function project(brokers: string): string {
  const dir = mkdtempSync(join(tmpdir(), "changecast-bootstrap-"));
  mkdirSync(join(dir, "t"));
  writeFileSync(
    join(dir, "Doc.avsc"),
    JSON.stringify({
      type: "record",
      name: "DocSeen",
      namespace: "io.test",
      fields: [
        { name: "id", type: "long" },
        { name: "label", type: ["null", "string"], default: null },
      ],
    }),
  );
  writeFileSync(join(dir, "t", "codes.yaml"), "table: test.codes\nstate: rows\nevents: []\n");
  writeFileSync(
    join(dir, "t", "docs.yaml"),
    [
      "table: test.docs",
      "events:",
      "  - name: DocSeen",
      "    schema: Doc.avsc",
      "    topic: doc-events",
      "    key: after.id",
      "    fields:",
      "      id: after.id",
      '      label: \'lookup("test.codes", after.code) == null ? null : lookup("test.codes", after.code).label\'',
    ].join("\n"),
  );
  const config = join(dir, "changecast.yaml");
  writeFileSync(
    config,
    [
      "pipeline: bootstrap",
      "source: { connector: postgres, topicPrefix: dbserver1 }",
      `kafka: { brokers: "${brokers}" }`,
      "state: sqlite:state.sqlite",
      "delivery: at-least-once",
      "transforms: [t/*.yaml]",
      "",
    ].join("\n"),
  );
  return config;
}

describe("table-state bootstrap on Kafka", () => {
  let mock: MockKafka;
  afterAll(async () => {
    await mock?.stop();
  });

  it("reads looked-up topics to their end first, then resumes from the applied offsets", async () => {
    mock = await startMockKafka({
      brokers: 1,
      topics: [
        { name: CODES, partitions: 2 },
        { name: DOCS, partitions: 1 },
        { name: "doc-events", partitions: 1 },
      ],
    });
    const kafka = quietKafka(mock.brokers);
    await withProducer(kafka, async (p) => {
      // the documents first; their codes later, on both partitions of the codes topic
      await p.send({
        topic: DOCS,
        acks: -1,
        messages: [1, 2].map((id) => message("test.docs", { id }, { id, code: `C${id}` }, 10 + id)),
      });
      await p.send({
        topic: CODES,
        acks: -1,
        messages: [1, 2].map((n) => ({
          ...message("test.codes", { code: `C${n}` }, { code: `C${n}`, label: `L${n}` }, 20 + n),
          partition: n - 1,
        })),
      });
    });

    const config = project(mock.bootstrap);
    const pipeline = await openPipeline(config);
    const controller = new AbortController();
    const worker = runKafkaWorker(pipeline, { signal: controller.signal, logger: pino({ level: "silent" }) });
    const received = await consumeUntil(kafka, ["doc-events"], (all) => all.length >= 2, { idleMs: 1_500 });
    controller.abort();
    await worker;

    const type = avro.Type.forSchema({
      type: "record",
      name: "DocSeen",
      namespace: "io.test",
      fields: [
        { name: "id", type: "long" },
        { name: "label", type: ["null", "string"], default: null },
      ],
    });
    const values = received.map(
      (r) => type.fromBuffer(r.value!.subarray(5)) as { id: number; label: string | null },
    );
    expect(values.map((v) => [v.id, v.label]).sort()).toEqual([
      [1, "L1"],
      [2, "L2"],
    ]);
    // the applied offsets the next bootstrap resumes from: both partitions of the codes topic read to their end
    const applied = await pipeline.tableState!.runtime.appliedOffsets([CODES]);
    expect(applied).toEqual(
      new Map([
        [`${CODES}/0`, 1n],
        [`${CODES}/1`, 1n],
      ]),
    );
    // nothing new: a bootstrap from there reads nothing
    const again: unknown[] = [];
    for await (const batch of readToCurrentEnd({
      client: kafkaClientConfig({ brokers: mock.brokers, clientId: "t" }),
      pipeline: "bootstrap",
      topics: [CODES],
      applied,
    }))
      again.push(...batch);
    expect(again).toEqual([]);
    await pipeline.close();
  });
});
