// Loads the Debezium fixture records (shared/fixtures/debezium) as SourceRecords, via each folder's index.json.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { SourceRecord } from "../../src/decode/change-event.js";

import { FIXTURES } from "../support/project.js";

export { FIXTURES };

export interface FixtureRecord {
  keyFile: string;
  valueFile: string;
  sql: string;
  /** key/value file text; null for files whose whole content is `null` */
  keyText: string | null;
  valueText: string | null;
  record: SourceRecord;
}

interface IndexEntry {
  key_file: string;
  value_file: string;
  topic: string;
  headers: Record<string, string>;
  sql: string;
}

function readRecordFile(dir: string, file: string): string | null {
  const text = readFileSync(join(dir, file), "utf8");
  return text.trim() === "null" ? null : text;
}

export function loadFixtures(connector: "postgres" | "oracle"): FixtureRecord[] {
  const dir = join(FIXTURES, connector);
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as { records: IndexEntry[] };
  return index.records.map((r, i) => {
    const keyText = readRecordFile(dir, r.key_file);
    const valueText = readRecordFile(dir, r.value_file);
    return {
      keyFile: r.key_file,
      valueFile: r.value_file,
      sql: r.sql,
      keyText,
      valueText,
      record: {
        topic: r.topic,
        partition: 0,
        offset: String(i),
        timestamp: null,
        headers: r.headers,
        key: keyText === null ? null : Buffer.from(keyText, "utf8"),
        value: valueText === null ? null : Buffer.from(valueText, "utf8"),
      },
    };
  });
}

/** A record from raw key/value text (null = no bytes). */
export function sourceRecord(topic: string, key: string | null, value: string | null): SourceRecord {
  return {
    topic,
    partition: 0,
    offset: "0",
    timestamp: null,
    headers: {},
    key: key === null ? null : Buffer.from(key, "utf8"),
    value: value === null ? null : Buffer.from(value, "utf8"),
  };
}
