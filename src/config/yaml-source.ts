// YAML documents with line numbers, so that every config problem is reported as `file:line: message`.
import { readConfigText, TextFileProblem } from "./read-text.js";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { ChangecastError } from "../errors.js";

export interface Problem {
  file: string;
  line: number;
  message: string;
}

export class ConfigError extends ChangecastError {
  readonly code = "CONFIG_INVALID";
  override readonly name = "ConfigError";
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join("\n"));
  }
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}: ${p.message}`;
}

/** A parsed YAML file that can answer "which line is this node on". */
export class YamlSource {
  private constructor(
    readonly file: string,
    readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  static read(file: string, text?: string): { source: YamlSource | null; problems: Problem[] } {
    let content: string;
    try {
      content = text ?? readConfigText(file);
    } catch (err) {
      if (!(err instanceof TextFileProblem)) throw err;
      return { source: null, problems: [{ file, line: err.line, message: `file ${err.message}` }] };
    }
    const lines = new LineCounter();
    const doc = parseDocument(content, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    // Only the first syntax error: the parser's further errors follow from it (an unclosed bracket gives one
    // per following line), and its line is the one to fix. The line comes from the error's offset, as
    // prettyErrors is off (it would put a code frame into the message).
    const first = doc.errors[0];
    const problems: Problem[] = first
      ? [
          {
            file,
            line: lines.linePos(errorOffset(first.message, first.pos[0], content)).line,
            message: `invalid YAML: ${first.message.split("\n")[0]}`,
          },
        ]
      : [];
    return { source: problems.length ? null : new YamlSource(file, doc, lines), problems };
  }

  lineOf(node: unknown): number {
    const range = (node as Node | null)?.range;
    return range ? this.lines.linePos(range[0]).line : 1;
  }

  problem(node: unknown, message: string): Problem {
    return { file: this.file, line: this.lineOf(node), message };
  }
}

/**
 * Where the mistake is: the parser notices an unclosed flow collection or quote where the text ends or the
 * indentation breaks, lines after the bracket or quote the user has to close.
 */
function errorOffset(message: string, at: number, content: string): number {
  const opener = /^Flow sequence/.test(message)
    ? "["
    : /^Flow map/.test(message)
      ? "{"
      : /^Missing closing "/.test(message)
        ? '"'
        : /^Missing closing '/.test(message)
          ? "'"
          : null;
  if (!opener) return at;
  const i = content.lastIndexOf(opener, at - 1);
  return i >= 0 ? i : at;
}

export type YamlNode = Node | null | undefined;

/** The entries of a mapping node as [key, keyNode, valueNode]. */
export function mapEntries(node: YamlNode): [string, Node, YamlNode][] {
  if (!isMap(node)) return [];
  return node.items.map((pair) => {
    const keyNode = pair.key as Node;
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
    return [key, keyNode, pair.value as YamlNode];
  });
}

export function seqItems(node: YamlNode): Node[] {
  return isSeq(node) ? (node.items as Node[]) : [];
}

export { isMap, isScalar, isSeq };
