// Dependencies and transaction aggregates on Kafka under kill -9: two worker processes of one consumer group,
// state in Postgres, one of them SIGKILLed ≥ 20 times (each kill and restart a rebalance) during a stream of
// 50 000 changes. Phones require their person; a third of them are produced before their person (another
// topic, another partition), some updated while still waiting; one waits for a person that never comes and
// times out into the dead-letter topic. Orders are written with their lines in one transaction; the END
// record is sometimes produced before the rows, and pairs of transactions interleave. Accounting by ce_id
// against the offline processor: every expected event present, nothing unexpected, duplicates (at-least-
// once) only as copies with the same value; every value as the model of the source tables says; per phone,
// the events in source order.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import avro from "avsc";
import { CompressionTypes, type Message } from "kafkajs";
import { describe, expect, it } from "vitest";
import { openPipeline } from "../../src/cli/pipeline.js";
import type { SourceRecord } from "../../src/decode/change-event.js";
import { DLQ_HEADERS } from "../../src/publish/output-record.js";
import { heldRecords } from "../../src/worker/held-changes.js";
import { consumeUntil, partitionReport, quietKafka, withProducer, type Received } from "./helpers.js";
import {
  expectCleanExits,
  killSecondWorkerRepeatedly,
  postgresAndMockKafka,
  runToTheEnd,
  sleep,
  withWorkers,
} from "./worker-process.js";

const TOPICS = {
  persons: { name: "dbserver1.crm.persons", partitions: 3 },
  phones: { name: "dbserver1.crm.phones", partitions: 4 },
  orders: { name: "dbserver1.shop.orders", partitions: 2 },
  lines: { name: "dbserver1.shop.order_lines", partitions: 3 },
  tx: { name: "dbserver1.transaction", partitions: 1 },
} as const;
const PHONE_EVENTS = "test.phone-events";
const ORDER_EVENTS = "test.order-events";
const DLQ = "changecast.held.dlq";
const N = 50_000;
const KILLS = 20;
/** a person id that never appears: its phone times out (requires timeout 5m of source time) */
const NOBODY = 9_999_999;

const PHONE_SCHEMA = {
  type: "record",
  name: "PhoneChanged",
  namespace: "io.example.test",
  fields: [
    { name: "id", type: "long" },
    { name: "seq", type: "long" },
    { name: "number", type: "string" },
    { name: "personId", type: "long" },
    { name: "personName", type: ["null", "string"], default: null },
  ],
};
const ORDER_SCHEMA = {
  type: "record",
  name: "OrderPlaced",
  namespace: "io.example.test",
  fields: [
    { name: "orderId", type: "long" },
    {
      name: "lines",
      type: {
        type: "array",
        items: {
          type: "record",
          name: "Line",
          fields: [
            { name: "lineNo", type: "int" },
            { name: "quantity", type: "int" },
          ],
        },
      },
    },
  ],
};

function pipelineFiles(stateUrl: string): string {
  const dir = mkdtempSync(join(tmpdir(), "changecast-held-kill-"));
  mkdirSync(join(dir, "schemas"));
  mkdirSync(join(dir, "transforms"));
  writeFileSync(join(dir, "schemas", "PhoneChanged.avsc"), JSON.stringify(PHONE_SCHEMA, null, 2));
  writeFileSync(join(dir, "schemas", "OrderPlaced.avsc"), JSON.stringify(ORDER_SCHEMA, null, 2));
  const file = (name: string, lines: string[]) =>
    writeFileSync(join(dir, "transforms", name), lines.join("\n") + "\n");
  file("persons.yaml", ["table: crm.persons", "state: rows", "events: []"]);
  file("phones.yaml", [
    "table: crm.phones",
    "requires:",
    "  - table: crm.persons",
    "    key: after.person_id",
    "    timeout: 5m",
    "    onTimeout: dead-letter",
    "events:",
    "  - name: PhoneChanged",
    "    schema: schemas/PhoneChanged.avsc",
    `    topic: ${PHONE_EVENTS}`,
    '    when: op == "c" || op == "u"',
    "    key: after.id",
    "    fields:",
    "      id: after.id",
    "      seq: after.seq",
    "      number: after.number",
    "      personId: after.person_id",
    '      personName: lookup("crm.persons", after.person_id).name',
  ]);
  file("order-lines.yaml", ["table: shop.order_lines", "state: rows", "events: []"]);
  file("order-placed.yaml", [
    "aggregate: shop.orders",
    "members:",
    "  lines:",
    "    table: shop.order_lines",
    "    match: member.key.order_id == root.key.id",
    "events:",
    "  - name: OrderPlaced",
    "    schema: schemas/OrderPlaced.avsc",
    `    topic: ${ORDER_EVENTS}`,
    '    when: root.op == "c"',
    "    key: root.after.id",
    "    fields:",
    "      orderId: root.after.id",
    `      lines: 'lines.map(l, {"lineNo": l.after.line_no, "quantity": l.after.quantity})'`,
  ]);
  const config = join(dir, "changecast.yaml");
  writeFileSync(
    config,
    [
      "pipeline: held",
      "source:",
      "  connector: postgres",
      "  topicPrefix: dbserver1",
      "  format: json",
      `  transactionTopic: ${TOPICS.tx.name}`,
      // source time: a killed worker's partitions wait for the rebalance while the other worker runs ahead by more
      // than any realistic timeout, so an aggregate across both would time out partial (docs/state.md)
      "  transactionTimeout: 24h",
      "kafka:",
      "  brokers: ${KAFKA_BROKERS}",
      "registry:",
      '  url: ""',
      `state: ${stateUrl}`,
      "delivery: at-least-once",
      "errors:",
      "  tolerance: all",
      `  deadLetterTopic: ${DLQ}`,
      "transforms: [transforms/*.yaml]",
      "",
    ].join("\n"),
  );
  return config;
}

// --- the source database and its model ------------------------------------------------------------

type Topic = keyof typeof TOPICS;
interface Out {
  topic: Topic;
  message: Message;
}

class Source {
  private lsn = 50_000_000;
  private ts = 1_700_000_000_000;
  private txId = 5_000;
  readonly out: Out[] = [];
  changes = 0;

  /** one change in its own transaction (no transaction metadata needed: not an aggregate table) */
  change(
    topic: Topic,
    table: string,
    key: Record<string, unknown>,
    op: "c" | "u",
    after: Record<string, unknown>,
  ): void {
    this.tick();
    this.out.push({ topic, message: this.data(table, key, op, after, null) });
  }

  /** an order and its lines in one transaction: BEGIN, rows, END; the END produced first when endFirst */
  transaction(
    rows: { topic: Topic; table: string; key: Record<string, unknown>; after: Record<string, unknown> }[],
  ): Out[] {
    this.tick();
    const txId = ++this.txId;
    const begin = this.lsn;
    const counts = new Map<string, number>();
    const data = rows.map((r, i) => {
      this.lsn += 8;
      this.changes++;
      counts.set(r.table, (counts.get(r.table) ?? 0) + 1);
      const block = {
        id: `${txId}:${this.lsn}`,
        total_order: i + 1,
        data_collection_order: counts.get(r.table),
      };
      return { topic: r.topic, message: this.data(r.table, r.key, "c", r.after, block) };
    });
    this.lsn += 16;
    const end = {
      topic: "tx" as const,
      message: this.marker(txId, this.lsn, {
        status: "END",
        id: `${txId}:${this.lsn}`,
        event_count: rows.length,
        data_collections: [...counts].map(([data_collection, event_count]) => ({
          data_collection,
          event_count,
        })),
        ts_ms: this.ts,
      }),
    };
    const beginRecord = {
      topic: "tx" as const,
      message: this.marker(txId, begin, {
        status: "BEGIN",
        id: `${txId}:${begin}`,
        event_count: null,
        data_collections: null,
        ts_ms: this.ts,
      }),
    };
    return [beginRecord, ...data, end];
  }

  private tick(): void {
    this.ts += 100;
    this.lsn += 64;
  }

  private data(
    table: string,
    key: Record<string, unknown>,
    op: "c" | "u",
    after: Record<string, unknown>,
    transaction: Record<string, unknown> | null,
  ): Message {
    if (transaction === null) this.changes++;
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
          ts_ms: this.ts,
          snapshot: "false",
          db: "postgres",
          sequence: `["${this.lsn}","${this.lsn}"]`,
          schema,
          table: name,
          txId: this.txId,
          lsn: this.lsn,
          xmin: null,
        },
        transaction,
        op,
        ts_ms: this.ts + 5,
      }),
    };
  }

  private marker(txId: number, lsn: number, payload: Record<string, unknown>): Message {
    return { key: JSON.stringify({ id: `${txId}:${lsn}` }), value: JSON.stringify(payload) };
  }
}

interface Model {
  out: Out[];
  /** what each expected event says, by a model key: `phone:<seq>` / `order:<id>` */
  phones: Map<number, Record<string, unknown>>;
  orders: Map<number, Record<string, unknown>>;
}

function model(): Model {
  let seed = 0x5eed;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  const src = new Source();
  const phones = new Map<number, Record<string, unknown>>();
  const orders = new Map<number, Record<string, unknown>>();
  const persons = new Map<number, string>();
  const phoneRows = new Map<number, { personId: number }>();
  /** persons announced by a phone produced before them: created some steps later */
  const due: { at: number; id: number }[] = [];
  let nextPerson = 1;
  let nextPhone = 1;
  let nextOrder = 1;
  let seq = 0;
  let step = 0;
  let orphaned = false;
  const person = (id: number) => {
    const name = `Person ${id}`;
    persons.set(id, name);
    src.change("persons", "crm.persons", { id }, "c", { id, name });
  };
  const phone = (id: number, personId: number, op: "c" | "u") => {
    seq++;
    const number = `+1-555-${String(id).padStart(4, "0")}-${seq}`;
    phoneRows.set(id, { personId });
    src.change("phones", "crm.phones", { id }, op, { id, seq, number, person_id: personId });
    if (personId !== NOBODY) phones.set(seq, { id, seq, number, personId, personName: `Person ${personId}` });
  };
  const order = (): Out[] => {
    const id = nextOrder++;
    const n = 1 + Math.floor(rnd() * 3);
    const lines = Array.from({ length: n }, (_, i) => ({
      lineNo: i + 1,
      quantity: 1 + Math.floor(rnd() * 5),
    }));
    orders.set(id, { orderId: id, lines });
    return src.transaction([
      { topic: "orders", table: "shop.orders", key: { id }, after: { id, customer: `c${id % 97}` } },
      ...lines.map((l) => ({
        topic: "lines" as const,
        table: "shop.order_lines",
        key: { order_id: id, line_no: l.lineNo },
        after: { order_id: id, line_no: l.lineNo, quantity: l.quantity },
      })),
    ]);
  };
  while (src.changes < N) {
    step++;
    for (const d of due.filter((x) => x.at <= step)) person(d.id);
    due.splice(0, due.length, ...due.filter((x) => x.at > step));
    const r = rnd();
    if (r < 0.15) person(nextPerson++);
    else if (r < 0.3 && persons.size > 0) phone(nextPhone++, 1 + Math.floor(rnd() * (nextPerson - 1)), "c");
    else if (r < 0.38) {
      // the child before its parent: the person is created 20-300 steps later
      const id = nextPerson++;
      due.push({ at: step + 20 + Math.floor(rnd() * 280), id });
      phone(nextPhone++, id, "c");
    } else if (r < 0.55 && phoneRows.size > 0) {
      // an update: of a phone still waiting for its person too (it waits behind its first change)
      const id = 1 + Math.floor(rnd() * (nextPhone - 1));
      const row = phoneRows.get(id);
      if (row && row.personId !== NOBODY) phone(id, row.personId, "u");
    } else if (r < 0.9) {
      const tx = order();
      // every 7th transaction: the END before the rows
      if (nextOrder % 7 === 0) src.out.push(tx[tx.length - 1]!, ...tx.slice(0, -1));
      else src.out.push(...tx);
    } else {
      // two interleaved transactions, their ENDs in reverse order
      const a = order();
      const b = order();
      const rows = [...a.slice(0, -1), ...b.slice(0, -1)].sort(() => rnd() - 0.5);
      src.out.push(...rows, b[b.length - 1]!, a[a.length - 1]!);
    }
    if (!orphaned && src.changes > N / 3) {
      orphaned = true;
      phone(nextPhone++, NOBODY, "c");
    }
  }
  for (const d of due) person(d.id);
  return { out: src.out, phones, orders };
}

/** The ce_ids of the expected events (released children and aggregates included), from the processor offline. */
async function expectedIds(config: string, out: Out[]): Promise<Map<string, string>> {
  const pipeline = await openPipeline(config, {
    stateUrl: "sqlite::memory:",
    embeddedRegistry: true,
    tableState: "memory",
  });
  const ids = new Map<string, string>();
  const take = (records: { view: { topic: string; headers: Record<string, string> } }[]) => {
    for (const r of records) if (r.view.topic !== DLQ) ids.set(r.view.headers.ce_id!, r.view.topic);
  };
  try {
    for (const [i, o] of out.entries()) {
      const r: SourceRecord = {
        topic: TOPICS[o.topic].name,
        partition: 0,
        offset: String(i),
        timestamp: null,
        headers: {},
        key: Buffer.from(o.message.key as string),
        value: Buffer.from(o.message.value as string),
      };
      await pipeline.processor.prepare([r]);
      const outcome = pipeline.processor.process(r);
      if (outcome.kind === "events") take(outcome.records);
      for (const held of pipeline.processor.takeHeldOutcomes()) take(heldRecords(held));
      await pipeline.processor.beforeCommit([r]);
    }
  } finally {
    await pipeline.close();
  }
  return ids;
}

async function produce(
  kafka: ReturnType<typeof quietKafka>,
  out: Out[],
  from: number,
  to: number,
  pauseMs: number,
) {
  // per chunk, children and transaction ENDs go out before parents and rows: they arrive first
  const order: Topic[] = ["tx", "phones", "lines", "orders", "persons"];
  await withProducer(kafka, async (p) => {
    for (let i = from; i < to; i += 1_000) {
      const chunk = out.slice(i, Math.min(to, i + 1_000));
      for (const t of order) {
        const messages = chunk.filter((o) => o.topic === t).map((o) => o.message);
        if (messages.length > 0)
          await p.send({ topic: TOPICS[t].name, messages, acks: -1, compression: CompressionTypes.GZIP });
      }
      if (pauseMs) await sleep(pauseMs);
    }
  });
}

describe("requires: and aggregate: on Kafka: two workers, Postgres state, kill -9 loop", () => {
  const infra = postgresAndMockKafka();

  it(
    "publishes every released child and every aggregate once by ce_id, with the model's values, and times out the orphan",
    { timeout: 900_000 },
    async () => {
      const mock = await infra.startMock([
        ...Object.values(TOPICS),
        { name: PHONE_EVENTS, partitions: 8 },
        { name: ORDER_EVENTS, partitions: 8 },
        { name: DLQ, partitions: 1 },
      ]);
      const config = pipelineFiles(infra.postgres().url);
      const m = model();
      const ids = await expectedIds(config, m.out);
      const expectedCount = m.phones.size + m.orders.size;
      expect(ids.size).toBe(expectedCount);
      const kafka = quietKafka(mock.brokers);
      const backlog = Math.floor(m.out.length / 5);
      await produce(kafka, m.out, 0, backlog, 0);
      const streaming = produce(kafka, m.out, backlog, m.out.length, 900);

      await withWorkers(config, mock.bootstrap, async (workers) => {
        // worker A stays up the whole time; worker B is killed and restarted (each time a rebalance); A once too
        const kills = await killSecondWorkerRepeatedly(workers, { kills: KILLS - 1, minPauseMs: 300 });
        await streaming;
        const { result: received, exits } = await runToTheEnd(workers, 2, () =>
          consumeUntil(
            kafka,
            [PHONE_EVENTS, ORDER_EVENTS, DLQ],
            (all) => new Set(all.filter((r) => r.topic !== DLQ).map((r) => r.headers.ce_id)).size >= ids.size,
            { idleMs: 3_000, timeoutMs: 300_000 },
          ),
        );

        const report = check(received, ids, m);
        for (const t of Object.values(TOPICS))
          console.log(t.name, JSON.stringify(await partitionReport(kafka, t.name, "changecast.held")));
        console.log(
          `[held kill loop] ${kills} kills; ${workers.summary()}; ${m.out.length} source records; ${report.summary}`,
        );
        expect(kills).toBeGreaterThanOrEqual(20);
        expect(report.missing, report.summary).toBe(0);
        expect(report.unexpected, report.summary).toBe(0);
        expect(report.wrong, report.summary).toEqual([]);
        expect(report.outOfOrder, report.summary).toEqual([]);
        // the orphan phone: dead-lettered (at least once, always the same source record), nothing else
        expect(report.deadLetters, report.summary).toEqual([`${TOPICS.phones.name}:MAP_DEPENDENCY_TIMEOUT`]);
        expect(report.deadRecords, report.summary).toBe(1);
        for (const t of Object.values(TOPICS)) {
          const parts = await partitionReport(kafka, t.name, "changecast.held");
          expect(
            parts.every((p) => p.low === "0" && p.committed === p.high),
            `${t.name} ${JSON.stringify(parts)}`,
          ).toBe(true);
        }
        expectCleanExits(workers, exits);
      });
    },
  );
});

function check(
  received: Received[],
  ids: Map<string, string>,
  m: Model,
): {
  missing: number;
  unexpected: number;
  wrong: string[];
  outOfOrder: string[];
  deadLetters: string[];
  deadRecords: number;
  summary: string;
} {
  const phoneType = avro.Type.forSchema(PHONE_SCHEMA as avro.Schema);
  const orderType = avro.Type.forSchema(ORDER_SCHEMA as avro.Schema);
  const seen = new Map<string, number>();
  const wrong: string[] = [];
  const outOfOrder: string[] = [];
  const lastSeq = new Map<number, number>();
  const dead = new Map<string, string>();
  let unexpected = 0;
  for (const r of received) {
    if (r.topic === DLQ) {
      const source = `${r.headers[DLQ_HEADERS.topic]}:${r.headers[DLQ_HEADERS.partition]}:${r.headers[DLQ_HEADERS.offset]}`;
      dead.set(source, `${r.headers[DLQ_HEADERS.topic]}:${r.headers[DLQ_HEADERS.code]}`);
      continue;
    }
    const id = r.headers.ce_id ?? "";
    const first = !seen.has(id);
    seen.set(id, (seen.get(id) ?? 0) + 1);
    if (!ids.has(id)) {
      unexpected++;
      continue;
    }
    if (r.topic === PHONE_EVENTS) {
      const v = phoneType.fromBuffer(r.value!.subarray(5)) as Record<string, unknown>;
      const plain = { ...v, id: Number(v.id), seq: Number(v.seq), personId: Number(v.personId) };
      const want = m.phones.get(plain.seq);
      if (JSON.stringify(plain) !== JSON.stringify(want) && wrong.length < 5)
        wrong.push(`phone seq ${plain.seq}: got ${JSON.stringify(plain)}, want ${JSON.stringify(want)}`);
      // per phone, first publications in source order (a redelivered batch repeats, it does not reorder)
      if (first) {
        const prev = lastSeq.get(plain.id) ?? -1;
        if (plain.seq < prev && outOfOrder.length < 5)
          outOfOrder.push(`phone ${plain.id}: seq ${plain.seq} after ${prev}`);
        lastSeq.set(plain.id, Math.max(prev, plain.seq));
      }
    } else {
      const v = orderType.fromBuffer(r.value!.subarray(5)) as {
        orderId: number;
        lines: { lineNo: number }[];
      };
      const plain = { orderId: Number(v.orderId), lines: [...v.lines].sort((x, y) => x.lineNo - y.lineNo) };
      const want = m.orders.get(plain.orderId);
      if (JSON.stringify(plain) !== JSON.stringify(want) && wrong.length < 5)
        wrong.push(`order ${plain.orderId}: got ${JSON.stringify(plain)}, want ${JSON.stringify(want)}`);
      if (r.headers.changecast_partial === "true" && wrong.length < 5)
        wrong.push(`order ${plain.orderId}: partial`);
    }
  }
  const lacking = [...ids].filter(([id]) => !seen.has(id));
  const missing = lacking.length;
  const byTopic = (topic: string) => lacking.filter(([, t]) => t === topic).length;
  const duplicates = [...seen.values()].reduce((n, c) => n + c - 1, 0);
  return {
    missing,
    unexpected,
    wrong,
    outOfOrder,
    deadLetters: [...new Set(dead.values())],
    deadRecords: dead.size,
    summary:
      `${received.length} records, ${seen.size} distinct ce_id of ${ids.size}, ${missing} missing, ` +
      `${unexpected} unexpected, ${duplicates} duplicates, ${wrong.length} wrong values, ` +
      `${dead.size} dead-lettered source records; missing: ${byTopic(PHONE_EVENTS)} phone events, ` +
      `${byTopic(ORDER_EVENTS)} order events; wrong: ${wrong.slice(0, 3).join(" | ")}`,
  };
}
