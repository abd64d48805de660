// Opens the Kafka transport of `kafka.client`: KafkaTransport (kafkajs) or LibrdkafkaTransport (librdkafka, an
// optional native dependency). Both take the same pipeline settings and environment (docs/kafka.md).
import { hostname } from "node:os";
import type { PipelineConfig } from "../config/pipeline-config.js";
import { consumerTiming, kafkaClientConfig, type KafkaLogSink } from "./kafka-client.js";
import { KafkaTransport } from "./kafka-transport.js";
import { librdkafkaClientConfig } from "./librdkafka-client.js";
import { LibrdkafkaTransport } from "./librdkafka-transport.js";
import type { ChangeTransport } from "../publish/transport.js";

export interface OpenedKafkaTransport extends ChangeTransport {
  readonly groupId: string;
  readonly stats: {
    batches: number;
    committed: number;
    givenUp: number;
    retries: number;
    rebalances: number;
  };
  /** the current assignment by topic; null while none is held (readiness, docs/operations.md) */
  readonly assignment: Record<string, number[]> | null;
  /** consumer lag per assigned partition (metrics) */
  lag(): { topic: string; partition: number; lag: number }[];
}

export async function openKafkaTransport(options: {
  config: PipelineConfig;
  topics: string[];
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  log: KafkaLogSink;
}): Promise<OpenedKafkaTransport> {
  const { config, topics, env, signal, log } = options;
  const clientId = `${config.kafka.clientId}-${hostname()}-${process.pid}`;
  const common = {
    pipeline: config.pipeline,
    topics,
    delivery: config.delivery,
    compression: config.kafka.compression,
    maxBytes: config.kafka.fetchMaxBytes,
    signal,
    log,
  };
  if (config.kafka.client === "librdkafka") {
    const { sessionTimeout, heartbeatInterval, maxWaitTimeInMs } = consumerTiming(env);
    return LibrdkafkaTransport.open({
      ...common,
      client: librdkafkaClientConfig({ brokers: config.kafka.brokers, clientId, env }),
      sessionTimeout,
      heartbeatInterval,
      maxWaitTimeInMs,
    });
  }
  return KafkaTransport.open({
    ...common,
    client: kafkaClientConfig({ brokers: config.kafka.brokers, clientId, env, log }),
    ...consumerTiming(env),
  });
}
