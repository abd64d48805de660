// The pipeline config is read by walking PIPELINE_SCHEMA: defaults, required settings, unknown keys and the
// problem messages (with their lines) all come from the one declaration.
import { describe, expect, it } from "vitest";
import { readPipelineConfig } from "../../src/config/pipeline-config.js";
import { PIPELINE_SCHEMA, settings, transformSettings } from "../../src/config/schema.js";

const file = new URL("../../changecast.yaml", import.meta.url).pathname;
const BASE = `pipeline: inventory
source:
  topicPrefix: dbserver1
  files: [captures/postgres/*.jsonl]
transforms: [transforms/postgres/*.yaml]
`;
const problems = (text: string) =>
  readPipelineConfig(file, { text, env: {} }).problems.map((p) => `${p.line}: ${p.message}`);

describe("PIPELINE_SCHEMA", () => {
  it("documents a setting as required exactly when it has no default", () => {
    for (const [path, s] of [...settings(PIPELINE_SCHEMA), ...transformSettings()])
      expect([path, s.default === undefined]).toEqual([path, s.doc.default === "required"]);
  });

  it("gives the declared defaults", () => {
    const { config, problems } = readPipelineConfig(file, { text: BASE, env: {} });
    expect(problems).toEqual([]);
    expect(config).toMatchObject({
      source: { connector: "postgres", format: "json" },
      kafka: { brokers: [], clientId: "changecast-inventory", compression: "none" },
      registry: { url: "", compatibility: "BACKWARD", subjectNameStrategy: "TopicRecordNameStrategy" },
      state: "sqlite:.changecast/state.sqlite",
      delivery: "exactly-once",
      errors: { tolerance: "all", deadLetterTopic: "changecast.inventory.dlq" },
      limits: { maxRecordBytes: 8 * 1024 * 1024, maxEventBytes: 1_048_588 },
      paths: { allowAbsolute: false },
    });
  });

  it("reports unknown keys with the declared list, wrong shapes and refused values at their lines", () => {
    expect(
      problems(
        BASE +
          "__proto__: {a: 1}\n" +
          "kafka: {brokers: [a], foo: 1, compression: lz5}\n" +
          "limits: {maxRecordBytes: '${NOPE:-0}', maxEventBytes: 100}\n",
      ),
    ).toEqual([
      '6: unknown key "__proto__" in config (allowed: pipeline, source, kafka, registry, state, delivery, errors, limits, ops, log, output, transforms, paths)',
      '7: unknown key "foo" in kafka (allowed: brokers, clientId, compression, client, fetchMaxBytes)',
      "7: kafka.brokers must be a scalar",
      '7: kafka.compression: "lz5" is not one of none, gzip, snappy, lz4, zstd',
      '8: limits.maxRecordBytes: "0" is not a positive integer',
      '8: limits.maxEventBytes: "100" is too small: at least 1024 (room for a dead letter\'s error headers)',
    ]);
    expect(problems("pipeline: [a]\ntransforms: {a: 1}\n")).toEqual([
      "1: config.pipeline must be a scalar",
      "1: source is required",
      "2: config.transforms must be a list",
      "1: transforms: at least one file is required",
      "1: source.topicPrefix is required",
    ]);
    expect(problems("- a\n")).toEqual(["1: config must be a mapping (docs/configuration.md)"]);
  });
});
