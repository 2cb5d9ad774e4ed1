/**
 * Reads topics from the beginning to their end (the high watermark at call time) with a
 * read_committed consumer, handing each record to a callback. Transaction markers count as read,
 * so a topic whose last record is a commit marker is complete once the marker has been passed.
 */
import type { Admin, Kafka, KafkaMessage } from '../../services/shared/kafka/kafka-client.js';
import { uniqueName } from './stack.js';

export interface TopicRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestampMs: number;
}

/** Per topic and partition: the offset after the last record a read_committed reader saw (none: absent). */
export type ReadEnds = Map<string, Map<number, bigint>>;

export interface ReadToEndOptions {
  /** The client the reader's consumer is made from. */
  kafka: Kafka;
  /** A connected admin client for the high watermarks; without it one is connected for the call. */
  admin?: Admin;
  /** Prefix of the reader's unique consumer group. */
  groupPrefix: string;
  timeoutMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** kafkajs' default (1 MiB) when absent. */
  maxBytesPerPartition?: number;
  /** How often the reached offsets are checked. */
  pollIntervalMs: number;
}

export function headersToStrings(m: KafkaMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = typeof first === 'string' ? first : first.toString('utf8');
  }
  return out;
}

async function highWatermarkTargets(options: ReadToEndOptions, topics: readonly string[]): Promise<Map<string, bigint>> {
  const fetchTargets = async (admin: Admin): Promise<Map<string, bigint>> => {
    const targets = new Map<string, bigint>();
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const high = BigInt(p.high);
        if (high > 0n) targets.set(`${topic}/${p.partition}`, high);
      }
    }
    return targets;
  };
  if (options.admin !== undefined) return fetchTargets(options.admin);
  const admin = options.kafka.admin();
  await admin.connect();
  try {
    return await fetchTargets(admin);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Streams every committed record of `topics` to `onRecord`, then returns, per topic and
 * partition, the offset after the last record seen. Waits until every partition's reader
 * position passed the high watermark taken at the start.
 */
export async function readToEnd(topics: readonly string[], onRecord: (r: TopicRecord) => void, options: ReadToEndOptions): Promise<ReadEnds> {
  const targets = await highWatermarkTargets(options, topics);
  const ends: ReadEnds = new Map(topics.map((t) => [t, new Map<number, bigint>()]));
  if (targets.size === 0) return ends;
  const consumer = options.kafka.consumer({
    groupId: uniqueName(options.groupPrefix),
    readUncommitted: false,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 200,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: options.heartbeatIntervalMs,
    ...(options.maxBytesPerPartition === undefined ? {} : { maxBytesPerPartition: options.maxBytesPerPartition }),
  });
  const reached = new Map<string, bigint>();
  const done = (): boolean => [...targets].every(([tp, high]) => (reached.get(tp) ?? 0n) >= high);
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    const tp = `${e.payload.topic}/${e.payload.partition}`;
    const next = BigInt(e.payload.lastOffset) + 1n;
    if (next > (reached.get(tp) ?? 0n)) reached.set(tp, next);
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const perTopic = ends.get(batch.topic);
        for (const m of batch.messages) {
          onRecord({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key,
            value: m.value,
            headers: headersToStrings(m),
            timestampMs: Number(m.timestamp),
          });
          const next = BigInt(m.offset) + 1n;
          if (next > (perTopic?.get(batch.partition) ?? 0n)) perTopic?.set(batch.partition, next);
        }
      },
    });
    const deadline = Date.now() + options.timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${options.timeoutMs} ms reading ${topics.join(', ')} to the end`);
      await new Promise((r) => setTimeout(r, options.pollIntervalMs));
    }
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return ends;
}
