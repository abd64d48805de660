// Kafka throughput with dependencies and transaction aggregates on (part of bench/kafka.ts, BENCH_KAFKA_ONLY=held):
// one in-process worker (at-least-once, SQLite state) drains a backlog in which phones `requires:` their person —
// every third phone produced before its person, on another topic, so it is parked and released — and orders are
// aggregated with their two lines per transaction (BEGIN/END on the transaction topic). Measured from the first
// committed source record to the last, as the stateless throughput runs are.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CompressionTypes, type Kafka, type Message } from "kafkajs";
import { pino } from "pino";
import { openPipeline } from "../src/cli/pipeline.js";
import { KAFKA_BATCH_SIZE, runKafkaWorker } from "../src/cli/run.js";
import { startMockKafka } from "../test/infra/mock-kafka.js";
import { quietKafka, withProducer } from "../test/kafka/helpers.js";
import { benchTempDir } from "./temp-dir.js";

const CHANGES = Number(process.env.BENCH_KAFKA_HELD_RECORDS ?? 30_000);
const TOPICS = {
  persons: "dbserver1.crm.persons",
  phones: "dbserver1.crm.phones",
  orders: "dbserver1.shop.orders",
  lines: "dbserver1.shop.order_lines",
  tx: "dbserver1.transaction",
};

export interface HeldThroughput {
  records: number;
  parked: number;
  aggregates: number;
  seconds: number;
  recordsPerSecond: number;
  cpuSeconds: number;
}

function project(brokers: string): string {
  const dir = benchTempDir("changecast-bench-held-");
  mkdirSync(join(dir, "schemas"));
  mkdirSync(join(dir, "transforms"));
  const schema = (name: string, fields: object[]) =>
    JSON.stringify({ type: "record", name, namespace: "io.example.bench", fields });
  writeFileSync(
    join(dir, "schemas", "PhoneChanged.avsc"),
    schema("PhoneChanged", [
      { name: "id", type: "long" },
      { name: "personName", type: "string" },
    ]),
  );
  writeFileSync(
    join(dir, "schemas", "OrderPlaced.avsc"),
    schema("OrderPlaced", [
      { name: "id", type: "long" },
      { name: "lines", type: { type: "array", items: "int" } },
    ]),
  );
  const file = (name: string, lines: string[]) =>
    writeFileSync(join(dir, "transforms", name), lines.join("\n") + "\n");
  file("persons.yaml", ["table: crm.persons", "state: rows", "events: []"]);
  file("phones.yaml", [
    "table: crm.phones",
    "requires:",
    "  - table: crm.persons",
    "    key: after.person_id",
    "events:",
    "  - name: PhoneChanged",
    "    schema: schemas/PhoneChanged.avsc",
    "    topic: bench.phone-events",
    "    key: after.id",
    "    fields:",
    "      id: after.id",
    '      personName: lookup("crm.persons", after.person_id).name',
  ]);
  file("lines.yaml", ["table: shop.order_lines", "state: rows", "events: []"]);
  file("order-placed.yaml", [
    "aggregate: shop.orders",
    "members:",
    "  lines:",
    "    table: shop.order_lines",
    "    match: member.key.order_id == root.key.id",
    "events:",
    "  - name: OrderPlaced",
    "    schema: schemas/OrderPlaced.avsc",
    "    topic: bench.order-events",
    "    key: root.after.id",
    "    fields:",
    "      id: root.after.id",
    "      lines: lines.map(l, l.after.qty)",
  ]);
  const config = join(dir, "changecast.yaml");
  writeFileSync(
    config,
    [
      "pipeline: bench-held",
      "source:",
      "  connector: postgres",
      "  topicPrefix: dbserver1",
      "  format: json",
      `  transactionTopic: ${TOPICS.tx}`,
      "  transactionTimeout: 1h",
      "kafka:",
      `  brokers: ${brokers}`,
      "registry:",
      '  url: ""',
      `state: sqlite:${join(dir, "state.sqlite")}`,
      "delivery: at-least-once",
      "transforms: [transforms/*.yaml]",
      "",
    ].join("\n"),
  );
  return config;
}

/** The backlog per topic, in the order it is produced (phones before the persons they wait for). */
function backlog(): { byTopic: Map<string, Message[]>; parked: number; aggregates: number; total: number } {
  const byTopic = new Map<string, Message[]>(Object.values(TOPICS).map((t) => [t, []]));
  const push = (topic: string, m: Message) => byTopic.get(topic)!.push(m);
  let lsn = 10_000_000;
  let changes = 0;
  let parked = 0;
  let aggregates = 0;
  const data = (table: string, key: object, after: object, tx: object | null): Message => {
    lsn += 8;
    changes++;
    const ts = 1_700_000_000_000 + changes;
    const [schema, name] = table.split(".");
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
          schema,
          table: name,
          txId: lsn,
          lsn,
          xmin: null,
        },
        transaction: tx,
        op: "c",
        ts_ms: ts + 3,
      }),
    };
  };
  for (let i = 0; changes < CHANGES; i++) {
    // a person and a phone; every third phone is produced (and written) before its person
    const early = i % 3 === 0;
    if (early) parked++;
    const phone = () => data("crm.phones", { id: i }, { id: i, person_id: i }, null);
    const person = () => data("crm.persons", { id: i }, { id: i, name: `Person ${i}` }, null);
    if (early) {
      push(TOPICS.phones, phone());
      push(TOPICS.persons, person());
    } else {
      push(TOPICS.persons, person());
      push(TOPICS.phones, phone());
    }
    // an order and two lines in one transaction
    const txId = 1_000_000 + i;
    const begin = lsn;
    push(TOPICS.tx, {
      key: JSON.stringify({ id: `${txId}:${begin}` }),
      value: JSON.stringify({
        status: "BEGIN",
        id: `${txId}:${begin}`,
        event_count: null,
        data_collections: null,
        ts_ms: 0,
      }),
    });
    const rows: [string, object, object][] = [
      [TOPICS.orders, { id: i }, { id: i }],
      [TOPICS.lines, { order_id: i, line_no: 1 }, { order_id: i, line_no: 1, qty: 1 }],
      [TOPICS.lines, { order_id: i, line_no: 2 }, { order_id: i, line_no: 2, qty: 2 }],
    ];
    rows.forEach(([topic, key, after], k) => {
      const table = topic === TOPICS.orders ? "shop.orders" : "shop.order_lines";
      push(
        topic,
        data(table, key, after, {
          id: `${txId}:${lsn + 8}`,
          total_order: k + 1,
          data_collection_order: k + 1,
        }),
      );
    });
    aggregates++;
    push(TOPICS.tx, {
      key: JSON.stringify({ id: `${txId}:${lsn + 16}` }),
      value: JSON.stringify({
        status: "END",
        id: `${txId}:${lsn + 16}`,
        event_count: 3,
        data_collections: [
          { data_collection: "shop.orders", event_count: 1 },
          { data_collection: "shop.order_lines", event_count: 2 },
        ],
        ts_ms: 0,
      }),
    });
  }
  const total = [...byTopic.values()].reduce((n, l) => n + l.length, 0);
  return { byTopic, parked, aggregates, total };
}

async function committed(kafka: Kafka): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchOffsets({
      groupId: "changecast.bench-held",
      topics: Object.values(TOPICS),
    });
    return offsets.flatMap((t) => t.partitions).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

export async function heldThroughput(): Promise<HeldThroughput> {
  const mock = await startMockKafka({
    brokers: 3,
    topics: [
      ...Object.values(TOPICS).map((name) => ({ name, partitions: name === TOPICS.tx ? 1 : 4 })),
      { name: "bench.phone-events", partitions: 4 },
      { name: "bench.order-events", partitions: 4 },
    ],
  });
  try {
    const kafka = quietKafka(mock.brokers);
    const input = backlog();
    await withProducer(kafka, async (p) => {
      // the phones topic first: early phones arrive before their persons
      for (const topic of [TOPICS.phones, TOPICS.tx, TOPICS.lines, TOPICS.orders, TOPICS.persons]) {
        const messages = input.byTopic.get(topic)!;
        for (let i = 0; i < messages.length; i += 2_000)
          await p.send({
            topic,
            messages: messages.slice(i, i + 2_000),
            acks: -1,
            compression: CompressionTypes.GZIP,
          });
      }
    });
    const pipeline = await openPipeline(project(mock.bootstrap));
    const controller = new AbortController();
    const worker = runKafkaWorker(pipeline, {
      signal: controller.signal,
      logger: pino({ level: "silent" }),
      batchSize: KAFKA_BATCH_SIZE,
    });
    let start = 0n;
    let cpuStart = process.cpuUsage();
    let seconds = 0;
    let cpuSeconds = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      const done = await committed(kafka);
      if (done > 0 && start === 0n) {
        start = process.hrtime.bigint();
        cpuStart = process.cpuUsage();
      }
      if (done >= input.total) {
        seconds = Number(process.hrtime.bigint() - start) / 1e9;
        const cpu = process.cpuUsage(cpuStart);
        cpuSeconds = (cpu.user + cpu.system) / 1e6;
        break;
      }
    }
    controller.abort();
    await worker;
    await pipeline.close();
    return {
      records: input.total,
      parked: input.parked,
      aggregates: input.aggregates,
      seconds: Number(seconds.toFixed(2)),
      recordsPerSecond: Math.round(input.total / seconds),
      cpuSeconds: Number(cpuSeconds.toFixed(2)),
    };
  } finally {
    await mock.stop();
  }
}
