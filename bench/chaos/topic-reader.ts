/**
 * The chaos run's Kafka access: reading topics to their end (test/helpers/topic-reader.ts with a
 * long session and large fetches), handing each record to a callback instead of keeping it, so
 * topics of a gigabyte can be reconciled. Also: a group's committed offsets, high watermarks.
 */
import { createKafka, type Admin, type Kafka } from '../../services/shared/kafka/kafka-client.js';
import { readToEnd as readTopicsToEnd, type ReadEnds, type TopicRecord } from '../../test/helpers/topic-reader.js';
import { kafkaBrokers } from './stack-access.js';

export type { ReadEnds, TopicRecord };

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

/**
 * Streams every committed record of `topics` to `onRecord`, then returns, per topic and
 * partition, the offset after the last record seen. Waits until every partition's reader
 * position passed the high watermark taken at the start (transaction markers count as read).
 */
export function readToEnd(topics: readonly string[], onRecord: (r: TopicRecord) => void, options: { timeoutMs?: number } = {}): Promise<ReadEnds> {
  return readTopicsToEnd(topics, onRecord, {
    kafka: chaosKafka(),
    groupPrefix: 'tf-chaos-reader',
    timeoutMs: options.timeoutMs ?? 300_000,
    sessionTimeoutMs: 30_000,
    heartbeatIntervalMs: 3000,
    maxBytesPerPartition: 4 * 1024 * 1024,
    pollIntervalMs: 100,
  });
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
