/**
 * Reads topics from the beginning to their end (the high watermark at call time) with a
 * read_committed consumer, handing each record to a callback instead of keeping it, so topics
 * of a gigabyte can be reconciled. Also: a group's committed offsets.
 */
import { createKafka, type Admin, type Kafka, type KafkaMessage } from '../../services/shared/kafka/kafka-client.js';
import { kafkaBrokers, uniqueName } from './stack-access.js';

export interface TopicRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestampMs: number;
}

let kafka: Kafka | undefined;
export function chaosKafka(): Kafka {
  kafka ??= createKafka({ brokers: kafkaBrokers, clientId: 'tracefence-chaos' });
  return kafka;
}

export async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = chaosKafka().admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function headersToStrings(m: KafkaMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = typeof first === 'string' ? first : first.toString('utf8');
  }
  return out;
}

/** Per partition: the offset after the last record a read_committed reader saw (0 if none). */
export type ReadEnds = Map<string, Map<number, bigint>>;

/**
 * Streams every committed record of `topics` to `onRecord`, then returns, per topic and
 * partition, the offset after the last record seen. Waits until every partition's reader
 * position passed the high watermark taken at the start (transaction markers count as read).
 */
export async function readToEnd(topics: readonly string[], onRecord: (r: TopicRecord) => void, options: { timeoutMs?: number } = {}): Promise<ReadEnds> {
  const targets = await withAdmin(async (admin) => {
    const t = new Map<string, bigint>();
    for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) if (BigInt(p.high) > 0n) t.set(`${topic}/${p.partition}`, BigInt(p.high));
    return t;
  });
  const ends: ReadEnds = new Map(topics.map((t) => [t, new Map<number, bigint>()]));
  if (targets.size === 0) return ends;
  const consumer = chaosKafka().consumer({
    groupId: uniqueName('tf-chaos-reader'),
    readUncommitted: false,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 200,
    sessionTimeout: 30_000,
    heartbeatInterval: 3000,
    maxBytesPerPartition: 4 * 1024 * 1024,
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
    const deadline = Date.now() + (options.timeoutMs ?? 300_000);
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out reading ${topics.join(', ')} to the end`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return ends;
}

/** A group's committed offset per partition of a topic (-1 = none). */
export async function committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
  return withAdmin(async (admin) => {
    const [group] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((group?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)] as const));
  });
}

/** High watermark per partition. */
export async function highWatermarks(topic: string): Promise<Map<number, bigint>> {
  return withAdmin(async (admin) => new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)] as const)));
}
