// The target database of a sink: its bookkeeping tables (positions, tombstones) and the projected tables, created
// from the events' Avro schemas when `target.autoCreate` is on. The bookkeeping lives next to the rows so that
// both are committed in one transaction (docs/sink.md, "Exactly once").
import type { Knex } from "knex";
import { openStateStore, type StateStore } from "../state/store.js";
import type { SinkConfig, TableDef } from "./sink-config.js";
import { addColumn, type Dialect } from "./sql-types.js";

export const POSITIONS_TABLE = "changecast_sink_positions";
export const TOMBSTONES_TABLE = "changecast_sink_tombstones";
export const PENDING_TABLE = "changecast_sink_pending";
/** the positions row that records the committed length of an embedded dead-letter file */
export const DLQ_POSITION_PREFIX = "dead-letters:";

export interface Target {
  knex: Knex;
  dialect: Dialect;
  /** the location with any password masked */
  location: string;
  close(): Promise<void>;
}

/** Opens the target database (no changecast state tables: only the sink's own). */
export async function openTarget(config: SinkConfig): Promise<Target> {
  const store: StateStore = await openStateStore(config.target.url, config.baseDir, { migrate: false });
  const target: Target = {
    knex: store.knex,
    dialect: store.dialect,
    location: store.location,
    close: () => store.close(),
  };
  try {
    await ensureSinkTables(target);
    await ensureProjectedTables(target, config);
  } catch (err) {
    await store.close();
    throw err;
  }
  return target;
}

async function ensureSinkTables({ knex }: Target): Promise<void> {
  if (!(await knex.schema.hasTable(POSITIONS_TABLE))) {
    await knex.schema.createTable(POSITIONS_TABLE, (t) => {
      t.string("sink", 255).notNullable();
      t.string("topic", 512).notNullable();
      t.integer("partition").notNullable();
      t.string("next_offset", 32).notNullable();
      t.primary(["sink", "topic", "partition"]);
    });
  }
  if (!(await knex.schema.hasTable(TOMBSTONES_TABLE))) {
    await knex.schema.createTable(TOMBSTONES_TABLE, (t) => {
      t.string("sink", 255).notNullable();
      t.string("table_name", 255).notNullable();
      t.text("row_key").notNullable();
      t.string("changecast_position", 80).notNullable();
      t.text("changecast_event_ids").notNullable();
      t.bigInteger("changecast_applied").notNullable();
      t.primary(["sink", "table_name", "row_key"]);
    });
  }
  if (!(await knex.schema.hasTable(PENDING_TABLE))) {
    await knex.schema.createTable(PENDING_TABLE, (t) => {
      t.string("sink", 255).notNullable();
      t.string("table_name", 255).notNullable();
      t.text("row_key").notNullable();
      t.string("ce_id", 64).notNullable();
      t.string("changecast_position", 80).notNullable();
      t.text("columns").notNullable();
      t.primary(["sink", "table_name", "row_key", "ce_id"]);
    });
  }
}

/** Creates missing projected tables (autoCreate), or checks that they exist with the sink's columns. */
async function ensureProjectedTables(target: Target, config: SinkConfig): Promise<void> {
  for (const def of config.tables.values()) {
    if (await target.knex.schema.hasTable(def.name)) {
      await addMissingMarkColumns(target, def);
      continue;
    }
    if (!config.target.autoCreate)
      throw new Error(
        `table ${def.name} does not exist in ${target.location} (create it, or set target.autoCreate: true)`,
      );
    await createTable(target, def);
  }
}

export async function createTable({ knex, dialect }: Target, def: TableDef): Promise<void> {
  await knex.schema.createTable(def.name, (t) => {
    for (const [name, col] of def.columns) {
      const c = addColumn(t, dialect, name, col.type);
      if (!col.nullable) c.notNullable();
    }
    // the mark of the last event applied (position.ts) and how many events were applied to the row
    t.string("changecast_position", 80).notNullable();
    t.text("changecast_event_ids").notNullable();
    t.bigInteger("changecast_applied").notNullable().defaultTo(0);
    t.primary(def.keyColumns);
  });
}

/** A table made by hand needs the mark columns too; they are added (nullable) when missing. */
async function addMissingMarkColumns({ knex }: Target, def: TableDef): Promise<void> {
  const info = await knex(def.name).columnInfo();
  const missing = ["changecast_position", "changecast_event_ids", "changecast_applied"].filter(
    (c) => !(c in info),
  );
  if (!missing.length) return;
  await knex.schema.alterTable(def.name, (t) => {
    for (const c of missing) {
      if (c === "changecast_applied") t.bigInteger(c).defaultTo(0);
      else t.text(c);
    }
  });
}

/** The sink's committed next offsets, by `topic/partition`. */
export async function readPositions(knex: Knex, sink: string): Promise<Map<string, bigint>> {
  const rows = (await knex(POSITIONS_TABLE).where({ sink })) as {
    topic: string;
    partition: number;
    next_offset: string;
  }[];
  return new Map(rows.map((r) => [`${r.topic}/${Number(r.partition)}`, BigInt(r.next_offset)]));
}

export async function writePositions(
  knex: Knex,
  sink: string,
  positions: ReadonlyMap<string, bigint>,
): Promise<void> {
  const rows = [...positions].map(([tp, next]) => {
    const i = tp.lastIndexOf("/");
    return { sink, topic: tp.slice(0, i), partition: Number(tp.slice(i + 1)), next_offset: next.toString() };
  });
  if (!rows.length) return;
  await knex(POSITIONS_TABLE).insert(rows).onConflict(["sink", "topic", "partition"]).merge(["next_offset"]);
}
