// Compatibility levels. Expectations from Confluent's AvroCompatibilityTest.java and its documentation:
// BACKWARD = new schema reads the latest, FORWARD = latest reads the new, FULL = both,
// *_TRANSITIVE = against all previous versions, NONE = no check; previous versions are oldest first.
import { describe, expect, it } from "vitest";
import { checkCompatibility, InvalidSchemaError } from "../../src/schemas/compat.js";
import { COMPATIBILITY_LEVELS } from "../../src/schemas/registry.js";

const rec = (fields: object[]) => JSON.stringify({ type: "record", name: "myrecord", fields });
// the schemas of Confluent's AvroCompatibilityTest
const schema1 = rec([{ type: "string", name: "f1" }]);
const schema2 = rec([
  { type: "string", name: "f1" },
  { type: "string", name: "f2", default: "foo" },
]);
const schema3 = rec([
  { type: "string", name: "f1" },
  { type: "string", name: "f2" },
]);
const schema4 = rec([{ type: "string", name: "f1_new", aliases: ["f1"] }]);
const schema6 = rec([{ type: ["null", "string"], name: "f1", doc: "doc of f1" }]);
const schema7 = rec([{ type: ["null", "string", "int"], name: "f1", doc: "doc of f1" }]);
const schema8 = rec([
  { type: "string", name: "f1" },
  { type: "string", name: "f2", default: "foo" },
  { type: "string", name: "f3", default: "bar" },
]);

const ok = (
  level: Parameters<typeof checkCompatibility>[0],
  next: string | object,
  previous: (string | object)[],
) => expect(checkCompatibility(level, next, previous)).toEqual({ isCompatible: true, messages: [] });
const bad = (level: Parameters<typeof checkCompatibility>[0], next: string, previous: string[]) => {
  const result = checkCompatibility(level, next, previous);
  expect(result.isCompatible).toBe(false);
  expect(result.messages.length).toBeGreaterThan(0);
  return result.messages;
};

describe("BACKWARD (testBasicBackwardsCompatibility)", () => {
  it("adding a field with a default is backward compatible", () => ok("BACKWARD", schema2, [schema1]));
  it("adding a field without a default is not", () => bad("BACKWARD", schema3, [schema1]));
  it("renaming a field with an alias is backward compatible", () => ok("BACKWARD", schema4, [schema1]));
  it("evolving a field type to a union is backward compatible", () => ok("BACKWARD", schema6, [schema1]));
  it("removing a type from a union is not", () => bad("BACKWARD", schema1, [schema6]));
  it("adding a type to a union is backward compatible", () => ok("BACKWARD", schema7, [schema6]));
  it("removing a type from a union is not (2)", () => bad("BACKWARD", schema6, [schema7]));
  it("checks only the latest version", () => ok("BACKWARD", schema3, [schema1, schema2]));
});

describe("BACKWARD_TRANSITIVE (testBasicBackwardsTransitiveCompatibility)", () => {
  it("iteratively adding fields with defaults", () => ok("BACKWARD_TRANSITIVE", schema8, [schema1, schema2]));
  it("adding a field with a default", () => ok("BACKWARD_TRANSITIVE", schema2, [schema1]));
  it("removing a default is compatible with the version that had it", () =>
    ok("BACKWARD_TRANSITIVE", schema3, [schema2]));
  it("but not transitively", () => {
    const messages = bad("BACKWARD_TRANSITIVE", schema3, [schema1, schema2]);
    expect(messages).toEqual([
      "against version 1 (previous[0]): /fields/f2: reader field has no default and writer lacks it [new schema reading version 1 data]",
    ]);
  });
});

describe("FORWARD (testBasicForwardsCompatibility)", () => {
  it("adding a field is forward compatible", () => {
    ok("FORWARD", schema2, [schema1]);
    ok("FORWARD", schema3, [schema1]);
    ok("FORWARD", schema3, [schema2]);
    ok("FORWARD", schema2, [schema3]);
  });
  it("checks only the latest version", () => ok("FORWARD", schema1, [schema3, schema2]));
  it("removing a field the old readers require is not forward compatible", () => {
    const messages = bad("FORWARD", schema1, [schema3]);
    expect(messages[0]).toMatch(/^against version 1 \(previous\[0\]\): \/fields\/f2: /);
  });
});

describe("FORWARD_TRANSITIVE (testBasicForwardsTransitiveCompatibility)", () => {
  it("iteratively removing fields with defaults", () =>
    ok("FORWARD_TRANSITIVE", schema1, [schema8, schema2]));
  it("adding a default to a field", () => ok("FORWARD_TRANSITIVE", schema2, [schema3]));
  it("removing a field with a default", () => ok("FORWARD_TRANSITIVE", schema1, [schema2]));
  it("removing a default is not transitively compatible", () => {
    const messages = bad("FORWARD_TRANSITIVE", schema1, [schema2, schema3]);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain("against version 2 (previous[1]): /fields/f2:");
  });
});

describe("FULL (testBasicFullCompatibility)", () => {
  it("adding a field with a default is backward and forward compatible", () =>
    ok("FULL", schema2, [schema1]));
  it("checks only the latest version (adding)", () => ok("FULL", schema3, [schema1, schema2]));
  it("checks only the latest version (removing)", () => ok("FULL", schema1, [schema3, schema2]));
  it("a change readable only one way is not FULL compatible", () => {
    bad("FULL", schema3, [schema1]); // backward fails
    bad("FULL", schema1, [schema3]); // forward fails
  });
});

describe("FULL_TRANSITIVE (testBasicFullTransitiveCompatibility)", () => {
  it("iteratively adding fields with defaults", () => ok("FULL_TRANSITIVE", schema8, [schema1, schema2]));
  it("iteratively removing fields with defaults", () => ok("FULL_TRANSITIVE", schema1, [schema8, schema2]));
  it("adding a default to a field", () => ok("FULL_TRANSITIVE", schema2, [schema3]));
  it("removing a field with a default", () => ok("FULL_TRANSITIVE", schema1, [schema2]));
  it("adding a field with a default", () => ok("FULL_TRANSITIVE", schema2, [schema1]));
  it("removing a default from a field", () => ok("FULL_TRANSITIVE", schema3, [schema2]));
  it("transitively adding a field without a default", () =>
    bad("FULL_TRANSITIVE", schema3, [schema2, schema1]));
  it("transitively removing a field without a default", () =>
    bad("FULL_TRANSITIVE", schema1, [schema2, schema3]));
});

describe("transitive vs non-transitive differ", () => {
  // v1 {a}, v2 {a, b with default}, v3 {a, b without default}: v3 reads v2 data (b is there) but not v1 data.
  const v1 = rec([{ name: "a", type: "string" }]);
  const v2 = rec([
    { name: "a", type: "string" },
    { name: "b", type: "string", default: "x" },
  ]);
  const v3 = rec([
    { name: "a", type: "string" },
    { name: "b", type: "string" },
  ]);
  it("BACKWARD passes against v2 only, BACKWARD_TRANSITIVE fails against v1", () => {
    ok("BACKWARD", v3, [v1, v2]);
    const messages = bad("BACKWARD_TRANSITIVE", v3, [v1, v2]);
    expect(messages.every((m) => m.startsWith("against version 1 (previous[0])"))).toBe(true);
  });
  it("FULL passes against v2 only, FULL_TRANSITIVE fails against v1", () => {
    ok("FULL", v3, [v1, v2]);
    bad("FULL_TRANSITIVE", v3, [v1, v2]);
  });
  it("FORWARD passes against the latest only, FORWARD_TRANSITIVE fails against an older reader", () => {
    // new schema drops b; v2 reader has a default for b, v3 reader (older here) does not
    ok("FORWARD", v1, [v3, v2]);
    const messages = bad("FORWARD_TRANSITIVE", v1, [v3, v2]);
    expect(messages).toEqual([
      "against version 1 (previous[0]): /fields/b: reader field has no default and writer lacks it [version 1 reading new data]",
    ]);
  });
});

describe("NONE and edge cases", () => {
  it("NONE is always compatible", () => {
    ok("NONE", JSON.stringify("int"), [JSON.stringify("string")]);
    ok("NONE", schema3, [schema1]);
  });
  it.each(COMPATIBILITY_LEVELS)("%s with no previous version is compatible", (level) =>
    ok(level, schema3, []),
  );
  it.each(COMPATIBILITY_LEVELS)("%s accepts an identical schema", (level) =>
    ok(level, schema8, [schema8, schema8]),
  );
  it("accepts parsed JSON objects as well as text", () => {
    ok("BACKWARD", JSON.parse(schema2) as object, [JSON.parse(schema1) as object]);
  });
  it("FULL reports both directions", () => {
    const a = JSON.stringify({ type: "enum", name: "E", symbols: ["A", "B"] });
    const b = JSON.stringify({ type: "enum", name: "E", symbols: ["B", "C"] });
    const messages = bad("FULL", b, [a]);
    expect(messages).toHaveLength(2);
    expect(messages[0]).toContain("/symbols");
    expect(messages[0]).toContain("[new schema reading version 1 data]");
    expect(messages[1]).toContain("[version 1 reading new data]");
  });
  it("throws InvalidSchemaError for an invalid schema, new or previous", () => {
    expect(() => checkCompatibility("BACKWARD", "{", [schema1])).toThrow(InvalidSchemaError);
    expect(() => checkCompatibility("NONE", schema1, [rec([{ name: "x", type: "Nope" }])])).toThrow(
      InvalidSchemaError,
    );
  });
});
