// `changecast.yaml` (docs/configuration.md): parsed, environment-expanded, validated with file:line problems
// against PIPELINE_SCHEMA (schema.ts), the one declaration of every setting.
import { existsSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { globSync } from "tinyglobby";
import { ConfigError, mapEntries, YamlSource, type Problem, type YamlNode } from "./yaml-source.js";
import { projectPath, topicNameProblem } from "./paths.js";
import { registryUrlProblem, stateUrlProblem } from "./urls.js";
import { PIPELINE_SCHEMA, settings, type PipelineSettings } from "./schema.js";
import { SectionReader } from "./section-reader.js";

// the settings themselves (types, defaults, validation, documentation) are declared in schema.ts
export {
  KAFKA_COMPRESSIONS,
  type KafkaCompression,
  type PipelineSettings,
  type SubjectNameStrategy,
} from "./schema.js";

/**
 * A validated `changecast.yaml`: the settings of PIPELINE_SCHEMA (schema.ts, where each is declared and
 * documented) with their paths resolved: `source.files` and `transforms` are absolute paths (globs expanded,
 * sorted), `output.dir` is `outputDir`. An empty `kafka.brokers` is embedded mode, an empty `registry.url` the
 * embedded registry.
 */
export interface PipelineConfig extends Omit<PipelineSettings, "output"> {
  /** absolute path of the config file */
  file: string;
  /** directory against which relative paths resolve */
  baseDir: string;
  /** embedded mode: where published records are written (`output.dir`, absolute) */
  outputDir: string;
}

/** `${VAR}` and `${VAR:-default}` from the environment (compose-style: unset and empty take the default). */
export function expandEnv(text: string, env: NodeJS.ProcessEnv = process.env): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, def?: string) => {
    const value = env[name];
    return value !== undefined && value !== "" ? value : (def ?? "");
  });
}

/** Expands a list of paths/globs relative to baseDir; a glob matching nothing is a problem. */
export function expandPaths(patterns: string[], baseDir: string): { paths: string[]; missing: string[] } {
  const paths: string[] = [];
  const missing: string[] = [];
  for (const pattern of patterns) {
    // a path naming an existing file is that file (even with glob characters in its name); a plain path that
    // names nothing is missing like a glob that matches nothing, so `check` reports it rather than `run`
    const plain = isAbsolute(pattern) ? pattern : resolve(baseDir, pattern);
    const matches = existsSync(plain)
      ? [plain]
      : /[*?[{]/.test(pattern)
        ? globSync(pattern, { cwd: baseDir, absolute: true })
        : [];
    matches.sort();
    if (matches.length === 0) missing.push(pattern);
    for (const m of matches) if (!paths.includes(m)) paths.push(m);
  }
  return { paths, missing };
}

export function loadPipelineConfig(
  file: string,
  options: { env?: NodeJS.ProcessEnv; text?: string } = {},
): PipelineConfig {
  const { config, problems } = readPipelineConfig(file, options);
  if (!config || problems.length) throw new ConfigError(problems);
  return config;
}

/** Parses and validates; returns every problem found instead of stopping at the first. */
export function readPipelineConfig(
  file: string,
  options: { env?: NodeJS.ProcessEnv; text?: string } = {},
): { config: PipelineConfig | null; problems: Problem[] } {
  const absFile = resolve(file);
  const { source: yaml, problems } = YamlSource.read(absFile, options.text);
  if (!yaml) return { config: null, problems };
  const env = options.env ?? process.env;
  const baseDir = dirname(absFile);
  const root = yaml.doc.contents as YamlNode;
  if (!mapEntries(root).length) {
    return {
      config: null,
      problems: [yaml.problem(root, "config must be a mapping (docs/configuration.md)")],
    };
  }
  const paths = new PathChecks(yaml, root, baseDir, problems);
  // the paths are checked as soon as they are read, so that their problems come in the order of the file
  const { values, nodes } = readSettings(yaml, root, env, problems, (path, read, node) =>
    paths.check(path, read, node),
  );
  const { output, ...settings } = nest(values) as PipelineSettings;
  const config: PipelineConfig = {
    file: absFile,
    baseDir,
    ...settings,
    source: { ...settings.source, files: paths.files.paths },
    outputDir: resolve(baseDir, output.dir),
    transforms: paths.transforms.paths,
  };
  checkNamesAndUrls(yaml, root, config, nodes, problems);
  return { config, problems };
}

/** source.files and transforms: expanded, inside the project directory unless allowed, matching files. */
class PathChecks {
  files: { paths: string[]; missing: string[] } = { paths: [], missing: [] };
  transforms: { paths: string[]; missing: string[] } = { paths: [], missing: [] };
  constructor(
    private readonly yaml: YamlSource,
    private readonly root: YamlNode,
    private readonly baseDir: string,
    private readonly problems: Problem[],
  ) {}

  /** Called after each setting is read, with the values read so far. */
  check(path: string, read: Record<string, unknown>, node: YamlNode): void {
    if (path === "source.files") this.checkFiles(read, node);
    else if (path === "transforms") this.checkTransforms(read, node);
  }

  private checkFiles(read: Record<string, unknown>, node: YamlNode): void {
    const { yaml, problems } = this;
    this.files = expandPaths(read["source.files"] as string[], this.baseDir);
    // what a pipeline reads stays inside the project directory unless the config says otherwise
    for (const f of this.files.paths) {
      const { problem } = projectPath(f, this.baseDir, read["paths.allowAbsolute"] as boolean);
      if (problem) problems.push(yaml.problem(node, `source.files: ${problem}`));
    }
    if ((read["kafka.brokers"] as string[]).length === 0) {
      for (const m of this.files.missing)
        problems.push(yaml.problem(node, `source.files: "${m}" matches no file`));
    }
  }

  private checkTransforms(read: Record<string, unknown>, node: YamlNode): void {
    const { yaml, problems } = this;
    const globs = read["transforms"] as string[];
    if (globs.length === 0)
      problems.push(yaml.problem(this.root, "transforms: at least one file is required"));
    this.transforms = expandPaths(globs, this.baseDir);
    for (const m of this.transforms.missing) {
      problems.push(yaml.problem(node, `transforms: "${m}" matches no file`));
    }
    for (const f of this.transforms.paths) {
      const { problem } = projectPath(f, this.baseDir, read["paths.allowAbsolute"] as boolean);
      if (problem) problems.push(yaml.problem(node, `transforms: ${problem}`));
    }
  }
}

/** Topic names and URLs (checked here so that `check` reports them; the messages never show a password). */
function checkNamesAndUrls(
  yaml: YamlSource,
  root: YamlNode,
  config: PipelineConfig,
  nodes: Map<string, YamlNode>,
  problems: Problem[],
): void {
  const node = (path: string): YamlNode => nodes.get(path);
  const dlqProblem = topicNameProblem(config.errors.deadLetterTopic);
  if (dlqProblem)
    problems.push(
      yaml.problem(node("errors.deadLetterTopic") ?? root, `errors.deadLetterTopic: ${dlqProblem}`),
    );
  const prefixProblem = config.source.topicPrefix ? topicNameProblem(config.source.topicPrefix) : null;
  if (prefixProblem)
    problems.push(yaml.problem(node("source.topicPrefix"), `source.topicPrefix: ${prefixProblem}`));
  const stateProblem = stateUrlProblem(config.state);
  if (stateProblem) problems.push(yaml.problem(node("state") ?? root, `state: ${stateProblem}`));
  const registryProblem = config.registry.url ? registryUrlProblem(config.registry.url) : null;
  if (registryProblem) problems.push(yaml.problem(node("registry.url"), registryProblem));
}

/** `{"a.b": 1}` → `{a: {b: 1}}`. */
function nest(flat: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [path, value] of Object.entries(flat)) {
    const keys = path.split(".");
    const last = keys.pop() as string;
    let at = out;
    for (const k of keys) at = (at[k] ??= {}) as Record<string, unknown>;
    at[last] = value;
  }
  return out;
}

/**
 * Reads every setting of PIPELINE_SCHEMA from the YAML (section-reader.ts): unknown keys, required sections and
 * settings, `${VAR:-default}` expansion, then each setting's zod schema, in READ_ORDER.
 */
function readSettings(
  yaml: YamlSource,
  root: YamlNode,
  env: NodeJS.ProcessEnv,
  problems: Problem[],
  /** called after each setting is read, with the values read so far */
  onRead: (path: string, values: Record<string, unknown>, node: YamlNode) => void,
): { values: Record<string, unknown>; nodes: Map<string, YamlNode> } {
  const reader: SectionReader = new SectionReader(yaml, root, problems, {
    where: "config",
    expand: (text) => expandEnv(text, env),
    context: (): { pipeline: string } => ({ pipeline: reader.values.pipeline as string }),
  });
  // unknown keys first, section by section
  reader.unknownKeys(PIPELINE_SCHEMA);
  const all = settings();
  all.sort(([a], [b]) => rank(a) - rank(b));
  for (const [path, setting] of all) {
    // required sections are reported once, after the settings that come before them in READ_ORDER
    if (path === READ_ORDER[READ_ORDER.indexOf(SECTIONS_REQUIRED) + 1])
      requiredSections(yaml, root, problems);
    reader.read(path, setting);
    onRead(path, reader.values, reader.nodes.get(path));
  }
  return { values: reader.values, nodes: reader.nodes };
}

function requiredSections(yaml: YamlSource, root: YamlNode, problems: Problem[]): void {
  for (const [key, child] of Object.entries(PIPELINE_SCHEMA.fields)) {
    const sectionNode = mapEntries(root).find(([k]) => k === key)?.[2];
    if (!child.setting && child.required && (sectionNode === undefined || sectionNode === null))
      problems.push(yaml.problem(root, `${key} is required`));
  }
}

/**
 * The order settings are read in, and so the order of their problems: paths.allowAbsolute first (the path
 * checks depend on it), the pipeline name (defaults derive from it), then the missing required sections, the
 * settings the path checks need, and then the rest in the order of PIPELINE_SCHEMA.
 */
const SECTIONS_REQUIRED = "(required sections)";
const READ_ORDER = [
  "paths.allowAbsolute",
  "pipeline",
  SECTIONS_REQUIRED,
  "kafka.brokers",
  "source.files",
  "transforms",
  "registry.compatibility",
];

function rank(path: string): number {
  const i = READ_ORDER.indexOf(path);
  return i < 0 ? READ_ORDER.length : i;
}
