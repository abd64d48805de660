// Reads a YAML mapping against a Section of the config schema (schema.ts): unknown keys (with the allowed list),
// required settings, scalars vs lists vs mappings, then each setting's zod schema — every problem at its line.
// One mechanism for every YAML file changecast reads: changecast.yaml (pipeline-config.ts), transform files
// (map/transform-file.ts) and the blocks later features add to them.
import { isMap, isScalar, isSeq, type Node } from "yaml";
import { mapEntries, seqItems, type Problem, type YamlNode, type YamlSource } from "./yaml-source.js";
import type { Section, Setting } from "./schema.js";

export interface SectionReaderOptions {
  /** how the section's own keys are named in problems: "config", "event", "majors.2" */
  where: string;
  /** applied to every scalar text before its schema (changecast.yaml: `${VAR:-default}`); default: none */
  expand?: (text: string) => string;
  /** what a default derived from context (the pipeline name) is derived from */
  context?: () => { pipeline: string };
  /** a scalar of blanks counts as missing (transform files: an empty expression is no expression) */
  blankIsMissing?: boolean;
}

/** A setting being read: its path, its name as problems show it, its YAML node and that node's parent. */
interface SettingAt {
  path: string;
  name: string;
  parent: YamlNode;
  node: YamlNode;
  setting: Setting;
}

/**
 * The values read so far (by dotted path) and the YAML node of each. A value that is missing takes the
 * setting's default; one that is refused is a problem at its line (and takes the default).
 */
export class SectionReader {
  readonly values: Record<string, unknown> = {};
  readonly nodes = new Map<string, YamlNode>();
  private readonly expand: (text: string) => string;

  constructor(
    readonly yaml: YamlSource,
    readonly root: YamlNode,
    readonly problems: Problem[],
    private readonly options: SectionReaderOptions,
  ) {
    this.expand = options.expand ?? ((text) => text);
  }

  /** Unknown keys of `section` at `node` and of its sub-sections, each with the allowed list. */
  unknownKeys(section: Section): void {
    this.unknownKeysAt(section, this.root, this.options.where);
  }

  private unknownKeysAt(section: Section, node: YamlNode, where: string): void {
    const allowed = Object.keys(section.fields);
    for (const [key, keyNode] of mapEntries(node)) {
      if (!allowed.includes(key)) {
        this.problems.push(
          this.yaml.problem(keyNode, `unknown key "${key}" in ${where} (allowed: ${allowed.join(", ")})`),
        );
      }
    }
    for (const [key, child] of Object.entries(section.fields))
      if (!child.setting) this.unknownKeysAt(child, childNode(node, key), key);
  }

  /** One setting at its dotted path below the root. */
  read(path: string, setting: Setting): void {
    const keys = path.split(".");
    const key = keys.pop() as string;
    const where = keys.length ? keys.join(".") : this.options.where;
    let parent = this.root;
    for (const k of keys) parent = childNode(parent, k);
    const node = childNode(parent, key);
    this.nodes.set(path, node);
    const at: SettingAt = { path, name: `${where}.${key}`, parent, node, setting };
    if (setting.kind === "mapping") return this.mapping(at);
    if (setting.kind === "sequence") return this.sequence(at);
    const raw = setting.kind === "list" ? this.listText(at) : this.scalarText(at);
    if (raw !== undefined) this.parse(at, raw);
  }

  /** Every setting of a flat section (no sub-sections), in its order. */
  readAll(section: Section): void {
    for (const [key, child] of Object.entries(section.fields)) if (child.setting) this.read(key, child);
  }

  /** Whether the YAML sets the key at `path` at all. */
  has(path: string): boolean {
    const node = this.nodes.get(path);
    return node !== undefined && node !== null && !(isScalar(node) && node.value === null);
  }

  /** The default of a setting (some derive from the pipeline name). */
  private fallback(setting: Setting): unknown {
    const def = setting.default;
    return typeof def === "function" ? def(this.options.context?.() ?? { pipeline: "" }) : def;
  }

  /** A missing setting: its default, or a problem when it is required. */
  private missing(at: SettingAt): void {
    if (at.setting.default === undefined) {
      this.problems.push(this.yaml.problem(at.parent, `${at.name} is required`));
      this.values[at.path] = at.setting.kind === "scalar" ? "" : undefined;
    } else this.values[at.path] = this.fallback(at.setting);
  }

  /** A mapping setting (a transform file's `fields`, `majors`): its node, read further by its owner. */
  private mapping(at: SettingAt): void {
    const { node } = at;
    if (node === undefined || node === null || (isScalar(node) && node.value === null))
      return this.missing(at);
    if (!isMap(node)) {
      this.problems.push(this.yaml.problem(node, `${at.name} must be a mapping`));
      this.values[at.path] = this.fallback(at.setting);
      return;
    }
    this.values[at.path] = node;
  }

  /** A sequence setting (a transform file's `events`): its item nodes, read further by its owner. */
  private sequence(at: SettingAt): void {
    const { node, setting } = at;
    if (node === undefined || node === null || (isScalar(node) && node.value === null)) {
      if (setting.default !== undefined) this.values[at.path] = this.fallback(setting);
      else this.refuse(at, [], `${at.name} is required`, at.parent);
      return;
    }
    if (!isSeq(node)) {
      this.problems.push(this.yaml.problem(node, `${at.name} must be a list`));
      this.values[at.path] = [];
      return;
    }
    const items = seqItems(node);
    if (!setting.schema.safeParse(items).success) this.refuse(at, items, `${at.name} is not valid`, node);
    else this.values[at.path] = items;
  }

  /** A value the setting's schema refuses: its own message when it has one. */
  private refuse(at: SettingAt, value: unknown, message: string, node: YamlNode): void {
    this.problems.push(this.yaml.problem(node, at.setting.invalid?.(at.name, "") ?? message));
    this.values[at.path] = value;
  }

  /** The items of a list setting (a scalar is a list of one); undefined when its value is settled already. */
  private listText(at: SettingAt): string[] | undefined {
    const { node, setting, path } = at;
    if (node === undefined || node === null) {
      if (setting.default === undefined && !setting.schema.safeParse([]).success) this.missing(at);
      else this.values[path] = setting.default ?? [];
      return undefined;
    }
    if (isScalar(node)) return [this.expand(String(node.value))];
    if (!isSeq(node)) {
      this.problems.push(this.yaml.problem(node, `${at.name} must be a list`));
      this.values[path] = [];
      return undefined;
    }
    return seqItems(node).map((item: Node) => this.expand(String(isScalar(item) ? item.value : item)));
  }

  /** The text of a scalar setting; undefined when its value is settled already (missing, or not a scalar). */
  private scalarText(at: SettingAt): string | undefined {
    const { node, setting, path } = at;
    const blank = isScalar(node) && this.options.blankIsMissing && String(node.value).trim() === "";
    const missing = node === undefined || node === null || (isScalar(node) && node.value === null) || blank;
    if (missing) {
      this.missing(at);
      return undefined;
    }
    if (!isScalar(node) || typeof node.value === "object") {
      this.problems.push(this.yaml.problem(node, `${at.name} must be a scalar`));
      this.values[path] = setting.default === undefined ? "" : this.fallback(setting);
      return undefined;
    }
    return this.expand(String(node.value));
  }

  /** The setting's zod schema on its text; a refusal is a problem at its line. */
  private parse(at: SettingAt, raw: string | string[]): void {
    const { setting, path } = at;
    const parsed = setting.schema.safeParse(raw);
    if (parsed.success) {
      this.values[path] = parsed.data;
      return;
    }
    const issue = parsed.error.issues[0];
    const text = Array.isArray(raw) ? raw.join(", ") : raw;
    const message =
      setting.invalid && issue?.code !== "custom" ? setting.invalid(at.name, text) : issue?.message;
    this.problems.push(this.yaml.problem(at.node, message ?? `${at.name}: "${text}" is not valid`));
    // a refused name or text stays as written (what derives from it is checked too); a refused choice or number
    // takes the default
    this.values[path] =
      setting.default === undefined || typeof raw !== "string" ? raw : this.fallback(setting);
  }
}

function childNode(parent: YamlNode, key: string): YamlNode {
  return mapEntries(parent).find(([k]) => k === key)?.[2];
}
