// Probe, not part of `npm run bench`: how fast librdkafka-based clients (@confluentinc/kafka-javascript) move the
// worker's record shapes through the same mock cluster, to compare with kafkajs (bench/kafka.ts "stagesAlone").
// (The package is now changecast's optional dependency and the librdkafka transport's client: with it installed,
// CHANGECAST_CKJS_DIR=. runs this probe. Originally it was installed in a scratch directory:)
//
//   apt-get install -y libssl-dev zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev libcurl4-openssl-dev
//   mkdir -p /tmp/ckjs && cd /tmp/ckjs && npm init -y && CKJS_LINKING=dynamic npm install @confluentinc/kafka-javascript@1.10.1
//   CHANGECAST_CKJS_DIR=/tmp/ckjs node --import tsx bench/librdkafka-client.ts
//
// Measures, for 100 000 records with the 7 CloudEvents headers of docs/records.md: the KafkaJS-compatible API's producer
// (send of 2000 messages, idempotent, acks=all) and consumer (eachBatch, batches of up to 2000), and the
// native API's producer (produce() + delivery reports). Results: bench/results/librdkafka-client.json.
import { createRequire } from "node:module";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startMockKafka } from "../test/infra/mock-kafka.js";

const dir = process.env.CHANGECAST_CKJS_DIR;
if (!dir)
  throw new Error("set CHANGECAST_CKJS_DIR to a directory where @confluentinc/kafka-javascript is installed");
const N = Number(process.env.BENCH_KAFKA_RECORDS ?? 100_000);
const BATCH = 2_000;

/* eslint-disable @typescript-eslint/no-explicit-any -- an optional, untyped probe dependency */
const ckjs: any = createRequire(join(dir, "package.json"))("@confluentinc/kafka-javascript");

const headers: Record<string, string> = {
  ce_id: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
  ce_type: "io.example.test.ItemChanged",
  ce_source: "/changecast/items/dbserver1.test.items",
  ce_specversion: "1.0",
  ce_time: "2026-01-01T00:00:00.000Z",
  content_type: "application/avro",
  changecast_position: "dbserver1.test.items/0/12345",
};
const value = Buffer.alloc(40, 7);

interface Rate {
  part: string;
  records: number;
  recordsPerSecond: number;
  cpuSeconds: number;
}

async function timed(part: string, records: number, run: () => Promise<void>): Promise<Rate> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await run();
  const used = process.cpuUsage(cpu);
  return {
    part,
    records,
    recordsPerSecond: Math.round(records / ((performance.now() - start) / 1000)),
    cpuSeconds: Number(((used.user + used.system) / 1e6).toFixed(2)),
  };
}

const mock = await startMockKafka({ brokers: 3, topics: [{ name: "events", partitions: 12 }] });
const rates: Rate[] = [];
try {
  const { Kafka, logLevel } = ckjs.KafkaJS;
  const kafka = new Kafka({ kafkaJS: { brokers: mock.brokers, logLevel: logLevel.NOTHING } });
  const producer = kafka.producer({ kafkaJS: { idempotent: true, acks: -1 } });
  await producer.connect();
  rates.push(
    await timed("KafkaJS-compatible producer (send of 2000, idempotent, acks=all)", N, async () => {
      for (let b = 0; b < N / BATCH; b++) {
        const messages = Array.from({ length: BATCH }, (_, i) => ({
          key: String(b * BATCH + i),
          value,
          headers,
        }));
        await producer.send({ topic: "events", messages });
      }
    }),
  );
  await producer.disconnect();

  const consumer = kafka.consumer({
    kafkaJS: { groupId: "probe", fromBeginning: true, autoCommit: false },
    "js.consumer.max.batch.size": BATCH,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: ["events"] });
  let n = 0;
  let first: Promise<Rate> | null = null;
  await new Promise<void>((done) => {
    let finish!: () => void;
    void consumer.run({
      eachBatch: async ({ batch }: { batch: { messages: unknown[] } }) => {
        // from the first batch on: the group join is not counted
        first ??= timed(
          "KafkaJS-compatible consumer (eachBatch)",
          N,
          () => new Promise<void>((r) => (finish = r)),
        );
        n += batch.messages.length;
        if (n >= N) {
          finish();
          done();
        }
        await Promise.resolve();
      },
    });
  });
  rates.push(await first!);
  await consumer.disconnect();

  const native = new ckjs.Producer({
    "bootstrap.servers": mock.bootstrap,
    "enable.idempotence": true,
    acks: -1,
    dr_cb: true,
    "queue.buffering.max.messages": 1_000_000,
  });
  await new Promise<void>((res, rej) => native.connect({}, (e: unknown) => (e ? rej(e as Error) : res())));
  native.setPollInterval(5);
  let pending = 0;
  let drained: (() => void) | null = null;
  native.on("delivery-report", (err: unknown) => {
    if (err) throw err as Error;
    if (--pending === 0) drained?.();
  });
  const nativeHeaders = Object.entries(headers).map(([k, v]) => ({ [k]: v }));
  rates.push(
    await timed("native producer (produce + delivery reports, idempotent, acks=all)", N, async () => {
      for (let b = 0; b < N / BATCH; b++) {
        const done = new Promise<void>((r) => (drained = r));
        for (let i = 0; i < BATCH; i++) {
          pending++;
          native.produce("events", null, value, String(b * BATCH + i), Date.now(), null, nativeHeaders);
        }
        await done;
      }
    }),
  );
  await new Promise<void>((r) => native.disconnect(() => r()));
} finally {
  await mock.stop();
}
/* eslint-enable @typescript-eslint/no-explicit-any */

const result = { date: new Date().toISOString(), node: process.version, records: N, rates };
mkdirSync(join(import.meta.dirname, "results"), { recursive: true });
writeFileSync(
  join(import.meta.dirname, "results", "librdkafka-client.json"),
  JSON.stringify(result, null, 2) + "\n",
);
console.log(JSON.stringify(result, null, 2));
process.exit(0);
