// Where `run` serves its operations endpoint: `ops.port` / `ops.host` of changecast.yaml, the environment over them.
import { describe, expect, it } from "vitest";
import { opsAddress } from "../../src/cli/ops.js";
import { readPipelineConfig } from "../../src/config/pipeline-config.js";

const file = new URL("../../changecast.yaml", import.meta.url).pathname;
const BASE = `pipeline: inventory
source:
  topicPrefix: dbserver1
  files: [captures/postgres/*.jsonl]
transforms: [transforms/postgres/*.yaml]
`;
const read = (extra: string, env: NodeJS.ProcessEnv = {}) =>
  readPipelineConfig(file, { text: BASE + extra, env });

describe("ops settings", () => {
  it("are off by default; log format auto, level info", () => {
    const { config, problems } = read("");
    expect(problems).toEqual([]);
    expect(config).toMatchObject({
      ops: { port: null, host: "0.0.0.0", stuckAfterMs: 300_000 },
      log: { format: "auto", level: "info" },
    });
    expect(opsAddress(config!, {})).toBeNull();
  });

  it("take a port from the YAML (an empty ${VAR:-} is off) and the environment over it", () => {
    const on = read("ops:\n  port: 9464\n  host: 127.0.0.1\n").config!;
    expect(opsAddress(on, {})).toEqual({ port: 9464, host: "127.0.0.1" });
    expect(opsAddress(on, { CHANGECAST_OPS_PORT: "9100", CHANGECAST_OPS_HOST: "::" })).toEqual({
      port: 9100,
      host: "::",
    });
    const empty = read("ops:\n  port: ${OPS_PORT_UNSET:-}\n").config!;
    expect(opsAddress(empty, {})).toBeNull();
    expect(opsAddress(empty, { CHANGECAST_OPS_PORT: "0" })).toEqual({ port: 0, host: "0.0.0.0" });
  });

  it("refuse what is not a port, with the setting's line or the variable's name", () => {
    expect(read("ops:\n  port: 70000\n").problems.map((p) => `${p.line}: ${p.message}`)).toEqual([
      '7: ops.port: "70000" is not a port number (0 to 65535)',
    ]);
    expect(read("log:\n  format: xml\n").problems.map((p) => p.message)).toEqual([
      'log.format: "xml" is not one of auto, json, pretty',
    ]);
    expect(() => opsAddress(read("").config!, { CHANGECAST_OPS_PORT: "http" })).toThrow(
      'CHANGECAST_OPS_PORT: "http" is not a port number (0 to 65535)',
    );
  });
});
