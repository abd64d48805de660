// The commands' log: JSON for machines, human lines on a terminal, levels, and no credential on any line.
import { describe, expect, it } from "vitest";
import { createLogger, logSettings } from "../../src/cli/log.js";

function collector(isTTY = false): { lines: string[]; stream: { write(s: string): void; isTTY: boolean } } {
  const lines: string[] = [];
  return {
    lines,
    stream: { write: (s: string) => void lines.push(...s.split("\n").filter(Boolean)), isTTY },
  };
}

const ENV = { KAFKA_SASL_PASSWORD: "Sasl-S3cret!", SCHEMA_REGISTRY_TOKEN: "tok-4242-abcd" };

describe("log", () => {
  it("JSON when not on a terminal: level, time, message, fields", () => {
    const { lines, stream } = collector(false);
    createLogger({ env: {}, stream, base: { pipeline: "inventory" } }).info({ topics: 3 }, "consuming");
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 30, msg: "consuming", pipeline: "inventory", topics: 3 });
    expect(typeof entry.time).toBe("string");
  });

  it("human-readable on a terminal: the message, the level from warn up, the fields as key=value", () => {
    const { lines, stream } = collector(true);
    const log = createLogger({ env: {}, stream });
    log.info("changecast: pipeline inventory (embedded: 5 source files → out)");
    log.warn({ topic: "t", partition: 2 }, "dead letter t[2]@7: MAP: boom");
    expect(lines).toEqual([
      "changecast: pipeline inventory (embedded: 5 source files → out)",
      "warn: dead letter t[2]@7: MAP: boom topic=t partition=2",
    ]);
  });

  it("log.format and log.level from changecast.yaml, LOG_FORMAT and LOG_LEVEL over them", () => {
    const terminal = { write: () => undefined, isTTY: true };
    expect(logSettings({ env: {}, stream: terminal })).toEqual({ level: "info", format: "pretty" });
    expect(logSettings({ env: {}, stream: terminal, settings: { format: "json", level: "debug" } })).toEqual({
      level: "debug",
      format: "json",
    });
    expect(
      logSettings({
        env: { LOG_FORMAT: "pretty", LOG_LEVEL: "WARN" },
        stream: { write: () => undefined },
        settings: { format: "json", level: "debug" },
      }),
    ).toEqual({ level: "warn", format: "pretty" });
    expect(() => logSettings({ env: { LOG_LEVEL: "loud" } })).toThrow(
      'LOG_LEVEL: "loud" is not one of fatal, error, warn, info, debug, trace, silent',
    );

    const { lines, stream } = collector(false);
    const log = createLogger({ env: { LOG_LEVEL: "warn" }, stream });
    log.info("not shown");
    log.warn("shown");
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(["shown"]);
  });

  it("masks credentials: URL passwords, secret environment values, secret fields, error messages", () => {
    for (const tty of [false, true]) {
      const { lines, stream } = collector(tty);
      const log = createLogger({ env: ENV, stream });
      log.info(`connecting to postgres://app:pa55word@db:5432/state and http://u:Sasl-S3cret!@registry:8081`);
      log.warn(
        {
          sasl: { mechanism: "plain", username: "svc", password: "Sasl-S3cret!" },
          password: "hunter2-hunter2",
          headers: { authorization: "Bearer tok-4242-abcd" },
          broker: "kafka://svc:pw-in-url@broker:9092",
          detail: ["token tok-4242-abcd expired"],
        },
        "kafkajs: authentication failed",
      );
      log.error(
        { err: new Error("request to https://x:Sasl-S3cret!@reg failed, token=tok-4242-abcd") },
        "failed",
      );
      const text = lines.join("\n");
      for (const secret of ["pa55word", "Sasl-S3cret!", "hunter2", "tok-4242-abcd", "pw-in-url"])
        expect(text).not.toContain(secret);
      expect(text).toContain("postgres://app:***@db:5432/state");
      expect(text).toContain("svc");
      expect(text).toContain("failed");
    }
  });
});
