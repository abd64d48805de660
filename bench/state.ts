// The stateful features in the replay path (part of `npm run bench`, see bench/run.ts): the same stream of
// synthetic Debezium records (schemaless JsonConverter, one table) mapped by five projects that differ only in
// what the transform declares: nothing stateful; `state: rows`; a `lookup()` into a code table; `requires:` on
// a parent row that is present; a transaction aggregate (orders with their lines, BEGIN/END markers). Every
// record goes through what `replay` does per record: prepare → process → held outcomes → beforeCommit, with
// the table state in memory. Records/s of each, lookups/s, and the cost against the stateless project.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { openReplayPipeline } from "../src/cli/replay.js";
import type { SourceRecord } from "../src/decode/change-event.js";
import { heldRecords } from "../src/worker/held-changes.js";
import { benchTempDir } from "./temp-dir.js";

export interface StateResult {
  name: string;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  cpuSeconds: number;
  recordsPerCpuSecond: number;
  events: number;
  note: string;
}

const RECORDS = Number(process.env.BENCH_STATE_RECORDS ?? 20_000);
const CODES = 1_000;

const SCHEMA = {
  type: "record",
  name: "ItemChanged",
  namespace: "io.example.bench",
  fields: [
    { name: "id", type: "long" },
    { name: "name", type: "string" },
    { name: "label", type: ["null", "string"], default: null },
  ],
};
const ORDER_SCHEMA = {
  type: "record",
  name: "OrderPlaced",
  namespace: "io.example.bench",
  fields: [
    { name: "id", type: "long" },
    {
      name: "lines",
      type: {
        type: "array",
        items: { type: "record", name: "Line", fields: [{ name: "qty", type: "int" }] },
      },
    },
  ],
};

type Variant = "stateless" | "state" | "lookup" | "requires" | "aggregate";

function project(variant: Variant): string {
  const dir = benchTempDir(`changecast-bench-${variant}-`);
  const file = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  file("schemas/ItemChanged.avsc", JSON.stringify(SCHEMA));
  file("schemas/OrderPlaced.avsc", JSON.stringify(ORDER_SCHEMA));
  file("transforms/codes.yaml", "table: bench.codes\nstate: rows\nevents: []\n");
  const label =
    variant === "lookup"
      ? 'lookup("bench.codes", after.code).label'
      : variant === "requires"
        ? "after.code"
        : "'null'";
  file(
    "transforms/items.yaml",
    [
      "table: bench.items",
      ...(variant === "state" || variant === "lookup" ? ["state: rows"] : []),
      ...(variant === "requires" ? ["requires:", "  - table: bench.codes", "    key: after.code"] : []),
      "events:",
      "  - name: ItemChanged",
      "    schema: schemas/ItemChanged.avsc",
      "    topic: bench.item-events",
      "    key: after.id",
      "    fields:",
      "      id: after.id",
      "      name: after.name",
      `      label: ${label}`,
      "",
    ].join("\n"),
  );
  if (variant === "aggregate") {
    file("transforms/lines.yaml", "table: bench.lines\nstate: rows\nevents: []\n");
    file(
      "transforms/order-placed.yaml",
      [
        "aggregate: bench.orders",
        "members:",
        "  lines:",
        "    table: bench.lines",
        "    match: member.key.order_id == root.key.id",
        "events:",
        "  - name: OrderPlaced",
        "    schema: schemas/OrderPlaced.avsc",
        "    topic: bench.order-events",
        "    key: root.after.id",
        "    fields:",
        "      id: root.after.id",
        `      lines: 'lines.map(l, {"qty": l.after.qty})'`,
        "",
      ].join("\n"),
    );
  }
  file(
    "changecast.yaml",
    [
      "pipeline: bench",
      "source:",
      "  connector: postgres",
      "  topicPrefix: dbserver1",
      "  format: json",
      ...(variant === "aggregate" ? ["  transactionTopic: dbserver1.transaction"] : []),
      "transforms: [transforms/*.yaml]",
      "",
    ].join("\n"),
  );
  return join(dir, "changecast.yaml");
}

function record(topic: string, offset: number, key: object, value: object): SourceRecord {
  return {
    topic,
    partition: 0,
    offset: String(offset),
    timestamp: null,
    headers: {},
    key: Buffer.from(JSON.stringify(key)),
    value: Buffer.from(JSON.stringify(value)),
  };
}

function change(
  table: string,
  lsn: number,
  op: "c" | "u",
  after: object,
  transaction: object | null = null,
): object {
  const ts = 1_700_000_000_000 + lsn;
  return {
    before: null,
    after,
    source: {
      version: "3.6.1.Final",
      connector: "postgresql",
      name: "dbserver1",
      ts_ms: ts,
      snapshot: "false",
      db: "postgres",
      sequence: `["${lsn}","${lsn}"]`,
      schema: "bench",
      table,
      txId: lsn,
      lsn,
      xmin: null,
    },
    transaction,
    op,
    ts_ms: ts + 3,
  };
}

/** The code table (loaded once per pass, not timed) and the measured stream. */
function records(variant: Variant): { setup: SourceRecord[]; stream: SourceRecord[] } {
  const setup: SourceRecord[] = [];
  let lsn = 1_000;
  for (let c = 0; c < CODES; c++)
    setup.push(
      record(
        "dbserver1.bench.codes",
        c,
        { code: `C${c}` },
        change("codes", (lsn += 8), "c", { code: `C${c}`, label: `Label ${c}` }),
      ),
    );
  const stream: SourceRecord[] = [];
  if (variant !== "aggregate") {
    for (let i = 0; i < RECORDS; i++) {
      const id = i % 5_000;
      const after = { id, name: `item-${id}-${i}`, code: `C${(i * 7) % CODES}` };
      stream.push(
        record("dbserver1.bench.items", i, { id }, change("items", (lsn += 8), i < 5_000 ? "c" : "u", after)),
      );
    }
    return { setup, stream };
  }
  // an order and two lines per transaction, with BEGIN and END: RECORDS data and marker records in all
  for (let o = 0; stream.length < RECORDS; o++) {
    const tx = 100_000 + o;
    const begin = (lsn += 8);
    const rows: [string, object, object][] = [
      ["orders", { id: o }, { id: o, customer: `c${o % 50}` }],
      ["lines", { order_id: o, line_no: 1 }, { order_id: o, line_no: 1, qty: 1 + (o % 3) }],
      ["lines", { order_id: o, line_no: 2 }, { order_id: o, line_no: 2, qty: 2 }],
    ];
    stream.push(
      record(
        "dbserver1.transaction",
        stream.length,
        { id: `${tx}:${begin}` },
        {
          status: "BEGIN",
          id: `${tx}:${begin}`,
          event_count: null,
          data_collections: null,
          ts_ms: 1_700_000_000_000 + begin,
        },
      ),
    );
    rows.forEach(([table, key, after], i) => {
      const at = (lsn += 8);
      stream.push(
        record(`dbserver1.bench.${table}`, stream.length, key, {
          ...change(table, at, "c", after, {
            id: `${tx}:${at}`,
            total_order: i + 1,
            data_collection_order: i + 1,
          }),
        }),
      );
    });
    const end = (lsn += 8);
    stream.push(
      record(
        "dbserver1.transaction",
        stream.length,
        { id: `${tx}:${end}` },
        {
          status: "END",
          id: `${tx}:${end}`,
          event_count: 3,
          data_collections: [
            { data_collection: "bench.orders", event_count: 1 },
            { data_collection: "bench.lines", event_count: 2 },
          ],
          ts_ms: 1_700_000_000_000 + begin,
        },
      ),
    );
  }
  return { setup, stream };
}

/** Passes over the stream (a fresh in-memory state each pass) until `minSeconds` of measured time. */
async function measure(variant: Variant, minSeconds: number, note: string): Promise<StateResult> {
  const config = project(variant);
  const { setup, stream } = records(variant);
  let n = 0;
  let events = 0;
  let seconds = 0;
  let cpuSeconds = 0;
  do {
    const pipeline = await openReplayPipeline(config);
    try {
      const p = pipeline.processor;
      const step = async (r: SourceRecord): Promise<number> => {
        await p.prepare([r]);
        const outcome = p.process(r);
        let out = outcome.kind === "events" ? outcome.records.length : 0;
        for (const h of p.takeHeldOutcomes()) out += heldRecords(h).length;
        await p.beforeCommit([r]);
        return out;
      };
      for (const r of setup) await step(r);
      const start = process.hrtime.bigint();
      const cpu = process.cpuUsage();
      for (const r of stream) events += await step(r);
      const used = process.cpuUsage(cpu);
      seconds += Number(process.hrtime.bigint() - start) / 1e9;
      cpuSeconds += (used.user + used.system) / 1e6;
      n += stream.length;
    } finally {
      await pipeline.close();
    }
  } while (seconds < minSeconds);
  return {
    name: `replay synthetic: ${variant}`,
    records: n,
    seconds,
    recordsPerSecond: Math.round(n / seconds),
    cpuSeconds,
    recordsPerCpuSecond: Math.round(n / cpuSeconds),
    events,
    note,
  };
}

export async function benchState(minSeconds: number): Promise<StateResult[]> {
  return [
    await measure("stateless", minSeconds, "one table, no state declarations (the baseline)"),
    await measure(
      "state",
      minSeconds,
      "the same table with `state: rows` (every change applied to its row state)",
    ),
    await measure(
      "lookup",
      minSeconds,
      "`state: rows` + one `lookup()` per event into a 1 000-row code table",
    ),
    await measure("requires", minSeconds, "`requires:` a code row that is present (checked, never parked)"),
    await measure(
      "aggregate",
      minSeconds,
      "transactions of an order + 2 lines with BEGIN/END: records/s of all 5",
    ),
  ];
}
