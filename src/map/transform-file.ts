// Transform files (SPEC §4): one per source table, declaring the business events derived from its changes.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { isScalar, type Node } from "yaml";
import { EventSchema } from "../encode/event-schema.js";
import { mapEntries, seqItems, YamlSource, type Problem, type YamlNode } from "../config/yaml-source.js";
import { compileExpression, ExpressionError, type Expression } from "./expression.js";

export interface FieldMapping {
  name: string;
  expression: Expression;
  line: number;
}

export interface EventDeclaration {
  /** the Avro record name (the schema's name or full name) */
  name: string;
  schema: EventSchema;
  schemaFile: string;
  topic: string;
  /** absent: always */
  when: Expression | null;
  key: Expression;
  fields: FieldMapping[];
  file: string;
  line: number;
}

export interface TransformFile {
  file: string;
  /** "<schema>.<table>" as Debezium names it */
  table: string;
  events: EventDeclaration[];
}

const FILE_KEYS = ["table", "events"];
const EVENT_KEYS = ["name", "schema", "topic", "when", "key", "fields"];

/** Loads a transform file, collecting every problem with its line rather than stopping at the first. */
export function readTransformFile(
  file: string,
  baseDir: string,
  text?: string,
): { transform: TransformFile | null; problems: Problem[] } {
  const { source: yaml, problems } = YamlSource.read(file, text);
  if (!yaml) return { transform: null, problems };
  const root = yaml.doc.contents as YamlNode;
  const entries = mapEntries(root);
  if (!entries.length) return { transform: null, problems: [yaml.problem(root, "transform file must be a mapping")] };
  const get = (node: YamlNode, key: string) => mapEntries(node).find(([k]) => k === key);

  for (const [key, keyNode] of entries) {
    if (!FILE_KEYS.includes(key)) problems.push(yaml.problem(keyNode, `unknown key "${key}" (allowed: ${FILE_KEYS.join(", ")})`));
  }
  const tableEntry = get(root, "table");
  const table = scalarText(tableEntry?.[2]);
  if (!table) problems.push(yaml.problem(root, 'table is required ("<schema>.<table>", e.g. inventory.customers)'));
  else if (!/^[^.\s]+\.[^.\s]+$/.test(table)) {
    problems.push(yaml.problem(tableEntry?.[2], `table "${table}" must be "<schema>.<table>" as Debezium names it`));
  }
  const eventsNode = get(root, "events")?.[2];
  const eventNodes = seqItems(eventsNode);
  if (!eventNodes.length) problems.push(yaml.problem(eventsNode ?? root, "events: at least one event is required"));

  const events: EventDeclaration[] = [];
  const names = new Set<string>();
  for (const node of eventNodes) {
    const event = readEvent(yaml, node, baseDir, problems);
    if (!event) continue;
    if (names.has(event.name)) problems.push(yaml.problem(node, `event "${event.name}" is declared twice`));
    names.add(event.name);
    events.push(event);
  }
  return { transform: { file, table: table ?? "", events }, problems };
}

function readEvent(yaml: YamlSource, node: Node, baseDir: string, problems: Problem[]): EventDeclaration | null {
  const entries = mapEntries(node);
  if (!entries.length) {
    problems.push(yaml.problem(node, "an event must be a mapping with name, schema, topic, key, fields"));
    return null;
  }
  const byKey = new Map(entries.map(([k, keyNode, value]) => [k, { keyNode, value }]));
  for (const [key, keyNode] of entries) {
    if (!EVENT_KEYS.includes(key)) {
      problems.push(yaml.problem(keyNode, `unknown key "${key}" in event (allowed: ${EVENT_KEYS.join(", ")})`));
    }
  }
  const required = (key: string): string | null => {
    const text = scalarText(byKey.get(key)?.value);
    if (!text) problems.push(yaml.problem(byKey.get(key)?.value ?? node, `event.${key} is required`));
    return text;
  };
  const name = required("name");
  const schemaPath = required("schema");
  const topic = required("topic");
  const keyText = required("key");
  let ok = Boolean(name && schemaPath && topic && keyText);

  const compile = (text: string, at: YamlNode, what: string): Expression | null => {
    try {
      return compileExpression(text);
    } catch (err) {
      const message = err instanceof ExpressionError ? err.message : String(err);
      problems.push(yaml.problem(at, `${what}: ${message}`));
      ok = false;
      return null;
    }
  };
  const whenText = scalarText(byKey.get("when")?.value);
  const when = whenText ? compile(whenText, byKey.get("when")?.value, "when") : null;
  const key = keyText ? compile(keyText, byKey.get("key")?.value, "key") : null;

  let schema: EventSchema | null = null;
  // paths are relative to the config file's directory (SPEC §3)
  const schemaFile = schemaPath ? resolve(baseDir, schemaPath) : "";
  if (schemaPath) {
    const loaded = loadSchema(schemaFile, schemaPath);
    if (typeof loaded === "string") {
      problems.push(yaml.problem(byKey.get("schema")?.value, loaded));
      ok = false;
    } else {
      schema = loaded;
    }
  }
  if (schema && name && name !== schema.name && name !== schema.fullName) {
    problems.push(
      yaml.problem(byKey.get("name")?.value, `event name "${name}" does not match the schema's record name "${schema.fullName}"`),
    );
    ok = false;
  }

  const fieldsNode = byKey.get("fields")?.value;
  const fields: FieldMapping[] = [];
  for (const [fieldName, keyNode, valueNode] of mapEntries(fieldsNode)) {
    const text = scalarText(valueNode);
    if (!text) {
      problems.push(yaml.problem(keyNode, `field "${fieldName}": expression is empty`));
      ok = false;
      continue;
    }
    if (schema && !schema.field(fieldName)) {
      problems.push(
        yaml.problem(keyNode, `field "${fieldName}" is not in schema ${schema.fullName} (fields: ${schema.fields.map((f: { name: string }) => f.name).join(", ")})`),
      );
      ok = false;
      continue;
    }
    const expression = compile(text, valueNode, `field "${fieldName}"`);
    if (expression) {
      const literalProblem = schema ? literalMismatch(schema, fieldName, text) : null;
      if (literalProblem) {
        problems.push(yaml.problem(valueNode, `field "${fieldName}": ${literalProblem}`));
        ok = false;
      }
      fields.push({ name: fieldName, expression, line: yaml.lineOf(valueNode) });
    }
  }
  if (schema) {
    const mapped = new Set(fields.map((f) => f.name));
    for (const f of schema.fields) {
      if (f.required && !mapped.has(f.name) && !mapEntries(fieldsNode).some(([n]) => n === f.name)) {
        problems.push(
          yaml.problem(byKey.get("fields")?.keyNode ?? node, `schema field "${f.name}" (${f.avroType}) has no default and is not mapped`),
        );
        ok = false;
      }
    }
  }
  if (!ok || !schema || !key || !name || !topic) return null;
  return { name, schema, schemaFile, topic, when, key, fields, file: yaml.file, line: yaml.lineOf(node) };
}

function scalarText(node: YamlNode): string | null {
  if (!isScalar(node) || node.value === null || node.value === undefined) return null;
  const text = String(node.value).trim();
  return text || null;
}

const schemaCache = new Map<string, EventSchema | string>();
function loadSchema(file: string, path: string): EventSchema | string {
  const cached = schemaCache.get(file);
  if (cached) return cached;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return `schema file "${path}" not found (${file})`;
  }
  let result: EventSchema | string;
  try {
    result = EventSchema.parse(JSON.parse(text) as unknown, file);
  } catch (err) {
    result = `schema "${path}" is invalid: ${(err as Error).message}`;
  }
  schemaCache.set(file, result);
  return result;
}

/** Static check for the one case knowable without data: a literal whose type cannot fit the field. */
function literalMismatch(schema: EventSchema, fieldName: string, text: string): string | null {
  let value: unknown;
  if (/^"(?:[^"\\]|\\.)*"$/.test(text) || /^'(?:[^'\\]|\\.)*'$/.test(text)) value = text.slice(1, -1);
  else if (/^-?\d+$/.test(text)) value = BigInt(text);
  else if (/^-?\d+\.\d+$/.test(text)) value = Number(text);
  else if (text === "true" || text === "false") value = text === "true";
  else return null;
  try {
    schema.coerceField(fieldName, value);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
