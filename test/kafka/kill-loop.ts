// The kill loop (shared by kill-loop-*.test.ts): the worker CLI as a child process, SIGKILLed at random moments
// ≥ 20 times during a 100k-record stream and restarted each time; then one last run to the end. Accounting by
// ce_id: every expected id present; duplicates counted (at-least-once: allowed; exactly-once: what the mock allows).
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { expect } from "vitest";
import { startMockKafka } from "../infra/mock-kafka.js";
import {
  account,
  consumeUntil,
  EVENT_TOPIC,
  expectedItemIds,
  produceItems,
  quietKafka,
  repoRoot,
  SOURCE_TOPIC,
  syntheticPipeline,
} from "./helpers.js";

const N = 100_000;
const KILLS = 20;

function startWorker(config: string, brokers: string): ChildProcess {
  // node itself runs the worker (no tsx wrapper process), so SIGKILL hits the worker and nothing survives it
  return spawn(
    process.execPath,
    ["--import", "tsx", join(repoRoot, "src", "cli", "main.ts"), "run", "--config", config],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        KAFKA_BROKERS: brokers,
        KAFKA_SESSION_TIMEOUT_MS: "3000",
        KAFKA_HEARTBEAT_INTERVAL_MS: "500",
        KAFKA_REQUEST_TIMEOUT_MS: "5000",
        LOG_LEVEL: "info",
      },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
}

export async function killLoop(delivery: "at-least-once" | "exactly-once"): Promise<void> {
  const mock = await startMockKafka({
    brokers: 3,
    topics: [
      { name: SOURCE_TOPIC, partitions: 4 },
      { name: EVENT_TOPIC, partitions: 4 },
    ],
  });
  try {
    const files = syntheticPipeline({ brokers: "${KAFKA_BROKERS}", delivery });
    const expected = await expectedItemIds(files.config, 0, N);
    const kafka = quietKafka(mock.brokers);
    // the stream: the first half is a backlog, the second half arrives while the worker is being killed
    await produceItems(kafka, 0, N / 2);
    const streaming = produceItems(kafka, N / 2, N);
    let kills = 0;
    for (; kills < KILLS; kills++) {
      const child = startWorker(files.config, mock.bootstrap);
      const exited = new Promise<void>((done) => child.once("exit", () => done()));
      // random moments after the worker joined the group (mid-batch, mid-commit, mid-transaction), some during the join
      const joined = new Promise<void>((done) => {
        child.stderr?.on("data", (c: Buffer) => {
          if (c.toString().includes('"assignment"')) done();
        });
        setTimeout(done, 15_000);
      });
      if (kills % 5 !== 4) await joined;
      await new Promise((r) => setTimeout(r, Math.random() * 2_000));
      child.kill("SIGKILL");
      await exited;
    }
    await streaming;
    const last = startWorker(files.config, mock.bootstrap);
    let stderr = "";
    last.stderr?.on("data", (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4_000)));
    const received = await consumeUntil(
      kafka,
      [EVENT_TOPIC],
      (all) => account(all, expected).missing.length === 0,
      {
        idleMs: 2_000,
        timeoutMs: 150_000,
      },
    );
    const lastExit = new Promise<number | null>((done) => last.once("exit", (code) => done(code)));
    last.kill("SIGTERM");
    const code = await lastExit;
    const tally = account(received, expected);
    console.log(
      `[kill loop ${delivery}] ${kills} kills; ${received.length} records, ${tally.distinct} distinct ce_id, ` +
        `${tally.missing.length} missing, ${tally.duplicates} duplicates`,
    );
    expect(kills).toBeGreaterThanOrEqual(20);
    expect(tally.missing).toEqual([]);
    expect(tally.unexpected).toBe(0);
    // SIGTERM: finish the batch, commit, leave the group, exit 0
    expect(code, stderr).toBe(0);
  } finally {
    await mock.stop();
  }
}
