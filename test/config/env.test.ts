// Environment settings are declared once (src/config/env.ts) and read through it: no ad-hoc `env.X` lookups.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ENV_VARS, EnvError, envFlag, envMs, secretEnvValues } from "../../src/config/env.js";

const srcDir = new URL("../../src/", import.meta.url).pathname;
const sources = (readdirSync(srcDir, { recursive: true }) as string[])
  .filter((f) => f.endsWith(".ts"))
  .map((f) => ({ file: f, text: readFileSync(join(srcDir, f), "utf8") }));

describe("environment settings", () => {
  it("are read through config/env.ts only", () => {
    const adHoc = sources
      .filter(({ file }) => file !== join("config", "env.ts"))
      .flatMap(({ file, text }) =>
        [...text.matchAll(/\benv(?:\.|\[")([A-Z][A-Z0-9_]+)/g)].map((m) => `${file}: ${m[0]}`),
      );
    expect(adHoc).toEqual([]);
  });

  it("take the declared default, and refuse what is not a positive integer", () => {
    expect(envMs({}, "KAFKA_CONNECTION_TIMEOUT_MS")).toBe(3_000);
    expect(envMs({ KAFKA_CONNECTION_TIMEOUT_MS: " 500 " }, "KAFKA_CONNECTION_TIMEOUT_MS")).toBe(500);
    expect(() => envMs({ KAFKA_REQUEST_TIMEOUT_MS: "-1" }, "KAFKA_REQUEST_TIMEOUT_MS")).toThrow(
      new EnvError('KAFKA_REQUEST_TIMEOUT_MS: "-1" is not a positive integer'),
    );
    expect(envFlag({ KAFKA_SSL: "Yes" }, "KAFKA_SSL")).toBe(true);
    expect(envFlag({ KAFKA_SSL: "" }, "KAFKA_SSL")).toBeUndefined();
  });

  it("mark credentials as secrets, which have no documented default", () => {
    const secrets = Object.entries(ENV_VARS)
      .filter(([, v]) => "secret" in v && v.secret)
      .map(([name]) => name);
    expect(secrets.sort()).toEqual([
      "KAFKA_CONNECT_PASSWORD",
      "KAFKA_SASL_PASSWORD",
      "SCHEMA_REGISTRY_PASSWORD",
      "SCHEMA_REGISTRY_TOKEN",
    ]);
    expect(secretEnvValues({ KAFKA_SASL_PASSWORD: "hunter2", KAFKA_SASL_USERNAME: "alice" })).toEqual([
      "hunter2",
    ]);
  });
});
