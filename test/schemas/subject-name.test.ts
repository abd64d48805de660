// Confluent's subject name strategies (TopicNameStrategy, RecordNameStrategy, TopicRecordNameStrategy).
import { describe, expect, it } from "vitest";
import { isSubjectNameStrategy, subjectName } from "../../src/schemas/subject-name.js";

describe("subjectName", () => {
  const topic = "inventory.customer-events";
  const record = "io.example.customer.CustomerRegistered";

  it("TopicNameStrategy: <topic>-value, <topic>-key for keys", () => {
    expect(subjectName("TopicNameStrategy", topic, record)).toBe("inventory.customer-events-value");
    expect(subjectName("TopicNameStrategy", topic, record, true)).toBe("inventory.customer-events-key");
  });

  it("RecordNameStrategy: the record's full name", () => {
    expect(subjectName("RecordNameStrategy", topic, record)).toBe(record);
    expect(subjectName("RecordNameStrategy", topic, record, true)).toBe(record);
  });

  it("TopicRecordNameStrategy: <topic>-<fullName>", () => {
    expect(subjectName("TopicRecordNameStrategy", topic, record)).toBe(
      "inventory.customer-events-io.example.customer.CustomerRegistered",
    );
  });

  it("rejects missing parts and unknown strategies", () => {
    expect(() => subjectName("RecordNameStrategy", topic, "")).toThrow(/full name/);
    expect(() => subjectName("TopicNameStrategy", "", record)).toThrow(/topic/);
    expect(() => subjectName("Whatever" as "TopicNameStrategy", topic, record)).toThrow(
      /unknown subject name strategy/,
    );
    expect(isSubjectNameStrategy("TopicRecordNameStrategy")).toBe(true);
    expect(isSubjectNameStrategy("topic")).toBe(false);
  });
});
