// The embedded registry served over HTTP with the Confluent Schema Registry REST API (the subset a
// Kafka client, Kafka Connect's AvroConverter and the Confluent CLI use), with its shapes, status codes
// and error codes, so that any Confluent client can talk to it.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { ERROR_CODES, type EmbeddedRegistry } from "./embedded-registry.js";
import { RegistryError, SCHEMA_REGISTRY_CONTENT_TYPE } from "./remote-registry.js";
import { redactText } from "../config/redact.js";

type Query = Record<string, string | undefined>;
type Params = Record<string, string>;
type Req = FastifyRequest<{ Params: Params; Querystring: Query; Body: unknown }>;

function flag(query: Query, name: string): boolean {
  return (query[name] ?? "").toLowerCase() === "true";
}

function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== "object" || Array.isArray(body)) {
    throw new RegistryError("Request body must be a JSON object", 400, 400);
  }
  return body as Record<string, unknown>;
}

/** {"schema", "schemaType"?, "references"?} of register, lookup and compatibility requests */
function schemaRequest(body: unknown): { schema: string; schemaType?: string } {
  const obj = bodyObject(body);
  const schema = obj.schema;
  const schemaType = obj.schemaType;
  if (schemaType !== undefined && schemaType !== null && typeof schemaType !== "string") {
    throw new RegistryError("Invalid schema: schemaType must be a string", 422, ERROR_CODES.INVALID_SCHEMA);
  }
  if (typeof schemaType === "string" && schemaType.toUpperCase() !== "AVRO") {
    throw new RegistryError(
      `Invalid schema: schemaType ${schemaType} is not supported, the embedded registry supports only Avro schemas`,
      422,
      ERROR_CODES.INVALID_SCHEMA,
    );
  }
  if (Array.isArray(obj.references) && obj.references.length > 0) {
    throw new RegistryError(
      "Invalid schema: schema references are not supported by the embedded registry",
      422,
      ERROR_CODES.INVALID_SCHEMA,
    );
  }
  if (typeof schema !== "string" || schema.trim() === "") {
    throw new RegistryError("Invalid schema: empty schema", 422, ERROR_CODES.INVALID_SCHEMA);
  }
  return typeof schemaType === "string" ? { schema, schemaType } : { schema };
}

function schemaId(raw: string | undefined): number {
  const id = /^[0-9]+$/.test(raw ?? "") ? Number(raw) : NaN;
  if (!Number.isSafeInteger(id)) {
    throw new RegistryError(`Schema ${raw ?? ""} not found`, 404, ERROR_CODES.SCHEMA_NOT_FOUND);
  }
  return id;
}

function param(req: Req, name: string): string {
  return req.params[name] ?? "";
}

export function createRegistryServer(
  registry: EmbeddedRegistry,
  opts: { logger?: boolean } = {},
): FastifyInstance {
  const app = Fastify({ logger: opts.logger ?? false, routerOptions: { ignoreTrailingSlash: true } });
  parseAnyBodyAsJson(app);
  answerAsSchemaRegistry(app);
  routeRoot(app);
  routeSubjects(app, registry);
  routeSchemasById(app, registry);
  routeConfig(app, registry);
  routeMode(app, registry);
  routeCompatibility(app, registry);
  return app;
}

/**
 * Confluent accepts application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json,
 * application/json and application/octet-stream; clients also send an empty body with a content type.
 */
function parseAnyBodyAsJson(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text.trim() === "") return done(null, undefined);
    try {
      done(null, JSON.parse(text) as unknown);
    } catch (err) {
      done(
        new RegistryError(`Unrecognized JSON in request body: ${(err as Error).message}`, 400, 400),
        undefined,
      );
    }
  });
}

/** Every answer in the Schema Registry content type; errors in its {error_code, message} shape. */
function answerAsSchemaRegistry(app: FastifyInstance): void {
  app.addHook("onSend", async (_req, reply, payload) => {
    reply.header("content-type", SCHEMA_REGISTRY_CONTENT_TYPE);
    return payload;
  });

  app.setErrorHandler((error: unknown, _req: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof RegistryError) {
      const status = error.status >= 400 ? error.status : 500;
      return reply.code(status).send({ error_code: error.errorCode, message: error.message });
    }
    const e = error as { statusCode?: number; message?: string };
    if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.code(e.statusCode).send({ error_code: e.statusCode, message: e.message ?? "Bad request" });
    }
    return reply.code(500).send({
      error_code: ERROR_CODES.STORE_ERROR,
      // a store error may quote the state's connection URL
      message: `Internal error: ${redactText(e.message ?? String(error))}`,
    });
  });

  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ error_code: 404, message: "HTTP 404 Not Found" }),
  );
}

function routeRoot(app: FastifyInstance): void {
  app.get("/", async () => ({}));

  app.get("/schemas/types", async () => ["AVRO"]);
}

function routeSubjects(app: FastifyInstance, registry: EmbeddedRegistry): void {
  app.get("/subjects", async (req: Req) => registry.listSubjects({ deleted: flag(req.query, "deleted") }));

  app.post("/subjects/:subject/versions", async (req: Req) => {
    const { schema, schemaType } = schemaRequest(req.body);
    const registered = await registry.registerSchema(param(req, "subject"), schema, {
      normalize: flag(req.query, "normalize"),
      ...(schemaType ? { schemaType } : {}),
    });
    return { id: registered.id };
  });

  app.post("/subjects/:subject", async (req: Req) => {
    const { schema, schemaType } = schemaRequest(req.body);
    const found = await registry.lookupSchema(param(req, "subject"), schema, {
      normalize: flag(req.query, "normalize"),
      deleted: flag(req.query, "deleted"),
      ...(schemaType ? { schemaType } : {}),
    });
    return { subject: found.subject, id: found.id, version: found.version, schema: found.schema };
  });

  app.get("/subjects/:subject/versions", async (req: Req) =>
    registry.listVersions(param(req, "subject"), { deleted: flag(req.query, "deleted") }),
  );

  app.get("/subjects/:subject/versions/:version", async (req: Req) => {
    const found = await registry.getVersion(param(req, "subject"), param(req, "version"), {
      deleted: flag(req.query, "deleted"),
    });
    return { subject: found.subject, version: found.version, id: found.id, schema: found.schema };
  });

  app.get("/subjects/:subject/versions/:version/schema", async (req: Req, reply: FastifyReply) => {
    const found = await registry.getVersion(param(req, "subject"), param(req, "version"), {
      deleted: flag(req.query, "deleted"),
    });
    return reply.send(found.schema);
  });

  app.get("/subjects/:subject/versions/:version/referencedby", async (req: Req) => {
    await registry.getVersion(param(req, "subject"), param(req, "version"));
    return [];
  });

  app.delete("/subjects/:subject", async (req: Req) =>
    registry.deleteSubject(param(req, "subject"), flag(req.query, "permanent")),
  );

  app.delete("/subjects/:subject/versions/:version", async (req: Req) =>
    registry.deleteVersion(param(req, "subject"), param(req, "version"), flag(req.query, "permanent")),
  );
}

function routeSchemasById(app: FastifyInstance, registry: EmbeddedRegistry): void {
  app.get("/schemas/ids/:id", async (req: Req) => {
    const found = await registry.getSchemaById(schemaId(param(req, "id")));
    return { schema: found.schema };
  });

  app.get("/schemas/ids/:id/schema", async (req: Req, reply: FastifyReply) => {
    const found = await registry.getSchemaById(schemaId(param(req, "id")));
    return reply.send(found.schema);
  });

  app.get("/schemas/ids/:id/subjects", async (req: Req) =>
    registry.subjectsForId(schemaId(param(req, "id")), { deleted: flag(req.query, "deleted") }),
  );

  app.get("/schemas/ids/:id/versions", async (req: Req) =>
    registry.versionsForId(schemaId(param(req, "id")), { deleted: flag(req.query, "deleted") }),
  );
}

function routeConfig(app: FastifyInstance, registry: EmbeddedRegistry): void {
  const putConfig = async (req: Req) => {
    const obj = bodyObject(req.body);
    const level = obj.compatibility ?? obj.compatibilityLevel;
    if (typeof level !== "string") {
      throw new RegistryError(
        "Invalid compatibility level. Valid values are none, backward, forward, full, " +
          "backward_transitive, forward_transitive, and full_transitive",
        422,
        ERROR_CODES.INVALID_COMPATIBILITY_LEVEL,
      );
    }
    const subject = req.params.subject;
    await registry.setCompatibility(level, subject);
    return { compatibility: level.toUpperCase() };
  };

  app.get("/config", async () => ({ compatibilityLevel: await registry.getConfig() }));
  app.put("/config", putConfig);
  app.delete("/config", async () => ({ compatibilityLevel: await registry.deleteConfig() }));
  app.get("/config/:subject", async (req: Req) => ({
    compatibilityLevel: await registry.getConfig(param(req, "subject"), flag(req.query, "defaultToGlobal")),
  }));
  app.put("/config/:subject", putConfig);
  app.delete("/config/:subject", async (req: Req) => ({
    compatibilityLevel: await registry.deleteConfig(param(req, "subject")),
  }));
}

function routeMode(app: FastifyInstance, registry: EmbeddedRegistry): void {
  app.get("/mode", async () => ({ mode: registry.mode() }));
  app.get("/mode/:subject", async () => ({ mode: registry.mode() }));
  const putMode = async (req: Req) => {
    const mode = bodyObject(req.body).mode;
    if (mode !== "READWRITE") {
      throw new RegistryError(
        `Invalid mode ${String(mode)}: the embedded registry supports only READWRITE`,
        422,
        ERROR_CODES.INVALID_MODE,
      );
    }
    return { mode };
  };
  app.put("/mode", putMode);
  app.put("/mode/:subject", putMode);
}

function routeCompatibility(app: FastifyInstance, registry: EmbeddedRegistry): void {
  const compatibility = async (req: Req) => {
    const { schema, schemaType } = schemaRequest(req.body);
    const result = await registry.testCompatibilityAgainst(
      param(req, "subject"),
      schema,
      req.params.version,
      {
        normalize: flag(req.query, "normalize"),
        ...(schemaType ? { schemaType } : {}),
      },
    );
    return flag(req.query, "verbose")
      ? { is_compatible: result.isCompatible, messages: result.messages }
      : { is_compatible: result.isCompatible };
  };
  app.post("/compatibility/subjects/:subject/versions/:version", compatibility);
  app.post("/compatibility/subjects/:subject/versions", compatibility);
}
