import { defineConfig } from "vitest/config";

/**
 * Two tiers. `unit`: pure code and in-process servers, seconds, no Kafka, no Postgres, no child processes
 * (`npm run test:unit`). `integration`: the librdkafka mock cluster, embedded Postgres, the CLI as a child
 * process, kill -9 loops (`npm run test:integration`). `npm test` (and CI) runs both.
 */
const INTEGRATION = [
  "test/infra/**/*.test.ts",
  "test/kafka/{compression,e2e,faults,group,kill-loop-*,workers,state-kill-loop,held-kill-loop,state-bootstrap,held-parents}.test.ts",
  "test/migrate/{check,migration,shared-topic,finish,backfill-bound,aggregate-major,kafka-*}.test.ts",
  "test/state/**/*.test.ts",
  "test/cli/capture.test.ts",
  "test/cli/command-line.test.ts",
  "test/cli/node-flags.test.ts",
  "test/cli/check-hostile-files.test.ts",
  "test/schemas/registry-embedded.test.ts",
  "test/worker/embedded-*.test.ts",
  "test/observe/kafka-*.test.ts",
  "test/sink/{acceptance,embedded-sqlite,postgres-*,kafka-*,kill-loop,migration}.test.ts",
  "test/held/kafka.test.ts",
  // builds the CLI into a temp copy and runs it per case: minutes, not seconds
  "test/acceptance/**/*.test.ts",
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: "forks",
    // two test files at a time even on 2 cores (vitest's default there is one): the integration files mostly
    // wait on brokers, Postgres and child processes
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ["default", "json"],
    outputFile: { json: ".changecast/test-results.json" },
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: INTEGRATION,
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: INTEGRATION,
          // builds the librdkafka mock-cluster launcher once (cached) before any integration test runs
          globalSetup: ["test/infra/global-setup.ts"],
        },
      },
    ],
  },
});
