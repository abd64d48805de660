// Confluent subject name strategies (io.confluent.kafka.serializers.subject.*): the subject under which a
// record's schema is registered, from the topic and the record's full name.

import { SUBJECT_NAME_STRATEGIES, type SubjectNameStrategy } from "../config/schema.js";

// declared once with the settings (config/schema.ts); re-exported for the registry's users
export { SUBJECT_NAME_STRATEGIES, type SubjectNameStrategy };

export function isSubjectNameStrategy(value: string): value is SubjectNameStrategy {
  return (SUBJECT_NAME_STRATEGIES as readonly string[]).includes(value);
}

/**
 * TopicNameStrategy: `<topic>-value` (`<topic>-key` for keys); RecordNameStrategy: `<fullName>`;
 * TopicRecordNameStrategy: `<topic>-<fullName>`. As in Confluent's serializers, the record strategies
 * do not distinguish keys from values.
 */
export function subjectName(
  strategy: SubjectNameStrategy,
  topic: string,
  recordFullName: string,
  isKey = false,
): string {
  switch (strategy) {
    case "TopicNameStrategy":
      if (!topic) throw new Error("subjectName: TopicNameStrategy needs a topic");
      return `${topic}-${isKey ? "key" : "value"}`;
    case "RecordNameStrategy":
      if (!recordFullName) throw new Error("subjectName: RecordNameStrategy needs the record's full name");
      return recordFullName;
    case "TopicRecordNameStrategy":
      if (!topic) throw new Error("subjectName: TopicRecordNameStrategy needs a topic");
      if (!recordFullName)
        throw new Error("subjectName: TopicRecordNameStrategy needs the record's full name");
      return `${topic}-${recordFullName}`;
    default: {
      const unknown: never = strategy;
      throw new Error(
        `subjectName: unknown subject name strategy "${String(unknown)}" (use ${SUBJECT_NAME_STRATEGIES.join(", ")})`,
      );
    }
  }
}
