// The JsonConverter decoder reading a value through the parts the kcat reader knew of it (value-parts.ts)
// against the same bytes without them (a copy): the same decoded record, or the same error, on capture lines
// and mutations of their payloads.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCaptureLine } from "../../src/decode/kcat.js";
import { decodeDebeziumJson } from "../../src/decode/debezium-json.js";
import { valueParts } from "../../src/decode/value-parts.js";
import type { SourceRecord } from "../../src/decode/change-event.js";

const root = join(import.meta.dirname, "..", "..");
const files = [
  "postgres/dbserver1.inventory.customers.jsonl",
  "postgres/dbserver1.inventory.orders.jsonl",
  "postgres/dbserver1.transaction.jsonl",
  "postgres/__debezium-heartbeat.dbserver1.jsonl",
  "oracle/server1.INVENTORY.ORDERS.jsonl",
  "oracle/server1.INVENTORY.PRODUCTS.jsonl",
];

/** Changes to the escaped payload part of a kcat line (applied to every line of a file). */
const MUTATIONS: Record<string, (line: string) => string> = {
  none: (l) => l,
  "a column named payload": (l) => l.replace(/\\"after\\":\{/, '\\"after\\":{\\"payload\\":1,'),
  "a type mismatch": (l) => l.replace(/(\\"after\\":\{\\"[A-Za-z_]+\\":)(-?\d+)/, '$1\\"x$2\\"'),
  "a payload that is no JSON": (l) => l.replace(/}"}$/, '"}'),
  "white space after the value": (l) => l.replace(/}"}$/, '} \\n"}'),
  "text after the value": (l) => l.replace(/}"}$/, '}x"}'),
  "unicode in the payload": (l) => l.replace(/\\"after\\":\{/, '\\"after\\":{\\"z\\":\\"é😀\\\\u00e9\\",'),
  "a lone surrogate in the payload": (l) =>
    l.replace(/\\"after\\":\{/, '\\"after\\":{\\"z\\":\\"\\\\ud800\\",'),
  "white space before the payload key": (l) => l.replace(/},\\"payload\\":/, '} ,\\"payload\\":'),
  "an unsafe integer": (l) => l.replace(/(\\"ts_ms\\":)\d+/, "$19007199254740993"),
  "nested too deeply": (l) => l.replace(/\\"after\\":\{/, '\\"after\\":{\\"z\\":' + "[".repeat(20000) + ","),
};

function outcome(record: SourceRecord): unknown {
  try {
    return { decoded: decodeDebeziumJson(record) };
  } catch (err) {
    return { error: (err as Error).name + ": " + (err as Error).message };
  }
}

describe("JsonConverter values decoded through the reader's parts", () => {
  for (const [name, mutate] of Object.entries(MUTATIONS)) {
    it(`same result as from the bytes alone: ${name}`, () => {
      let viaParts = 0;
      let changed = 0;
      for (const file of files) {
        const lines = readFileSync(join(root, "captures", file), "utf8")
          .split("\n")
          .filter(Boolean);
        for (const line of lines.slice(0, 25)) {
          let record: SourceRecord;
          try {
            if (mutate(line) !== line) changed++;
            const parsed = parseCaptureLine(mutate(line));
            if (parsed.kind !== "record") continue;
            record = parsed.record;
          } catch {
            continue;
          }
          if (record.value && valueParts(record.value)) viaParts++;
          const copy = { ...record, value: record.value ? Buffer.from(record.value) : null };
          expect(outcome(record)).toEqual(outcome(copy));
        }
      }
      // the mutation applies, and the parts were used (every record of a file but its first)
      if (name !== "none") expect(changed).toBeGreaterThan(0);
      expect(viaParts).toBeGreaterThan(100);
    });
  }
});
