import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // builds the librdkafka mock-cluster launcher once (cached) before any test runs
    globalSetup: ["test/infra/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: "forks",
    reporters: ["default", "json"],
    outputFile: { json: ".changecast/test-results.json" },
  },
});
