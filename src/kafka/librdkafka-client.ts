// librdkafka client properties (kafka.client: librdkafka) from the same inputs as kafkaClientConfig: brokers and
// client id from the pipeline config, security and timeouts from the environment (secrets never from YAML).
import { KafkaClientConfigError, msFromEnv, saslFromEnv, sslFromEnv } from "./kafka-client.js";
import type { KafkaCompression } from "../config/pipeline-config.js";
import type { RdConfig } from "./librdkafka-api.js";

export interface LibrdkafkaClientOptions {
  brokers: string[];
  clientId: string;
  env?: NodeJS.ProcessEnv;
}

/** Properties every librdkafka client of a worker shares: bootstrap, client id, security, timeouts. */
export function librdkafkaClientConfig(options: LibrdkafkaClientOptions): RdConfig {
  const env = options.env ?? process.env;
  if (options.brokers.length === 0) throw new KafkaClientConfigError("kafka.brokers is empty");
  const config: RdConfig = {
    "bootstrap.servers": options.brokers.join(","),
    "client.id": options.clientId,
    "socket.timeout.ms": msFromEnv(env, "KAFKA_REQUEST_TIMEOUT_MS"),
    "socket.connection.setup.timeout.ms": msFromEnv(env, "KAFKA_CONNECTION_TIMEOUT_MS"),
    "topic.metadata.refresh.interval.ms": msFromEnv(env, "KAFKA_METADATA_MAX_AGE_MS"),
    "reconnect.backoff.max.ms": 5_000,
    "retry.backoff.max.ms": 5_000,
  };
  const sasl = saslFromEnv(env);
  const ssl = sslFromEnv(env);
  if (sasl) {
    config["sasl.mechanisms"] = sasl.mechanism.toUpperCase();
    config["sasl.username"] = (sasl as { username: string }).username;
    config["sasl.password"] = (sasl as { password: string }).password;
  }
  config["security.protocol"] = sasl ? (ssl ? "sasl_ssl" : "sasl_plaintext") : ssl ? "ssl" : "plaintext";
  if (ssl && typeof ssl === "object") {
    // the PEM texts, as read by sslFromEnv (librdkafka takes them in memory: no second read of the files)
    const pem = (v: unknown) => (Array.isArray(v) ? v.join("\n") : String(v));
    if (ssl.ca !== undefined) config["ssl.ca.pem"] = pem(ssl.ca);
    if (ssl.cert !== undefined) config["ssl.certificate.pem"] = pem(ssl.cert);
    if (ssl.key !== undefined) config["ssl.key.pem"] = pem(ssl.key);
  }
  return config;
}

/** librdkafka's `compression.codec` for `kafka.compression`. */
export function librdkafkaCompression(compression: KafkaCompression): string {
  return compression;
}
