// docs/configuration.md, rendered from the declarations: PIPELINE_SCHEMA and TRANSFORM_SCHEMA/EVENT_SCHEMA
// (schema.ts) and ENV_VARS (env.ts). `npm run docs:config` writes it; test/config/reference.test.ts fails when
// the committed file differs. The prose around the tables is the template text below.
import { ENV_VARS, type EnvVar } from "./env.js";
import { settings, transformSettings, type Setting } from "./schema.js";
import { sinkSettings } from "./sink-schema.js";

function settingsTable(rows: [string, Setting][]): string {
  return [
    "| key | type | default | what |",
    "| --- | --- | --- | --- |",
    ...rows.map(([path, s]) => `| \`${path}\` | ${s.doc.type} | ${s.doc.default} | ${s.doc.description} |`),
  ].join("\n");
}

function envTable(): string {
  const rows = (Object.entries(ENV_VARS) as [string, EnvVar][]).map(
    ([name, v]) =>
      `| \`${name}\` | ${v.usedBy} | ${v.secret ? "secret" : (v.default ?? "unset")} | ${v.description} |`,
  );
  return ["| variable | used by | default | what |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

/** The text of docs/configuration.md. */
export function renderConfigurationReference(): string {
  return `# Configuration reference

<!-- Generated from src/config/schema.ts and src/config/env.ts by \`npm run docs:config\`; do not edit by hand. -->

Two kinds of YAML file configure changecast: the pipeline file (\`changecast.yaml\`, chosen with \`--config\`) and the
transform files it lists. Every value may use \`\${VAR}\` or \`\${VAR:-default}\`: it is expanded from the environment
(an unset or empty variable takes the default, as in Docker Compose). Paths are relative to the directory of the
pipeline file. \`changecast check\` validates everything below and reports problems as \`file:line: message\`.

Each setting is declared once, in \`src/config/schema.ts\` (its zod schema, default and the text below); the
environment variables in \`src/config/env.ts\`.

## \`changecast.yaml\`

${settingsTable(settings())}

Topic names (\`errors.deadLetterTopic\`, transform \`topic\`, a major's derived \`<topic>.v<N>\`, and
\`source.topicPrefix\`) must be legal Kafka topic names: up to 249 of \`a-z A-Z 0-9 . _ -\`, not \`.\` or \`..\`.

## Transform files

${settingsTable(transformSettings())}

The variables and functions expressions may use are in docs/transforms.md.

## Sink files

\`changecast sink\` reads a sink file (\`changecast.sink.yaml\` by default; docs/sink.md): where the events' rows go
and how each event type projects onto a table row.

${settingsTable(sinkSettings())}

## Environment variables

Secrets are read from the environment only, never from YAML, and never appear in a log line or an error message.
Besides the variables below, any variable may be expanded into a YAML value with \`\${VAR}\`.

${envTable()}
`;
}
