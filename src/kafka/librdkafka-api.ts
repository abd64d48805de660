// The part of @confluentinc/kafka-javascript's native (node-rdkafka style) API that the librdkafka transport uses,
// typed here and loaded at run time: the package is an optional dependency (a native build), so changecast must
// type-check, build and run with kafkajs when it is absent.
import { createRequire } from "node:module";
import { KafkaClientConfigError } from "./kafka-client.js";

export const LIBRDKAFKA_PACKAGE = "@confluentinc/kafka-javascript";

export interface RdError extends Error {
  code: number;
  isFatal?: boolean;
  isRetriable?: boolean;
  isTxnRequiresAbort?: boolean;
}

export interface RdTopicPartition {
  topic: string;
  partition: number;
  error?: RdError;
}

export interface RdTopicPartitionOffset extends RdTopicPartition {
  offset: number;
}

export type RdHeader = Record<string, string | Buffer>;

export interface RdMessage extends RdTopicPartitionOffset {
  value: Buffer | null;
  key?: Buffer | string | null;
  timestamp?: number;
  headers?: RdHeader[];
}

export type RdConfig = Record<string, string | number | boolean | ((...args: never[]) => void)>;

type Callback = (err: RdError | null | undefined) => void;

interface RdClient {
  connect(options: Record<string, unknown>, cb: (err: RdError | null | undefined) => void): unknown;
  isConnected(): boolean;
  on(event: "event.error", listener: (err: RdError) => void): unknown;
}

export interface RdConsumer extends RdClient {
  on(event: "event.error", listener: (err: RdError) => void): unknown;
  /** librdkafka's statistics (statistics.interval.ms): a JSON document in `message` */
  on(event: "event.stats", listener: (stats: { message: string }) => void): unknown;
  disconnect(cb: (err: unknown) => void): unknown;
  subscribe(topics: string[]): unknown;
  consume(count: number, cb: (err: RdError | null | undefined, messages: RdMessage[]) => void): void;
  setDefaultConsumeTimeout(ms: number): void;
  setDefaultIsTimeoutOnlyForFirstMessage(value: boolean): void;
  commit(offsets: RdTopicPartitionOffset[]): unknown;
  assign(partitions: RdTopicPartition[]): unknown;
  unassign(): unknown;
  committed(
    partitions: RdTopicPartition[],
    timeout: number,
    cb: (err: RdError | null | undefined, offsets: RdTopicPartitionOffset[]) => void,
  ): unknown;
}

export interface RdProducer extends RdClient {
  disconnect(timeout: number, cb: (err: unknown) => void): unknown;
  produce(
    topic: string,
    partition: number | null,
    value: Buffer | null,
    key: Buffer | string | null,
    timestamp: number | null,
    opaque: unknown,
    headers: RdHeader[],
  ): unknown;
  on(event: "event.error", listener: (err: RdError) => void): unknown;
  on(
    event: "delivery-report",
    listener: (err: RdError | null | undefined, report: RdMessage & { opaque?: unknown }) => void,
  ): unknown;
  poll(): unknown;
  setPollInterval(ms: number): unknown;
  flush(timeout: number, cb: Callback): unknown;
  initTransactions(timeout: number, cb: Callback): void;
  beginTransaction(cb: Callback): void;
  commitTransaction(timeout: number, cb: Callback): void;
  abortTransaction(timeout: number, cb: Callback): void;
  sendOffsetsToTransaction(
    offsets: RdTopicPartitionOffset[],
    consumer: RdConsumer,
    timeout: number,
    cb: Callback,
  ): void;
}

export interface LibrdkafkaModule {
  KafkaConsumer: new (config: RdConfig, topicConfig: RdConfig) => RdConsumer;
  Producer: new (config: RdConfig, topicConfig?: RdConfig) => RdProducer;
  librdkafkaVersion: string;
  features: string[];
}

let loaded: LibrdkafkaModule | null = null;

/** The native module, or a clear configuration error when the optional dependency is not installed. */
export function loadLibrdkafka(): LibrdkafkaModule {
  if (loaded) return loaded;
  try {
    loaded = createRequire(import.meta.url)(LIBRDKAFKA_PACKAGE) as LibrdkafkaModule;
    return loaded;
  } catch (err) {
    throw new KafkaClientConfigError(
      `kafka.client is librdkafka but ${LIBRDKAFKA_PACKAGE} cannot be loaded (${(err as Error).message.split("\n")[0]}). ` +
        'It is an optional dependency with a native build (docs/kafka.md, "Kafka clients"): reinstall it, or use kafka.client: kafkajs',
      { cause: err },
    );
  }
}

/** Whether the native client is installed and loads (for tests and the benchmark). */
export function librdkafkaAvailable(): boolean {
  try {
    loadLibrdkafka();
    return true;
  } catch {
    return false;
  }
}

/** Promisified call of a node-style callback API. */
export function call(fn: (cb: Callback) => void): Promise<void> {
  return new Promise((resolve, reject) => fn((err) => (err ? reject(toError(err)) : resolve())));
}

/** librdkafka errors arrive as plain objects or Errors; make them Errors with the code kept. */
export function toError(err: unknown): RdError {
  if (err instanceof Error) return err as RdError;
  const o = (err ?? {}) as Partial<RdError>;
  const e = new Error(o.message ?? String(err)) as RdError;
  e.code = typeof o.code === "number" ? o.code : -1;
  if (o.isFatal) e.isFatal = true;
  if (o.isRetriable) e.isRetriable = true;
  if (o.isTxnRequiresAbort) e.isTxnRequiresAbort = true;
  return e;
}
