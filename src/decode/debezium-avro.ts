// Debezium records written by Confluent's AvroConverter (Confluent wire format + Schema Registry) → DecodedRecord,
// exactly what decodeDebeziumJson yields for the same logical record written by JsonConverter.
import { fromWireFormat, WireFormatError } from "../avro/wire.js";
import { compileAvroSchema, type CompiledAvroSchema } from "./avro-connect.js";
import {
  DecodeError,
  type ColumnValue,
  type DecodedRecord,
  type Row,
  type SourceRecord,
} from "./change-event.js";
import { describe } from "./connect-schema.js";
import { interpretPayload, isRow } from "./envelope.js";

export interface DebeziumAvroOptions {
  /** Debezium topic.prefix: pins the heartbeat (`__debezium-heartbeat.<prefix>`) and transaction topics */
  topicPrefix?: string;
}

const HEADER_BYTES = 5;

/**
 * Decodes Debezium records whose key and value Confluent's AvroConverter wrote (magic byte 0, 4-byte schema id,
 * Avro binary body). Writer schemas come from the registry: `prefetch` fetches and compiles the schema ids of a
 * batch (async), then `decode` is synchronous.
 *
 * Registry failures: a lookup that fails with "not found" (`status` 404 or error code 40403 on the thrown
 * error, as RegistryError and the Confluent client report it) or returns a schema that does not compile marks
 * the id unknown for good (schema ids are immutable), and decode throws DecodeError for its records; any other
 * failure (registry unreachable, …) rejects `prefetch`, so the batch can be retried instead of dead-lettered.
 */
export class DebeziumAvroDecoder {
  private readonly schemas = new Map<number, CompiledAvroSchema>();
  /** ids the registry does not know (or whose schema does not compile) → why */
  private readonly unknown = new Map<number, string>();
  private readonly inFlight = new Map<number, Promise<void>>();

  constructor(
    private readonly schemaById: (id: number) => Promise<string>,
    private readonly options: DebeziumAvroOptions = {},
  ) {}

  /** Fetches and compiles every schema id of the records' keys and values not known yet. */
  async prefetch(records: readonly SourceRecord[]): Promise<void> {
    const ids = new Set<number>();
    for (const r of records) {
      this.collectId(r.key, ids);
      this.collectId(r.value, ids);
    }
    if (ids.size === 0) return;
    await Promise.all(Array.from(ids, (id) => this.load(id)));
  }

  /** Decodes one record; throws DecodeError for a record that is not a decodable Debezium Avro record. */
  decode(record: SourceRecord): DecodedRecord {
    const key = this.decodeKey(record.key);
    if (record.value === null) return { kind: "tombstone", key };
    const { schema, payload } = this.read(record.value, "value");
    if (payload === null) return { kind: "tombstone", key };
    if (!isRow(payload)) {
      throw new DecodeError(`not a Debezium record: expected an Avro record, got ${describe(payload)}`);
    }
    return interpretPayload(payload, schema.name, key, record.topic, this.options);
  }

  private collectId(buf: Buffer | null, ids: Set<number>): void {
    // malformed headers are left to decode, which reports them per record
    if (buf === null || buf.length < HEADER_BYTES || buf[0] !== 0) return;
    const id = buf.readUInt32BE(1);
    if (!this.schemas.has(id) && !this.unknown.has(id)) ids.add(id);
  }

  private load(id: number): Promise<void> {
    let pending = this.inFlight.get(id);
    if (pending === undefined) {
      pending = this.fetchAndCompile(id).finally(() => this.inFlight.delete(id));
      this.inFlight.set(id, pending);
    }
    return pending;
  }

  private async fetchAndCompile(id: number): Promise<void> {
    let text: string;
    try {
      text = await this.schemaById(id);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      this.unknown.set(id, `the schema registry does not know schema id ${id} (${errorMessage(err)})`);
      return;
    }
    try {
      this.schemas.set(id, compileAvroSchema(text));
    } catch (err) {
      this.unknown.set(id, `schema id ${id} is not a usable Avro schema: ${errorMessage(err)}`);
    }
  }

  private read(buf: Buffer, path: string): { schema: CompiledAvroSchema; payload: ColumnValue } {
    let schemaId: number;
    let body: Buffer;
    try {
      ({ schemaId, body } = fromWireFormat(buf));
    } catch (err) {
      if (err instanceof WireFormatError) {
        throw new DecodeError(`${path}: not a Confluent Avro record: ${err.message}`);
      }
      throw err;
    }
    const schema = this.schemas.get(schemaId);
    if (schema === undefined) {
      const reason = this.unknown.get(schemaId);
      throw new DecodeError(
        `${path}: unknown schema id ${schemaId}: ${reason ?? "not fetched from the registry (prefetch the batch before decoding)"}`,
      );
    }
    return { schema, payload: schema.read(body, path) };
  }

  private decodeKey(buf: Buffer | null): Row | null {
    if (buf === null || buf.length === 0) return null;
    const decoded = this.read(buf, "key").payload;
    if (decoded === null) return null;
    if (!isRow(decoded))
      throw new DecodeError(`key: expected a struct (Avro record), got ${describe(decoded)}`);
    return decoded;
  }
}

function isNotFound(err: unknown): boolean {
  if (err === null || typeof err !== "object") return false;
  const e = err as { status?: unknown; errorCode?: unknown };
  return e.status === 404 || e.errorCode === 40403;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
