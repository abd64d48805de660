/**
 * Starts librdkafka's mock Kafka cluster (real Kafka wire protocol over TCP) in a child process
 * through the launcher built by `scripts/setup-test-infra.sh` (test/infra/build/mock-kafka).
 *
 * Limits of the mock (librdkafka 2.15.1): no CreateTopics/DeleteTopics/DescribeGroups/ListGroups
 * admin APIs (use `createTopic`), auto-created topics get 4 partitions, TxnOffsetCommit
 * (`sendOffsets`) is accepted but stores nothing, read_committed consumers see aborted records, and
 * `brokerDown` does not move partition leadership. The launcher sets the controller id (else kafkajs
 * idempotent producers fail) and caps LeaveGroup at v2 (the mock misparses kafkajs' v3).
 * See docs/testing.md.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface MockKafkaOptions {
  /** Number of brokers (ids 1..N). Default 3. */
  brokers?: number;
  /** Topics to create before the bootstrap address is returned. */
  topics?: { name: string; partitions: number; replicationFactor?: number }[];
  /** group.initial.rebalance.delay.ms of the mock (Kafka's default is 3000). Default 0. */
  rebalanceDelayMs?: number;
  /** Broker id reported as controller in Metadata. Default 1. */
  controllerId?: number;
  /** Forward librdkafka mock debug logs to this process' stderr. Default false. */
  debug?: boolean;
}

export interface MockKafka {
  /** Comma separated `host:port` list, e.g. for a changecast config. */
  bootstrap: string;
  /** `host:port` per broker, in broker id order (index 0 = broker id 1); kafkajs `brokers`. */
  brokers: string[];
  /** Makes broker `id` (1-based) unreachable: closes its listener and connections. */
  brokerDown(id: number): Promise<void>;
  brokerUp(id: number): Promise<void>;
  /** The next `codes.length` requests with Kafka API key `apiKey` (cluster wide) fail with these codes. */
  requestErrors(apiKey: number, codes: number[]): Promise<void>;
  clearRequestErrors(apiKey: number): Promise<void>;
  createTopic(name: string, partitions: number, replicationFactor?: number): Promise<void>;
  deleteTopic(name: string): Promise<void>;
  /** Moves leadership of a partition to broker `brokerId` (-1 = leaderless). */
  setLeader(topic: string, partition: number, brokerId: number): Promise<void>;
  /** Adds `ms` of latency to every response of broker `brokerId`. */
  setRtt(brokerId: number, ms: number): Promise<void>;
  /** Sends a raw launcher command (see test/infra/mock-kafka.c); resolves on `OK`. */
  command(line: string): Promise<void>;
  stop(): Promise<void>;
}

/** Kafka protocol API keys useful with `requestErrors`. */
export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  InitProducerId: 22,
  AddPartitionsToTxn: 24,
  AddOffsetsToTxn: 25,
  EndTxn: 26,
  TxnOffsetCommit: 28,
} as const;

/** Kafka error codes useful with `requestErrors`; `Disconnect` makes the mock drop the connection. */
export const KafkaErrorCode = {
  Disconnect: -195,
  UnknownTopicOrPartition: 3,
  LeaderNotAvailable: 5,
  NotLeaderForPartition: 6,
  RequestTimedOut: 7,
  NetworkException: 13,
  CoordinatorLoadInProgress: 14,
  CoordinatorNotAvailable: 15,
  NotCoordinator: 16,
  NotEnoughReplicas: 19,
  NotEnoughReplicasAfterAppend: 20,
  RebalanceInProgress: 27,
  ConcurrentTransactions: 51,
} as const;

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "..", "..");

/** Path of the launcher binary (override with CHANGECAST_MOCK_KAFKA_BIN). */
export function mockKafkaBinary(): string {
  return process.env["CHANGECAST_MOCK_KAFKA_BIN"] ?? join(here, "build", "mock-kafka");
}

const START_TIMEOUT_MS = 15_000;
const COMMAND_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

interface Pending {
  command: string;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export async function startMockKafka(opts: MockKafkaOptions = {}): Promise<MockKafka> {
  const bin = mockKafkaBinary();
  if (!existsSync(bin)) {
    throw new Error(
      `mock Kafka launcher not found at ${bin}. Build it once with: bash ${join(repoRoot, "scripts", "setup-test-infra.sh")} ` +
        `(builds librdkafka from the npm registry; ~2-4 minutes the first time).`,
    );
  }
  const brokerCount = opts.brokers ?? 3;
  const args = ["--brokers", String(brokerCount), "--rebalance-delay-ms", String(opts.rebalanceDelayMs ?? 0)];
  if (opts.controllerId !== undefined) args.push("--controller", String(opts.controllerId));
  for (const t of opts.topics ?? []) {
    args.push("--topic", `${t.name}:${t.partitions}${t.replicationFactor ? `:${t.replicationFactor}` : ""}`);
  }
  const debug = opts.debug ?? process.env["CHANGECAST_MOCK_KAFKA_DEBUG"] === "1";
  if (debug) args.push("--debug");

  const child: ChildProcess = spawn(bin, args, { stdio: ["pipe", "pipe", debug ? "inherit" : "pipe"] });
  let stderrTail = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString("utf8")).slice(-4000);
  });
  const stdin = child.stdin;
  const stdout = child.stdout;
  if (!stdin || !stdout) throw new Error("mock-kafka: failed to open stdio pipes");
  stdin.on("error", () => {
    /* EPIPE after the launcher died: reported through the exit handler */
  });

  const lines: Interface = createInterface({ input: stdout });
  const queue: Pending[] = [];
  let exited = false;
  let exitInfo = "";
  const exitPromise = new Promise<void>((res) => {
    child.once("exit", (code, signal) => {
      exited = true;
      exitInfo = `exited (code ${code ?? "null"}, signal ${signal ?? "null"})`;
      for (const p of queue.splice(0)) {
        clearTimeout(p.timer);
        p.reject(new Error(`mock-kafka ${exitInfo} before answering '${p.command}'. ${stderrTail.trim()}`));
      }
      res();
    });
  });

  const bootstrap = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      rej(
        new Error(`mock-kafka did not print BOOTSTRAP within ${START_TIMEOUT_MS} ms. ${stderrTail.trim()}`),
      );
    }, START_TIMEOUT_MS);
    const onLine = (line: string): void => {
      if (!line.startsWith("BOOTSTRAP ")) return;
      clearTimeout(timer);
      lines.off("line", onLine);
      res(line.slice("BOOTSTRAP ".length).trim());
    };
    lines.on("line", onLine);
    child.once("error", (err) => {
      clearTimeout(timer);
      rej(new Error(`mock-kafka failed to start: ${err.message}`));
    });
    void exitPromise.then(() => {
      clearTimeout(timer);
      rej(new Error(`mock-kafka ${exitInfo} during start-up. ${stderrTail.trim()}`));
    });
  });

  lines.on("line", (line: string) => {
    const p = queue.shift();
    if (!p) return;
    clearTimeout(p.timer);
    if (line === "OK") p.resolve();
    else p.reject(new Error(`mock-kafka '${p.command}': ${line.replace(/^ERR /, "")}`));
  });

  // Commands are answered in order, one line each, so a FIFO of pending replies suffices.
  const command = (line: string): Promise<void> =>
    new Promise<void>((res, rej) => {
      if (exited) {
        rej(new Error(`mock-kafka ${exitInfo}; cannot run '${line}'`));
        return;
      }
      const timer = setTimeout(() => {
        const i = queue.indexOf(entry);
        if (i >= 0) queue.splice(i, 1);
        rej(new Error(`mock-kafka did not answer '${line}' within ${COMMAND_TIMEOUT_MS} ms`));
      }, COMMAND_TIMEOUT_MS);
      const entry: Pending = { command: line, resolve: res, reject: rej, timer };
      queue.push(entry);
      stdin.write(`${line}\n`);
    });

  const checkBroker = (id: number): void => {
    if (!Number.isInteger(id) || id < 1 || id > brokerCount) {
      throw new Error(`broker id ${id} out of range 1..${brokerCount}`);
    }
  };
  const checkName = (name: string): void => {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`invalid topic name '${name}'`);
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!exited) {
        stdin.end("quit\n");
        const killTimer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
        await exitPromise;
        clearTimeout(killTimer);
      }
      lines.close();
    })();
    return stopping;
  };

  return {
    bootstrap,
    brokers: bootstrap.split(",").filter((b) => b.length > 0),
    brokerDown: async (id) => {
      checkBroker(id);
      await command(`broker-down ${id}`);
    },
    brokerUp: async (id) => {
      checkBroker(id);
      await command(`broker-up ${id}`);
    },
    requestErrors: async (apiKey, codes) => {
      if (codes.length === 0) return;
      await command(`request-errors ${apiKey} ${codes.map((c) => String(Math.trunc(c))).join(" ")}`);
    },
    clearRequestErrors: (apiKey) => command(`clear-request-errors ${apiKey}`),
    createTopic: async (name, partitions, replicationFactor) => {
      checkName(name);
      await command(`topic ${name} ${partitions}${replicationFactor ? ` ${replicationFactor}` : ""}`);
    },
    deleteTopic: async (name) => {
      checkName(name);
      await command(`delete-topic ${name}`);
    },
    setLeader: async (topic, partition, brokerId) => {
      checkName(topic);
      await command(`leader ${topic} ${partition} ${brokerId}`);
    },
    setRtt: async (brokerId, ms) => {
      checkBroker(brokerId);
      await command(`rtt ${brokerId} ${ms}`);
    },
    command,
    stop,
  };
}
