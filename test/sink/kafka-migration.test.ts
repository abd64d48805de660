// A sink through a migration on the mock Kafka cluster: CustomerRegistered (shared topic, 4 partitions) moves to
// major 2 (its own topic, 6 partitions, so no offset is exact: the switch needs the filter) while the sink
// projects it and CustomerEmailChanged. The worker runs throughout; the sink reads into the dual-published part
// on major 1, stops, is switched with `changecast sink switch` from the positions in its database, and goes on
// with both topics — every registration and every e-mail change applied exactly once, none missing.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startMockKafka } from "../infra/mock-kafka.js";
import { EVENT, migrationProject, V1, V2 } from "../migrate/harness.js";
import {
  cli as migrateCli,
  GROUP_TIMING,
  killClis,
  produceChanges,
  SOURCE,
  startWorker,
  testKafka,
  topicEnd,
  waitFor,
} from "../migrate/kafka-harness.js";
import { connect, spawnCli } from "./harness.js";

const SINK = `sink: crm
pipeline: changecast.yaml
target:
  url: sqlite:.changecast/crm.sqlite
batch:
  maxEvents: 50
projections:
  - type: io.example.customer.CustomerRegistered
    table: customers
    key:
      customer_id: int(event.customerId)
    columns:
      email: event.email
      first_name: event.firstName
  - type: io.example.customer.CustomerEmailChanged
    table: customers
    action: update
    key:
      customer_id: event.customerId
    columns:
      email: event.email
tables:
  customers:
    columns:
      customer_id: bigint
`;

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  killClis();
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
});

function run(dir: string, ...args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawnCli({ dir }, GROUP_TIMING, ...args);
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", (code) => done({ code, out }));
  });
}

describe("changecast sink through a migration (mock Kafka cluster)", () => {
  it("old 4 partitions (shared) → new 6: the sink switches mid-stream, every fact applied once", async () => {
    const mock = await startMockKafka({
      brokers: 1,
      topics: [
        { name: SOURCE, partitions: 3 },
        { name: V1, partitions: 4 },
        { name: V2, partitions: 6 },
      ],
    });
    cleanup.push(() => mock.stop());
    const p = migrationProject({ brokers: mock.bootstrap, delivery: "at-least-once" });
    const sink = join(p.dir, "changecast.sink.yaml");
    writeFileSync(sink, SINK);
    const kafka = testKafka(mock.brokers);
    const worker = await startWorker(p);
    cleanup.push(() => worker.stop());
    const published = async (topic: string, n: number) =>
      waitFor(`${n} records on ${topic}`, async () => {
        worker.check();
        return (await topicEnd(kafka, topic)) >= n;
      });
    const runSink = async () => {
      const r = await run(p.dir, "sink", "--config", sink, "--idle-exit", "4");
      expect(r.code, r.out).toBe(0);
      return r.out;
    };

    const before = await produceChanges(kafka, 1, 201);
    await published(V1, before);
    expect(await runSink()).toContain("table customers: 200 rows");

    expect((await migrateCli(p, "migrate", "start", "--event", EVENT)).code).toBe(0);
    await waitFor("the running worker publishes major 2", () => worker.publishes(2));
    const dual = await produceChanges(kafka, 201, 401);
    await published(V1, before + dual);
    await published(V2, 200);
    // the sink reads into the dual-published part on major 1
    expect(await runSink()).toContain("table customers: 400 rows");
    const unread = await produceChanges(kafka, 401, 501);
    await published(V1, before + dual + unread);
    await published(V2, 300);
    await waitFor("the worker committed every source record", async () => {
      worker.check();
      const admin = kafka.admin();
      await admin.connect();
      try {
        const [t] = await admin.fetchOffsets({ groupId: "changecast.inventory", topics: [SOURCE] });
        return (
          (t?.partitions ?? []).reduce((s, x) => s + Math.max(0, Number(x.offset)), 0) ===
          before + dual + unread
        );
      } finally {
        await admin.disconnect();
      }
    });
    const backfill = await migrateCli(p, "migrate", "backfill", "--event", EVENT);
    expect(backfill.code, backfill.out + backfill.err).toBe(0);

    const switched = await run(p.dir, "sink", "switch", "--config", sink, "--event", EVENT);
    expect(switched.code, switched.out).toBe(0);
    expect(switched.out).toContain(`${V1} (4 partitions) → ${V2} (6 partitions)`);
    expect(switched.out).toMatch(/group changecast-sink-crm switched/);

    const more = await produceChanges(kafka, 501, 701);
    await published(V1, before + dual + unread + more);
    await published(V2, 700);
    const after = await runSink();
    expect(after).toContain(V2);
    expect(after).toContain("table customers: 700 rows");
    const status = await migrateCli(p, "migrate", "status", "--event", EVENT);
    expect(status.out).toMatch(/changecast-sink-crm\s+\d+\s+0\s+\d+\s+0\s+yes \(filter/);

    const knex = connect("sqlite:.changecast/crm.sqlite", p.dir);
    try {
      const rows = (await knex("customers").orderBy("customer_id")) as {
        customer_id: number;
        email: string;
        changecast_applied: number;
      }[];
      expect(rows.map((r) => r.customer_id)).toEqual(Array.from({ length: 700 }, (_, i) => i + 1));
      const wrong = rows.filter((r) => {
        // changes(): after every third insert, the e-mail of the customer inserted before it changes
        const updated = (r.customer_id + 1) % 3 === 0 && r.customer_id + 1 <= 700;
        const email = updated ? `c${r.customer_id}.new@example.com` : `c${r.customer_id}@example.com`;
        return r.email !== email || r.changecast_applied !== (updated ? 2 : 1);
      });
      expect(wrong).toEqual([]);
    } finally {
      await knex.destroy();
    }
  }, 600_000);
});
