// The files under ops/ and the compose stack read what the worker serves: every metric a dashboard panel queries
// exists, Prometheus scrapes the port the worker listens on, the Kubernetes probes ask the worker's endpoints, and
// the ConfigMap's pipeline file is one changecast accepts.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { readPipelineConfig } from "../../src/config/pipeline-config.js";
import { WorkerMetrics } from "../../src/observe/metrics.js";

const ROOT = join(import.meta.dirname, "..", "..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

interface Container {
  args: string[];
  ports: { name: string; containerPort: number }[];
  env: { name: string; valueFrom?: { secretKeyRef?: { name: string } } }[];
  livenessProbe: unknown;
  readinessProbe: unknown;
}

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
}

async function servedMetricNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const line of (await new WorkerMetrics().registry.metrics()).split("\n")) {
    const m = /^# TYPE (\S+) (\S+)/.exec(line);
    if (!m) continue;
    names.add(m[1]!);
    if (m[2] === "histogram") for (const s of ["_bucket", "_count", "_sum"]) names.add(m[1]! + s);
  }
  return names;
}

describe("ops files", () => {
  it("the Grafana dashboard queries only metrics the worker serves", async () => {
    const dashboard = JSON.parse(read("ops/grafana/changecast.json")) as { uid: string; panels: Panel[] };
    expect(dashboard.uid).toBe("changecast");
    const served = await servedMetricNames();
    const queried = new Set<string>();
    for (const panel of dashboard.panels.filter((p) => p.type !== "row")) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const { expr } of panel.targets ?? [])
        for (const [name] of expr.matchAll(/\b(?:changecast|process|nodejs)_[a-z0-9_]+\b/g))
          queried.add(name);
    }
    const missing = [...queried].filter((name) => !served.has(name));
    expect(missing).toEqual([]);
    // the counters of the run summary are all on it
    for (const name of [
      "changecast_records_in_total",
      "changecast_events_out_total",
      "changecast_records_filtered_total",
      "changecast_dead_letters_total",
      "changecast_consumer_lag_records",
      "changecast_end_to_end_latency_seconds_bucket",
    ])
      expect(queried).toContain(name);
  });

  it("compose: Prometheus scrapes the worker's ops port; the worker's healthcheck asks /healthz", () => {
    const compose = parse(read("docker-compose.yml"), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string>; healthcheck?: { test: string[] } }>;
    };
    const port = compose.services.changecast!.environment!.CHANGECAST_OPS_PORT;
    expect(port).toBe("9464");
    expect(compose.services.changecast!.healthcheck!.test.join(" ")).toContain(`:${port}/healthz`);
    expect(compose.services.prometheus).toBeDefined();
    const prometheus = parse(read("ops/prometheus/prometheus.yml")) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const job = prometheus.scrape_configs.find((j) => j.job_name === "changecast")!;
    expect(job.static_configs[0]!.targets).toEqual([`changecast:${port}`]);
  });

  it("Kubernetes: the probes ask /healthz and /readyz on the port the ConfigMap's pipeline serves", () => {
    const docs = readdirSync(join(ROOT, "ops", "k8s")).flatMap((f) =>
      parseAllDocuments(read(join("ops", "k8s", f))).map((d) => d.toJS() as Record<string, unknown>),
    );
    const kind = (k: string) => docs.find((d) => d.kind === k)!;
    const configMap = kind("ConfigMap") as { data: Record<string, string> };
    const pipelineText = configMap.data["changecast.yaml"]!;
    const env = {
      KAFKA_BROKERS: "kafka:9092",
      SCHEMA_REGISTRY_URL: "http://r:8081",
      STATE_URL: "postgres://u:p@db/s",
    };
    // read as if it sat in the image's /app, next to transforms/ and schemas/ (the Deployment mounts it there)
    const { config, problems } = readPipelineConfig(join(ROOT, "pipeline.yaml"), { text: pipelineText, env });
    expect(problems).toEqual([]);
    const opsPort = config!.ops.port;

    const deployment = kind("Deployment") as {
      spec: { template: { spec: { containers: Container[] } } };
    };
    const container = deployment.spec.template.spec.containers[0]!;
    const ports = container.ports;
    expect(ports).toContainEqual({ name: "metrics", containerPort: opsPort });
    expect(container.livenessProbe).toMatchObject({ httpGet: { path: "/healthz", port: "metrics" } });
    expect(container.readinessProbe).toMatchObject({ httpGet: { path: "/readyz", port: "metrics" } });
    expect(container.args).toEqual(["run", "--config", "pipeline.yaml"]);
    // credentials come from the Secret, never from the ConfigMap
    expect(container.env.find((e) => e.name === "STATE_URL")?.valueFrom?.secretKeyRef?.name).toBe(
      "changecast-secrets",
    );
    expect(pipelineText).not.toMatch(/password|:\/\/[^$\s]+:[^$\s]+@/i);
  });
});
