// Reads and checks a sink file (docs/sink.md) with its declaration (config/sink-schema.ts): every problem with its
// line, the projections' CEL compiled and type-checked once, the tables' column types inferred from the events'
// Avro schemas (the pipeline's transform files) or declared under `tables`.
import { dirname, resolve } from "node:path";
import { isScalar, type Node } from "yaml";
import { expandEnv, readPipelineConfig, type PipelineConfig } from "../config/pipeline-config.js";
import { topicNameProblem } from "../config/paths.js";
import type { Section, Setting } from "../config/schema.js";
import { PROJECTION_SCHEMA, SINK_SCHEMA, type SinkAction } from "../config/sink-schema.js";
import { stateUrlProblem } from "../config/urls.js";
import { mapEntries, seqItems, YamlSource, type Problem, type YamlNode } from "../config/yaml-source.js";
import type { EventSchema } from "../encode/event-schema.js";
import { compileExpression, type Bindings } from "../map/expression.js";
import { EVALUATION_LIMITS } from "../map/cel-limits.js";
import type { TransformSet } from "../map/mapper.js";
import { loadTransforms } from "../worker/pipeline-setup.js";
import { columnTypeOf, parseSqlType, type ColumnType } from "./sql-types.js";

/** The variables of a projection's expressions. */
export const SINK_VARIABLES = ["event", "key", "headers", "topic", "type"] as const;
/** Columns the sink adds to every table it writes (docs/sink.md). */
export const MARK_COLUMNS = ["changecast_position", "changecast_event_ids", "changecast_applied"] as const;

export interface SinkExpression {
  readonly text: string;
  evaluate(bindings: Record<string, unknown>): unknown;
}

export interface Projection {
  type: string;
  table: string;
  action: SinkAction;
  when: SinkExpression | null;
  key: [string, SinkExpression][];
  columns: [string, SinkExpression][];
  line: number;
  /** the line of each key and column expression */
  lines: Map<string, number>;
}

export interface TableDef {
  name: string;
  keyColumns: string[];
  /** every column the projections write (keys first), with its type */
  columns: Map<string, ColumnType>;
}

export interface SinkConfig {
  file: string;
  baseDir: string;
  sink: string;
  pipeline: PipelineConfig;
  transforms: TransformSet;
  target: { url: string; autoCreate: boolean };
  group: string;
  topics: string[];
  batch: { maxEvents: number };
  errors: { tolerance: "all" | "none"; deadLetterTopic: string };
  projections: Projection[];
  tables: Map<string, TableDef>;
}

/** A table or column name: at most 63 characters, as Postgres keeps them (it cuts longer ones silently). */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export function readSinkConfig(
  file: string,
  options: { env?: NodeJS.ProcessEnv; text?: string } = {},
): { config: SinkConfig | null; problems: Problem[] } {
  const absFile = resolve(file);
  const env = options.env ?? process.env;
  const { source: yaml, problems } = YamlSource.read(absFile, options.text);
  if (!yaml) return { config: null, problems };
  const root = yaml.doc.contents as YamlNode;
  if (!mapEntries(root).length)
    return { config: null, problems: [yaml.problem(root, "sink file must be a mapping (docs/sink.md)")] };
  const reader = new SectionReader(yaml, env, problems);
  const top = reader.read(SINK_SCHEMA, root, "config", (v) => v);
  const sink = String(top.sink ?? "");
  // defaults that derive from the name
  const values = reader.read(SINK_SCHEMA, root, "config", () => sink, false);
  const baseDir = dirname(absFile);

  const pipelineFile = resolve(baseDir, String(values.pipeline));
  const pipelineRead = readPipelineConfig(pipelineFile, { env });
  if (!pipelineRead.config || pipelineRead.problems.length) {
    problems.push(
      yaml.problem(
        reader.node(root, "pipeline") ?? root,
        `pipeline: ${pipelineFile} has problems (run \`changecast check --config ${pipelineFile}\`)`,
      ),
    );
    return { config: null, problems };
  }
  const pipeline = pipelineRead.config;
  const loaded = loadTransforms(pipeline);
  if (loaded.problems.length) {
    problems.push(yaml.problem(root, `pipeline: the transform files of ${pipelineFile} have problems`));
    return { config: null, problems };
  }
  const transforms = loaded.transforms;

  const target = values.target as { url: string; autoCreate: boolean };
  const urlProblem = target.url ? stateUrlProblem(target.url) : null;
  if (urlProblem)
    problems.push(yaml.problem(reader.node(reader.node(root, "target"), "url"), `target.url: ${urlProblem}`));
  const errors = values.errors as SinkConfig["errors"];
  const dlqProblem = topicNameProblem(errors.deadLetterTopic);
  if (dlqProblem)
    problems.push(
      yaml.problem(
        reader.node(reader.node(root, "errors"), "deadLetterTopic") ?? root,
        `errors.deadLetterTopic: ${dlqProblem}`,
      ),
    );

  const schemasByType = new Map<string, EventSchema[]>();
  const topicsByType = new Map<string, string[]>();
  for (const d of [...transforms.declarations].sort((a, b) => (a.major ?? 1) - (b.major ?? 1))) {
    const type = d.schema.fullName;
    schemasByType.set(type, [...(schemasByType.get(type) ?? []), d.schema]);
    topicsByType.set(type, [...(topicsByType.get(type) ?? []), d.topic]);
  }

  const projections: Projection[] = [];
  const projectionsNode = reader.node(root, "projections");
  for (const item of seqItems(projectionsNode)) {
    const p = readProjection(yaml, reader, item, schemasByType, problems);
    if (p) projections.push(p);
  }
  const overrides = readTableTypes(yaml, reader.node(root, "tables"), problems);
  const tables = buildTables(yaml, projections, overrides, schemasByType, target.autoCreate, problems, root);

  let topics = values.topics as string[];
  if (!topics.length) {
    // the lowest major's topic of each projected type: a sink moves to a new major with `sink switch`
    topics = [
      ...new Set(projections.map((p) => topicsByType.get(p.type)?.[0]).filter((t): t is string => !!t)),
    ];
  }
  for (const t of topics) {
    const problem = topicNameProblem(t);
    if (problem) problems.push(yaml.problem(reader.node(root, "topics") ?? root, `topics: ${problem}`));
  }
  const config: SinkConfig = {
    file: absFile,
    baseDir,
    sink,
    pipeline,
    transforms,
    target,
    group: String(values.group),
    topics,
    batch: values.batch as SinkConfig["batch"],
    errors,
    projections,
    tables,
  };
  return { config, problems };
}

/** Reads a sink file; throws ConfigError with every problem. */
export async function loadSinkConfig(file: string, env?: NodeJS.ProcessEnv): Promise<SinkConfig> {
  const { config, problems } = readSinkConfig(file, { env });
  if (!config || problems.length) {
    const { ConfigError } = await import("../config/yaml-source.js");
    throw new ConfigError(problems);
  }
  return config;
}

/** Reads the settings of a Section from a YAML mapping: unknown keys, required ones, env expansion, zod. */
class SectionReader {
  constructor(
    private readonly yaml: YamlSource,
    private readonly env: NodeJS.ProcessEnv,
    private readonly problems: Problem[],
  ) {}

  node(parent: YamlNode, key: string): YamlNode {
    return mapEntries(parent).find(([k]) => k === key)?.[2];
  }

  read(
    section: Section,
    node: YamlNode,
    where: string,
    name: (v: string) => string,
    report = true,
  ): Record<string, unknown> {
    const problems: Problem[] = report ? this.problems : [];
    const out: Record<string, unknown> = {};
    const allowed = Object.keys(section.fields);
    for (const [key, keyNode] of mapEntries(node))
      if (!allowed.includes(key))
        problems.push(
          this.yaml.problem(keyNode, `unknown key "${key}" in ${where} (allowed: ${allowed.join(", ")})`),
        );
    for (const [key, child] of Object.entries(section.fields)) {
      const childNode = this.node(node, key);
      const path = where === "config" ? key : `${where}.${key}`;
      if (!child.setting) {
        if (child.required && (childNode === undefined || childNode === null))
          problems.push(this.yaml.problem(node, `${path} is required`));
        out[key] = this.read(child, childNode, path, name, report);
        continue;
      }
      out[key] = this.setting(child, childNode, node, path, name, problems);
    }
    return out;
  }

  private setting(
    setting: Setting,
    node: YamlNode,
    parent: YamlNode,
    path: string,
    name: (v: string) => string,
    problems: Problem[],
  ): unknown {
    const fallback = () =>
      typeof setting.default === "function" ? setting.default({ pipeline: name("") }) : setting.default;
    if (node === undefined || node === null || (isScalar(node) && node.value === null)) {
      if (setting.default === undefined) problems.push(this.yaml.problem(parent, `${path} is required`));
      return fallback();
    }
    if (setting.kind === "mapping") return node; // read by the caller
    let raw: string | string[] | unknown[];
    if (setting.kind === "list") {
      if (isScalar(node)) raw = [expandEnv(String(node.value), this.env)];
      else if (seqItems(node).length || (node as { items?: unknown[] }).items) {
        const items = seqItems(node);
        raw =
          path === "projections"
            ? items
            : items.map((i: Node) => expandEnv(String(isScalar(i) ? i.value : i), this.env));
      } else {
        problems.push(this.yaml.problem(node, `${path} must be a list`));
        return fallback();
      }
    } else {
      if (!isScalar(node) || typeof node.value === "object") {
        problems.push(this.yaml.problem(node, `${path} must be a scalar`));
        return fallback();
      }
      raw = expandEnv(String(node.value), this.env);
    }
    const parsed = setting.schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const text = Array.isArray(raw) ? `${raw.length} items` : raw;
    problems.push(
      this.yaml.problem(
        node,
        setting.invalid && issue?.code !== "custom"
          ? setting.invalid(path, text)
          : `${path}: ${path === "projections" ? "at least one projection is required" : (issue?.message ?? `"${text}" is not valid`)}`,
      ),
    );
    return fallback();
  }
}

function readProjection(
  yaml: YamlSource,
  reader: SectionReader,
  node: Node,
  schemasByType: Map<string, EventSchema[]>,
  problems: Problem[],
): Projection | null {
  const line = yaml.lineOf(node);
  const before = problems.length;
  const v = reader.read(PROJECTION_SCHEMA, node, "projections[]", () => "");
  const type = String(v.type ?? "");
  const table = String(v.table ?? "");
  const action = v.action as SinkAction;
  const known = schemasByType.has(type);
  if (type && !known) {
    const types = [...schemasByType.keys()].sort().join(", ");
    problems.push(
      yaml.problem(
        reader.node(node, "type"),
        `projection type "${type}" is no event type of the pipeline (types: ${types})`,
      ),
    );
  }
  const compile = (text: string, at: YamlNode, what: string): SinkExpression | null => {
    try {
      // the same functions, checks and evaluation limits as a transform's expressions, over the sink's variables
      const compiled = compileExpression(text, EVALUATION_LIMITS, SINK_VARIABLES);
      return { text, evaluate: (bindings) => compiled.evaluate(bindings as unknown as Bindings) };
    } catch (err) {
      problems.push(yaml.problem(at, `${what}: ${(err as Error).message}`));
      return null;
    }
  };
  const whenText = String(v.when ?? "true");
  const when = whenText.trim() === "true" ? null : compile(whenText, reader.node(node, "when"), "when");
  // `event` is dynamic to CEL; a field taken as the condition has its Avro type
  const whenField = FIELD_REF.exec(whenText)?.[1];
  const whenAvro = whenField
    ? schemasByType.get(type)?.[0]?.type.fields.find((f) => f.name === whenField)
    : undefined;
  if (when && whenAvro && columnTypeOf(whenAvro.type).type !== "boolean")
    problems.push(
      yaml.problem(
        reader.node(node, "when"),
        `when: event.${whenField} is a ${columnTypeOf(whenAvro.type).type}, not a bool`,
      ),
    );
  const lines = new Map<string, number>();
  const mapping = (key: "key" | "columns"): [string, SinkExpression][] => {
    const m = v[key] as YamlNode;
    const out: [string, SinkExpression][] = [];
    if (m === undefined || m === null || (typeof m === "object" && !("items" in m))) return out;
    const entries = mapEntries(m);
    if (!entries.length && key === "key")
      problems.push(yaml.problem(m, "key must map at least one column to a CEL expression"));
    for (const [column, keyNode, valueNode] of entries) {
      if (!IDENTIFIER.test(column) || (MARK_COLUMNS as readonly string[]).includes(column.toLowerCase())) {
        problems.push(
          yaml.problem(
            keyNode,
            `${key}: "${column}" is not a column name of letters, digits and _ of at most 63 characters (or is reserved)`,
          ),
        );
        continue;
      }
      if (!isScalar(valueNode) || valueNode.value === null || typeof valueNode.value === "object") {
        problems.push(yaml.problem(valueNode ?? keyNode, `${key}.${column} must be a CEL expression`));
        continue;
      }
      const e = compile(String(valueNode.value), valueNode, `${key}.${column}`);
      lines.set(column, yaml.lineOf(valueNode));
      if (e) out.push([column, e]);
    }
    return out;
  };
  const key = mapping("key");
  const columns = mapping("columns");
  if (action === "delete" && columns.length)
    problems.push(yaml.problem(reader.node(node, "columns"), "columns: a delete projection sets no columns"));
  if (action === "update" && !columns.length)
    problems.push(yaml.problem(node, "columns: an update projection needs at least one column"));
  for (const [c] of columns)
    if (key.some(([k]) => k === c))
      problems.push(yaml.problem(reader.node(node, "columns"), `columns.${c} is a key column`));
  if (problems.length > before) return null;
  return { type, table, action, when, key, columns, line, lines };
}

function readTableTypes(
  yaml: YamlSource,
  node: YamlNode,
  problems: Problem[],
): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const [table, tableKey, tableNode] of mapEntries(node)) {
    const cols = new Map<string, string>();
    for (const [key, keyNode, value] of mapEntries(tableNode)) {
      if (key !== "columns") {
        problems.push(yaml.problem(keyNode, `unknown key "${key}" in tables.${table} (allowed: columns)`));
        continue;
      }
      for (const [column, , typeNode] of mapEntries(value)) {
        const text = isScalar(typeNode) ? String(typeNode.value) : "";
        if (!parseSqlType(text))
          problems.push(
            yaml.problem(
              typeNode,
              `tables.${table}.columns.${column}: "${text}" is not a column type (docs/sink.md)`,
            ),
          );
        else cols.set(column, text);
      }
    }
    if (!IDENTIFIER.test(table))
      problems.push(
        yaml.problem(
          tableKey,
          `tables: "${table}" is not a table name of letters, digits and _ (at most 63 characters)`,
        ),
      );
    out.set(table, cols);
  }
  return out;
}

/** `event.<field>`: a column taken straight from a field, whose type the Avro schema gives. */
const FIELD_REF = /^\s*event\.([A-Za-z_][A-Za-z0-9_]*)\s*$/;

function buildTables(
  yaml: YamlSource,
  projections: Projection[],
  overrides: Map<string, Map<string, string>>,
  schemasByType: Map<string, EventSchema[]>,
  autoCreate: boolean,
  problems: Problem[],
  root: YamlNode,
): Map<string, TableDef> {
  const tables = new Map<string, TableDef>();
  const unknownField = new Set<string>();
  for (const p of projections) {
    let def = tables.get(p.table);
    const keyColumns = p.key.map(([c]) => c);
    if (!def) {
      def = { name: p.table, keyColumns, columns: new Map() };
      tables.set(p.table, def);
    } else if (def.keyColumns.join(",") !== keyColumns.join(",")) {
      problems.push({
        file: yaml.file,
        line: p.line,
        message: `table ${p.table}: key columns ${keyColumns.join(", ")} differ from ${def.keyColumns.join(", ")} of another projection (one key per table, same order)`,
      });
      continue;
    }
    for (const [column, expr] of [...p.key, ...p.columns]) {
      if (def.columns.has(column)) continue;
      const declared = overrides.get(p.table)?.get(column);
      const isKey = keyColumns.includes(column);
      if (declared) {
        def.columns.set(column, { type: parseSqlType(declared)!, nullable: !isKey });
        continue;
      }
      const field = FIELD_REF.exec(expr.text)?.[1];
      const schema = schemasByType.get(p.type)?.[0];
      const avroField = field ? schema?.type.fields.find((f) => f.name === field) : undefined;
      if (avroField) {
        def.columns.set(column, { type: columnTypeOf(avroField.type).type, nullable: !isKey });
      } else if (field && schema) {
        problems.push({
          file: yaml.file,
          line: p.lines.get(column) ?? p.line,
          message: `${p.table}.${column}: ${schema.fullName} has no field "${field}"`,
        });
        unknownField.add(`${p.table}.${column}`);
      }
    }
  }
  // columns whose type nothing gave: a second pass, since another projection may take them from a field
  for (const p of projections) {
    const def = tables.get(p.table);
    if (!def) continue;
    for (const [column] of [...p.key, ...p.columns]) {
      if (def.columns.has(column)) continue;
      if (autoCreate && !unknownField.has(`${p.table}.${column}`))
        problems.push({
          file: yaml.file,
          line: p.lines.get(column) ?? p.line,
          message: `${p.table}.${column}: its type cannot be inferred (the expression is not \`event.<field>\`); declare it under tables.${p.table}.columns`,
        });
      def.columns.set(column, { type: "text", nullable: !def.keyColumns.includes(column) });
    }
  }
  for (const table of overrides.keys())
    if (!tables.has(table))
      problems.push(yaml.problem(root, `tables.${table}: no projection writes this table`));
  return tables;
}
