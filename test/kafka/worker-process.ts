// The worker CLI as child processes for the kill loops (kill-loop.ts, state-kill-loop, held-kill-loop): start,
// wait for the group join, SIGKILL, and the final run to the end stopped with SIGTERM.
//
// The librdkafka mock answers a SyncGroup that reaches it after the group settled with INVALID_REQUEST (error 42;
// docs/testing.md, "Late SyncGroup"); a real broker answers with the assignment. kafkajs treats 42 as fatal and the
// worker exits 2. The harness restarts a worker that died of exactly that (counted, for the test's summary); any
// other exit it did not cause is a failure the test reports. CHANGECAST_TEST_TRACE_WORKERS=1 traces the processes.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { startMockKafka, type MockKafka, type MockKafkaOptions } from "../infra/mock-kafka.js";
import { startPostgres, type TestPostgres } from "../infra/postgres.js";
import { repoRoot } from "./helpers.js";

/** Worker log lines that mean "this batch was (or may have been) written without its offsets being stored". */
const REDELIVERY_MARKERS = [
  "assignment lost before commit", // at-least-once: published, not committed
  "assignment lost, transaction aborted", // exactly-once: aborted, but the mock shows aborted records
  "transaction failed (aborted)",
];

/** kafkajs' text for error 42 (node_modules/kafkajs/src/protocol/error.js, INVALID_REQUEST). */
const INVALID_REQUEST_MESSAGE =
  "This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker. See the broker logs for more details";
/** kafkajs' log line for the failed response: `kafkajs Connection: Response SyncGroup(key: 14, version: 3)`. */
const SYNC_GROUP_RESPONSE = "kafkajs Connection: Response SyncGroup(";
/** the CLI's last line when an error ends the run (src/cli/main.ts) */
const FATAL_INVALID_REQUEST = `changecast: ${INVALID_REQUEST_MESSAGE}`;

/**
 * Restarts after a late SyncGroup a worker of the final run gets before it counts as failed. A replacement joins
 * a busy group, where the mock often refuses the newcomer's SyncGroup again (6 of 13 joins of the second worker
 * in one state kill loop run).
 */
const FINAL_RESTARTS = 5;
/** How long a worker may take to finish its batch, commit and leave the group after SIGTERM. */
const STOP_MS = 60_000;

/** One worker process. */
export interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  joined: Promise<boolean>;
  stderr: () => string;
  redeliveries: () => number;
  /** it exited non-zero on the mock's INVALID_REQUEST answer to its SyncGroup, and of nothing else */
  diedOfLateSyncGroup: () => boolean;
}

/** The worker CLI as a child process (`env` adds to the test settings). */
export function startWorkerProcess(
  config: string,
  brokers: string,
  env: Record<string, string> = {},
): WorkerProcess {
  // node itself runs the worker (no tsx wrapper process), so SIGKILL hits the worker and nothing survives it
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(repoRoot, "src", "cli", "main.ts"), "run", "--config", config],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        KAFKA_BROKERS: brokers,
        // dead members expire after 3 s; a member joining a non-empty group waits 2 s on the mock
        KAFKA_SESSION_TIMEOUT_MS: "3000",
        KAFKA_HEARTBEAT_INTERVAL_MS: "500",
        KAFKA_REQUEST_TIMEOUT_MS: "5000",
        KAFKA_METADATA_MAX_AGE_MS: "10000",
        LOG_LEVEL: "info",
        ...env,
      },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let tail = "";
  let redeliveries = 0;
  let syncGroupRefused = false;
  let lastLine = "";
  let joinedResolve!: (v: boolean) => void;
  const joined = new Promise<boolean>((done) => (joinedResolve = done));
  let partial = "";
  const onLine = (line: string) => {
    if (line.includes('"assignment"')) joinedResolve(true);
    if (REDELIVERY_MARKERS.some((m) => line.includes(m))) redeliveries++;
    if (line.includes(SYNC_GROUP_RESPONSE) && line.includes(INVALID_REQUEST_MESSAGE)) syncGroupRefused = true;
    if (line.trim() !== "") lastLine = line;
  };
  child.stderr?.on("data", (c: Buffer) => {
    const text = partial + c.toString();
    const lines = text.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) onLine(line);
    tail = (tail + c.toString()).slice(-6_000);
  });
  const drained = new Promise<void>((done) =>
    child.stderr?.once("end", () => {
      onLine(partial);
      done();
    }),
  );
  // the exit code, and stderr read to its end (the fatal line comes last); not "close": a child of the worker
  // (tsx's esbuild service) shares the pipe and may outlive it a while
  const exited = new Promise<number | null>((done) =>
    child.once("exit", (code) => void Promise.race([drained, sleep(2_000)]).then(() => done(code))),
  );
  void exited.then(() => joinedResolve(false));
  return {
    child,
    exited,
    joined,
    stderr: () => tail,
    redeliveries: () => redeliveries,
    diedOfLateSyncGroup: () =>
      child.exitCode !== null &&
      child.exitCode !== 0 &&
      syncGroupRefused &&
      lastLine === FATAL_INVALID_REQUEST,
  };
}

/**
 * A worker the test keeps running: one process at a time, replaced when it dies of a late SyncGroup (at most
 * `maxRestarts` times). An exit the harness did not cause, of anything else, is recorded in `Workers.failures`.
 */
export class Worker {
  process: WorkerProcess;
  restarts = 0;
  private stopping = false;

  constructor(
    private readonly workers: Workers,
    private readonly maxRestarts: number,
  ) {
    this.process = this.spawn();
  }

  /**
   * Whether the current process joined the group within `ms`; false at once when it exits first (the kill loop
   * goes on, the replacement of a late-SyncGroup victim starting meanwhile).
   */
  joined(ms = 30_000): Promise<boolean> {
    return Promise.race([this.process.joined, sleep(ms).then(() => false)]);
  }

  /** Joined, following replacements after a late SyncGroup (each process gets `ms`). */
  async settled(ms = 30_000): Promise<boolean> {
    for (;;) {
      const current = this.process;
      if (await Promise.race([current.joined, sleep(ms).then(() => false)])) return true;
      if (current.child.exitCode === null && current.child.signalCode === null) return false;
      // exited without joining: its replacement, if it got one (the exit handler has run by now)
      await current.exited;
      if (this.process === current) return false;
    }
  }

  /** SIGKILL, and the process gone. */
  async kill(): Promise<void> {
    trace(`kill ${this.process.child.pid}`);
    this.stopping = true;
    this.process.child.kill("SIGKILL");
    await this.process.exited;
  }

  /**
   * The end of the final run: once joined (a SIGTERM before the worker installed its handler is a plain kill),
   * SIGTERM, and the exit code. A worker that dies of a late SyncGroup in the rebalance its partner's leaving
   * starts is run again and stopped again, within the restart budget.
   */
  async stop(): Promise<number | null> {
    for (;;) {
      await this.settled();
      const current = this.process;
      this.stopping = true;
      trace(`SIGTERM ${current.child.pid}`);
      current.child.kill("SIGTERM");
      // a worker that does not stop fails the test with its log, rather than timing it out
      const code = await Promise.race([current.exited, sleep(STOP_MS).then(() => "hung" as const)]);
      if (code === "hung") {
        current.child.kill("SIGKILL");
        await current.exited;
        this.workers.failures.push(
          `worker pid ${current.child.pid} did not exit within ${STOP_MS / 1000} s of SIGTERM:\n${current.stderr()}`,
        );
        return null;
      }
      if (!current.diedOfLateSyncGroup() || this.restarts >= this.maxRestarts) return code;
      this.stopping = false;
      this.restart();
    }
  }

  private spawn(): WorkerProcess {
    const p = this.workers.spawnProcess();
    trace(`spawn ${p.child.pid}`);
    void p.joined.then((j) => trace(`joined ${p.child.pid} ${j}`));
    void p.exited.then((c) =>
      trace(`exit ${p.child.pid} ${c} ${p.child.signalCode} late=${p.diedOfLateSyncGroup()}`),
    );
    void p.exited.then((code) => this.onExit(p, code));
    return p;
  }

  private restart(): void {
    this.restarts++;
    this.workers.lateSyncGroupRestarts++;
    this.process = this.spawn();
  }

  private onExit(p: WorkerProcess, code: number | null): void {
    if (this.stopping || p !== this.process) return;
    if (p.diedOfLateSyncGroup() && this.restarts < this.maxRestarts) return this.restart();
    const why = p.diedOfLateSyncGroup()
      ? `died of the mock's late SyncGroup again after ${this.restarts} restarts`
      : `exited on its own with ${code ?? p.child.signalCode}`;
    this.workers.failures.push(`worker pid ${p.child.pid} ${why}:\n${p.stderr()}`);
  }
}

/** The worker processes of one test. */
export class Workers {
  readonly processes: WorkerProcess[] = [];
  /** exits the harness did not cause, other than the mock's late SyncGroup (and that one beyond the budget) */
  readonly failures: string[] = [];
  lateSyncGroupRestarts = 0;

  constructor(
    private readonly config: string,
    private readonly brokers: string,
    private readonly env: Record<string, string> = {},
  ) {}

  /** A kept-running worker (by default restarted as often as it dies of a late SyncGroup, until the test kills it). */
  start(maxRestarts = Number.POSITIVE_INFINITY): Worker {
    return new Worker(this, maxRestarts);
  }

  spawnProcess(): WorkerProcess {
    const p = startWorkerProcess(this.config, this.brokers, this.env);
    this.processes.push(p);
    return p;
  }

  redeliveries(): number {
    return this.processes.reduce((n, p) => n + p.redeliveries(), 0);
  }

  /** For the test's summary line. */
  summary(): string {
    return `${this.processes.length} worker processes, ${this.lateSyncGroupRestarts} restarted after the mock's late-SyncGroup INVALID_REQUEST`;
  }

  /** SIGKILLs whatever still runs (a test's `finally`). */
  killAll(): void {
    for (const p of this.processes)
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
  }
}

/**
 * The kill phase of the two-worker loops: worker A stays up while B is started and SIGKILLed at random moments
 * `kills` times (each kill and restart a rebalance; every fourth kill during B's start-up or join), then A is
 * killed once too. Returns the number of kills.
 */
export async function killSecondWorkerRepeatedly(
  workers: Workers,
  o: { kills: number; minPauseMs: number },
): Promise<number> {
  const a = workers.start();
  await a.settled();
  let kills = 0;
  for (; kills < o.kills; kills++) {
    const b = workers.start();
    if (kills % 4 !== 3) await b.joined();
    await sleep(o.minPauseMs + Math.random() * 2_500);
    await b.kill();
  }
  // and A too, once, mid-stream
  await a.kill();
  return kills + 1;
}

/**
 * The final run to the end: `count` workers (each restarted at most FINAL_RESTARTS times after a late SyncGroup)
 * until `done` resolves, then, all joined, stopped with SIGTERM (Worker.stop). What `done` gave, and each
 * worker's exit code and log.
 */
export async function runToTheEnd<T>(
  workers: Workers,
  count: number,
  done: () => Promise<T>,
): Promise<{ result: T; exits: { code: number | null; stderr: string }[] }> {
  const last = Array.from({ length: count }, () => workers.start(FINAL_RESTARTS));
  trace("final run started");
  const result = await done();
  trace("final run: done");
  await Promise.all(last.map((w) => w.settled()));
  const codes = await Promise.all(last.map((w) => w.stop()));
  return { result, exits: last.map((w, i) => ({ code: codes[i] ?? null, stderr: w.process.stderr() })) };
}

/** Runs `body` with a test's worker processes; whatever of them still runs afterwards is SIGKILLed. */
export async function withWorkers<T>(
  config: string,
  brokers: string,
  body: (workers: Workers) => Promise<T>,
): Promise<T> {
  const workers = new Workers(config, brokers);
  try {
    return await body(workers);
  } finally {
    workers.killAll();
  }
}

/** What the kill loops assert of the worker processes themselves, after the data. */
export function expectCleanExits(workers: Workers, exits: { code: number | null; stderr: string }[]): void {
  // no worker died of anything but the harness's kills (and the mock's late SyncGroup, restarted)
  expect(workers.failures).toEqual([]);
  // SIGTERM: finish the batch, commit, leave the group, exit 0
  for (const e of exits) expect(e.code, e.stderr).toBe(0);
}

/**
 * For the describe block of a two-worker loop: Postgres for the table state (started before its tests) and the
 * mock cluster (3 brokers) a test starts with its topics; both stopped after the tests.
 */
export function postgresAndMockKafka(): {
  postgres: () => TestPostgres;
  startMock: (topics: NonNullable<MockKafkaOptions["topics"]>) => Promise<MockKafka>;
} {
  let pg: TestPostgres | undefined;
  let mock: MockKafka | undefined;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await mock?.stop();
    await pg?.stop();
  });
  return {
    postgres: () => {
      if (!pg) throw new Error("Postgres did not start");
      return pg;
    },
    startMock: async (topics) => (mock = await startMockKafka({ brokers: 3, topics })),
  };
}

/** CHANGECAST_TEST_TRACE_WORKERS=1: every start, join, kill and exit on stdout (for a loop that times out). */
const trace = (m: string) => {
  if (process.env.CHANGECAST_TEST_TRACE_WORKERS === "1")
    console.log(`[workers] ${new Date().toISOString()} ${m}`);
};
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
