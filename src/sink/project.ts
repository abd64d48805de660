// A published record → the row operations of its projections, or one dead letter. Records are decoded from the
// Confluent wire format through the registry (the embedded output files carry the same bytes in `wire.value`),
// so the sink sees exactly what a Kafka consumer sees.
import { fromWireFormat } from "../avro/wire.js";
import { EventSchema } from "../encode/event-schema.js";
import { isRetriable } from "../errors.js";
import type { SchemaRegistry } from "../schemas/registry.js";
import { SinkDecodeError, SinkProjectionError } from "./errors.js";
import { sortablePosition } from "./position.js";
import type { Projection, SinkConfig, TableDef } from "./sink-config.js";
import { toSqlValue, type Dialect, type SqlType } from "./sql-types.js";

/** A record as the sink reads it, from Kafka or an embedded output file. */
export interface SinkRecord {
  topic: string;
  partition: number;
  offset: bigint;
  key: string | null;
  headers: Record<string, string>;
  value: Buffer | null;
}

/** One change to one table row. */
export interface RowOp {
  table: TableDef;
  action: Projection["action"];
  /** key column values as bound */
  keyValues: unknown[];
  /** the row's identity in the batch and in the tombstones table */
  keyText: string;
  /** column → value as bound */
  columns: Record<string, unknown>;
  position: string;
  ceId: string;
  record: SinkRecord;
}

export type Projected =
  { kind: "ops"; ops: RowOp[]; filtered: number } | { kind: "none" } | { kind: "dead"; error: Error };

export class Projector {
  private readonly byType = new Map<string, Projection[]>();
  private readonly schemas = new Map<number, Promise<EventSchema>>();

  constructor(
    private readonly config: SinkConfig,
    private readonly registry: SchemaRegistry,
    private readonly dialect: Dialect,
  ) {
    for (const p of config.projections) this.byType.set(p.type, [...(this.byType.get(p.type) ?? []), p]);
  }

  handles(type: string | undefined): boolean {
    return type !== undefined && this.byType.has(type);
  }

  async project(record: SinkRecord): Promise<Projected> {
    const type = record.headers.ce_type;
    const projections = type ? this.byType.get(type) : undefined;
    if (!projections) return { kind: "none" };
    let event: Record<string, unknown>;
    let position: string;
    const ceId = record.headers.ce_id;
    try {
      if (!ceId) throw new SinkDecodeError("the record has no ce_id header");
      const header = record.headers.changecast_position;
      if (!header) throw new SinkDecodeError("the record has no changecast_position header");
      try {
        position = sortablePosition(header);
      } catch (err) {
        throw new SinkDecodeError((err as Error).message);
      }
      event = await this.decode(record);
    } catch (err) {
      return { kind: "dead", error: err as Error };
    }
    const bindings = {
      event,
      key: record.key,
      headers: record.headers,
      topic: record.topic,
      type,
    };
    const ops: RowOp[] = [];
    let filtered = 0;
    try {
      for (const p of projections) {
        if (
          p.when &&
          !this.evaluate(
            p,
            "when",
            () => p.when!.evaluate(bindings),
            (v) => typeof v === "boolean",
          )
        ) {
          filtered++;
          continue;
        }
        const table = this.config.tables.get(p.table)!;
        const keyValues = p.key.map(([column, e]) => {
          const v = this.evaluate(
            p,
            `key.${column}`,
            () => e.evaluate(bindings),
            (x) => x !== null && x !== undefined,
          );
          return this.sqlValue(p, `key.${column}`, v, table.columns.get(column)!.type);
        });
        // no prototype: a column named __proto__ is a column like any other
        const columns = Object.create(null) as Record<string, unknown>;
        for (const [column, e] of p.columns) {
          const v = this.evaluate(
            p,
            `columns.${column}`,
            () => e.evaluate(bindings),
            () => true,
          );
          columns[column] = this.sqlValue(p, `columns.${column}`, v, table.columns.get(column)!.type);
        }
        ops.push({
          table,
          action: p.action,
          keyValues,
          keyText: keyText(keyValues),
          columns,
          position,
          ceId,
          record,
        });
      }
    } catch (err) {
      return { kind: "dead", error: err as Error };
    }
    return { kind: "ops", ops, filtered };
  }

  /** The value as the column takes it; one it cannot take unchanged is the projection's error. */
  private sqlValue(p: Projection, what: string, v: unknown, type: SqlType): unknown {
    try {
      return toSqlValue(v, type, this.dialect);
    } catch (err) {
      throw new SinkProjectionError(`projection ${p.type} → ${p.table}: ${what}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  private evaluate(p: Projection, what: string, run: () => unknown, ok: (v: unknown) => boolean): unknown {
    let v: unknown;
    try {
      v = run();
    } catch (err) {
      throw new SinkProjectionError(`projection ${p.type} → ${p.table}: ${what}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!ok(v))
      throw new SinkProjectionError(
        `projection ${p.type} → ${p.table}: ${what}: ${what === "when" ? "is not a bool" : "is null"} (${String(v)})`,
      );
    return v;
  }

  private async decode(record: SinkRecord): Promise<Record<string, unknown>> {
    if (!record.value) throw new SinkDecodeError("the record has no value");
    let schemaId: number;
    let body: Buffer;
    try {
      ({ schemaId, body } = fromWireFormat(record.value));
    } catch (err) {
      throw new SinkDecodeError(`value is not in the Confluent wire format: ${(err as Error).message}`);
    }
    let schemaP = this.schemas.get(schemaId);
    if (!schemaP) {
      schemaP = this.registry
        .schemaById(schemaId)
        .then((text) => EventSchema.parse(text, `schema id ${schemaId}`));
      this.schemas.set(schemaId, schemaP);
      // a failed lookup is not cached: the registry may answer later
      schemaP.catch(() => this.schemas.delete(schemaId));
    }
    let schema: EventSchema;
    try {
      schema = await schemaP;
    } catch (err) {
      // the registry down is no fault of the record: the sink stops and resumes from its positions
      if (isRetriable(err)) throw err;
      throw new SinkDecodeError(`schema id ${schemaId}: ${(err as Error).message}`, { cause: err });
    }
    if (schema.fullName !== record.headers.ce_type)
      throw new SinkDecodeError(
        `ce_type ${record.headers.ce_type} but the value's schema (id ${schemaId}) is ${schema.fullName}`,
      );
    try {
      return schema.render(schema.decode(body)) as Record<string, unknown>;
    } catch (err) {
      throw new SinkDecodeError(
        `value does not decode with schema id ${schemaId}: ${(err as Error).message}`,
      );
    }
  }
}

/** The identity of a row: its key values as text (a bigint and its decimal text are one key). */
export function keyText(values: readonly unknown[]): string {
  return JSON.stringify(
    values.map((v) =>
      v instanceof Date ? v.toISOString() : Buffer.isBuffer(v) ? v.toString("base64") : String(v),
    ),
  );
}
