// The one error model (src/errors.ts): every error class in src is a ChangecastError with a stable code of its
// own and a stage; docs/errors.md lists exactly the codes there are; isRetriable reads `retriable` and knows the
// transient errors of kafkajs, pg and sqlite.
import { TextFileProblem } from "../src/config/read-text.js";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ChangecastError, ERROR_CODES, errorCode, isRetriable } from "../src/errors.js";
import { InputError } from "../src/cli/schemas-compat.js";
import { EnvError } from "../src/config/env.js";
import { ConfigError } from "../src/config/yaml-source.js";
import { DecodeError, RecordTooLargeError } from "../src/decode/change-event.js";
import { OfflineSchemaConflictError, SchemaNotCapturedError } from "../src/decode/offline-schemas.js";
import { CoercionError, Reason, SchemaError } from "../src/encode/errors.js";
import { WireFormatError } from "../src/avro/wire.js";
import { LimitExceeded } from "../src/map/cel-limits.js";
import { ExpressionError } from "../src/map/expression.js";
import { MappingError } from "../src/map/mapper.js";
import { DependencyTimeoutError } from "../src/worker/dependencies.js";
import { MigrateError } from "../src/migrate/commands.js";
import { MigrationStateError } from "../src/migrate/majors.js";
import { GroupBusyError, GroupMovedError } from "../src/migrate/topics.js";
import { BatchDecompressionError, CompressionCodecError } from "../src/kafka/compression.js";
import { KafkaClientConfigError } from "../src/kafka/kafka-client.js";
import { AssignmentLostError } from "../src/kafka/kafka-transport.js";
import { KafkaClientFatalError } from "../src/kafka/librdkafka-transport.js";
import { InvalidSchemaError } from "../src/schemas/compat-parse.js";
import { CompatibilityError, RegistryError } from "../src/schemas/remote-registry.js";
import { StateStoreError, StateStoreUnavailableError } from "../src/state/store.js";
import { StateLockedError } from "../src/state/writer-lock.js";
import { IncompatibleSchemaError } from "../src/worker/pipeline-setup.js";
import { EncodeError, UnknownTableError } from "../src/worker/record-processor.js";
import { StoppedOnErrorError } from "../src/worker/worker.js";
import {
  SinkApplyError,
  SinkDecodeError,
  SinkProjectionError,
  SinkStoppedError,
} from "../src/sink/errors.js";

/** One instance per code each class can carry (a class may own several codes; a code belongs to one class). */
const SAMPLES: Record<string, ChangecastError[]> = {
  ConfigError: [new ConfigError([{ file: "changecast.yaml", line: 1, message: "bad" }])],
  EnvError: [new EnvError("X: bad")],
  KafkaClientConfigError: [new KafkaClientConfigError("bad")],
  TextFileProblem: [new TextFileProblem("is a directory, not a file", 1)],
  DecodeError: [new DecodeError("bad")],
  RecordTooLargeError: [new RecordTooLargeError("big"), new RecordTooLargeError("big", "ENCODE")],
  OfflineSchemaConflictError: [new OfflineSchemaConflictError("two")],
  SchemaNotCapturedError: [new SchemaNotCapturedError("none")],
  UnknownTableError: [new UnknownTableError("none")],
  DependencyTimeoutError: [new DependencyTimeoutError('parent crm.persons key ["1"] did not arrive')],
  MappingError: [
    new MappingError("bad", "E", "f"),
    new MappingError("bad", "E", "f", {
      cause: new ExpressionError("x", { cause: new LimitExceeded("cost") }),
    }),
  ],
  ExpressionError: [new ExpressionError("bad")],
  LimitExceeded: [new LimitExceeded("cost")],
  CoercionError: [new CoercionError("a", "bad")],
  Reason: [new Reason("bad")],
  SchemaError: [new SchemaError("bad")],
  WireFormatError: [new WireFormatError("bad")],
  EncodeError: [new EncodeError("bad")],
  CompressionCodecError: [new CompressionCodecError("zstd", "compress", "bad")],
  BatchDecompressionError: [new BatchDecompressionError("t", 0, "1", null, "zstd", "bad")],
  AssignmentLostError: [new AssignmentLostError("revoked")],
  KafkaClientFatalError: [
    new KafkaClientFatalError("delivery: Broker: Message size too large (librdkafka error 10)"),
  ],
  RegistryError: [
    new RegistryError("down", 0, 0),
    new RegistryError("no", 401, 401),
    new RegistryError("no", 404, 40401),
  ],
  CompatibilityError: [new CompatibilityError("s", ["r"])],
  InvalidSchemaError: [new InvalidSchemaError("bad")],
  IncompatibleSchemaError: [new IncompatibleSchemaError("bad")],
  StateStoreError: [new StateStoreError("bad")],
  StateStoreUnavailableError: [new StateStoreUnavailableError("connection refused")],
  StateLockedError: [new StateLockedError("state.db", [], { mode: "exclusive", command: "run" })],
  MigrateError: [new MigrateError("no")],
  MigrationStateError: [new MigrationStateError("no")],
  GroupBusyError: [new GroupBusyError("busy")],
  GroupMovedError: [new GroupMovedError("g", "t")],
  InputError: [new InputError("bad")],
  StoppedOnErrorError: [new StoppedOnErrorError("stopped")],
  SinkDecodeError: [new SinkDecodeError("bad")],
  SinkProjectionError: [new SinkProjectionError("bad")],
  SinkApplyError: [new SinkApplyError("bad")],
  SinkStoppedError: [new SinkStoppedError("stopped")],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Every class in src that is an error: extends Error, or extends a class that is. */
function errorClassesInSrc(): { name: string; base: string }[] {
  const declared: { name: string; base: string }[] = [];
  for (const file of sourceFiles(new URL("../src", import.meta.url).pathname)) {
    for (const m of readFileSync(file, "utf8").matchAll(/class (\w+) extends (\w+)/g)) {
      declared.push({ name: m[1]!, base: m[2]! });
    }
  }
  const isError = (name: string, depth = 0): boolean => {
    if (name === "Error") return true;
    const d = declared.find((c) => c.name === name);
    return d !== undefined && depth < 10 && isError(d.base, depth + 1);
  };
  return declared.filter((c) => isError(c.base));
}

describe("the error model", () => {
  it("every error class in src extends ChangecastError and is sampled here (a new class fails this test)", () => {
    const classes = errorClassesInSrc();
    expect(classes.filter((c) => c.base === "Error").map((c) => c.name)).toEqual(["ChangecastError"]);
    const names = classes.map((c) => c.name).filter((n) => n !== "ChangecastError");
    expect(names.sort()).toEqual(Object.keys(SAMPLES).sort());
  });

  it("every error has a stage, a code of its own, its class name and message kept", () => {
    const owner = new Map<string, string>();
    for (const [name, samples] of Object.entries(SAMPLES)) {
      for (const e of samples) {
        expect(e).toBeInstanceOf(ChangecastError);
        expect(e).toBeInstanceOf(Error);
        expect(e.name).toBe(name);
        expect(e.message).not.toBe("");
        expect(Object.keys(ERROR_CODES)).toContain(e.code);
        expect(e.stage).toBe(ERROR_CODES[e.code].stage);
        expect(e.code.startsWith(`${e.stage}_`)).toBe(true);
        expect(typeof e.retriable).toBe("boolean");
        // a code names one class
        expect(owner.get(e.code) ?? name, e.code).toBe(name);
        owner.set(e.code, name);
      }
    }
    // and every code of the table is some class's
    expect([...owner.keys()].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it("keeps the cause", () => {
    const cause = new Error("low level");
    expect(new EncodeError("event E: low level", { cause }).cause).toBe(cause);
    expect(new MappingError("m", "E", null, { cause }).cause).toBe(cause);
  });

  it("docs/errors.md lists exactly the codes in src, with their class, stage and retriability", () => {
    const doc = readFileSync(new URL("../docs/errors.md", import.meta.url), "utf8");
    const rows = [
      ...doc.matchAll(/^\|\s*`([A-Z_]+)`\s*\|\s*(\w+)\s*\|\s*([A-Z]+)\s*\|\s*(yes|no)\s*\|/gm),
    ].map((m) => ({
      code: m[1]!,
      className: m[2]!,
      stage: m[3]!,
      retriable: m[4] === "yes",
    }));
    expect(rows.map((r) => r.code).sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const row of rows) {
      const info = ERROR_CODES[row.code as keyof typeof ERROR_CODES];
      expect({ code: row.code, stage: row.stage, retriable: row.retriable }).toEqual({
        code: row.code,
        stage: info.stage,
        retriable: info.retriable,
      });
      const sample = Object.values(SAMPLES)
        .flat()
        .find((e) => e.code === row.code);
      expect(sample?.name, row.code).toBe(row.className);
    }
  });

  it("errorCode: the error's own code, INTERNAL for anything else", () => {
    expect(errorCode(new CoercionError("a", "b"))).toBe("ENCODE_COERCION");
    expect(errorCode(new TypeError("x"))).toBe("INTERNAL");
    expect(errorCode("text")).toBe("INTERNAL");
  });
});

describe("isRetriable", () => {
  const coded = (code: string, message = code) => Object.assign(new Error(message), { code });

  it("reads `retriable` of changecast errors, also as a cause", () => {
    expect(isRetriable(new RegistryError("down", 503, 50301))).toBe(true);
    expect(isRetriable(new RegistryError("gone", 404, 40401))).toBe(false);
    expect(isRetriable(new CompressionCodecError("lz4", "decompress", "bad"))).toBe(false);
    expect(isRetriable(new Error("wrapped", { cause: new AssignmentLostError("revoked") }))).toBe(true);
  });

  it("knows pg's and sqlite's transient and permanent failures", () => {
    for (const code of ["40001", "40P01", "57P01", "08006", "SQLITE_BUSY", "SQLITE_LOCKED", "ECONNREFUSED"]) {
      expect(isRetriable(coded(code)), code).toBe(true);
    }
    for (const code of ["SQLITE_CORRUPT", "SQLITE_NOTADB", "23502"]) {
      expect(isRetriable(coded(code)), code).toBe(false);
    }
  });

  it("knows kafkajs' permanent errors; anything permanent in the chain wins", () => {
    const protocol = (type: string) => Object.assign(new Error(type), { name: "KafkaJSProtocolError", type });
    expect(isRetriable(protocol("TOPIC_AUTHORIZATION_FAILED"), true)).toBe(false);
    expect(isRetriable(protocol("NOT_LEADER_FOR_PARTITION"), true)).toBe(true);
    expect(isRetriable(protocol("NOT_LEADER_FOR_PARTITION"))).toBe(false); // says neither: the default
    expect(isRetriable(new TypeError("x is not a function"), true)).toBe(false);
    expect(isRetriable(new RegistryError("down", 0, 0, { cause: new StateStoreError("corrupt") }))).toBe(
      false,
    );
  });
});
