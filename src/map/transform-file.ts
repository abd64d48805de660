// Transform files (docs/transforms.md): one per source table, declaring the business events derived from its changes.
import { readConfigText, TextFileProblem } from "../config/read-text.js";
import { isScalar, type Node } from "yaml";
import { EventSchema } from "../encode/event-schema.js";
import { mapEntries, YamlSource, type Problem, type YamlNode } from "../config/yaml-source.js";
import { projectPath, topicNameProblem } from "../config/paths.js";
import { EVENT_SCHEMA, MAJOR_SCHEMA, TRANSFORM_SCHEMA, type Section } from "../config/schema.js";
import { SectionReader, type SectionReaderOptions } from "../config/section-reader.js";
import { compileExpression, ExpressionError, type Expression } from "./expression.js";
import { readRequires, type RequireDeclaration } from "./requires.js";
import type { AggregateDeclaration } from "./aggregate-file.js";
import { readStateDeclaration } from "./state-declaration.js";
import type { StateDeclaration } from "./table-state.js";

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
  /** the lines of `when:` and `key:` (problems found after reading, e.g. of lookup() calls, point there) */
  whenLine?: number;
  keyLine?: number;
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
  /** `state: rows` (and its `index:`): the table's rows are kept as table state (map/state-declaration.ts) */
  state?: StateDeclaration;
  /** `requires:` parents its changes wait for (map/requires.ts) */
  requires?: RequireDeclaration[];
  /** an aggregate file (`aggregate:` instead of `table:`, map/aggregate-file.ts); `table` is its root table */
  aggregate?: AggregateDeclaration;
}

/** How transform files are read: no environment expansion, texts trimmed, a blank expression is no expression. */
const TRANSFORM_READING = (where: string): SectionReaderOptions => ({
  where,
  expand: (text) => text.trim(),
  blankIsMissing: true,
});

/** The project directory and whether schema files may lie outside it. */
export interface ProjectDirs {
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
  if (!mapEntries(root).length)
    return { transform: null, problems: [yaml.problem(root, "transform file must be a mapping")] };
  // the keys, their validation and documentation are declared in config/schema.ts (TRANSFORM_SCHEMA)
  const settings = new SectionReader(yaml, root, problems, TRANSFORM_READING("transform"));
  settings.unknownKeys(TRANSFORM_SCHEMA);
  settings.readAll(TRANSFORM_SCHEMA);
  const table = settings.values.table as string;
  const eventNodes = (settings.values.events as Node[] | undefined) ?? [];

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
  const requires = readRequires(yaml, (settings.values.requires as Node[] | undefined) ?? [], problems);
  const transform: TransformFile = { file, table, events, warnings };
  const state = readStateDeclaration(yaml, settings, table, eventNodes.length, problems);
  if (state) transform.state = state;
  if (requires.length) transform.requires = requires;
  return { transform, problems };
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
  /** the variables its expressions may use (default: a change's) */
  names?: readonly string[],
): EventDeclaration | null {
  return readDeclaration(yaml, node, dirs, problems, null, names);
}

/** The `events:` of an aggregate file, whose expressions use `names` (root, member lists, tx). */
export function readEventList(
  yaml: YamlSource,
  nodes: readonly Node[],
  dirs: ProjectDirs,
  problems: Problem[],
  names: readonly string[],
): EventDeclaration[] {
  const events: EventDeclaration[] = [];
  for (const node of nodes) {
    const event = readEvent(yaml, node, dirs, problems, names);
    if (!event) continue;
    if (events.some((e) => e.name === event.name))
      problems.push(yaml.problem(node, `event "${event.name}" is declared twice`));
    events.push(event);
    events.push(...readMajors(yaml, node, event, dirs, problems, names));
  }
  return events;
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
  /** the variables of an aggregate file's expressions (default: a change's) */
  names?: readonly string[],
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
    const declaration = readDeclaration(yaml, value ?? keyNode, dirs, problems, inherit, names);
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
  names?: readonly string[],
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
  const section = inherit ? MAJOR_SCHEMA : EVENT_SCHEMA;
  const reading = new DeclarationReading(yaml, node, section, what, problems, names);
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
  const whenNode = reading.value("when");
  const keyNode = reading.value("key");
  if (when && whenNode) declaration.whenLine = yaml.lineOf(whenNode);
  if (keyNode) declaration.keyLine = yaml.lineOf(keyNode);
  return declaration;
}

/**
 * One event (or one major of it) being read: its settings (read and validated against EVENT_SCHEMA or MAJOR_SCHEMA
 * by the config's section reader), where its problems go, and whether it is still valid.
 */
class DeclarationReading {
  ok = true;
  private readonly settings: SectionReader;
  constructor(
    readonly yaml: YamlSource,
    readonly node: Node,
    section: Section,
    /** "event" or "majors.<N>", the prefix of the problems */
    readonly what: string,
    private readonly problems: Problem[],
    /** the variables expressions may use; undefined: a change's (expression.ts VARIABLES) */
    private readonly names?: readonly string[],
  ) {
    this.settings = new SectionReader(yaml, node, problems, TRANSFORM_READING(what));
    this.settings.unknownKeys(section);
    const before = problems.length;
    this.settings.readAll(section);
    // a required setting that is missing, or a value its schema refuses, makes the declaration invalid
    if (problems.length > before) this.ok = false;
  }

  has(key: string): boolean {
    return this.settings.has(key);
  }
  keyNode(key: string): YamlNode {
    return mapEntries(this.node).find(([k]) => k === key)?.[1];
  }
  value(key: string): YamlNode {
    return this.settings.nodes.get(key);
  }
  /** A scalar setting's text as written (trimmed); null when the file does not set it. */
  text(key: string): string | null {
    const value = this.settings.values[key];
    return this.has(key) && typeof value === "string" && value ? value : null;
  }
  /** A setting's value as its schema read it (its default when the file does not set it). */
  setting(key: string): unknown {
    return this.settings.values[key];
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

  compile(text: string, at: YamlNode, what: string): Expression | null {
    try {
      return compileExpression(text, undefined, this.names);
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
  // a missing required one is a problem already (DeclarationReading)
  const name = inherit ? inherit.name : reading.text("name");
  const schemaPath = reading.text("schema");
  const topic = inherit
    ? (reading.text("topic") ?? `${inherit.topic}.v${inherit.major}`)
    : reading.text("topic");
  const keyText = inherit ? (reading.text("key") ?? inherit.keyText) : reading.text("key");
  if (!(name && schemaPath && topic && keyText)) reading.ok = false;
  const topicProblem = topic ? topicNameProblem(topic) : null;
  if (topicProblem)
    reading.fail(reading.value("topic") ?? reading.node, `${reading.what}.topic: ${topicProblem}`);
  return { name, schemaPath, topic, keyText };
}

/** The event's `major:` (default 1); a `majors:` entry has its own. */
function readMajor(reading: DeclarationReading, inherit: MajorBase | null): number {
  // read and checked against EVENT_SCHEMA.major (default 1)
  return inherit ? inherit.major : (reading.setting("major") as number);
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
