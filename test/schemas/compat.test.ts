// Reader/writer rules. Expectations come from the Avro specification's "Schema Resolution" section and
// from Apache Avro's TestSchemaCompatibility*.java (translated: same schema pairs, same verdicts).
import { describe, expect, it } from "vitest";
import {
  canRead,
  InvalidSchemaError,
  parseAvroSchema,
  type Incompatibility,
} from "../../src/schemas/compat.js";

type S = string | object;

function check(reader: S, writer: S): Incompatibility[] {
  return canRead(parseAvroSchema(reader), parseAvroSchema(writer));
}

function compatible(reader: S, writer: S): void {
  expect(check(reader, writer)).toEqual([]);
}

function incompatibleWith(reader: S, writer: S, type: string, path: string): Incompatibility[] {
  const found = check(reader, writer);
  expect(found.map((f) => [f.type, f.path])).toContainEqual([type, path]);
  return found;
}

// --- the schemas of Avro's TestSchemas.java ---------------------------------------------------------------
const INT_ARRAY = { type: "array", items: "int" };
const LONG_ARRAY = { type: "array", items: "long" };
const STRING_ARRAY = { type: "array", items: "string" };
const INT_MAP = { type: "map", values: "int" };
const LONG_MAP = { type: "map", values: "long" };
const STRING_MAP = { type: "map", values: "string" };
const ENUM1_AB = { type: "enum", name: "Enum1", symbols: ["A", "B"] };
const ENUM1_ABC = { type: "enum", name: "Enum1", symbols: ["A", "B", "C"] };
const ENUM1_BC = { type: "enum", name: "Enum1", symbols: ["B", "C"] };
const ENUM2_AB = { type: "enum", name: "Enum2", symbols: ["A", "B"] };
const FIXED_4 = { type: "fixed", name: "Fixed", size: 4 };
const FIXED_8 = { type: "fixed", name: "Fixed", size: 8 };
const FIXED_4_OTHER = { type: "fixed", name: "AnotherName", size: 4 };

const record = (name: string, fields: object[], extra: object = {}) => ({
  type: "record",
  name,
  fields,
  ...extra,
});
const f = (name: string, type: unknown, extra: object = {}) => ({ name, type, ...extra });

const EMPTY_RECORD1 = record("Record1", []);
const EMPTY_RECORD2 = record("Record2", []);
const A_INT = record("Record1", [f("a", "int")]);
const A_LONG = record("Record1", [f("a", "long")]);
const A_INT_B_INT = record("Record1", [f("a", "int"), f("b", "int")]);
const A_DINT = record("Record1", [f("a", "int", { default: 0 })]);
const A_INT_B_DINT = record("Record1", [f("a", "int"), f("b", "int", { default: 0 })]);
const A_DINT_B_DINT = record("Record1", [f("a", "int", { default: 0 }), f("b", "int", { default: 0 })]);
const A_DINT_B_FIXED_4 = record("Record1", [f("a", "int", { default: 0 }), f("b", FIXED_4)]);
const A_DINT_B_FIXED_8 = record("Record1", [f("a", "int", { default: 0 }), f("b", FIXED_8)]);
const A_DINT_B_ENUM_1 = record("Record1", [f("a", "int", { default: 0 }), f("b", ENUM1_AB)]);
const A_DINT_B_ENUM_2 = record("Record1", [f("a", "int", { default: 0 }), f("b", ENUM2_AB)]);
const INT_LIST = record("List", [f("head", "int"), f("tail", ["null", "List"])]);
const LONG_LIST = record("List", [f("head", "long"), f("tail", ["null", "List"])]);

describe("canRead: compatible pairs from Avro's TestSchemaCompatibility", () => {
  const cases: [string, S, S][] = [
    ["boolean/boolean", "boolean", "boolean"],
    ["int/int", "int", "int"],
    ["long reads int", "long", "int"],
    ["long/long", "long", "long"],
    ["float reads int", "float", "int"],
    ["float reads long", "float", "long"],
    ["double reads long", "double", "long"],
    ["double reads int", "double", "int"],
    ["double reads float", "double", "float"],
    ["string/string", "string", "string"],
    ["bytes/bytes", "bytes", "bytes"],
    ["int array", INT_ARRAY, INT_ARRAY],
    ["long array reads int array", LONG_ARRAY, INT_ARRAY],
    ["int map", INT_MAP, INT_MAP],
    ["long map reads int map", LONG_MAP, INT_MAP],
    ["enum same symbols", ENUM1_AB, ENUM1_AB],
    ["enum with more symbols", ENUM1_ABC, ENUM1_AB],
    ["string reads bytes", "string", "bytes"],
    ["bytes reads string", "bytes", "string"],
    ["int union", ["int"], ["int"]],
    ["reordered union", ["int", "string"], ["string", "int"]],
    ["long union reads int union", ["long"], ["int"]],
    ["double union reads int union", ["double"], ["int"]],
    ["double union reads long union", ["double"], ["long"]],
    ["double union reads float union", ["double"], ["float"]],
    ["double union reads int|float", ["double"], ["int", "float"]],
    ["string union reads bytes union", ["string"], ["bytes"]],
    ["bytes union reads string union", ["bytes"], ["string"]],
    ["float reads int|float", "float", ["int", "float"]],
    ["long reads int|long", "long", ["int", "long"]],
    ["double reads int|float", "double", ["int", "float"]],
    ["double reads int|long|float|double", "double", ["int", "long", "float", "double"]],
    ["float reads singleton float union", "float", ["float"]],
    ["singleton union reads int", ["int"], "int"],
    ["int reads singleton union", "int", ["int"]],
    ["fixed same size and name", FIXED_4, FIXED_4],
    ["empty records", EMPTY_RECORD1, EMPTY_RECORD1],
    ["empty record ignores writer fields", EMPTY_RECORD1, A_INT],
    ["same record", A_INT, A_INT],
    ["record with defaults", A_DINT, A_DINT],
    ["reader without default, writer has field", A_INT, A_DINT],
    ["field promoted int to long", A_LONG, A_INT],
    ["reader drops writer field", A_INT, A_INT_B_INT],
    ["reader drops field, has default", A_DINT, A_INT_B_INT],
    ["new field with default", A_INT_B_DINT, A_INT],
    ["all reader fields defaulted, writer empty", A_DINT_B_DINT, EMPTY_RECORD1],
    ["all reader fields defaulted, writer has a", A_DINT_B_DINT, A_INT],
    ["reader requires fields the writer has", A_INT_B_INT, A_DINT_B_DINT],
    ["recursive int list", INT_LIST, INT_LIST],
    ["recursive long list", LONG_LIST, LONG_LIST],
    ["recursive long list reads int list", LONG_LIST, INT_LIST],
    ["null/null", "null", "null"],
  ];
  it.each(cases)("%s", (_name, reader, writer) => compatible(reader, writer));
});

describe("canRead: TYPE_MISMATCH (TestSchemaCompatibilityTypeMismatch)", () => {
  const cases: [S, S, string][] = [
    ["null", "int", "/"],
    ["null", "long", "/"],
    ["boolean", "int", "/"],
    ["int", "null", "/"],
    ["int", "boolean", "/"],
    ["int", "long", "/"],
    ["int", "float", "/"],
    ["int", "double", "/"],
    ["long", "float", "/"],
    ["long", "double", "/"],
    ["float", "double", "/"],
    ["double", "string", "/"],
    [FIXED_4, "string", "/"],
    ["string", "boolean", "/"],
    ["string", "int", "/"],
    ["bytes", "null", "/"],
    ["bytes", "int", "/"],
    [A_INT, "int", "/"],
    [INT_ARRAY, LONG_ARRAY, "/items"],
    [INT_MAP, INT_ARRAY, "/"],
    [INT_ARRAY, INT_MAP, "/"],
    [INT_MAP, LONG_MAP, "/values"],
    ["int", ENUM2_AB, "/"],
    [ENUM2_AB, "int", "/"],
    ["float", ["int", "long", "float", "double"], "/"],
    ["long", ["int", "float"], "/"],
    ["int", ["int", "float"], "/"],
    [INT_LIST, LONG_LIST, "/fields/head"],
    [STRING_MAP, STRING_ARRAY, "/"],
  ];
  it.each(cases)("reader %j cannot read writer %j", (reader, writer, path) => {
    incompatibleWith(reader, writer, "TYPE_MISMATCH", path);
  });

  it("names the two types in the message", () => {
    const [found] = check("int", "string");
    expect(found?.message).toBe("/: reader type int is not compatible with writer type string");
  });
});

describe("canRead: MISSING_UNION_BRANCH (TestSchemaCompatibilityMissingUnionBranch)", () => {
  const A_INT_RECORD2 = record("Record2", [f("a", "int")]);
  const cases: [S, S, string][] = [
    [["int"], ["int", "string"], "/"],
    [["string"], ["int", "string"], "/"],
    [["int"], ["int", A_INT], "/"],
    [["int", "string"], ["int", "string", "long"], "/"],
    [["null", INT_ARRAY], ["null", INT_MAP], "/"],
    [["null", "string"], "int", "/"],
    [["float"], ["int", "long", "float", "double"], "/"],
    [["int", A_INT], ["int", A_INT_RECORD2], "/"],
    [record("R", [f("x", ["null", "int"])]), record("R", [f("x", ["null", "int", "string"])]), "/fields/x"],
  ];
  it.each(cases)("reader %j lacks a branch of writer %j", (reader, writer, path) => {
    incompatibleWith(reader, writer, "MISSING_UNION_BRANCH", path);
  });

  it("says which writer type has no reader branch", () => {
    const found = check(["int"], ["int", "string"]);
    expect(found).toEqual([
      { path: "/", type: "MISSING_UNION_BRANCH", message: "/: reader union lacks writer type string" },
    ]);
  });

  it("a writer union is readable when every branch is (non-union reader)", () => {
    compatible("double", ["int", "long", "float"]);
    incompatibleWith("string", ["null", "string"], "TYPE_MISMATCH", "/");
  });

  it("a reader union reads a non-union writer when some branch does (with promotion)", () => {
    compatible(["null", "long"], "int");
    compatible(["null", "string"], "string");
    compatible(["null", A_INT], A_INT);
  });

  it("making a field optional is readable, the reverse is not", () => {
    const required = record("R", [f("x", "string")]);
    const optional = record("R", [f("x", ["null", "string"], { default: null })]);
    compatible(optional, required);
    incompatibleWith(required, optional, "TYPE_MISMATCH", "/fields/x");
  });
});

describe("canRead: READER_FIELD_MISSING_DEFAULT_VALUE", () => {
  it("reader field absent from the writer needs a default (TestSchemaCompatibilityReaderFieldMissingDefaultValue)", () => {
    incompatibleWith(A_INT, EMPTY_RECORD1, "READER_FIELD_MISSING_DEFAULT_VALUE", "/fields/a");
    incompatibleWith(A_INT_B_DINT, EMPTY_RECORD1, "READER_FIELD_MISSING_DEFAULT_VALUE", "/fields/a");
  });

  it("reports the field with the documented message", () => {
    const reader = record("Customer", [f("id", "long"), f("email", "string")]);
    const writer = record("Customer", [f("id", "long")]);
    expect(check(reader, writer)).toEqual([
      {
        path: "/fields/email",
        type: "READER_FIELD_MISSING_DEFAULT_VALUE",
        message: "/fields/email: reader field has no default and writer lacks it",
      },
    ]);
  });

  it("a null default counts as a default", () => {
    compatible(record("Record1", [f("a", "int"), f("b", ["null", "string"], { default: null })]), A_INT);
  });

  it("reports every problem, not only the first", () => {
    const reader = record("R", [f("a", "string"), f("b", "int"), f("c", "int")]);
    const writer = record("R", [f("a", "int")]);
    expect(check(reader, writer).map((i) => `${i.type} ${i.path}`)).toEqual([
      "TYPE_MISMATCH /fields/a",
      "READER_FIELD_MISSING_DEFAULT_VALUE /fields/b",
      "READER_FIELD_MISSING_DEFAULT_VALUE /fields/c",
    ]);
  });
});

describe("canRead: nested records", () => {
  const address = (fields: object[]) => record("Address", fields);
  it("paths go through nested record fields", () => {
    const reader = record("Customer", [f("address", address([f("street", "string"), f("zip", "string")]))]);
    const writer = record("Customer", [f("address", address([f("street", "string")]))]);
    incompatibleWith(reader, writer, "READER_FIELD_MISSING_DEFAULT_VALUE", "/fields/address/fields/zip");
  });

  it("inside an optional record (union with null) the record's own difference is reported", () => {
    const reader = record("Customer", [
      f("address", ["null", address([f("zip", "string")])], { default: null }),
    ]);
    const writer = record("Customer", [f("address", ["null", address([])], { default: null })]);
    expect(check(reader, writer).map((i) => `${i.type} ${i.path}`)).toEqual([
      "READER_FIELD_MISSING_DEFAULT_VALUE /fields/address/fields/zip",
    ]);
  });

  it("through arrays, maps and unions", () => {
    const line = (t: string) => record("Line", [f("qty", t)]);
    const reader = record("Order", [
      f("lines", { type: "array", items: line("int") }),
      f("tags", { type: "map", values: ["null", "Line"] }),
    ]);
    const writer = record("Order", [
      f("lines", { type: "array", items: line("long") }),
      f("tags", { type: "map", values: ["null", "Line"] }),
    ]);
    expect(check(reader, writer).map((i) => `${i.type} ${i.path}`)).toEqual([
      "TYPE_MISMATCH /fields/lines/items/fields/qty",
      // the map's union refers to the same (changed) Line record by name
      "TYPE_MISMATCH /fields/tags/values/fields/qty",
    ]);
  });
});

describe("canRead: NAME_MISMATCH (TestSchemaCompatibilityNameMismatch)", () => {
  const cases: [S, S, string][] = [
    [ENUM1_AB, ENUM2_AB, "/name"],
    [EMPTY_RECORD2, EMPTY_RECORD1, "/name"],
    [FIXED_4, FIXED_4_OTHER, "/name"],
    [A_DINT_B_ENUM_1, A_DINT_B_ENUM_2, "/fields/b/name"],
  ];
  it.each(cases)("reader %j vs writer %j", (reader, writer, path) => {
    incompatibleWith(reader, writer, "NAME_MISMATCH", path);
  });

  it("unqualified names match across namespaces, as Java's SchemaCompatibility does", () => {
    const inner = (ns: string) => ({
      type: "record",
      name: "InnerRecord1",
      namespace: ns,
      fields: [f("a", "int")],
    });
    const outer = (ns: string) => record("Record1", [f("f1", ["null", { type: "array", items: inner(ns) }])]);
    compatible(outer("ns1"), outer("ns2"));
    compatible(record("ns.Record", [f("f1", "int")]), record("Record", [f("f1", "int")]));
    compatible(record("Record", [f("f1", "int")]), record("ns.Record", [f("f1", "int")]));
  });

  it("a reader alias (qualified with the reader's namespace) matches the writer's full name", () => {
    const writer = { type: "record", name: "OldName", namespace: "io.example", fields: [f("a", "int")] };
    const reader = { ...writer, name: "NewName", aliases: ["OldName"] };
    compatible(reader, writer);
    incompatibleWith(writer, reader, "NAME_MISMATCH", "/name");
    const fullyQualified = {
      ...writer,
      name: "NewName",
      namespace: "io.other",
      aliases: ["io.example.OldName"],
    };
    compatible(fullyQualified, writer);
    const wrongNamespace = { ...writer, name: "NewName", namespace: "io.other", aliases: ["OldName"] };
    incompatibleWith(wrongNamespace, writer, "NAME_MISMATCH", "/name");
  });

  it("enum and fixed aliases work the same way", () => {
    compatible({ ...ENUM2_AB, aliases: ["Enum1"] }, ENUM1_AB);
    compatible({ ...FIXED_4_OTHER, aliases: ["Fixed"] }, FIXED_4);
  });
});

describe("canRead: field aliases", () => {
  it("a renamed reader field with the old name as alias reads the writer's field (Confluent testBasicBackwardsCompatibility)", () => {
    compatible(
      record("myrecord", [f("f1_new", "string", { aliases: ["f1"] })]),
      record("myrecord", [f("f1", "string")]),
    );
  });
  it("without the alias the renamed field is missing", () => {
    incompatibleWith(
      record("myrecord", [f("f1_new", "string")]),
      record("myrecord", [f("f1", "string")]),
      "READER_FIELD_MISSING_DEFAULT_VALUE",
      "/fields/f1_new",
    );
  });
  it("writer aliases are not used (aliases belong to the reader)", () => {
    incompatibleWith(
      record("myrecord", [f("f1", "string")]),
      record("myrecord", [f("f1_new", "string", { aliases: ["f1"] })]),
      "READER_FIELD_MISSING_DEFAULT_VALUE",
      "/fields/f1",
    );
  });
});

describe("canRead: enums", () => {
  it("writer symbols missing from the reader (TestSchemaCompatibilityMissingEnumSymbols)", () => {
    const [found] = check(ENUM1_AB, ENUM1_ABC);
    expect(found).toMatchObject({ type: "MISSING_ENUM_SYMBOLS", path: "/symbols" });
    expect(found?.message).toContain("[C]");
    incompatibleWith(ENUM1_BC, ENUM1_ABC, "MISSING_ENUM_SYMBOLS", "/symbols");
    incompatibleWith(
      record("Record1", [f("f", ENUM1_AB)]),
      record("Record1", [f("f", ENUM1_ABC)]),
      "MISSING_ENUM_SYMBOLS",
      "/fields/f/symbols",
    );
  });

  it("an enum default in the reader absorbs unknown symbols (TestSchemaCompatibilityEnumDefaults)", () => {
    compatible({ ...ENUM1_AB, default: "A" }, ENUM1_ABC);
    compatible({ ...ENUM1_BC, default: "B" }, ENUM1_ABC);
    const reader = record("Record", [
      f("Field", { type: "enum", name: "Schema", symbols: ["A", "B"], default: "A" }),
    ]);
    const writer = record("Record", [
      f("Field", { type: "enum", name: "Schema", symbols: ["A", "B", "C"], default: "A" }),
    ]);
    compatible(reader, writer);
  });

  it("a default on the writer's enum does not help the reader", () => {
    incompatibleWith(ENUM1_AB, { ...ENUM1_ABC, default: "A" }, "MISSING_ENUM_SYMBOLS", "/symbols");
  });
});

describe("canRead: fixed", () => {
  it("sizes must match (TestSchemaCompatibilityFixedSizeMismatch)", () => {
    const [found] = check(FIXED_4, FIXED_8);
    expect(found).toMatchObject({ type: "FIXED_SIZE_MISMATCH", path: "/size" });
    incompatibleWith(FIXED_8, FIXED_4, "FIXED_SIZE_MISMATCH", "/size");
    incompatibleWith(A_DINT_B_FIXED_4, A_DINT_B_FIXED_8, "FIXED_SIZE_MISMATCH", "/fields/b/size");
  });
  it("fixed and bytes do not promote", () => {
    incompatibleWith("bytes", FIXED_4, "TYPE_MISMATCH", "/");
  });
});

describe("canRead: decimal logical type (Avro specification: decimals match if scale and precision match)", () => {
  const dec = (precision: number, scale?: number) => ({
    type: "bytes",
    logicalType: "decimal",
    precision,
    scale,
  });
  const fixedDec = (precision: number, scale: number) => ({
    ...FIXED_8,
    logicalType: "decimal",
    precision,
    scale,
  });
  it("same precision and scale is compatible", () => {
    compatible(dec(10, 2), dec(10, 2));
    compatible(fixedDec(10, 2), fixedDec(10, 2));
  });
  it("scale defaults to 0", () => {
    compatible(dec(10), dec(10, 0));
  });
  it("a different scale or precision is DECIMAL_MISMATCH", () => {
    incompatibleWith(dec(10, 3), dec(10, 2), "DECIMAL_MISMATCH", "/");
    incompatibleWith(dec(12, 2), dec(10, 2), "DECIMAL_MISMATCH", "/");
    incompatibleWith(
      record("R", [f("amount", fixedDec(12, 2))]),
      record("R", [f("amount", fixedDec(10, 2))]),
      "DECIMAL_MISMATCH",
      "/fields/amount",
    );
  });
  it("a decimal on one side only falls back to the underlying type", () => {
    compatible(dec(10, 2), "bytes");
    compatible("bytes", dec(10, 2));
  });
  it("an invalid decimal (scale > precision) is ignored, as the specification requires", () => {
    compatible(dec(2, 5), dec(10, 2));
  });
  it("other logical types follow their underlying types", () => {
    compatible(
      { type: "long", logicalType: "timestamp-micros" },
      { type: "long", logicalType: "timestamp-millis" },
    );
    compatible({ type: "long", logicalType: "timestamp-millis" }, { type: "int", logicalType: "date" });
    compatible({ type: "string", logicalType: "uuid" }, "string");
  });
});

describe("canRead: recursion", () => {
  it("terminates on recursive schemas and still finds differences inside them", () => {
    const list = (valueType: string, extra: object[] = []) =>
      record("Node", [f("value", valueType), f("next", ["null", "Node"], { default: null }), ...extra]);
    compatible(list("int"), list("int"));
    compatible(list("long"), list("int"));
    incompatibleWith(list("int"), list("long"), "TYPE_MISMATCH", "/fields/value");
    incompatibleWith(
      list("int", [f("label", "string")]),
      list("int"),
      "READER_FIELD_MISSING_DEFAULT_VALUE",
      "/fields/label",
    );
  });

  it("handles mutually recursive records", () => {
    const tree = (leafType: string) =>
      record("Tree", [
        f("children", { type: "array", items: record("Branch", [f("leaf", leafType), f("sub", "Tree")]) }),
      ]);
    compatible(tree("long"), tree("int"));
    incompatibleWith(tree("int"), tree("string"), "TYPE_MISMATCH", "/fields/children/items/fields/leaf");
  });
});

describe("parseAvroSchema", () => {
  it("accepts primitive names, type wrappers and JSON text", () => {
    expect(parseAvroSchema("string")).toEqual({ kind: "primitive", type: "string" });
    expect(parseAvroSchema('"string"')).toEqual({ kind: "primitive", type: "string" });
    expect(parseAvroSchema({ type: "string" })).toEqual({ kind: "primitive", type: "string" });
    compatible({ type: "string" }, "string");
  });

  it("keeps logical type attributes", () => {
    expect(parseAvroSchema({ type: "bytes", logicalType: "decimal", precision: 9, scale: 2 })).toEqual({
      kind: "primitive",
      type: "bytes",
      logical: { name: "decimal", precision: 9, scale: 2 },
    });
  });

  it("resolves references to named types defined earlier, with inherited namespaces", () => {
    const schema = parseAvroSchema({
      type: "record",
      name: "Customer",
      namespace: "io.example",
      fields: [
        f("home", record("Address", [f("zip", "string")])),
        f("work", "Address"),
        f("billing", "io.example.Address"),
        f("status", { type: "enum", name: "Status", symbols: ["A"] }),
      ],
    });
    if (schema.kind !== "record") throw new Error("expected a record");
    const [home, work, billing, status] = schema.fields;
    expect(home?.type).toMatchObject({ kind: "record", name: "io.example.Address" });
    expect(work?.type).toBe(home?.type);
    expect(billing?.type).toBe(home?.type);
    expect(status?.type).toMatchObject({ kind: "enum", name: "io.example.Status" });
  });

  it("a dotted name sets the namespace for nested types", () => {
    const schema = parseAvroSchema(record("a.b.Outer", [f("inner", record("Inner", [f("x", "int")]))]));
    if (schema.kind !== "record") throw new Error("expected a record");
    expect(schema.fields[0]?.type).toMatchObject({ name: "a.b.Inner" });
  });

  it("recursive references point at the same node", () => {
    const schema = parseAvroSchema(INT_LIST);
    if (schema.kind !== "record") throw new Error("expected a record");
    const tail = schema.fields[1]?.type;
    expect(tail?.kind === "union" && tail.branches[1]).toBe(schema);
  });

  it.each([
    ["invalid JSON", "{not json"],
    ["unknown type name", { type: "record", name: "R", fields: [f("a", "Unknown")] }],
    ["default of the wrong type", record("R", [f("a", "int", { default: "x" })])],
    ["duplicate field", record("R", [f("a", "int"), f("a", "int")])],
    ["enum default not a symbol", { type: "enum", name: "E", symbols: ["A"], default: "B" }],
    ["duplicate union branch", ["null", "null"]],
    ["missing type", { name: "x" }],
  ])("rejects %s with InvalidSchemaError", (_name, input) => {
    expect(() => parseAvroSchema(input)).toThrow(InvalidSchemaError);
  });

  it("says why a schema is invalid", () => {
    expect(() => parseAvroSchema({ type: "record", name: "R", fields: [f("a", "Nope")] })).toThrow(/Nope/);
  });
});
