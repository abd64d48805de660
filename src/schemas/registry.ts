// The registry port: what the engine needs from a Confluent-compatible Schema Registry. Two adapters:
// the embedded registry (state store, in-process or served over HTTP) and the remote REST client.

import { COMPATIBILITY_LEVELS, type CompatibilityLevel } from "../config/schema.js";

export { COMPATIBILITY_LEVELS, type CompatibilityLevel };

export function isCompatibilityLevel(value: string): value is CompatibilityLevel {
  return (COMPATIBILITY_LEVELS as readonly string[]).includes(value);
}

export interface RegisteredSchema {
  subject: string;
  version: number;
  /** global schema id (the 4 bytes after the magic byte in the wire format) */
  id: number;
  /** the schema text as the registry stores it */
  schema: string;
}

export interface CompatibilityResult {
  isCompatible: boolean;
  /** one line per incompatibility, with its location (e.g. `/fields/email: …`) */
  messages: string[];
}

export interface SchemaRegistry {
  /** Registers the Avro schema under the subject (idempotent for an identical schema). */
  register(subject: string, schema: string): Promise<RegisteredSchema>;
  /** The version of this exact schema under the subject, or null. */
  lookup(subject: string, schema: string): Promise<RegisteredSchema | null>;
  /** Avro schema text by global id; throws when unknown. */
  schemaById(id: number): Promise<string>;
  latest(subject: string): Promise<RegisteredSchema | null>;
  /** all live versions of the subject, oldest first (empty when the subject is unknown) */
  versions(subject: string): Promise<RegisteredSchema[]>;
  /** the subject's level, falling back to the global level */
  compatibility(subject?: string): Promise<CompatibilityLevel>;
  setCompatibility(level: CompatibilityLevel, subject?: string): Promise<void>;
  /** Tests a schema against the subject's registered versions under its level (no registration). */
  testCompatibility(subject: string, schema: string): Promise<CompatibilityResult>;
  close?(): Promise<void>;
}
