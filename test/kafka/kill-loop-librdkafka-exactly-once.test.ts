// The kill loop of kill-loop-exactly-once.test.ts with kafka.client: librdkafka (skipped where the optional native
// client is not installed).
import { describe, it } from "vitest";
import { librdkafkaAvailable } from "../../src/kafka/librdkafka-api.js";
import { killLoop } from "./kill-loop.js";

describe.skipIf(!librdkafkaAvailable())("kill -9 loop (librdkafka, exactly-once)", () => {
  it(
    "loses no ce_id across 20 SIGKILLs during a 100k-record stream",
    () => killLoop("exactly-once", "librdkafka"),
    330_000,
  );
});
