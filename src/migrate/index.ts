// Library exports of the migrator, for consumers that manage their own offsets.
export { computeSwitch, createSwitchFilter, describeSwitch } from "./switch.js";
export type {
  FactRef,
  HeaderBag,
  PartitionSnapshot,
  PartitionStart,
  SwitchCase,
  SwitchFilter,
  SwitchFilterScope,
  SwitchPlan,
  SwitchTypes,
  TopicSnapshot,
} from "./switch.js";
export {
  EmbeddedTopicAccess,
  GroupBusyError,
  GroupMovedError,
  KafkaTopicAccess,
  readEmbeddedTopic,
} from "./topics.js";
export type { CommitGuard, EmbeddedRecord, GroupActivity, KafkaGroupTiming, TopicAccess } from "./topics.js";
export { EmbeddedGroupOffsets, MigrationStore } from "./state.js";
export { loadSwitchFilter } from "./filter.js";
export { planSwitch } from "./commands.js";
