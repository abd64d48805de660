// `changecast.yaml` (docs/configuration.md): parsed, environment-expanded, validated with file:line problems.
import { existsSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { globSync } from "tinyglobby";
import { isScalar, isSeq, type Node } from "yaml";
import { COMPATIBILITY_LEVELS, isCompatibilityLevel, type CompatibilityLevel } from "../schemas/registry.js";
import { ConfigError, mapEntries, seqItems, YamlSource, type Problem, type YamlNode } from "./yaml-source.js";
import { projectPath, topicNameProblem } from "./paths.js";
import { registryUrlProblem, stateUrlProblem } from "./urls.js";

export type SubjectNameStrategy = "TopicNameStrategy" | "RecordNameStrategy" | "TopicRecordNameStrategy";
const STRATEGIES: SubjectNameStrategy[] = [
  "TopicNameStrategy",
  "RecordNameStrategy",
  "TopicRecordNameStrategy",
];

/** Codecs of `kafka.compression` (what changecast publishes; every one of them is read on consume). */
export const KAFKA_COMPRESSIONS = ["none", "gzip", "snappy", "lz4", "zstd"] as const;
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number];

export interface PipelineConfig {
  /** absolute path of the config file */
  file: string;
  /** directory against which relative paths resolve */
  baseDir: string;
  pipeline: string;
  source: {
    connector: "postgres" | "oracle";
    topicPrefix: string;
    format: "json" | "avro";
    /** embedded mode: absolute paths of kcat dumps, in the order given (globs expanded, sorted) */
    files: string[];
  };
  kafka: {
    /** empty: embedded mode */
    brokers: string[];
    clientId: string;
    /** compression codec of the published records (default none: readable by every Kafka client) */
    compression: KafkaCompression;
  };
  registry: {
    /** empty: the embedded registry */
    url: string;
    compatibility: CompatibilityLevel;
    subjectNameStrategy: SubjectNameStrategy;
  };
  state: string;
  delivery: "exactly-once" | "at-least-once";
  errors: { tolerance: "all" | "none"; deadLetterTopic: string };
  limits: {
    /** a source record larger than this is dead-lettered unread */
    maxRecordBytes: number;
    /** an encoded event larger than this is dead-lettered (Kafka's default max.message.bytes) */
    maxEventBytes: number;
  };
  /** embedded mode: where published records are written */
  outputDir: string;
  /** absolute paths of the transform files (globs expanded, sorted) */
  transforms: string[];
  /** allowAbsolute: capture, transform and schema files may lie outside the project directory */
  paths: { allowAbsolute: boolean };
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

const TOP_KEYS = [
  "pipeline",
  "source",
  "kafka",
  "registry",
  "state",
  "delivery",
  "errors",
  "limits",
  "output",
  "transforms",
  "paths",
];

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
  const get = (parent: YamlNode, key: string): YamlNode => mapEntries(parent).find(([k]) => k === key)?.[2];

  if (!mapEntries(root).length) {
    return {
      config: null,
      problems: [yaml.problem(root, "config must be a mapping (docs/configuration.md)")],
    };
  }
  const unknownKeys = (node: YamlNode, allowed: string[], where: string) => {
    for (const [key, keyNode] of mapEntries(node)) {
      if (!allowed.includes(key)) {
        problems.push(
          yaml.problem(keyNode, `unknown key "${key}" in ${where} (allowed: ${allowed.join(", ")})`),
        );
      }
    }
  };
  const str = (parent: YamlNode, key: string, def: string | undefined, where: string): string => {
    const node = get(parent, key);
    if (node === undefined || node === null || (isScalar(node) && node.value === null)) {
      if (def === undefined) problems.push(yaml.problem(parent, `${where}.${key} is required`));
      return def ?? "";
    }
    if (!isScalar(node) || typeof node.value === "object") {
      problems.push(yaml.problem(node, `${where}.${key} must be a scalar`));
      return def ?? "";
    }
    return expandEnv(String(node.value), env);
  };
  const oneOf = <T extends string>(
    parent: YamlNode,
    key: string,
    allowed: readonly T[],
    def: T,
    where: string,
  ): T => {
    const value = str(parent, key, def, where);
    if ((allowed as readonly string[]).includes(value)) return value as T;
    problems.push(
      yaml.problem(get(parent, key), `${where}.${key}: "${value}" is not one of ${allowed.join(", ")}`),
    );
    return def;
  };
  const num = (parent: YamlNode, key: string, def: number, where: string): number => {
    const text = str(parent, key, String(def), where);
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n <= 0) {
      problems.push(yaml.problem(get(parent, key), `${where}.${key}: "${text}" is not a positive integer`));
      return def;
    }
    return n;
  };
  const list = (parent: YamlNode, key: string, where: string): string[] => {
    const node = get(parent, key);
    if (node === undefined || node === null) return [];
    if (isScalar(node)) return [expandEnv(String(node.value), env)];
    if (!isSeq(node)) {
      problems.push(yaml.problem(node, `${where}.${key} must be a list`));
      return [];
    }
    return seqItems(node).map((item: Node) => expandEnv(String(isScalar(item) ? item.value : item), env));
  };

  unknownKeys(root, TOP_KEYS, "config");
  const source = get(root, "source");
  unknownKeys(source, ["connector", "topicPrefix", "format", "files"], "source");
  const kafka = get(root, "kafka");
  unknownKeys(kafka, ["brokers", "clientId", "compression"], "kafka");
  const registry = get(root, "registry");
  unknownKeys(registry, ["url", "compatibility", "subjectNameStrategy"], "registry");
  const errors = get(root, "errors");
  unknownKeys(errors, ["tolerance", "deadLetterTopic"], "errors");
  const limits = get(root, "limits");
  unknownKeys(limits, ["maxRecordBytes", "maxEventBytes"], "limits");
  const output = get(root, "output");
  unknownKeys(output, ["dir"], "output");
  const pathsNode = get(root, "paths");
  unknownKeys(pathsNode, ["allowAbsolute"], "paths");
  const allowAbsolute =
    oneOf(pathsNode, "allowAbsolute", ["false", "true"] as const, "false", "paths") === "true";

  const pipeline = str(root, "pipeline", undefined, "config");
  if (pipeline && !/^[A-Za-z0-9._-]+$/.test(pipeline)) {
    problems.push(
      yaml.problem(get(root, "pipeline"), `pipeline "${pipeline}" may only use letters, digits, . _ -`),
    );
  }
  if (!source) problems.push(yaml.problem(root, "source is required"));
  const brokersText = str(kafka, "brokers", "", "kafka");
  const brokers = brokersText
    .split(",")
    .map((b) => b.trim())
    .filter(Boolean);

  const fileGlobs = list(source, "files", "source");
  const files = expandPaths(fileGlobs, baseDir);
  // what a pipeline reads stays inside the project directory unless the config says otherwise
  for (const f of files.paths) {
    const { problem } = projectPath(f, baseDir, allowAbsolute);
    if (problem) problems.push(yaml.problem(get(source, "files"), `source.files: ${problem}`));
  }
  if (brokers.length === 0) {
    for (const m of files.missing) {
      problems.push(yaml.problem(get(source, "files"), `source.files: "${m}" matches no file`));
    }
  }
  const transformGlobs = list(root, "transforms", "config");
  if (transformGlobs.length === 0)
    problems.push(yaml.problem(root, "transforms: at least one file is required"));
  const transforms = expandPaths(transformGlobs, baseDir);
  for (const m of transforms.missing) {
    problems.push(yaml.problem(get(root, "transforms"), `transforms: "${m}" matches no file`));
  }
  for (const f of transforms.paths) {
    const { problem } = projectPath(f, baseDir, allowAbsolute);
    if (problem) problems.push(yaml.problem(get(root, "transforms"), `transforms: ${problem}`));
  }
  const level = str(registry, "compatibility", "BACKWARD", "registry");
  if (!isCompatibilityLevel(level)) {
    problems.push(
      yaml.problem(
        get(registry, "compatibility"),
        `registry.compatibility: "${level}" is not one of ${COMPATIBILITY_LEVELS.join(", ")}`,
      ),
    );
  }

  const config: PipelineConfig = {
    file: absFile,
    baseDir,
    pipeline,
    source: {
      connector: oneOf(source, "connector", ["postgres", "oracle"] as const, "postgres", "source"),
      topicPrefix: str(source, "topicPrefix", undefined, "source"),
      format: oneOf(source, "format", ["json", "avro"] as const, "json", "source"),
      files: files.paths,
    },
    kafka: {
      brokers,
      clientId: str(kafka, "clientId", `changecast-${pipeline}`, "kafka"),
      compression: oneOf(kafka, "compression", KAFKA_COMPRESSIONS, "none", "kafka"),
    },
    registry: {
      url: str(registry, "url", "", "registry"),
      compatibility: isCompatibilityLevel(level) ? level : "BACKWARD",
      subjectNameStrategy: oneOf(
        registry,
        "subjectNameStrategy",
        STRATEGIES,
        "TopicRecordNameStrategy",
        "registry",
      ),
    },
    state: str(root, "state", "sqlite:.changecast/state.sqlite", "config"),
    delivery: oneOf(root, "delivery", ["exactly-once", "at-least-once"] as const, "exactly-once", "config"),
    errors: {
      tolerance: oneOf(errors, "tolerance", ["all", "none"] as const, "all", "errors"),
      deadLetterTopic: str(errors, "deadLetterTopic", `changecast.${pipeline}.dlq`, "errors"),
    },
    limits: {
      maxRecordBytes: num(limits, "maxRecordBytes", 8 * 1024 * 1024, "limits"),
      maxEventBytes: num(limits, "maxEventBytes", 1_048_588, "limits"),
    },
    outputDir: resolve(baseDir, str(output, "dir", ".changecast/out", "output")),
    transforms: transforms.paths,
    paths: { allowAbsolute },
  };
  // a dead letter (error headers, a cut copy of the record) must fit limits.maxEventBytes too
  if (config.limits.maxEventBytes < 1024)
    problems.push(
      yaml.problem(
        get(limits, "maxEventBytes") ?? root,
        `limits.maxEventBytes: "${config.limits.maxEventBytes}" is too small: at least 1024 (room for a dead letter's error headers)`,
      ),
    );
  const dlqProblem = topicNameProblem(config.errors.deadLetterTopic);
  if (dlqProblem)
    problems.push(
      yaml.problem(get(errors, "deadLetterTopic") ?? root, `errors.deadLetterTopic: ${dlqProblem}`),
    );
  const prefixProblem = config.source.topicPrefix ? topicNameProblem(config.source.topicPrefix) : null;
  if (prefixProblem)
    problems.push(yaml.problem(get(source, "topicPrefix"), `source.topicPrefix: ${prefixProblem}`));
  // URLs are checked here so that `check` reports them; the messages never show a password
  const stateProblem = stateUrlProblem(config.state);
  if (stateProblem) problems.push(yaml.problem(get(root, "state") ?? root, `state: ${stateProblem}`));
  const registryProblem = config.registry.url ? registryUrlProblem(config.registry.url) : null;
  if (registryProblem) problems.push(yaml.problem(get(registry, "url"), registryProblem));
  return { config, problems };
}
