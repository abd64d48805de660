// Writer schemas for AvroConverter records read offline (replay, embedded `run`): the schema lines a capture
// carries (`{"schemaId": N, "schema": "…"}`, see docs/records.md), instead of the registry the connector wrote to.

import { ChangecastError } from "../errors.js";

/** Two different schemas under one id: captures of different registries mixed in one run. */
export class OfflineSchemaConflictError extends ChangecastError {
  readonly code = "DECODE_SCHEMA_CONFLICT";
  override readonly name = "OfflineSchemaConflictError";
}

/** What DebeziumAvroDecoder treats as "the registry does not know this id" (dead letter, not a retry). */
export class SchemaNotCapturedError extends ChangecastError {
  readonly code = "DECODE_SCHEMA_NOT_CAPTURED";
  override readonly name = "SchemaNotCapturedError";
  readonly status = 404;
  readonly errorCode = 40403;
}

export class OfflineSchemas {
  private readonly byId = new Map<number, { schema: string; origin: string }>();

  /**
   * Adds the schema of one schema line; `origin` (file:line) names it in errors. The same id again with the
   * same schema is a no-op; with another schema it throws: which one a record was written with cannot be
   * told, and decoding with the wrong one would silently change values.
   */
  add(schemaId: number, schema: string, origin: string): void {
    const known = this.byId.get(schemaId);
    if (known === undefined) {
      this.byId.set(schemaId, { schema, origin });
      return;
    }
    if (sameSchema(known.schema, schema)) return;
    throw new OfflineSchemaConflictError(
      `schema id ${schemaId} has two different schemas (${known.origin} and ${origin}): ` +
        `captures from different schema registries cannot be read in one run`,
    );
  }

  has(schemaId: number): boolean {
    return this.byId.has(schemaId);
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * The decoder's schema source: the schema lines read so far; an id without one is asked of `fallback` when
   * given (a real registry.url — never the embedded registry, whose ids are changecast's own event schemas).
   */
  lookup(fallback?: (schemaId: number) => Promise<string>): (schemaId: number) => Promise<string> {
    return (id) => (fallback && !this.byId.has(id) ? fallback(id) : this.schemaById(id));
  }

  /** The registry's `schemaById`, answered from the schema lines read so far. */
  readonly schemaById = (schemaId: number): Promise<string> => {
    const known = this.byId.get(schemaId);
    if (known !== undefined) return Promise.resolve(known.schema);
    return Promise.reject(
      new SchemaNotCapturedError(
        `no schema line for it precedes its first record in the input; \`changecast capture\` writes one per schema id`,
      ),
    );
  };
}

/** Equal as JSON (a registry may re-serialise the same schema with other white space). */
function sameSchema(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  } catch {
    return false;
  }
}
