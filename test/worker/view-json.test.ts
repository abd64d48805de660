// Printed event views (replay) come from the views' own JSON text (record-processor.ts eventView): the same
// text as stringifyJson, also for a view changed after it was made.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPipeline, type OpenPipeline } from "../../src/cli/pipeline.js";
import { parseKcatLine } from "../../src/decode/kcat.js";
import { stringifyJson } from "../../src/encode/json.js";
import { stringifyJsonFast } from "../../src/encode/json-fast.js";
import type { RecordView } from "../../src/publish/output-record.js";

const root = join(import.meta.dirname, "..", "..");
let pipeline: OpenPipeline;

beforeAll(async () => {
  pipeline = await openPipeline(join(root, "changecast.yaml"), {
    stateUrl: "sqlite::memory:",
    embeddedRegistry: true,
    offlineSchemas: true,
  });
});
afterAll(async () => {
  await pipeline.close();
});

function views(): RecordView[] {
  const lines = readFileSync(join(root, "captures/postgres/dbserver1.inventory.customers.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .slice(0, 200);
  return lines.flatMap((l) => {
    const o = pipeline.processor.process(parseKcatLine(l));
    return o.kind === "events" ? o.records.map((r) => r.view) : [];
  });
}

describe("event views printed", () => {
  it("as stringifyJson prints them, as made and after changes", () => {
    const all = views();
    expect(all.length).toBeGreaterThan(50);
    const changes: ((v: RecordView) => void)[] = [
      () => {},
      (v) => (v.value = { replaced: 1n }),
      (v) => (v.headers = { ...v.headers, extra: "x" }),
      (v) => (v.headers.ce_id = "changed"),
      (v) => ((v.headers as Record<string, unknown>).n = 5),
      (v) => (v.version = -0),
      (v) => (v.topic = "other"),
      (v) => Object.assign(v, { more: true }),
      (v) => delete v.subject,
      (v) => ((v as unknown as Record<string, unknown>).key = 7n),
      (v) => {
        // the value accessor replaced by a data member in the same place of the key order
        delete v.value;
        v.value = { other: "value" };
      },
      (v) => {
        const value = v.value;
        Object.defineProperty(v, "value", { value, enumerable: true, configurable: true });
      },
    ];
    all.forEach((v, i) => {
      changes[i % changes.length]!(v);
      expect(stringifyJsonFast(v)).toBe(stringifyJson(v));
    });
  });
});
