// Reading published topics and a consumer group's offsets, in both modes. Embedded mode: the topics are the
// output files `<outputDir>/<topic>.jsonl` (one partition, offset = line number, only the committed length
// counts) and group offsets live in the state store. Kafka mode: kafkajs admin and a throw-away reader; a
// group's offsets are committed by joining the group as its only member (see KafkaTopicAccess.commitGroup).
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import type { Knex } from "knex";
import {
  Kafka,
  logLevel,
  PartitionAssigners,
  type Admin,
  type Assigner,
  type Consumer,
  type ConsumerGroupJoinEvent,
  type KafkaConfig,
  type PartitionAssigner,
} from "kafkajs";
import { EmbeddedGroupOffsets } from "./state.js";
import type { FactRef, PartitionSnapshot, TopicSnapshot } from "./switch.js";
import { ChangecastError } from "../errors.js";
import { OffsetStore } from "../state/offsets.js";

/** A record of an embedded output topic, as an embedded consumer sees it. */
export interface EmbeddedRecord {
  topic: string;
  partition: 0;
  offset: bigint;
  key: string | null;
  headers: Record<string, string>;
  value: unknown;
}

/** Whether a consumer group has members right now, as far as the deployment can tell. */
export interface GroupActivity {
  /** "unknown": the broker cannot describe groups (no DescribeGroups), or embedded mode (no membership) */
  state: "empty" | "active" | "unknown";
  /** the members, as `clientId (host)` */
  members: string[];
  detail: string;
}

/** A commit precondition: the group's committed offsets on `topic` are still exactly `offsets`. */
export interface CommitGuard {
  topic: string;
  offsets: ReadonlyMap<number, bigint>;
}

/** The group has members (or gained one while committing): its offsets must not be moved under it. */
export class GroupBusyError extends ChangecastError {
  readonly code = "MIGRATE_GROUP_BUSY";
  override readonly name = "GroupBusyError";
}

/** The group's offsets changed after the switch was computed (the guard failed): nothing was committed. */
export class GroupMovedError extends ChangecastError {
  override readonly name = "GroupMovedError";
  readonly code = "MIGRATE_GROUP_MOVED";
  constructor(group: string, topic: string) {
    super(
      `group ${group} committed on ${topic} after the switch was computed; stop its consumers and re-run`,
    );
  }
}

/** The two things the migrator needs from a deployment: topic contents and group offsets. */
export interface TopicAccess {
  readonly mode: "embedded" | "kafka";
  snapshot(topic: string): Promise<TopicSnapshot>;
  /** the group's committed next offsets (absent partition: nothing committed) */
  fetchGroup(group: string, topic: string): Promise<Map<number, bigint>>;
  describeGroup(group: string): Promise<GroupActivity>;
  /**
   * Commits the group's next offsets on `topic`, only while the group has no other member and only if the
   * guard still holds (GroupBusyError, GroupMovedError otherwise; nothing committed). Returns how it committed.
   */
  commitGroup(
    group: string,
    topic: string,
    offsets: ReadonlyMap<number, bigint>,
    guard?: CommitGuard,
  ): Promise<string>;
  /** log end offsets per partition */
  endOffsets(topic: string): Promise<Map<number, bigint>>;
  close(): Promise<void>;
}

/**
 * The committed records of an embedded output topic from `fromOffset` on. Lines written after the worker's
 * last commit (a batch interrupted by a crash, cut off at its next start) are not part of the topic yet.
 */
export async function readEmbeddedTopic(
  knex: Knex,
  pipeline: string,
  outputDir: string,
  topic: string,
  fromOffset = 0n,
): Promise<EmbeddedRecord[]> {
  const name = `${topic}.jsonl`;
  const path = join(outputDir, name);
  if (!existsSync(path)) return [];
  const length = await (await OffsetStore.open(knex, pipeline)).outputLength(name);
  if (length === 0) return [];
  const buffer = Buffer.alloc(length);
  const fd = openSync(path, "r");
  try {
    let read = 0;
    while (read < length) {
      const n = readSync(fd, buffer, read, length - read, read);
      if (n === 0) break;
      read += n;
    }
  } finally {
    closeSync(fd);
  }
  const lines = buffer.toString("utf8").split("\n");
  const out: EmbeddedRecord[] = [];
  let offset = 0n;
  for (const line of lines) {
    if (line.trim() === "") continue;
    if (offset >= fromOffset) {
      const parsed = JSON.parse(line) as {
        key: string | null;
        headers: Record<string, string>;
        value: unknown;
      };
      out.push({
        topic,
        partition: 0,
        offset,
        key: parsed.key,
        headers: parsed.headers,
        value: parsed.value,
      });
    }
    offset++;
  }
  return out;
}

function factOf(offset: bigint, headers: Record<string, string>): FactRef {
  const fact: FactRef = {
    offset,
    ceId: headers.ce_id ?? `?${offset}`,
    position: headers.changecast_position ?? "",
  };
  if (headers.ce_type !== undefined) fact.type = headers.ce_type;
  return fact;
}

export class EmbeddedTopicAccess implements TopicAccess {
  readonly mode = "embedded";
  private constructor(
    private readonly knex: Knex,
    private readonly pipeline: string,
    private readonly outputDir: string,
    private readonly groups: EmbeddedGroupOffsets,
  ) {}

  static async open(knex: Knex, pipeline: string, outputDir: string): Promise<EmbeddedTopicAccess> {
    return new EmbeddedTopicAccess(knex, pipeline, outputDir, await EmbeddedGroupOffsets.open(knex));
  }

  async snapshot(topic: string): Promise<TopicSnapshot> {
    const records = await readEmbeddedTopic(this.knex, this.pipeline, this.outputDir, topic);
    const partition: PartitionSnapshot = {
      partition: 0,
      records: records.map((r) => factOf(r.offset, r.headers)),
      end: BigInt(records.length),
    };
    return { topic, partitions: [partition] };
  }

  fetchGroup(group: string, topic: string): Promise<Map<number, bigint>> {
    return this.groups.fetch(group, topic);
  }

  describeGroup(): Promise<GroupActivity> {
    return Promise.resolve({
      state: "unknown",
      members: [],
      detail: "embedded consumer groups have no membership",
    });
  }

  async commitGroup(
    group: string,
    topic: string,
    offsets: ReadonlyMap<number, bigint>,
    guard?: CommitGuard,
  ): Promise<string> {
    const ok = await this.groups.commit(group, topic, offsets, guard);
    if (!ok && guard) throw new GroupMovedError(group, guard.topic);
    return `committed in the state store (consumer_group_offsets)`;
  }

  async endOffsets(topic: string): Promise<Map<number, bigint>> {
    const records = await readEmbeddedTopic(this.knex, this.pipeline, this.outputDir, topic);
    return new Map([[0, BigInt(records.length)]]);
  }

  async close(): Promise<void> {}
}

/** Consumer-group timing of the member `commitGroup` joins the group with. */
export interface KafkaGroupTiming {
  sessionTimeout?: number;
  heartbeatInterval?: number;
}

/** How many times `commitGroup` joins the group with a new member when joining failed (no join at all). */
const JOIN_ATTEMPTS = 3;

export class KafkaTopicAccess implements TopicAccess {
  readonly mode = "kafka";
  private constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly timing: KafkaGroupTiming,
  ) {}

  static async open(config: KafkaConfig, timing: KafkaGroupTiming = {}): Promise<KafkaTopicAccess> {
    // quiet: kafkajs logs rebalances and retries as warnings; failures reach the caller as errors
    const kafka = new Kafka({ ...config, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    return new KafkaTopicAccess(kafka, admin, timing);
  }

  /**
   * Whether the topic exists. Checked before every per-topic request: kafkajs' admin asks for the metadata of
   * the topics it names with auto-creation allowed, which would create a missing topic with the broker's
   * default partition count.
   */
  private async exists(topic: string): Promise<boolean> {
    return (await this.admin.listTopics()).includes(topic);
  }

  async endOffsets(topic: string): Promise<Map<number, bigint>> {
    if (!(await this.exists(topic))) throw new Error(`topic ${topic} does not exist`);
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  }

  /**
   * Reads the topic from the beginning to the high watermarks taken at the start, read_committed (aborted
   * transactions are not facts), with a throw-away group that commits nothing. A missing topic has no
   * partitions.
   */
  async snapshot(topic: string): Promise<TopicSnapshot> {
    if (!(await this.exists(topic))) return { topic, partitions: [] };
    const offsets = await this.admin.fetchTopicOffsets(topic);
    const partitions = new Map<number, PartitionSnapshot>(
      offsets.map((o) => [o.partition, { partition: o.partition, records: [], end: BigInt(o.high) }]),
    );
    const low = new Map(offsets.map((o) => [o.partition, BigInt(o.low)]));
    const remaining = new Set(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => o.partition));
    if (remaining.size > 0) {
      const consumer = this.kafka.consumer({
        groupId: `changecast-migrate-reader-${process.pid}-${Date.now()}`,
        readUncommitted: false,
        allowAutoTopicCreation: false,
        // a reader that crashes fails the snapshot instead of restarting (or waiting) forever
        retry: { retries: 5, restartOnFailure: () => Promise.resolve(false) },
      });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic, fromBeginning: true });
        await new Promise<void>((done, fail) => {
          // transaction markers occupy offsets: a partition is done once a batch reaches the watermark. A batch
          // of markers only never reaches eachBatch, but ends with END_BATCH_PROCESS like every other batch.
          consumer.on(consumer.events.CRASH, ({ payload }) => fail(payload.error));
          consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
            const p = partitions.get(payload.partition);
            if (!p || payload.topic !== topic) return;
            if (BigInt(payload.lastOffset) + 1n >= p.end || (low.get(payload.partition) ?? 0n) >= p.end)
              remaining.delete(payload.partition);
            if (remaining.size === 0) done();
          });
          consumer
            .run({
              autoCommit: false,
              eachBatch: async ({ batch }) => {
                const p = partitions.get(batch.partition);
                if (!p) return;
                for (const m of batch.messages) {
                  const offset = BigInt(m.offset);
                  if (offset >= p.end) continue;
                  p.records.push(factOf(offset, headerStrings(m.headers)));
                }
              },
            })
            .catch(fail);
        });
      } finally {
        await consumer.disconnect();
      }
    }
    for (const p of partitions.values()) {
      p.records.sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
      // a re-fetched batch can deliver a record twice: keep one per offset
      p.records = p.records.filter((r, i, all) => i === 0 || all[i - 1]?.offset !== r.offset);
    }
    return { topic, partitions: [...partitions.values()].sort((a, b) => a.partition - b.partition) };
  }

  /** OffsetFetch (works on any broker, the mock included); -1 (nothing committed) is left out. */
  async fetchGroup(group: string, topic: string): Promise<Map<number, bigint>> {
    const out = new Map<number, bigint>();
    if (!(await this.exists(topic))) return out;
    const result = await this.admin.fetchOffsets({ groupId: group, topics: [topic] });
    for (const t of result) {
      for (const p of t.partitions) if (BigInt(p.offset) >= 0n) out.set(p.partition, BigInt(p.offset));
    }
    return out;
  }

  /** DescribeGroups; "unknown" where the broker does not implement it (librdkafka's mock cluster). */
  async describeGroup(group: string): Promise<GroupActivity> {
    try {
      const { groups } = await this.admin.describeGroups([group]);
      const g = groups.find((d) => d.groupId === group);
      if (!g || g.state === "Empty" || g.state === "Dead")
        return { state: "empty", members: [], detail: `state ${g?.state ?? "Dead"}` };
      return {
        state: "active",
        members: g.members.map((m) => `${m.clientId} (${m.clientHost})`),
        detail: `state ${g.state}, ${g.members.length} member${g.members.length === 1 ? "" : "s"}`,
      };
    } catch (err) {
      if (!unsupportedApi(err)) throw err;
      return { state: "unknown", members: [], detail: "the broker does not implement DescribeGroups" };
    }
  }

  /**
   * Commits offsets for a stopped group. kafkajs' `admin.setOffsets` needs DescribeGroups; this instead does
   * what it does after that check, on any broker: it joins the group with a consumer (the round-robin
   * protocol of kafkajs consumers, subscribed to `topic`, paused), and only if it is the group's leader and
   * only member does it check the guard and commit through OffsetCommit with its own generation, then
   * leaves. While it is a member, members of an earlier generation cannot commit, so the guard holds until
   * the commit. Refused with GroupBusyError when DescribeGroups reports members, when the join shows other
   * members (a consumer that crashed stays a member until its session times out), or when another member
   * joins before the commit. Verified afterwards with OffsetFetch.
   */
  async commitGroup(
    group: string,
    topic: string,
    offsets: ReadonlyMap<number, bigint>,
    guard?: CommitGuard,
  ): Promise<string> {
    if (offsets.size === 0) return `not committed: ${topic} has no partitions`;
    const activity = await this.describeGroup(group);
    if (activity.state === "active")
      throw new GroupBusyError(
        `group ${group} has active members (${activity.detail}: ${activity.members.join(", ")}); stop its consumers first`,
      );
    const member = await this.joinAsMember(group, topic);
    const { consumer, join } = member;
    try {
      consumer.pause([{ topic }]);
      const observed = member.memberCount();
      if (!join.isLeader)
        throw new GroupBusyError(
          `group ${group} has other active members (leader ${join.leaderId}); stop its consumers first`,
        );
      if (observed !== 1)
        throw new GroupBusyError(
          `group ${group} has ${observed === null ? "an unknown number of" : observed - 1} other member${observed === 2 ? "" : "s"}; stop its consumers first (a consumer that crashed stays a member until its session times out)`,
        );
      if (guard && !sameOffsets(await this.fetchGroup(group, guard.topic), guard.offsets))
        throw new GroupMovedError(group, guard.topic);
      try {
        await consumer.commitOffsets(
          [...offsets].map(([partition, offset]) => ({ topic, partition, offset: offset.toString() })),
        );
      } catch (err) {
        if (rebalancing(err))
          throw new GroupBusyError(`a consumer joined group ${group} while committing; nothing committed`, {
            cause: err,
          });
        throw err;
      }
      if (member.rejoined())
        throw new GroupBusyError(
          `a consumer joined group ${group} during the switch; stop its consumers and re-run with --force`,
        );
    } finally {
      await consumer.disconnect();
    }
    const after = await this.fetchGroup(group, topic);
    const wrong = [...offsets].filter(([p, o]) => after.get(p) !== o);
    if (wrong.length)
      throw new Error(
        `offsets of ${group} on ${topic} after the commit differ: ${wrong.map(([p, o]) => `partition ${p} is ${after.get(p) ?? "none"}, expected ${o}`).join("; ")}`,
      );
    return `committed as the only member of group ${group} (${activity.state === "empty" ? "DescribeGroups: no members" : "membership checked on joining; the broker does not implement DescribeGroups"}), verified with OffsetFetch`;
  }

  /**
   * Joins `group` subscribed to `topic` and returns once joined and synced, with what the join showed: how many
   * members the assignment saw and whether the group rebalanced since. A join that fails outright (no join at
   * all) is retried with a new member: the librdkafka mock answers a SyncGroup that arrives once the group is
   * already up with INVALID_REQUEST, which kafkajs does not retry.
   */
  private async joinAsMember(
    group: string,
    topic: string,
  ): Promise<{
    consumer: Consumer;
    join: ConsumerGroupJoinEvent["payload"];
    memberCount: () => number | null;
    rejoined: () => boolean;
  }> {
    for (let attempt = 1; ; attempt++) {
      let count: number | null = null;
      const consumer = this.memberConsumer(
        group,
        countingRoundRobin((members) => {
          count = members;
        }),
      );
      let joined: ConsumerGroupJoinEvent["payload"] | null = null;
      let rejoined = false;
      let crash: Error | null = null;
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        if (joined) rejoined = true;
        joined ??= e.payload;
      });
      consumer.on(consumer.events.REBALANCING, () => {
        rejoined = true;
      });
      consumer.on(consumer.events.CRASH, (e) => {
        crash ??= e.payload.error;
      });
      await consumer.connect();
      try {
        await consumer.subscribe({ topics: [topic] });
        // resolves once joined and synced (or crashed)
        await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => {} });
      } catch (err) {
        await consumer.disconnect();
        throw err;
      }
      const join = joined as ConsumerGroupJoinEvent["payload"] | null;
      if (join) return { consumer, join, memberCount: () => count, rejoined: () => rejoined };
      await consumer.disconnect();
      const cause = crash as Error | null;
      if (attempt >= JOIN_ATTEMPTS)
        throw new Error(
          `could not join group ${group} to commit (${attempt} attempts)${cause ? `: ${cause.message}` : ""}`,
        );
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }

  /** A consumer of `group` that commits nothing itself and gives up rather than restart. */
  private memberConsumer(group: string, assigner: PartitionAssigner): Consumer {
    return this.kafka.consumer({
      groupId: group,
      partitionAssigners: [assigner],
      allowAutoTopicCreation: false,
      ...(this.timing.sessionTimeout ? { sessionTimeout: this.timing.sessionTimeout } : {}),
      ...(this.timing.heartbeatInterval ? { heartbeatInterval: this.timing.heartbeatInterval } : {}),
      retry: { retries: 5, restartOnFailure: () => Promise.resolve(false) },
    });
  }

  async close(): Promise<void> {
    await this.admin.disconnect();
  }
}

function sameOffsets(a: ReadonlyMap<number, bigint>, b: ReadonlyMap<number, bigint>): boolean {
  if (a.size !== b.size) return false;
  for (const [p, o] of a) if (b.get(p) !== o) return false;
  return true;
}

/** The error chain (kafkajs wraps retried errors in `cause`). */
function errorChain(err: unknown): { name: string; type: string; message: string }[] {
  const out: { name: string; type: string; message: string }[] = [];
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 8; depth++) {
    const type = (e as { type?: unknown }).type;
    out.push({ name: e.name, type: typeof type === "string" ? type : "", message: e.message });
    e = e.cause;
  }
  return out;
}

function unsupportedApi(err: unknown): boolean {
  return errorChain(err).some(
    (e) =>
      e.name === "KafkaJSServerDoesNotSupportApiKey" ||
      e.type === "UNSUPPORTED_VERSION" ||
      e.message.includes("does not support the requested API version"),
  );
}

function rebalancing(err: unknown): boolean {
  return errorChain(err).some((e) =>
    ["REBALANCE_IN_PROGRESS", "ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID"].includes(e.type),
  );
}

function headerStrings(
  headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = typeof first === "string" ? first : first.toString("utf8");
  }
  return out;
}

/** kafkajs' round-robin assignment, telling `seen` how many members each assignment saw. */
function countingRoundRobin(seen: (members: number) => void): PartitionAssigner {
  return (config) => {
    const inner = PartitionAssigners.roundRobin(config);
    const assigner: Assigner = {
      name: inner.name,
      version: inner.version,
      assign: (g) => {
        seen(g.members.length);
        return inner.assign(g);
      },
      protocol: (subscription) => inner.protocol(subscription),
    };
    return assigner;
  };
}
