// `changecast schemas compat --level LEVEL NEW.avsc PREVIOUS.avsc…`: the registry's compatibility check,
// offline. Exit codes: 0 compatible, 1 incompatible (every reason printed), 2 invalid input.
import { readFile } from "node:fs/promises";
import { checkCompatibility, InvalidSchemaError, parseAvroSchema } from "../schemas/compat.js";
import { COMPATIBILITY_LEVELS, isCompatibilityLevel } from "../schemas/registry.js";
import { ChangecastError } from "../errors.js";

export interface SchemasCompatOptions {
  level: string;
  newFile: string;
  /** oldest first */
  previousFiles: string[];
}

interface Writable {
  write(s: string): void;
}

export class InputError extends ChangecastError {
  override readonly name = "InputError";
  readonly code = "CLI_INPUT";
}

/** The file's text, once known to hold a valid Avro schema. */
async function readSchemaFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new InputError(`${file}: cannot read: ${(e as Error).message}`);
  }
  try {
    JSON.parse(text);
  } catch (e) {
    throw new InputError(`${file}: invalid JSON: ${(e as Error).message}`);
  }
  try {
    parseAvroSchema(text);
  } catch (e) {
    if (e instanceof InvalidSchemaError) throw new InputError(`${file}: ${e.message}`);
    throw e;
  }
  return text;
}

export async function runSchemasCompat(
  opts: SchemasCompatOptions,
  out: Writable,
  err: Writable,
): Promise<number> {
  const level = opts.level.toUpperCase();
  if (!isCompatibilityLevel(level)) {
    err.write(
      `unknown compatibility level "${opts.level}" (expected one of ${COMPATIBILITY_LEVELS.join(", ")})\n`,
    );
    return 2;
  }
  let schemas: string[];
  try {
    schemas = await Promise.all([opts.newFile, ...opts.previousFiles].map(readSchemaFile));
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    err.write(`${e.message}\n`);
    return 2;
  }
  const [candidate = "", ...previous] = schemas;
  const result = checkCompatibility(level, candidate, previous);
  if (result.isCompatible) {
    out.write("compatible\n");
    return 0;
  }
  out.write(`INCOMPATIBLE under ${level}\n`);
  for (const message of result.messages) out.write(`${message}\n`);
  return 1;
}
