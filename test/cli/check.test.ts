import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkCommand } from "../../src/cli/check.js";

const schema = {
  type: "record",
  name: "CustomerRegistered",
  namespace: "io.example.customer",
  fields: [
    { name: "customerId", type: "long" },
    { name: "email", type: "string" },
    { name: "note", type: ["null", "string"], default: null },
  ],
};

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "cc-check-"));
  mkdirSync(join(dir, "transforms"));
  mkdirSync(join(dir, "schemas"));
  writeFileSync(join(dir, "schemas", "CustomerRegistered.avsc"), JSON.stringify(schema));
  writeFileSync(join(dir, "input.jsonl"), "");
  const config = [
    "pipeline: test",
    "source:",
    "  connector: postgres",
    "  topicPrefix: dbserver1",
    "  format: json",
    "  files: [input.jsonl]",
    "transforms: [transforms/*.yaml]",
  ].join("\n");
  writeFileSync(join(dir, "changecast.yaml"), files["changecast.yaml"] ?? config);
  for (const [name, text] of Object.entries(files))
    if (name !== "changecast.yaml") writeFileSync(join(dir, name), text);
  return dir;
}

const goodTransform = [
  "table: inventory.customers",
  "events:",
  "  - name: CustomerRegistered",
  "    schema: schemas/CustomerRegistered.avsc",
  "    topic: inventory.customer-events",
  '    when: op == "c"',
  "    key: after.id",
  "    fields:",
  "      customerId: after.id",
  "      email: after.email",
].join("\n");

function check(dir: string): { code: number; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const code = checkCommand(
    { config: join(dir, "changecast.yaml") },
    { out: (l) => out.push(l), err: (l) => err.push(l) },
  );
  return { code, out, err };
}

function lineOf(text: string, needle: string): number {
  return text.split("\n").findIndex((l) => l.includes(needle)) + 1;
}

describe("changecast check", () => {
  it("accepts a valid project", () => {
    const r = check(project({ "transforms/customers.yaml": goodTransform }));
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/1 transform files, 1 tables, 1 events, 1 subjects/);
  });

  const cases: [string, (t: string) => string, string, RegExp][] = [
    ["bad YAML", () => "table: [unclosed\nevents: x", "table", /invalid YAML/],
    [
      "unknown key in an event",
      (t) => t.replace("    topic:", "    topik: x\n    topic:"),
      "topik",
      /unknown key "topik"/,
    ],
    [
      "expression that does not compile",
      (t) => t.replace("key: after.id", "key: after.id +"),
      "key:",
      /does not compile/,
    ],
    [
      "unknown variable",
      (t) => t.replace("email: after.email", "email: row.email"),
      "row.email",
      /unknown variable "row"/,
    ],
    [
      "an unclosed flow sequence at its line, not the file's first",
      (t) => t.replace("    key: after.id", "    key: [after.id"),
      "[after.id",
      /invalid YAML: Flow sequence/,
    ],
    [
      "an unclosed quote at its line",
      (t) => t.replace('when: op == "c"', 'when: "op == 1'),
      '"op == 1',
      /invalid YAML: Missing closing "quote/,
    ],
    [
      "an unknown function",
      (t) => t.replace("email: after.email", "email: lower(after.email)"),
      "lower(",
      /field "email": unknown function lower\(\)/,
    ],
    [
      "an unknown method",
      (t) => t.replace("email: after.email", "email: after.email.toLowerCase()"),
      "toLowerCase",
      /field "email": unknown function \.toLowerCase\(\)/,
    ],
    [
      "argument types no overload accepts",
      (t) => t.replace("email: after.email", 'email: after.email.replace("@", 0)'),
      'replace("@", 0)',
      /field "email": .*replace\(string, int\): wrong argument types/,
    ],
    [
      "field missing from the schema",
      (t) => t + "\n      nickname: after.nick",
      "nickname",
      /"nickname" is not in schema/,
    ],
    [
      "literal not coercible to the field type",
      (t) => t.replace("customerId: after.id", 'customerId: "abc"'),
      '"abc"',
      /customerId/,
    ],
    [
      "required schema field not mapped",
      (t) => t.replace(/\n {6}email: after.email$/, ""),
      "fields:",
      /"email".*not mapped/,
    ],
    [
      "schema file missing",
      (t) => t.replace("schemas/CustomerRegistered.avsc", "schemas/Nope.avsc"),
      "Nope",
      /not found/,
    ],
  ];
  for (const [name, edit, needle, message] of cases) {
    it(`reports ${name} with file:line`, () => {
      const text = edit(goodTransform);
      const dir = project({ "transforms/customers.yaml": text });
      const r = check(dir);
      expect(r.code).toBe(1);
      const file = join(dir, "transforms", "customers.yaml");
      const line = lineOf(text, needle);
      expect(
        r.err.some((l) => l.startsWith(`${file}:${line}: `) && message.test(l)),
        r.err.join("\n"),
      ).toBe(true);
    });
  }

  it("reports a YAML syntax error once, not each error that follows from it", () => {
    // one over-indented line: the parser reports it twice (nested compact mapping, multi-line implicit key)
    const text = goodTransform.replace("      email: after.email", "       email: after.email");
    const dir = project({ "transforms/customers.yaml": text });
    const r = check(dir);
    expect(r.code).toBe(1);
    expect(r.err.filter((l) => l.includes("invalid YAML"))).toEqual([
      `${join(dir, "transforms", "customers.yaml")}:9: invalid YAML: Nested mappings are not allowed in compact mappings`,
    ]);
  });

  it("warns when an epoch field's unit is not the one of its Avro type, and still passes", () => {
    const withTime = {
      ...schema,
      fields: [
        ...schema.fields,
        { name: "at", type: { type: "long", logicalType: "timestamp-micros" } },
        { name: "atMs", type: ["null", { type: "long", logicalType: "timestamp-millis" }], default: null },
        { name: "atOk", type: ["null", { type: "long", logicalType: "timestamp-micros" }], default: null },
      ],
    };
    const text = goodTransform + "\n      at: source.ts_ms\n      atMs: ts_ns\n      atOk: source.ts_us";
    const dir = project({ "transforms/customers.yaml": text });
    writeFileSync(join(dir, "schemas", "CustomerRegistered.avsc"), JSON.stringify(withTime));
    const r = check(dir);
    const file = join(dir, "transforms", "customers.yaml");
    expect(r.code).toBe(0);
    expect(r.err).toEqual([
      `${file}:${lineOf(text, "at: source.ts_ms")}: warning: field "at": source.ts_ms counts milliseconds but timestamp-micros takes epoch microseconds (use source.ts_us)`,
      `${file}:${lineOf(text, "atMs: ts_ns")}: warning: field "atMs": ts_ns counts nanoseconds but timestamp-millis takes epoch milliseconds (use ts_ms)`,
    ]);
  });

  it("reports a plain source.files path that names no file, and takes a file name with glob characters as it is", () => {
    const config = (files: string) =>
      [
        "pipeline: test",
        "source:",
        "  connector: postgres",
        "  topicPrefix: dbserver1",
        `  files: [${files}]`,
        "transforms: [transforms/*.yaml]",
      ].join("\n");
    const missing = project({
      "changecast.yaml": config("nope.jsonl"),
      "transforms/customers.yaml": goodTransform,
    });
    const r = check(missing);
    expect(r.code).toBe(1);
    expect(r.err).toContainEqual(
      `${join(missing, "changecast.yaml")}:5: source.files: "nope.jsonl" matches no file`,
    );
    const odd = project({
      "changecast.yaml": config('"dump[1].jsonl"'),
      "transforms/customers.yaml": goodTransform,
      "dump[1].jsonl": "",
    });
    expect(check(odd).code).toBe(0);
  });

  it("reports config problems with file:line", () => {
    const config =
      "pipeline: test\nsource:\n  connector: mysql\n  topicPrefix: x\n  files: [none/*.jsonl]\ntransforms: [transforms/*.yaml]\nbogus: 1\n";
    const dir = project({ "changecast.yaml": config, "transforms/customers.yaml": goodTransform });
    const r = check(dir);
    expect(r.code).toBe(1);
    const file = join(dir, "changecast.yaml");
    expect(r.err).toContainEqual(
      expect.stringMatching(new RegExp(`^${file}:3: .*"mysql" is not one of postgres, oracle`)),
    );
    expect(r.err).toContainEqual(expect.stringMatching(new RegExp(`^${file}:5: .*matches no file`)));
    expect(r.err).toContainEqual(expect.stringMatching(new RegExp(`^${file}:7: unknown key "bogus"`)));
  });
});
