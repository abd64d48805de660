// Topic names Kafka would refuse, and schema/capture/transform paths that leave the project directory, are
// config problems reported by `changecast check` (file:line), unless paths.allowAbsolute opts out.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkCommand } from "../../src/cli/check.js";
import { topicNameProblem } from "../../src/config/paths.js";

const SCHEMA = JSON.stringify({
  type: "record",
  name: "CustomerRegistered",
  namespace: "io.example.customer",
  fields: [{ name: "customerId", type: "long" }],
});

/** A project dir beside an "outside" dir holding a schema and a capture file. */
function project(opts: { config?: string[]; schema?: string; topic?: string; extra?: string[] } = {}) {
  const root = mkdtempSync(join(tmpdir(), "changecast-paths-"));
  const dir = join(root, "project");
  const outside = join(root, "outside");
  for (const d of [join(dir, "transforms"), join(dir, "schemas"), outside]) mkdirSync(d, { recursive: true });
  writeFileSync(join(dir, "schemas", "CustomerRegistered.avsc"), SCHEMA);
  writeFileSync(join(outside, "CustomerRegistered.avsc"), SCHEMA);
  writeFileSync(join(outside, "captures.jsonl"), "");
  writeFileSync(join(dir, "input.jsonl"), "");
  writeFileSync(
    join(dir, "transforms", "customers.yaml"),
    [
      "table: inventory.customers",
      "events:",
      "  - name: CustomerRegistered",
      `    schema: ${opts.schema ?? "schemas/CustomerRegistered.avsc"}`,
      `    topic: '${opts.topic ?? "inventory.customer-events"}'`,
      "    key: after.id",
      "    fields:",
      "      customerId: after.id",
      ...(opts.extra ?? []),
    ].join("\n"),
  );
  writeFileSync(
    join(dir, "changecast.yaml"),
    (
      opts.config ?? [
        "pipeline: test",
        "source:",
        "  connector: postgres",
        "  topicPrefix: dbserver1",
        "  files: [input.jsonl]",
        "transforms: [transforms/*.yaml]",
      ]
    ).join("\n"),
  );
  return { dir, outside, config: join(dir, "changecast.yaml") };
}

function check(config: string): { code: number; out: string } {
  const lines: string[] = [];
  const code = checkCommand({ config }, { out: (l) => lines.push(l), err: (l) => lines.push(l) });
  return { code, out: lines.join("\n") };
}

describe("topic names", () => {
  it("follows Kafka's rule: [a-zA-Z0-9._-], at most 249 characters, not . or ..", () => {
    expect(topicNameProblem("inventory.customer-events_v2")).toBeNull();
    expect(topicNameProblem("a".repeat(249))).toBeNull();
    expect(topicNameProblem("a".repeat(250))).toContain("250 characters long; Kafka allows at most 249");
    expect(topicNameProblem(".")).toContain("not a legal Kafka topic name");
    expect(topicNameProblem("..")).toContain("not a legal Kafka topic name");
    expect(topicNameProblem("")).toContain("cannot be empty");
    expect(topicNameProblem("orders/eu west")).toContain(`characters Kafka does not allow ("/" " ")`);
  });

  it("an event topic, a major's derived topic, the dead letter topic and the topic prefix are checked", () => {
    const spaced = project({ topic: "customer events" });
    const a = check(spaced.config);
    expect(a.code).toBe(1);
    expect(a.out).toMatch(
      /customers\.yaml:5: event\.topic: topic "customer events" has characters Kafka does not allow/,
    );

    // 247 + ".v2" = 250: the base topic is legal, the derived topic of major 2 is not
    const long = project({
      topic: "t".repeat(247),
      extra: [
        "    majors:",
        "      2:",
        "        schema: schemas/CustomerRegistered.avsc",
        "        fields:",
        "          customerId: after.id",
      ],
    });
    expect(check(long.config).out).toContain("majors.2.topic: topic");

    const dlq = project({
      config: [
        "pipeline: test",
        "source: { connector: postgres, topicPrefix: 'db server', files: [input.jsonl] }",
        "errors: { deadLetterTopic: '..' }",
        "transforms: [transforms/*.yaml]",
      ],
    });
    const c = check(dlq.config);
    expect(c.out).toContain(`errors.deadLetterTopic: topic ".." is not a legal Kafka topic name`);
    expect(c.out).toContain(`source.topicPrefix: topic "db server" has characters Kafka does not allow`);
  });
});

describe("paths confined to the project directory", () => {
  it("a schema outside the project (relative or absolute) is refused before it is read", () => {
    for (const schema of ["../outside/CustomerRegistered.avsc", "ABS"]) {
      const p = project();
      const path = schema === "ABS" ? join(p.outside, "CustomerRegistered.avsc") : schema;
      writeFileSync(join(p.dir, "transforms", "customers.yaml"), readTransform(path));
      const r = check(p.config);
      expect(r.code, r.out).toBe(1);
      expect(r.out).toContain(
        `customers.yaml:4: event.schema: "${path}" is outside the project directory ${p.dir}; set paths.allowAbsolute: true in the config to allow it`,
      );
    }
  });

  it("capture files and transform files outside the project are refused", () => {
    const p = project({
      config: [
        "pipeline: test",
        "source:",
        "  connector: postgres",
        "  topicPrefix: dbserver1",
        "  files: [../outside/*.jsonl]",
        "transforms: [transforms/*.yaml, /etc/hostname]",
      ],
    });
    const r = check(p.config);
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      `source.files: "${join(p.outside, "captures.jsonl")}" is outside the project directory`,
    );
    expect(r.out).toContain(`transforms: "/etc/hostname" is outside the project directory`);
  });

  it("paths.allowAbsolute: true lets schemas and captures live elsewhere", () => {
    const base = project();
    const p = project({
      config: [
        "pipeline: test",
        "source:",
        "  connector: postgres",
        "  topicPrefix: dbserver1",
        "  files: [../outside/captures.jsonl]",
        "paths:",
        "  allowAbsolute: true",
        "transforms: [transforms/*.yaml]",
      ],
    });
    writeFileSync(
      join(p.dir, "transforms", "customers.yaml"),
      readTransform(join(p.outside, "CustomerRegistered.avsc")),
    );
    const r = check(p.config);
    expect(r.out).not.toContain("outside the project");
    expect(r.code, r.out).toBe(0);
    expect(check(base.config).code).toBe(0);
  });
});

function readTransform(schema: string): string {
  return [
    "table: inventory.customers",
    "events:",
    "  - name: CustomerRegistered",
    `    schema: ${schema}`,
    "    topic: inventory.customer-events",
    "    key: after.id",
    "    fields:",
    "      customerId: after.id",
  ].join("\n");
}
