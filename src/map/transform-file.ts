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
  const reading = new DeclarationReading(yaml, node, entries, what, problems);
  reading.checkKeys(inherit ? MAJOR_KEYS : EVENT_KEYS);
  const { name, schemaPath, topic, keyText } = readIdentity(reading, inherit);
  const major = readMajor(reading, inherit);
  const whenText = inherit ? (reading.text("when") ?? inherit.whenText) : reading.text("when");
  const when = whenText ? reading.compile(whenText, reading.value("when") ?? node, "when") : null;
  const key = keyText ? reading.compile(keyText, reading.value("key") ?? node, "key") : null;
  const { schema, schemaFile } = readSchema(reading, schemaPath, dirs);
  checkEventName(reading, name, schema);
  const fields = readFields(reading, schema);
  checkUnmappedFields(reading, schema, fields);
  if (!reading.ok || !schema || !key || !name || !topic) return null;
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

/** One event (or one major of it) being read: its entries, where its problems go, and whether it is still valid. */
class DeclarationReading {
  ok = true;
  private readonly byKey: Map<string, { keyNode: YamlNode; value: YamlNode }>;
  constructor(
    readonly yaml: YamlSource,
    readonly node: Node,
    private readonly entries: ReturnType<typeof mapEntries>,
    /** "event" or "majors.<N>", the prefix of the problems */
    readonly what: string,
    private readonly problems: Problem[],
  ) {
    this.byKey = new Map(entries.map(([k, keyNode, value]) => [k, { keyNode, value }]));
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }
  keyNode(key: string): YamlNode {
    return this.byKey.get(key)?.keyNode;
  }
  value(key: string): YamlNode {
    return this.byKey.get(key)?.value;
  }
  text(key: string): string | null {
    return scalarText(this.value(key));
  }

  /** A problem that does not make the declaration invalid. */
  note(at: YamlNode, message: string): void {
    this.problems.push(this.yaml.problem(at, message));
  }
  /** A problem that makes the declaration invalid. */
  fail(at: YamlNode, message: string): void {
    this.note(at, message);
    this.ok = false;
  }

  checkKeys(allowed: string[]): void {
    for (const [key, keyNode] of this.entries) {
      if (!allowed.includes(key)) {
        this.note(keyNode, `unknown key "${key}" in ${this.what} (allowed: ${allowed.join(", ")})`);
      }
    }
  }

  required(key: string): string | null {
    const text = this.text(key);
    if (!text) this.note(this.value(key) ?? this.node, `${this.what}.${key} is required`);
    return text;
  }

  compile(text: string, at: YamlNode, what: string): Expression | null {
    try {
      return compileExpression(text);
    } catch (err) {
      const message = err instanceof ExpressionError ? err.message : String(err);
      this.fail(at, `${what}: ${message}`);
      return null;
    }
  }
}

/** Name, schema path, topic and key text; a major inherits the event's name and key, its topic defaults to <topic>.v<N>. */
function readIdentity(
  reading: DeclarationReading,
  inherit: MajorBase | null,
): { name: string | null; schemaPath: string | null; topic: string | null; keyText: string | null } {
  const name = inherit ? inherit.name : reading.required("name");
  const schemaPath = reading.required("schema");
  const topic = inherit
    ? (reading.text("topic") ?? `${inherit.topic}.v${inherit.major}`)
    : reading.required("topic");
  const keyText = inherit ? (reading.text("key") ?? inherit.keyText) : reading.required("key");
  if (!(name && schemaPath && topic && keyText)) reading.ok = false;
  const topicProblem = topic ? topicNameProblem(topic) : null;
  if (topicProblem)
    reading.fail(reading.value("topic") ?? reading.node, `${reading.what}.topic: ${topicProblem}`);
  return { name, schemaPath, topic, keyText };
}

/** The event's `major:` (default 1); a `majors:` entry has its own. */
function readMajor(reading: DeclarationReading, inherit: MajorBase | null): number {
  if (inherit) return inherit.major;
  if (!reading.has("major")) return 1;
  const parsed = MAJOR_VERSION.safeParse(reading.text("major") ?? "");
  if (!parsed.success) {
    reading.fail(reading.value("major"), "event.major must be a positive integer");
    return 1;
  }
  return parsed.data;
}

/** The schema file: relative to the config file's directory (docs/configuration.md), inside it unless allowed. */
function readSchema(
  reading: DeclarationReading,
  schemaPath: string | null,
  dirs: ProjectDirs,
): { schema: EventSchema | null; schemaFile: string } {
  const located = schemaPath ? projectPath(schemaPath, dirs.baseDir, dirs.allowOutside) : null;
  const schemaFile = located?.path ?? "";
  if (located?.problem) {
    reading.fail(reading.value("schema"), `${reading.what}.schema: ${located.problem}`);
    return { schema: null, schemaFile };
  }
  if (!schemaPath) return { schema: null, schemaFile };
  const loaded = loadSchema(schemaFile, schemaPath);
  if (typeof loaded === "string") {
    reading.fail(reading.value("schema"), loaded);
    return { schema: null, schemaFile };
  }
  return { schema: loaded, schemaFile };
}

function checkEventName(reading: DeclarationReading, name: string | null, schema: EventSchema | null): void {
  if (schema && name && name !== schema.name && name !== schema.fullName) {
    reading.fail(
      reading.value("name") ?? reading.value("schema"),
      `event name "${name}" does not match the schema's record name "${schema.fullName}"`,
    );
  }
}

/** `fields:`: each an expression for a field of the schema; a literal that cannot fit its field is a problem. */
function readFields(reading: DeclarationReading, schema: EventSchema | null): FieldMapping[] {
  const fields: FieldMapping[] = [];
  for (const [fieldName, keyNode, valueNode] of mapEntries(reading.value("fields"))) {
    const text = scalarText(valueNode);
    if (!text) {
      // a mapping or list is YAML structure, not an expression: say so (quote it to make it CEL text)
      const what =
        isScalar(valueNode) || !valueNode
          ? "expression is empty"
          : "expected a CEL expression (text), got a YAML mapping or list; quote it";
      reading.fail(keyNode, `field "${fieldName}": ${what}`);
      continue;
    }
    if (schema && !schema.field(fieldName)) {
      reading.fail(
        keyNode,
        `field "${fieldName}" is not in schema ${schema.fullName} (fields: ${schema.fields.map((f: { name: string }) => f.name).join(", ")})`,
      );
      continue;
    }
    const expression = reading.compile(text, valueNode, `field "${fieldName}"`);
    if (expression) {
      const literalProblem = schema ? literalMismatch(schema, fieldName, text) : null;
      if (literalProblem) reading.fail(valueNode, `field "${fieldName}": ${literalProblem}`);
      fields.push({ name: fieldName, expression, line: reading.yaml.lineOf(valueNode) });
    }
  }
  return fields;
}

/** Every schema field without a default must be mapped. */
function checkUnmappedFields(
  reading: DeclarationReading,
  schema: EventSchema | null,
  fields: FieldMapping[],
): void {
  if (!schema) return;
  const fieldsNode = reading.value("fields");
  const mapped = new Set(fields.map((f) => f.name));
  for (const f of schema.fields) {
    if (f.required && !mapped.has(f.name) && !mapEntries(fieldsNode).some(([n]) => n === f.name)) {
      reading.fail(
        reading.keyNode("fields") ?? reading.node,
        `schema field "${f.name}" (${f.avroType}) has no default and is not mapped`,
      );
    }
  }
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
