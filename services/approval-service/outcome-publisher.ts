/**
 * Produces review outcomes in Kafka transactions (one transaction per hold step: the approved
 * trace together with its audit events), and answers "did an earlier attempt already commit
 * this record?" by reading the region topic (read_committed) from the offsets noted before it.
 */
import { createKafka, fetchHighWatermarks, type Admin, type Kafka, type Producer } from '../shared/kafka/kafka-client.js';
import { describeError, TracefenceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { HEADERS, headerString } from '../shared/record-headers.js';
import type { PublishIntent } from './hold-record.js';
import type { OutboundRecord } from './outcome-records.js';

export interface OutcomePublisher {
  /** Produces all records in one transaction (committed when this resolves). */
  send(records: readonly OutboundRecord[]): Promise<void>;
  /** High watermark of every partition of `topic`, as strings. */
  highWatermarks(topic: string): Promise<Record<string, string>>;
  /** True when a committed record with this tf-record-id exists at or after the intent's offsets. */
  committedSince(intent: PublishIntent, recordId: string): Promise<boolean>;
  close(): Promise<void>;
}

export interface OutcomePublisherOptions {
  brokers: string[];
  /** Stable per instance: a restart fences (aborts) the crashed instance's open transaction. */
  transactionalId: string;
  transactionTimeoutMs?: number;
  /** How long the recovery scan waits for more records once it has caught up. */
  scanIdleMs?: number;
}

const RETRIABLE_TXN = /CONCURRENT_TRANSACTIONS|another operation is in progress|COORDINATOR_LOAD_IN_PROGRESS|NOT_COORDINATOR/i;

export async function createOutcomePublisher(o: OutcomePublisherOptions, logger: Logger): Promise<OutcomePublisher> {
  const kafka: Kafka = createKafka({ brokers: o.brokers, clientId: 'tracefence-approval' }, logger);
  const producer: Producer = kafka.producer({
    transactionalId: o.transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: o.transactionTimeoutMs ?? 30_000,
    allowAutoTopicCreation: false,
    retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 5000 },
  });
  const admin: Admin = kafka.admin();
  await producer.connect();
  await admin.connect();
  // kafkajs allows one open transaction per producer: steps are serialised.
  let chain: Promise<unknown> = Promise.resolve();
  let closed = false;

  async function sendOnce(records: readonly OutboundRecord[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const tx = await producer.transaction();
      try {
        const byTopic = new Map<string, OutboundRecord[]>();
        for (const r of records) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r]);
        await tx.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, rs]) => ({ topic, messages: rs.map((r) => ({ key: r.key, value: r.value, headers: r.headers })) })),
        });
        await tx.commit();
        return;
      } catch (err) {
        await tx.abort().catch(() => undefined);
        if (attempt >= 5 || !RETRIABLE_TXN.test(describeError(err))) {
          throw new TracefenceError('KAFKA_UNAVAILABLE', 'producing the review outcome failed', { retriable: true, cause: err });
        }
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt + Math.random() * 50));
      }
    }
  }

  return {
    send(records) {
      if (closed) return Promise.reject(new TracefenceError('INTERNAL', 'outcome publisher is closed'));
      const next = chain.then(() => sendOnce(records));
      chain = next.catch(() => undefined);
      return next;
    },
    async highWatermarks(topic) {
      try {
        const marks = await fetchHighWatermarks(admin, topic);
        return Object.fromEntries([...marks].map(([p, off]) => [String(p), off.toString()]));
      } catch (err) {
        throw new TracefenceError('KAFKA_UNAVAILABLE', 'reading region topic offsets failed', { retriable: true, cause: err });
      }
    },
    async committedSince(intent, recordId) {
      const end = await fetchHighWatermarks(admin, intent.topic).catch((err: unknown) => {
        throw new TracefenceError('KAFKA_UNAVAILABLE', 'reading region topic offsets failed', { retriable: true, cause: err });
      });
      const todo = [...end].filter(([p, high]) => high > BigInt(intent.fromOffsets[String(p)] ?? '0'));
      if (todo.length === 0) return false;
      const groupId = `tracefence-approval-recovery-${recordId}-${Date.now()}`;
      const consumer = kafka.consumer({ groupId, readUncommitted: false, allowAutoTopicCreation: false });
      let found = false;
      let lastProgress = Date.now();
      const remaining = new Map(todo.map(([p, high]) => [p, high] as const));
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [intent.topic], fromBeginning: true });
        const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
        await consumer.run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            lastProgress = Date.now();
            if (headerString(message.headers, HEADERS.recordId) === recordId) found = true;
            const high = remaining.get(partition);
            if (high !== undefined && BigInt(message.offset) + 1n >= high) remaining.delete(partition);
          },
        });
        await joined;
        for (const [p] of todo) consumer.seek({ topic: intent.topic, partition: p, offset: intent.fromOffsets[String(p)] ?? '0' });
        // Transaction markers and aborted records are never delivered, so "caught up" also means "idle for a while".
        const idleMs = o.scanIdleMs ?? 3000;
        while (!found && remaining.size > 0 && Date.now() - lastProgress < idleMs) await new Promise((r) => setTimeout(r, 100));
        return found;
      } finally {
        await consumer.disconnect().catch(() => undefined);
        await admin.deleteGroups([groupId]).catch(() => undefined);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await chain.catch(() => undefined);
      await producer.disconnect().catch((err: unknown) => logger.error({ err: describeError(err) }, 'producer disconnect failed'));
      await admin.disconnect().catch(() => undefined);
    },
  };
}
