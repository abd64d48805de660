import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { consumerTiming, kafkaClientConfig, KafkaClientConfigError } from "../../src/kafka/kafka-client.js";
import { BatchDecompressionError, CompressionCodecError } from "../../src/kafka/compression.js";
import {
  AssignmentLostError,
  classifyFailure,
  fetchLimits,
  transactionalId,
} from "../../src/kafka/kafka-transport.js";
import { librdkafkaFetchConfig } from "../../src/kafka/librdkafka-transport.js";
import { RegistryError } from "../../src/schemas/remote-registry.js";

const base = { brokers: ["k1:9092", "k2:9092"], clientId: "changecast-inventory" };

describe("kafka client config from the environment", () => {
  it("uses brokers and client id from the config and no security without environment", () => {
    const c = kafkaClientConfig({ ...base, env: {} });
    expect(c.brokers).toEqual(["k1:9092", "k2:9092"]);
    expect(c.clientId).toBe("changecast-inventory");
    expect(c.sasl).toBeUndefined();
    expect(c.ssl).toBeUndefined();
  });

  it.each(["plain", "scram-sha-256", "scram-sha-512", "SCRAM-SHA-512"])(
    "maps KAFKA_SASL_MECHANISM=%s",
    (mechanism) => {
      const c = kafkaClientConfig({
        ...base,
        env: { KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: "svc", KAFKA_SASL_PASSWORD: "s3cret" },
      });
      expect(c.sasl).toEqual({ mechanism: mechanism.toLowerCase(), username: "svc", password: "s3cret" });
    },
  );

  it("refuses an unknown mechanism and a mechanism without credentials", () => {
    expect(() => kafkaClientConfig({ ...base, env: { KAFKA_SASL_MECHANISM: "gssapi" } })).toThrow(
      /not one of plain/,
    );
    expect(() =>
      kafkaClientConfig({ ...base, env: { KAFKA_SASL_MECHANISM: "plain", KAFKA_SASL_USERNAME: "u" } }),
    ).toThrow(KafkaClientConfigError);
  });

  it("enables TLS with KAFKA_SSL=true and reads the PEM files", () => {
    expect(kafkaClientConfig({ ...base, env: { KAFKA_SSL: "true" } }).ssl).toBe(true);
    expect(kafkaClientConfig({ ...base, env: { KAFKA_SSL: "false" } }).ssl).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), "changecast-tls-"));
    for (const f of ["ca", "cert", "key"]) writeFileSync(join(dir, `${f}.pem`), `-----${f}-----`);
    const c = kafkaClientConfig({
      ...base,
      env: {
        KAFKA_SSL: "true",
        KAFKA_SSL_CA_FILE: join(dir, "ca.pem"),
        KAFKA_SSL_CERT_FILE: join(dir, "cert.pem"),
        KAFKA_SSL_KEY_FILE: join(dir, "key.pem"),
      },
    });
    expect(c.ssl).toEqual({ ca: ["-----ca-----"], cert: "-----cert-----", key: "-----key-----" });
    // a CA file alone implies TLS
    expect(kafkaClientConfig({ ...base, env: { KAFKA_SSL_CA_FILE: join(dir, "ca.pem") } }).ssl).toEqual({
      ca: ["-----ca-----"],
    });
  });

  it("refuses contradictory or unreadable TLS settings", () => {
    expect(() => kafkaClientConfig({ ...base, env: { KAFKA_SSL: "maybe" } })).toThrow(/not true or false/);
    expect(() => kafkaClientConfig({ ...base, env: { KAFKA_SSL_CA_FILE: "/nonexistent/ca.pem" } })).toThrow(
      /cannot read/,
    );
    const dir = mkdtempSync(join(tmpdir(), "changecast-tls-"));
    writeFileSync(join(dir, "cert.pem"), "c");
    expect(() => kafkaClientConfig({ ...base, env: { KAFKA_SSL_CERT_FILE: join(dir, "cert.pem") } })).toThrow(
      /go together/,
    );
    expect(() =>
      kafkaClientConfig({ ...base, env: { KAFKA_SSL: "false", KAFKA_SSL_CA_FILE: join(dir, "cert.pem") } }),
    ).toThrow(/KAFKA_SSL=false/);
  });

  it("takes consumer timing from the environment", () => {
    expect(consumerTiming({})).toEqual({
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      maxWaitTimeInMs: 5_000,
      metadataMaxAge: 30_000,
    });
    // a fetch long-polls at most a third of the session timeout (kafkajs heartbeats only between fetches)
    expect(consumerTiming({ KAFKA_SESSION_TIMEOUT_MS: "3000", KAFKA_METADATA_MAX_AGE_MS: "5000" })).toEqual({
      sessionTimeout: 3_000,
      heartbeatInterval: 1_000,
      maxWaitTimeInMs: 1_000,
      metadataMaxAge: 5_000,
    });
    expect(() => consumerTiming({ KAFKA_SESSION_TIMEOUT_MS: "-1" })).toThrow(/positive integer/);
    expect(() =>
      consumerTiming({ KAFKA_SESSION_TIMEOUT_MS: "3000", KAFKA_FETCH_MAX_WAIT_MS: "3000" }),
    ).toThrow(/below the session timeout/);
  });
});

describe("delivery failure classification", () => {
  const protocol = (type: string) => Object.assign(new Error(type), { name: "KafkaJSProtocolError", type });
  const wrapped = (cause: Error) =>
    Object.assign(new Error("retries exceeded"), { name: "KafkaJSNumberOfRetriesExceeded", cause });

  it("tells rebalances, fencing, fatal and transient errors apart, also when wrapped", () => {
    expect(classifyFailure(protocol("ILLEGAL_GENERATION"))).toBe("lost");
    expect(classifyFailure(wrapped(protocol("REBALANCE_IN_PROGRESS")))).toBe("lost");
    expect(classifyFailure(protocol("INVALID_PRODUCER_EPOCH"))).toBe("fenced");
    expect(classifyFailure(protocol("TOPIC_AUTHORIZATION_FAILED"))).toBe("fatal");
    expect(classifyFailure(wrapped(protocol("NOT_LEADER_FOR_PARTITION")))).toBe("transient");
    expect(
      classifyFailure(Object.assign(new Error("Connection timeout"), { name: "KafkaJSConnectionError" })),
    ).toBe("transient");
  });

  it("reads `retriable` of changecast errors in the chain: a non-retriable one stops, a retriable one is retried", () => {
    expect(classifyFailure(new CompressionCodecError("zstd", "decompress", "bad frame"))).toBe("fatal");
    expect(classifyFailure(wrapped(new BatchDecompressionError("t", 0, "5", null, "lz4", "bad")))).toBe(
      "fatal",
    );
    expect(classifyFailure(wrapped(new RegistryError("registry down", 503, 50301)))).toBe("transient");
    expect(classifyFailure(wrapped(new RegistryError("no such subject", 404, 40401)))).toBe("fatal");
    // a retriable error that also says the assignment is gone is "lost", not retried here
    expect(classifyFailure(new AssignmentLostError("revoked"))).toBe("lost");
    // transient pg / network causes under a kafkajs wrapper stay transient
    expect(classifyFailure(wrapped(Object.assign(new Error("reset"), { code: "ECONNRESET" })))).toBe(
      "transient",
    );
  });

  it("gives each source partition its own stable transactional id", () => {
    expect(transactionalId("inventory", "dbserver1.inventory.orders", 3)).toBe(
      "changecast.inventory.dbserver1.inventory.orders.3",
    );
  });
});

describe("kafka.fetchMaxBytes bounds the prefetch of both clients", () => {
  it("kafkajs: that much per fetch request, at most 2 MiB per partition", () => {
    expect(fetchLimits()).toEqual({ maxBytes: 8 * 1024 * 1024, maxBytesPerPartition: 2 * 1024 * 1024 });
    expect(fetchLimits(1_000_000)).toEqual({ maxBytes: 1_000_000, maxBytesPerPartition: 1_000_000 });
  });

  it("librdkafka: the same fetch sizes and a prefetch queue of twice the fetch", () => {
    expect(librdkafkaFetchConfig()).toEqual({
      "fetch.max.bytes": 8 * 1024 * 1024,
      "max.partition.fetch.bytes": 2 * 1024 * 1024,
      "queued.max.messages.kbytes": 16 * 1024,
    });
    expect(librdkafkaFetchConfig(1_000_000)).toMatchObject({
      "fetch.max.bytes": 1_000_000,
      "max.partition.fetch.bytes": 1_000_000,
      "queued.max.messages.kbytes": 1954,
    });
  });
});
