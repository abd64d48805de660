// `requires:` on Kafka with a backlog: children produced before their parents (other topic, other partitions),
// the parents renamed later, all in Kafka before the worker starts, the children spread over more source time
// than the timeout. Both event types go to one single-partition topic, so its offsets are the publish order: each
// child is published after its parent's event and sees the parent as that event shows it (created, or renamed if
// the worker read the rename first), never a change published after it; none times out because the parents'
// partitions were read after the children's.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import avro from "avsc";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { openPipeline } from "../../src/cli/pipeline.js";
import { runKafkaWorker } from "../../src/cli/run.js";
import { startMockKafka, type MockKafka } from "../infra/mock-kafka.js";
import { consumeUntil, KAFKA_CLIENTS_UNDER_TEST, quietKafka, withProducer } from "./helpers.js";

const PERSONS = "dbserver1.crm.persons";
const PHONES = "dbserver1.crm.phones";
const T0 = 1710497000000;
const N = 60;

function message(
  table: string,
  op: "c" | "u",
  after: { id: number; [column: string]: unknown },
  pos: number,
) {
  const [schema, name] = table.split(".");
  return {
    key: JSON.stringify({ id: after.id }),
    value: JSON.stringify({
      before: null,
      after,
      // one second of source time per position
      source: {
        connector: "postgresql",
        name: "dbserver1",
        ts_ms: T0 + pos * 1000,
        snapshot: "false",
        schema,
        table: name,
        lsn: pos * 8,
      },
      op,
      ts_ms: T0 + pos * 1000,
    }),
  };
}

const PHONE_SCHEMA = {
  type: "record",
  name: "PhoneChanged",
  namespace: "io.test",
  fields: [
    { name: "id", type: "long" },
    { name: "personName", type: ["null", "string"], default: null },
  ],
};
const PERSON_SCHEMA = {
  type: "record",
  name: "PersonChanged",
  namespace: "io.test",
  fields: [
    { name: "id", type: "long" },
    { name: "name", type: "string" },
  ],
};
const EVENTS = "crm-events";

function project(brokers: string, client: string): string {
  const dir = mkdtempSync(join(tmpdir(), "changecast-held-parents-"));
  mkdirSync(join(dir, "t"));
  writeFileSync(join(dir, "Phone.avsc"), JSON.stringify(PHONE_SCHEMA));
  writeFileSync(join(dir, "Person.avsc"), JSON.stringify(PERSON_SCHEMA));
  writeFileSync(
    join(dir, "t", "persons.yaml"),
    [
      "table: crm.persons",
      "state: rows",
      "events:",
      "  - name: PersonChanged",
      "    schema: Person.avsc",
      `    topic: ${EVENTS}`,
      "    key: after.id",
      "    fields: { id: after.id, name: after.name }",
    ].join("\n"),
  );
  writeFileSync(
    join(dir, "t", "phones.yaml"),
    [
      "table: crm.phones",
      "requires:",
      "  - table: crm.persons",
      "    key: after.person_id",
      "events:",
      "  - name: PhoneChanged",
      "    schema: Phone.avsc",
      `    topic: ${EVENTS}`,
      "    key: after.id",
      "    fields:",
      "      id: after.id",
      '      personName: \'lookup("crm.persons", after.person_id) == null ? null : lookup("crm.persons", after.person_id).name\'',
    ].join("\n"),
  );
  const config = join(dir, "changecast.yaml");
  writeFileSync(
    config,
    [
      "pipeline: held-parents",
      "source: { connector: postgres, topicPrefix: dbserver1 }",
      `kafka: { brokers: "${brokers}", client: ${client} }`,
      "state: sqlite:state.sqlite",
      "delivery: at-least-once",
      "errors: { tolerance: all, deadLetterTopic: held.dlq }",
      "transforms: [t/*.yaml]",
      "",
    ].join("\n"),
  );
  return config;
}

describe.each(KAFKA_CLIENTS_UNDER_TEST)("requires: on a Kafka backlog (%s)", (client) => {
  let mock: MockKafka;
  afterAll(async () => {
    await mock?.stop();
  });

  it("children produced before their parents wait for them and see them as they were, not renamed", async () => {
    mock = await startMockKafka({
      brokers: 1,
      topics: [
        { name: PERSONS, partitions: 3 },
        { name: PHONES, partitions: 2 },
        { name: EVENTS, partitions: 1 },
        { name: "held.dlq", partitions: 1 },
      ],
    });
    const kafka = quietKafka(mock.brokers);
    const ids = Array.from({ length: N }, (_, i) => i + 1);
    await withProducer(kafka, async (p) => {
      // the phones first, 30 s of source time apart (30 minutes in all: twice the default timeout), each person
      // created 10 s after its phone and renamed an hour later
      await p.send({
        topic: PHONES,
        acks: -1,
        messages: ids.map((i) => message("crm.phones", "c", { id: i, person_id: i }, i * 30)),
      });
      await p.send({
        topic: PERSONS,
        acks: -1,
        messages: [
          ...ids.map((i) => message("crm.persons", "c", { id: i, name: `Person ${i}` }, i * 30 + 10)),
          ...ids.map((i) => message("crm.persons", "u", { id: i, name: `Renamed ${i}` }, 3600 + i * 30)),
        ],
      });
    });

    const pipeline = await openPipeline(project(mock.bootstrap, client));
    const controller = new AbortController();
    const worker = runKafkaWorker(pipeline, { signal: controller.signal, logger: pino({ level: "silent" }) });
    const received = await consumeUntil(kafka, [EVENTS, "held.dlq"], (all) => all.length >= 3 * N, {
      idleMs: 1_500,
      timeoutMs: 60_000,
    });
    controller.abort();
    const stats = await worker;
    await pipeline.close();

    expect(received.filter((r) => r.topic === "held.dlq")).toEqual([]);
    const phoneType = avro.Type.forSchema(PHONE_SCHEMA as avro.Schema);
    const personType = avro.Type.forSchema(PERSON_SCHEMA as avro.Schema);
    // the single partition in offset order: each phone against the person events published before it
    const names = new Map<number, string>();
    const seen: [number, string | null, string | undefined][] = [];
    for (const r of [...received].sort((a, b) => Number(a.offset) - Number(b.offset))) {
      if (r.topic !== EVENTS) continue;
      if (r.headers.ce_type?.endsWith("PersonChanged")) {
        const v = personType.fromBuffer(r.value!.subarray(5)) as { id: number; name: string };
        names.set(Number(v.id), v.name);
      } else {
        const v = phoneType.fromBuffer(r.value!.subarray(5)) as { id: number; personName: string | null };
        seen.push([Number(v.id), v.personName, names.get(Number(v.id))]);
      }
    }
    expect(seen).toHaveLength(N);
    for (const [id, personName, published] of seen) {
      // published before it, and what it shows is what the phone saw
      expect(published, `phone ${id}`).toBeDefined();
      expect(personName, `phone ${id}`).toBe(published);
    }
    expect(names.size).toBe(N);
    expect(stats.timedOut).toBe(0);
    expect(stats.parked).toBe(stats.released);
  });
});
