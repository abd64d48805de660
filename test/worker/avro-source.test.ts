// source.format: avro — Debezium records written by Confluent's AvroConverter, writer schemas fetched from the
// registry, map to the same events as their JsonConverter twins.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openPipeline } from "../../src/cli/pipeline.js";
import type { SourceRecord } from "../../src/decode/change-event.js";
import { parseKcatLine } from "../../src/decode/kcat.js";
import { shippedSchema, toAvroBytes } from "../support/avro-converter.js";
import { fixtureLine, tempProject } from "../support/project.js";

const schema = {
  type: "record",
  name: "CustomerSeen",
  namespace: "io.test",
  fields: [
    { name: "customerId", type: "long" },
    { name: "email", type: "string" },
    { name: "op", type: "string" },
  ],
};

function project(format: "json" | "avro"): string {
  return tempProject({
    "changecast.yaml": [
      "pipeline: avrosource",
      `source: { connector: postgres, topicPrefix: dbserver1, format: ${format} }`,
      "state: sqlite:state.sqlite",
      "transforms: [t.yaml]",
    ].join("\n"),
    "s.avsc": schema,
    "t.yaml": [
      "table: inventory.customers",
      "events:",
      "  - name: CustomerSeen",
      "    schema: s.avsc",
      "    topic: customers",
      "    key: after.id",
      "    fields: { customerId: after.id, email: after.email, op: op }",
    ].join("\n"),
  });
}

const FIXTURES = ["01-snapshot-read-1001-first", "05-create", "09-update-replica-identity-full"];

describe("AvroConverter sources", () => {
  it("decode through the registry and publish what the JSON twins publish", async () => {
    const jsonRecords = FIXTURES.map((f) => parseKcatLine(fixtureLine("postgres", f)));
    const json = await openPipeline(join(project("json"), "changecast.yaml"));
    const expected = jsonRecords.map((r) => json.processor.process(r));
    await json.close();

    const pipeline = await openPipeline(join(project("avro"), "changecast.yaml"));
    try {
      // the connector registered its key and value schemas in the same registry
      const ids = new Map<string, number>();
      for (const part of ["key", "value"] as const) {
        const avsc = shippedSchema("postgres", "dbserver1.inventory.customers", part)!;
        const registered = await pipeline.registry.register(
          `dbserver1.inventory.customers-${part}`,
          JSON.stringify(avsc),
        );
        ids.set(JSON.stringify(avsc), registered.id);
      }
      const register = { register: (s: unknown) => ids.get(JSON.stringify(s))! };
      const avroRecords: SourceRecord[] = jsonRecords.map((r) => ({
        ...r,
        key: toAvroBytes(r.key!.toString("utf8"), shippedSchema("postgres", r.topic, "key"), register).bytes,
        value: toAvroBytes(r.value!.toString("utf8"), shippedSchema("postgres", r.topic, "value"), register)
          .bytes,
      }));
      expect(avroRecords[0]!.value![0]).toBe(0); // Confluent wire format
      await pipeline.processor.prepare(avroRecords);
      const got = avroRecords.map((r) => pipeline.processor.process(r));
      const views = (o: (typeof got)[number]) =>
        o.kind === "events" ? o.records.map((p) => p.view) : o.kind;
      expect(got.map(views)).toEqual(expected.map(views));
      expect(got.map((o) => (o.kind === "events" ? o.records[0]!.view.value : null))).toEqual([
        { customerId: 1001n, email: "sally.thomas@acme.com", op: "r" },
        { customerId: 1005n, email: "jane.doe@example.com", op: "c" },
        { customerId: 1004n, email: "anne.marie@example.com", op: "u" },
      ]);
    } finally {
      await pipeline.close();
    }
  });

  it("dead-letters a record whose schema id the registry does not know", async () => {
    const pipeline = await openPipeline(join(project("avro"), "changecast.yaml"));
    try {
      const record = parseKcatLine(fixtureLine("postgres", "05-create"));
      const bogus = { ...record, key: null, value: Buffer.from([0, 0, 0, 3, 231, 2, 4]) };
      await pipeline.processor.prepare([bogus]);
      const outcome = pipeline.processor.process(bogus);
      expect(outcome.kind).toBe("dead-letter");
      expect(outcome.kind === "dead-letter" && outcome.error.message).toMatch(/schema id 999/);
    } finally {
      await pipeline.close();
    }
  });
});
