// REST contract of the embedded registry over real HTTP, through the real Confluent client
// (@kafkajs/confluent-schema-registry) and raw requests. Expected shapes, status codes and error codes
// are those of Confluent's Schema Registry API reference and its Errors.java.
import { SchemaRegistry as ConfluentClient } from "@kafkajs/confluent-schema-registry";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { EmbeddedRegistry } from "../../src/schemas/embedded-registry.js";
import { createRegistryServer } from "../../src/schemas/registry-http.js";
import { openStateStore, type StateStore } from "../../src/state/store.js";

const CT = "application/vnd.schemaregistry.v1+json";

const userV1 = {
  type: "record",
  name: "User",
  namespace: "io.example",
  fields: [{ name: "id", type: "long" }],
};
// adds a field with a default: BACKWARD compatible
const userV2 = {
  ...userV1,
  fields: [...userV1.fields, { name: "email", type: "string", default: "" }],
};
// adds a field without a default: not BACKWARD compatible (new readers can't read old data)
const userBad = {
  ...userV1,
  fields: [...userV1.fields, { name: "email", type: "string" }],
};

let store: StateStore;
let app: FastifyInstance;
let base: string;
let n = 0;
/** a fresh subject name per test */
let subject: string;

beforeAll(async () => {
  store = await openStateStore("sqlite::memory:");
  app = createRegistryServer(await EmbeddedRegistry.open(store));
  await app.listen({ port: 0, host: "127.0.0.1" });
  const address = app.server.address();
  if (!address || typeof address === "string") throw new Error("no address");
  base = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  await app.close();
  await store.close();
});

beforeEach(() => {
  subject = `subject-${++n}`;
});

interface Answer {
  status: number;
  contentType: string | null;
  body: unknown;
  text: string;
}

async function call(method: string, path: string, body?: unknown, contentType = CT): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": contentType },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, contentType: res.headers.get("content-type"), body: parsed, text };
}

const register = (s: string, schema: object, query = "") =>
  call("POST", `/subjects/${encodeURIComponent(s)}/versions${query}`, { schema: JSON.stringify(schema) });

function expectError(answer: Answer, status: number, errorCode: number): void {
  expect(answer.status).toBe(status);
  const body = answer.body as { error_code: number; message: string };
  expect(body.error_code).toBe(errorCode);
  expect(typeof body.message).toBe("string");
}

describe("through the Confluent client (@kafkajs/confluent-schema-registry)", () => {
  it("registers, resolves ids and round-trips Avro in the wire format", async () => {
    const client = new ConfluentClient({ host: base });
    const { id } = await client.register(
      { type: "AVRO" as never, schema: JSON.stringify(userV1) },
      { subject },
    );
    expect(id).toBeGreaterThan(0);
    expect(await client.getLatestSchemaId(subject)).toBe(id);
    expect(await client.getRegistryId(subject, 1)).toBe(id);
    expect(
      await client.getRegistryIdBySchema(subject, { type: "AVRO" as never, schema: JSON.stringify(userV1) }),
    ).toBe(id);

    const encoded = await client.encode(id, { id: 42 });
    expect(encoded[0]).toBe(0);
    expect(encoded.readInt32BE(1)).toBe(id);
    // a fresh client has no cache: decode fetches the schema by id from the server
    const fresh = new ConfluentClient({ host: base });
    expect(await fresh.decode(encoded)).toEqual({ id: 42 });
  });

  it("gives the same id to the same schema in another subject, whatever its whitespace and key order", async () => {
    const client = new ConfluentClient({ host: base });
    const a = await client.register({ type: "AVRO" as never, schema: JSON.stringify(userV1) }, { subject });
    const reordered = `{ "fields": [ {"type": "long", "name": "id"} ],\n  "namespace": "io.example", "name": "User", "type": "record" }`;
    const b = await client.register(
      { type: "AVRO" as never, schema: reordered },
      { subject: `${subject}-other` },
    );
    expect(b.id).toBe(a.id);
  });

  it("sets the subject's compatibility on first registration and rejects an incompatible schema", async () => {
    const client = new ConfluentClient({ host: base });
    await client.register({ type: "AVRO" as never, schema: JSON.stringify(userV1) }, { subject });
    expect((await call("GET", `/config/${subject}`)).body).toEqual({ compatibilityLevel: "BACKWARD" });
    await expect(
      client.register({ type: "AVRO" as never, schema: JSON.stringify(userBad) }, { subject }),
    ).rejects.toMatchObject({ status: 409 });
    const v2 = await client.register({ type: "AVRO" as never, schema: JSON.stringify(userV2) }, { subject });
    expect(await client.getLatestSchemaId(subject)).toBe(v2.id);
  });
});

describe("raw REST API", () => {
  it("GET / answers {} and GET /schemas/types only AVRO", async () => {
    const root = await call("GET", "/");
    expect(root.status).toBe(200);
    expect(root.body).toEqual({});
    expect(root.contentType).toContain(CT);
    expect((await call("GET", "/schemas/types")).body).toEqual(["AVRO"]);
  });

  it("POST /subjects/{s}/versions answers {id}, idempotently, with new versions for new schemas", async () => {
    const r1 = await register(subject, userV1);
    expect(r1.status).toBe(200);
    expect(r1.contentType).toContain(CT);
    expect(Object.keys(r1.body as object)).toEqual(["id"]);
    const again = await register(subject, userV1);
    expect(again.body).toEqual(r1.body);
    const r2 = await register(subject, userV2);
    expect((r2.body as { id: number }).id).not.toBe((r1.body as { id: number }).id);
    expect((await call("GET", `/subjects/${subject}/versions`)).body).toEqual([1, 2]);
  });

  it("accepts application/json and application/vnd.schemaregistry+json bodies", async () => {
    for (const ct of ["application/json", "application/vnd.schemaregistry+json", CT]) {
      const r = await call("POST", `/subjects/${subject}/versions`, { schema: JSON.stringify(userV1) }, ct);
      expect(r.status).toBe(200);
    }
  });

  it("GET /subjects lists subjects, GET versions/{v} and latest, and /schema the raw text", async () => {
    const { id } = (await register(subject, userV1)).body as { id: number };
    await register(subject, userV2);
    const subjects = (await call("GET", "/subjects")).body as string[];
    expect(subjects).toContain(subject);

    const v1 = await call("GET", `/subjects/${subject}/versions/1`);
    expect(v1.status).toBe(200);
    expect(v1.body).toMatchObject({ subject, version: 1, id });
    expect(JSON.parse((v1.body as { schema: string }).schema)).toEqual(userV1);

    const latest = await call("GET", `/subjects/${subject}/versions/latest`);
    expect(latest.body).toMatchObject({ subject, version: 2 });

    const raw = await call("GET", `/subjects/${subject}/versions/1/schema`);
    expect(raw.status).toBe(200);
    expect(JSON.parse(raw.text)).toEqual(userV1);
  });

  it("POST /subjects/{s} looks a schema up: {subject,id,version,schema}, 40403 absent, 40401 unknown subject", async () => {
    const { id } = (await register(subject, userV1)).body as { id: number };
    const found = await call("POST", `/subjects/${subject}`, { schema: JSON.stringify(userV1) });
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({ subject, id, version: 1 });
    expect(JSON.parse((found.body as { schema: string }).schema)).toEqual(userV1);

    expectError(await call("POST", `/subjects/${subject}`, { schema: JSON.stringify(userV2) }), 404, 40403);
    expectError(
      await call("POST", `/subjects/nope-${subject}`, { schema: JSON.stringify(userV1) }),
      404,
      40401,
    );
  });

  it("errors: 40401 unknown subject, 40402 unknown version, 42202 invalid version", async () => {
    expectError(await call("GET", `/subjects/nope-${subject}/versions`), 404, 40401);
    expectError(await call("GET", `/subjects/nope-${subject}/versions/1`), 404, 40401);
    await register(subject, userV1);
    expectError(await call("GET", `/subjects/${subject}/versions/7`), 404, 40402);
    expectError(await call("GET", `/subjects/${subject}/versions/zero`), 422, 42202);
    expectError(await call("GET", `/subjects/${subject}/versions/0`), 422, 42202);
  });

  it("42201 for an invalid schema, for JSON that is no schema and for non-Avro schema types", async () => {
    expectError(await call("POST", `/subjects/${subject}/versions`, { schema: "{not json" }), 422, 42201);
    expectError(
      await call("POST", `/subjects/${subject}/versions`, {
        schema: JSON.stringify({ type: "record", name: "X" }),
      }),
      422,
      42201,
    );
    const proto = await call("POST", `/subjects/${subject}/versions`, {
      schema: 'syntax = "proto3"; message M { string a = 1; }',
      schemaType: "PROTOBUF",
    });
    expectError(proto, 422, 42201);
    expect((proto.body as { message: string }).message).toMatch(/only Avro/i);
  });

  it("GET /schemas/ids/{id} (+ /subjects, /versions); 40403 for an unknown id", async () => {
    const only = { ...userV1, name: "OnlyHere" };
    const { id } = (await register(subject, only)).body as { id: number };
    await register(`${subject}-b`, only);
    const byId = await call("GET", `/schemas/ids/${id}`);
    expect(byId.status).toBe(200);
    expect(JSON.parse((byId.body as { schema: string }).schema)).toEqual(only);
    expect((await call("GET", `/schemas/ids/${id}/subjects`)).body).toEqual([subject, `${subject}-b`]);
    expect((await call("GET", `/schemas/ids/${id}/versions`)).body).toEqual([
      { subject, version: 1 },
      { subject: `${subject}-b`, version: 1 },
    ]);
    expectError(await call("GET", "/schemas/ids/987654"), 404, 40403);
  });

  it("soft then permanent deletion of a version: 40406 twice soft, 40407 permanent before soft", async () => {
    await register(subject, userV1);
    await register(subject, userV2);
    expectError(await call("DELETE", `/subjects/${subject}/versions/2?permanent=true`), 404, 40407);
    const soft = await call("DELETE", `/subjects/${subject}/versions/2`);
    expect(soft.status).toBe(200);
    expect(soft.body).toBe(2);
    expect((await call("GET", `/subjects/${subject}/versions`)).body).toEqual([1]);
    expect((await call("GET", `/subjects/${subject}/versions?deleted=true`)).body).toEqual([1, 2]);
    expectError(await call("GET", `/subjects/${subject}/versions/2`), 404, 40402);
    expect((await call("GET", `/subjects/${subject}/versions/2?deleted=true`)).status).toBe(200);
    expectError(await call("DELETE", `/subjects/${subject}/versions/2`), 404, 40406);
    const hard = await call("DELETE", `/subjects/${subject}/versions/2?permanent=true`);
    expect(hard.body).toBe(2);
    expect((await call("GET", `/subjects/${subject}/versions?deleted=true`)).body).toEqual([1]);
    expectError(await call("DELETE", `/subjects/${subject}/versions/9`), 404, 40402);
    expectError(await call("DELETE", `/subjects/nope-${subject}/versions/1`), 404, 40401);
  });

  it("soft then permanent deletion of a subject: 40404 twice soft, 40405 permanent before soft", async () => {
    const { id } = (await register(subject, userV1)).body as { id: number };
    await register(subject, userV2);
    expectError(await call("DELETE", `/subjects/${subject}?permanent=true`), 404, 40405);
    const soft = await call("DELETE", `/subjects/${subject}`);
    expect(soft.status).toBe(200);
    expect(soft.body).toEqual([1, 2]);
    expect((await call("GET", "/subjects")).body as string[]).not.toContain(subject);
    expect((await call("GET", "/subjects?deleted=true")).body as string[]).toContain(subject);
    expectError(await call("GET", `/subjects/${subject}/versions`), 404, 40401);
    // a soft-deleted schema can still be read by id
    expect((await call("GET", `/schemas/ids/${id}`)).status).toBe(200);
    expectError(await call("DELETE", `/subjects/${subject}`), 404, 40404);
    const hard = await call("DELETE", `/subjects/${subject}?permanent=true`);
    expect(hard.body).toEqual([1, 2]);
    expect((await call("GET", "/subjects?deleted=true")).body as string[]).not.toContain(subject);
    expectError(await call("DELETE", `/subjects/${subject}`), 404, 40401);
  });

  it("re-registering after a soft delete creates a new version with the same id", async () => {
    const { id } = (await register(subject, userV1)).body as { id: number };
    await call("DELETE", `/subjects/${subject}/versions/1`);
    const again = await register(subject, userV1);
    expect(again.body).toEqual({ id });
    expect((await call("GET", `/subjects/${subject}/versions`)).body).toEqual([2]);
  });

  it("GET|PUT|DELETE /config and /config/{s}", async () => {
    expect((await call("GET", "/config")).body).toEqual({ compatibilityLevel: "BACKWARD" });
    const put = await call("PUT", "/config", { compatibility: "FULL" });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ compatibility: "FULL" });
    expect((await call("GET", "/config")).body).toEqual({ compatibilityLevel: "FULL" });
    expect((await call("DELETE", "/config")).body).toEqual({ compatibilityLevel: "FULL" });
    expect((await call("GET", "/config")).body).toEqual({ compatibilityLevel: "BACKWARD" });

    expectError(await call("PUT", "/config", { compatibility: "SIDEWAYS" }), 422, 42203);

    await register(subject, userV1);
    expectError(await call("GET", `/config/${subject}`), 404, 40408);
    expect((await call("GET", `/config/${subject}?defaultToGlobal=true`)).body).toEqual({
      compatibilityLevel: "BACKWARD",
    });
    expect((await call("PUT", `/config/${subject}`, { compatibility: "NONE" })).body).toEqual({
      compatibility: "NONE",
    });
    expect((await call("GET", `/config/${subject}`)).body).toEqual({ compatibilityLevel: "NONE" });
    expectError(await call("PUT", `/config/${subject}`, { compatibility: "nope" }), 422, 42203);
    expect((await call("DELETE", `/config/${subject}`)).body).toEqual({ compatibilityLevel: "NONE" });
    expectError(await call("GET", `/config/${subject}`), 404, 40408);
  });

  it("GET /mode is READWRITE", async () => {
    expect((await call("GET", "/mode")).body).toEqual({ mode: "READWRITE" });
  });

  it("POST /compatibility/subjects/{s}/versions/{v|latest}, with verbose messages", async () => {
    await register(subject, userV1);
    const ok = await call("POST", `/compatibility/subjects/${subject}/versions/latest`, {
      schema: JSON.stringify(userV2),
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ is_compatible: true });
    const bad = await call("POST", `/compatibility/subjects/${subject}/versions/1`, {
      schema: JSON.stringify(userBad),
    });
    expect(bad.body).toEqual({ is_compatible: false });
    const verbose = await call("POST", `/compatibility/subjects/${subject}/versions/latest?verbose=true`, {
      schema: JSON.stringify(userBad),
    });
    const v = verbose.body as { is_compatible: boolean; messages: string[] };
    expect(v.is_compatible).toBe(false);
    expect(v.messages.length).toBeGreaterThan(0);
    expect(v.messages.join("\n")).toMatch(/email/);
    expectError(
      await call("POST", `/compatibility/subjects/${subject}/versions/5`, { schema: JSON.stringify(userV2) }),
      404,
      40402,
    );
    expectError(
      await call("POST", `/compatibility/subjects/${subject}/versions/x`, { schema: JSON.stringify(userV2) }),
      422,
      42202,
    );
    expectError(
      await call("POST", `/compatibility/subjects/${subject}/versions/latest`, { schema: "{" }),
      422,
      42201,
    );
  });

  it("409 with error_code 409 for an incompatible registration, per level", async () => {
    await register(subject, userV1);
    const rejected = await register(subject, userBad);
    expectError(rejected, 409, 409);
    // FORWARD: old readers must read new data; dropping a field the old reader needs (no default) breaks them
    const fwd = `${subject}-fwd`;
    await call("PUT", `/config/${fwd}`, { compatibility: "FORWARD" });
    await register(fwd, userBad);
    expectError(await register(fwd, userV1), 409, 409);
    expect((await register(fwd, userV2)).status).toBe(200);
    // BACKWARD checks the latest version only, BACKWARD_TRANSITIVE all of them
    const back = `${subject}-back`;
    await call("PUT", `/config/${back}`, { compatibility: "BACKWARD" });
    await register(back, userV1);
    await register(back, userV2);
    expect((await register(back, userBad)).status).toBe(200);
    const trans = `${subject}-trans`;
    await call("PUT", `/config/${trans}`, { compatibility: "BACKWARD_TRANSITIVE" });
    await register(trans, userV1);
    await register(trans, userV2);
    expectError(await register(trans, userBad), 409, 409);
    // NONE accepts anything
    const none = `${subject}-none`;
    await call("PUT", `/config/${none}`, { compatibility: "NONE" });
    await register(none, userV1);
    expect((await register(none, { type: "string" })).status).toBe(200);
  });

  it("normalize=true registers the normalised form, so equivalent spellings share it", async () => {
    const spelled = {
      type: "record",
      name: "User",
      namespace: "io.example",
      fields: [{ name: "id", type: { type: "long" } }],
    };
    const a = await register(subject, spelled, "?normalize=true");
    const b = await register(subject, userV1, "?normalize=true");
    expect(b.body).toEqual(a.body);
    const stored = JSON.parse(
      ((await call("GET", `/subjects/${subject}/versions/1`)).body as { schema: string }).schema,
    ) as { name: string; fields: { type: unknown }[] };
    expect(stored.name).toBe("io.example.User");
    expect(stored.fields[0]?.type).toBe("long");
  });

  it("unknown routes answer 404 in the Confluent error shape", async () => {
    const r = await call("GET", "/nothing/here");
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ error_code: 404 });
  });
});
