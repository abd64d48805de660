// Checks on names and paths that come from configuration: Kafka topic names, and files a pipeline reads
// (capture files, transform files, schemas) kept inside the project directory unless the config opts out.
import { isAbsolute, relative, resolve, sep } from "node:path";

/** Kafka's own rule (kafka.common.internals.Topic): [a-zA-Z0-9._-], at most 249 characters, not "." or "..". */
export const MAX_TOPIC_LENGTH = 249;

/** Why `topic` is not a legal Kafka topic name, or null when it is. */
export function topicNameProblem(topic: string): string | null {
  if (topic === "") return "a topic name cannot be empty";
  if (topic === "." || topic === "..") return `topic "${topic}" is not a legal Kafka topic name`;
  if (topic.length > MAX_TOPIC_LENGTH)
    return `topic "${topic.slice(0, 40)}…" is ${topic.length} characters long; Kafka allows at most ${MAX_TOPIC_LENGTH}`;
  const bad = [...new Set(topic.replace(/[a-zA-Z0-9._-]/g, ""))];
  if (bad.length)
    return `topic "${topic}" has characters Kafka does not allow (${bad.map((c) => JSON.stringify(c)).join(" ")}); use letters, digits, . _ -`;
  return null;
}

/** The config setting that lets paths leave the project directory (docs/operations.md). */
export const ALLOW_ABSOLUTE = "paths.allowAbsolute";

/**
 * Resolves `path` against the project directory; a path that ends up outside it (absolute elsewhere, or
 * climbing out with `..`) is a problem unless `allowOutside`. Lexical: a symbolic link inside the project is
 * the operator's choice and is followed.
 */
export function projectPath(
  path: string,
  baseDir: string,
  allowOutside: boolean,
): { path: string; problem: string | null } {
  const resolved = isAbsolute(path) ? resolve(path) : resolve(baseDir, path);
  if (allowOutside || isInside(resolved, baseDir)) return { path: resolved, problem: null };
  return {
    path: resolved,
    problem: `"${path}" is outside the project directory ${baseDir}; set ${ALLOW_ABSOLUTE}: true in the config to allow it`,
  };
}

export function isInside(path: string, dir: string): boolean {
  const rel = relative(resolve(dir), resolve(path));
  return rel === "" || (rel.split(sep)[0] !== ".." && !isAbsolute(rel));
}
