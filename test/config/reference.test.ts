// docs/configuration.md is generated from the declarations (src/config/schema.ts, src/config/env.ts): a
// setting added, renamed or re-documented without `npm run docs:config` fails here.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderConfigurationReference } from "../../src/config/reference.js";
import { ENV_VARS } from "../../src/config/env.js";
import { PIPELINE_SCHEMA, settings } from "../../src/config/schema.js";

const committed = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");

describe("the configuration reference", () => {
  it("is up to date with the schema (regenerate with `npm run docs:config`)", () => {
    expect(committed).toBe(renderConfigurationReference());
  });

  it("documents every setting and every environment variable", () => {
    for (const [path] of settings(PIPELINE_SCHEMA)) expect(committed).toContain(`| \`${path}\` |`);
    for (const name of Object.keys(ENV_VARS)) expect(committed).toContain(`| \`${name}\` |`);
  });
});
