// `changecast sink switch`: moves a stopped sink from an event's old major to the new one with the migrator's
// switch-over. The sink's positions in the target database are what it has applied, so they are first written
// to its consumer group (the switch computes from the group's offsets), then `migrate switch` computes and
// commits the start on the new topic (and the overlap filter), and that start becomes the sink's position there.
import { hostname } from "node:os";
import type { CommandIO } from "../command-io.js";
import { consumerTiming, kafkaClientConfig } from "../kafka/kafka-client.js";
import { migrateCommand } from "../migrate/commands.js";
import { MigrationStore } from "../migrate/state.js";
import { EmbeddedTopicAccess, KafkaTopicAccess, type TopicAccess } from "../migrate/topics.js";
import { openStateStore } from "../state/store.js";
import { loadSinkConfig } from "./sink-config.js";
import { DLQ_POSITION_PREFIX, openTarget, readPositions, writePositions } from "./target.js";

export async function sinkSwitch(
  opts: { config: string; event: string; to?: number },
  io: CommandIO,
): Promise<number> {
  const config = await loadSinkConfig(opts.config);
  const pipeline = config.pipeline;
  const state = await openStateStore(pipeline.state, pipeline.baseDir);
  const target = await openTarget(config);
  let access: TopicAccess | null = null;
  try {
    access =
      pipeline.kafka.brokers.length > 0
        ? await KafkaTopicAccess.open(
            kafkaClientConfig({
              brokers: pipeline.kafka.brokers,
              clientId: `${pipeline.kafka.clientId}-sink-switch-${hostname()}`,
              env: process.env,
            }),
            consumerTiming(process.env),
          )
        : await EmbeddedTopicAccess.open(state.knex, pipeline.pipeline, pipeline.outputDir);
    const positions = await readPositions(target.knex, config.sink);
    const byTopic = new Map<string, Map<number, bigint>>();
    for (const [tp, next] of positions) {
      if (tp.startsWith(DLQ_POSITION_PREFIX)) continue;
      const i = tp.lastIndexOf("/");
      const topic = tp.slice(0, i);
      const m = byTopic.get(topic) ?? new Map<number, bigint>();
      m.set(Number(tp.slice(i + 1)), next);
      byTopic.set(topic, m);
    }
    for (const [topic, offsets] of byTopic) {
      const how = await access.commitGroup(config.group, topic, offsets);
      io.out(`sink ${config.sink}: applied positions on ${topic} written to group ${config.group} (${how})`);
    }
    const code = await migrateCommand(
      "switch",
      { config: pipeline.file, event: opts.event, group: config.group, ...(opts.to ? { to: opts.to } : {}) },
      io,
    );
    if (code !== 0) return code;
    const store = await MigrationStore.open(state.knex, pipeline.pipeline);
    const entry = (await store.groups(opts.event)).find((g) => g.group === config.group);
    const migration = (await store.migrations(opts.event)).find((m) => m.toMajor === entry?.switchedTo);
    if (!migration) return code;
    const start = await access.fetchGroup(config.group, migration.newTopic);
    const mine = new Map<string, bigint>();
    for (const [partition, next] of start)
      if (!positions.has(`${migration.newTopic}/${partition}`))
        mine.set(`${migration.newTopic}/${partition}`, next);
    await writePositions(target.knex, config.sink, mine);
    io.out(
      `sink ${config.sink}: reads ${migration.newTopic} from ${[...start].map(([p, n]) => `${p}@${n}`).join(", ") || "its start"}; start the sink again`,
    );
    return 0;
  } finally {
    await access?.close();
    await target.close();
    await state.close();
  }
}
