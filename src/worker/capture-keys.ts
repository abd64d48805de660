// `changecast check`: the primary-key columns of `state: rows` tables that declare no `primaryKey:`, read from the
// record keys in the pipeline's capture files (`source.files`), so that a lookup() with a key list of the wrong
// length is reported with its file and line, not only as a dead letter at run time. Reading is bounded: it stops
// once every table is found, and after MAX_BYTES per file.
import { closeSync, openSync, readSync } from "node:fs";

const MAX_BYTES = 64 * 1024 * 1024;
const CHUNK = 1024 * 1024;

/** table → its key columns in key order, for the tables whose topic (`<prefix>.<table>`) has a keyed JSON record. */
export function captureKeyColumns(
  files: readonly string[],
  topicPrefix: string,
  tables: readonly string[],
): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const wanted = new Map(tables.map((t) => [topicPrefix ? `${topicPrefix}.${t}` : t, t]));
  for (const file of files) {
    if (found.size === wanted.size) break;
    readLines(file, (line) => {
      const columns = keyColumnsOf(line, wanted, found);
      if (columns) found.set(columns.table, columns.columns);
      return found.size < wanted.size;
    });
  }
  return found;
}

/** Calls `onLine` per line until it returns false, the file ends or MAX_BYTES were read. Unreadable: nothing. */
function readLines(file: string, onLine: (line: string) => boolean): void {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return;
  }
  try {
    const buffer = Buffer.alloc(CHUNK);
    let rest = "";
    let total = 0;
    for (;;) {
      const n = readSync(fd, buffer, 0, CHUNK, null);
      if (n <= 0) break;
      total += n;
      const lines = (rest + buffer.toString("utf8", 0, n)).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) if (!onLine(line)) return;
      if (total >= MAX_BYTES) return;
    }
    if (rest) onLine(rest);
  } catch {
    // a file check cannot read is reported elsewhere (source.files); no key columns from it
  } finally {
    closeSync(fd);
  }
}

function keyColumnsOf(
  line: string,
  wanted: ReadonlyMap<string, string>,
  found: ReadonlyMap<string, string[]>,
): { table: string; columns: string[] } | null {
  if (!line.includes('"topic"')) return null;
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isObject(record) || typeof record.topic !== "string") return null;
  const table = wanted.get(record.topic);
  if (table === undefined || found.has(table)) return null;
  if (record.keyEncoding !== undefined && record.keyEncoding !== "utf8") return null;
  let key: unknown = record.key;
  if (typeof key === "string") {
    try {
      key = JSON.parse(key);
    } catch {
      return null;
    }
  }
  if (!isObject(key)) return null;
  // JsonConverter with schemas: the key struct's fields in order; schemaless: the object's members
  if (isObject(key.schema) && Array.isArray(key.schema.fields)) {
    const columns = key.schema.fields.map((f) =>
      isObject(f) && typeof f.field === "string" ? f.field : null,
    );
    return columns.length && columns.every((c) => c !== null)
      ? { table, columns: columns as string[] }
      : null;
  }
  const columns = Object.keys(key);
  return columns.length ? { table, columns } : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
