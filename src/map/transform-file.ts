// Transform files (docs/transforms.md): one per source table, declaring the business events derived from its changes.
import { readConfigText, TextFileProblem } from "../config/read-text.js";
import { isScalar, type Node } from "yaml";
import { EventSchema } from "../encode/event-schema.js";
import { mapEntries, seqItems, YamlSource, type Problem, type YamlNode } from "../config/yaml-source.js";
import { projectPath, topicNameProblem } from "../config/paths.js";
import { EVENT_SCHEMA, MAJOR_SCHEMA, MAJOR_VERSION, TRANSFORM_SCHEMA } from "../config/schema.js";
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
  /**
   * Major version (absent: 1). Each major of an event is its own declaration with the same `name`, so that
   * `eventId(change, name)` gives both the same ce_id; which majors are published is the migrator's choice
   * (TransformSet.isActive, driven by the `migrations` table).
   */
  major?: number;
}

export interface TransformFile {
  file: string;
  /** "<schema>.<table>" as Debezium names it */
  table: string;
  events: EventDeclaration[];
  /** what is valid but most likely not meant (`changecast check` prints them; they never stop a run) */
  warnings?: Problem[];
}

// the keys (and their documentation) are declared in config/schema.ts
const FILE_KEYS = Object.keys(TRANSFORM_SCHEMA.fields);
const EVENT_KEYS = Object.keys(EVENT_SCHEMA.fields);
const MAJOR_KEYS = Object.keys(MAJOR_SCHEMA.fields);

/** The project directory and whether schema files may lie outside it. */
interface ProjectDirs {
  baseDir: string;
  allowOutside: boolean;
}

/** What a `majors:` entry inherits from its event (docs/transforms.md: when/key shared unless overridden). */
interface MajorBase {
  name: string;
  topic: string;
  major: number;
  whenText: string | null;
  keyText: string;
}

/** Loads a transform file, collecting every problem with its line rather than stopping at the first. */
export function readTransformFile(
  file: string,
  baseDir: string,
  text?: string,
  /** allowAbsolutePaths: schema files may lie outside baseDir (the config's paths.allowAbsolute) */
  options: { allowAbsolutePaths?: boolean } = {},
): { transform: TransformFile | null; problems: Problem[] } {
  const dirs: ProjectDirs = { baseDir, allowOutside: options.allowAbsolutePaths ?? false };
  const { source: yaml, problems } = YamlSource.read(file, text);
  if (!yaml) return { transform: null, problems };
  const root = yaml.doc.contents as YamlNode;
  const entries = mapEntries(root);
  if (!entries.length)
    return { transform: null, problems: [yaml.problem(root, "transform file must be a mapping")] };
  const get = (node: YamlNode, key: string) => mapEntries(node).find(([k]) => k === key);

  for (const [key, keyNode] of entries) {
    if (!FILE_KEYS.includes(key))
      problems.push(yaml.problem(keyNode, `unknown key "${key}" (allowed: ${FILE_KEYS.join(", ")})`));
  }
  const tableEntry = get(root, "table");
  const table = scalarText(tableEntry?.[2]);
  if (!table)
    problems.push(yaml.problem(root, 'table is required ("<schema>.<table>", e.g. inventory.customers)'));
  else if (!/^[^.\s]+\.[^.\s]+$/.test(table)) {
    problems.push(
      yaml.problem(tableEntry?.[2], `table "${table}" must be "<schema>.<table>" as Debezium names it`),
    );
  }
  const eventsNode = get(root, "events")?.[2];
  const eventNodes = seqItems(eventsNode);
  if (!eventNodes.length)
    problems.push(yaml.problem(eventsNode ?? root, "events: at least one event is required"));

  const events: EventDeclaration[] = [];
  const names = new Set<string>();
  for (const node of eventNodes) {
    const event = readEvent(yaml, node, dirs, problems);
    if (!event) continue;
    if (names.has(event.name)) problems.push(yaml.problem(node, `event "${event.name}" is declared twice`));
    names.add(event.name);
    events.push(event);
    events.push(...readMajors(yaml, node, event, dirs, problems));
  }
  const warnings = events.flatMap((event) => epochUnitWarnings(yaml, event));
  return { transform: { file, table: table ?? "", events, warnings }, problems };
}

/** The epoch variables and their unit. */
const EPOCH_UNITS: Record<string, string> = {
  "source.ts_ms": "ms",
  "source.ts_us": "us",
  "source.ts_ns": "ns",
  ts_ms: "ms",
  ts_us: "us",
  ts_ns: "ns",
};
const UNIT_NAMES: Record<string, string> = {
  ms: "milliseconds",
  us: "microseconds",
  ns: "nanoseconds",
  days: "days",
};
/** The epoch unit an Avro logical type reads a number in. */
function typeUnit(label: string): string | undefined {
  const m = /^(?:local-)?timestamp-(millis|micros|nanos)$/.exec(label);
  if (m) return { millis: "ms", micros: "us", nanos: "ns" }[m[1] as "millis" | "micros" | "nanos"];
  return label === "date" ? "days" : undefined;
}

/**
 * A field mapped straight from an epoch variable whose unit is not the one its Avro type counts in
 * (`source.ts_ms` into `timestamp-micros`): coercion takes the number in the type's unit, so the time would be
 * silently wrong by a factor of 1000.
 */
function epochUnitWarnings(yaml: YamlSource, event: EventDeclaration): Problem[] {
  const warnings: Problem[] = [];
  for (const field of event.fields) {
    const text = field.expression.text.replace(/\s+/g, "");
    const unit = EPOCH_UNITS[text];
    const label = event.schema.field(field.name)?.avroType;
    if (!unit || !label) continue;
    const branches = label.startsWith("union<") ? label.slice(6, -1).split(",") : [label];
    const types = branches.filter((b) => b !== "null");
    const expected = types.length === 1 ? typeUnit(types[0] ?? "") : undefined;
    if (!expected || expected === unit) continue;
    const better = Object.keys(EPOCH_UNITS).find(
      (v) => EPOCH_UNITS[v] === expected && v.startsWith("source.") === text.startsWith("source."),
    );
    warnings.push({
      file: yaml.file,
      line: field.line,
      message:
        `warning: field "${field.name}": ${text} counts ${UNIT_NAMES[unit]} but ${types[0]} takes epoch ` +
        `${UNIT_NAMES[expected]}` +
        (better ? ` (use ${better})` : ""),
    });
  }
  return warnings;
}

function readEvent(
  yaml: YamlSource,
  node: Node,
  dirs: ProjectDirs,
  problems: Problem[],
): EventDeclaration | null {
  return readDeclaration(yaml, node, dirs, problems, null);
}

/**
 * The `majors:` block of an event: each entry `N: {schema, topic?, when?, key?, fields}` becomes a declaration
 * of the same event with `major: N`, published to its own topic (default `<topic>.v<N>`).
 */
function readMajors(
  yaml: YamlSource,
  node: Node,
  event: EventDeclaration,
  dirs: ProjectDirs,
  problems: Problem[],
): EventDeclaration[] {
  const eventEntries = mapEntries(node);
  const majorsNode = eventEntries.find(([k]) => k === "majors")?.[2];
  if (!majorsNode) return [];
  const entries = mapEntries(majorsNode);
  if (!entries.length) {
    problems.push(
      yaml.problem(majorsNode, "majors must be a mapping of major version → {schema, topic, fields}"),
    );
    return [];
  }
  const text = (key: string) => scalarText(eventEntries.find(([k]) => k === key)?.[2]);
  const baseMajor = event.major ?? 1;
  const out: EventDeclaration[] = [];
  const topics = new Map<string, number>([[event.topic, baseMajor]]);
  for (const [label, keyNode, value] of entries) {
    const major = Number(label);
    if (!Number.isInteger(major) || major <= baseMajor) {
      problems.push(
        yaml.problem(
          keyNode,
          `majors: "${label}" must be an integer major version above ${baseMajor} (the event's own major)`,
        ),
      );
      continue;
    }
    const inherit: MajorBase = {
      name: event.name,
      topic: event.topic,
      major,
      whenText: text("when"),
      keyText: text("key") ?? "",
    };
    const declaration = readDeclaration(yaml, value ?? keyNode, dirs, problems, inherit);
    if (!declaration) continue;
    const clash = topics.get(declaration.topic);
    if (clash !== undefined) {
      problems.push(
        yaml.problem(
          value ?? keyNode,
          `majors.${major}: topic "${declaration.topic}" is already used by major ${clash}; each major needs its own topic`,
        ),
      );
      continue;
    }
    topics.set(declaration.topic, major);
    out.push(declaration);
  }
  return out;
}

function readDeclaration(
  yaml: YamlSource,
  node: Node,
  dirs: ProjectDirs,
  problems: Problem[],
  inherit: MajorBase | null,
): EventDeclaration | null {
  const entries = mapEntries(node);
  const what = inherit ? `majors.${inherit.major}` : "event";
  if (!entries.length) {
    problems.push(
      yaml.problem(
        node,
        inherit
          ? `${what} must be a mapping with schema, topic, fields`
          : "an event must be a mapping with name, schema, topic, key, fields",
      ),
    );
    return null;
  }
  const byKey = new Map(entries.map(([k, keyNode, value]) => [k, { keyNode, value }]));
  const allowed = inherit ? MAJOR_KEYS : EVENT_KEYS;
  for (const [key, keyNode] of entries) {
    if (!allowed.includes(key)) {
      problems.push(
        yaml.problem(keyNode, `unknown key "${key}" in ${what} (allowed: ${allowed.join(", ")})`),
      );
    }
  }
  const required = (key: string): string | null => {
    const text = scalarText(byKey.get(key)?.value);
    if (!text) problems.push(yaml.problem(byKey.get(key)?.value ?? node, `${what}.${key} is required`));
    return text;
  };
  // a major inherits the event's name, key and when; its topic defaults to <topic>.v<N>
  const name = inherit ? inherit.name : required("name");
  const schemaPath = required("schema");
  const topic = inherit
    ? (scalarText(byKey.get("topic")?.value) ?? `${inherit.topic}.v${inherit.major}`)
    : required("topic");
  const keyText = inherit ? (scalarText(byKey.get("key")?.value) ?? inherit.keyText) : required("key");
  let ok = Boolean(name && schemaPath && topic && keyText);
  const topicProblem = topic ? topicNameProblem(topic) : null;
  if (topicProblem) {
    problems.push(yaml.problem(byKey.get("topic")?.value ?? node, `${what}.topic: ${topicProblem}`));
    ok = false;
  }
  let major = inherit?.major ?? 1;
  if (!inherit && byKey.has("major")) {
    const parsed = MAJOR_VERSION.safeParse(scalarText(byKey.get("major")?.value) ?? "");
    if (!parsed.success) {
      problems.push(yaml.problem(byKey.get("major")?.value, "event.major must be a positive integer"));
      ok = false;
    } else {
      major = parsed.data;
    }
  }

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
  const whenText = inherit
    ? (scalarText(byKey.get("when")?.value) ?? inherit.whenText)
    : scalarText(byKey.get("when")?.value);
  const when = whenText ? compile(whenText, byKey.get("when")?.value ?? node, "when") : null;
  const key = keyText ? compile(keyText, byKey.get("key")?.value ?? node, "key") : null;

  let schema: EventSchema | null = null;
  // paths are relative to the config file's directory (docs/configuration.md) and stay inside it unless allowed
  const located = schemaPath ? projectPath(schemaPath, dirs.baseDir, dirs.allowOutside) : null;
  const schemaFile = located?.path ?? "";
  if (located?.problem) {
    problems.push(yaml.problem(byKey.get("schema")?.value, `${what}.schema: ${located.problem}`));
    ok = false;
  } else if (schemaPath) {
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
      yaml.problem(
        byKey.get("name")?.value ?? byKey.get("schema")?.value,
        `event name "${name}" does not match the schema's record name "${schema.fullName}"`,
      ),
    );
    ok = false;
  }

  const fieldsNode = byKey.get("fields")?.value;
  const fields: FieldMapping[] = [];
  for (const [fieldName, keyNode, valueNode] of mapEntries(fieldsNode)) {
    const text = scalarText(valueNode);
    if (!text) {
      // a mapping or list is YAML structure, not an expression: say so (quote it to make it CEL text)
      const what =
        isScalar(valueNode) || !valueNode
          ? "expression is empty"
          : "expected a CEL expression (text), got a YAML mapping or list; quote it";
      problems.push(yaml.problem(keyNode, `field "${fieldName}": ${what}`));
      ok = false;
      continue;
    }
    if (schema && !schema.field(fieldName)) {
      problems.push(
        yaml.problem(
          keyNode,
          `field "${fieldName}" is not in schema ${schema.fullName} (fields: ${schema.fields.map((f: { name: string }) => f.name).join(", ")})`,
        ),
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
          yaml.problem(
            byKey.get("fields")?.keyNode ?? node,
            `schema field "${f.name}" (${f.avroType}) has no default and is not mapped`,
          ),
        );
        ok = false;
      }
    }
  }
  if (!ok || !schema || !key || !name || !topic) return null;
  const declaration: EventDeclaration = {
    name,
    schema,
    schemaFile,
    topic,
    when,
    key,
    fields,
    file: yaml.file,
    line: yaml.lineOf(node),
  };
  // only set when not 1, so declarations of files without majors stay exactly as before
  if (major !== 1) declaration.major = major;
  return declaration;
}

function scalarText(node: YamlNode): string | null {
  if (!isScalar(node) || node.value === null || node.value === undefined) return null;
  const text = String(node.value).trim();
  return text || null;
}

// Several events often share one schema file: parse each distinct text once.
const schemaCache = new Map<string, EventSchema | string>();
function loadSchema(file: string, path: string): EventSchema | string {
  let text: string;
  try {
    text = readConfigText(file);
  } catch (err) {
    if (!(err instanceof TextFileProblem)) throw err;
    const where = err.line > 1 ? ` (line ${err.line})` : "";
    return `schema file "${path}" ${err.message}${where} (${file})`;
  }
  const cacheKey = `${file}\u0000${text}`;
  const cached = schemaCache.get(cacheKey);
  if (cached) return cached;
  let result: EventSchema | string;
  try {
    result = EventSchema.parse(JSON.parse(text) as unknown, file);
  } catch (err) {
    result = `schema "${path}" is invalid: ${(err as Error).message}`;
  }
  schemaCache.set(cacheKey, result);
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
