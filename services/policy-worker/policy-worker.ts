/**
 * The policy worker's Kafka loop: consume the ingest topic and, per chunk of records, write
 * every outcome (region/held/dead-letter record + audit event) and the consumed offsets in ONE
 * Kafka transaction (invariant 4). A crash aborts the open transaction; the records are
 * consumed again and nothing appears twice downstream for read_committed consumers.
 *
 * Processing may run in other threads (processor-pool.ts) and several partitions may be in
 * work at once; transactions still run one at a time (one transactional producer), and each
 * partition's chunks commit in offset order because kafkajs hands a partition to one batch at
 * a time and a batch returns only after its last transaction settled.
 */
import { createKafka, type Admin, type Consumer, type KafkaMessage, type Producer } from '../shared/kafka/kafka-client.js';
import { describeError, TracefenceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { inProcessChunks, type ChunkProcessor, type ProcessedRecord } from './processor-pool.js';
import type { IngestRecord, Outcome, OutboundRecord, RecordProcessor } from './record-processor.js';
import type { PolicyWorkerMetrics } from './policy-worker-metrics.js';

export interface PolicyWorkerOptions {
  brokers: string[];
  ingestTopic: string;
  groupId: string;
  /** Stable per instance: a restart with the same id fences the crashed instance at once. */
  transactionalId: string;
  /** Records per transaction at most. */
  maxRecordsPerTransaction: number;
  transactionTimeoutMs: number;
  sessionTimeoutMs: number;
  /**
   * Partitions whose batches are in work at once (default 1). Above 1, one partition's records
   * are processed while another's transaction is on the wire.
   */
  partitionsConsumedConcurrently?: number;
}

export interface PolicyWorkerDeps {
  /** A processor run in this thread, or a chunk processor (e.g. a pool of processing threads). */
  processor: RecordProcessor | ChunkProcessor;
  metrics: PolicyWorkerMetrics;
  logger: Logger;
  /** Called when the consumer stopped for good (kafkajs will not restart it): the process should exit. */
  onFatal?: (err: unknown) => void;
}

export interface PolicyWorker {
  start(): Promise<void>;
  isReady(): boolean;
  close(): Promise<void>;
}

const RETRIABLE_TXN = /CONCURRENT_TRANSACTIONS|another operation is in progress|COORDINATOR_LOAD_IN_PROGRESS|NOT_COORDINATOR/i;

function toIngestRecord(topic: string, partition: number, m: KafkaMessage): IngestRecord {
  return { topic, partition, offset: m.offset, timestampMs: Number(m.timestamp), headers: m.headers ?? {}, value: m.value };
}

/** Groups outbound records by topic in one pass, keeping their order within a topic. */
function byTopic(records: readonly OutboundRecord[]): Map<string, OutboundRecord[]> {
  const out = new Map<string, OutboundRecord[]>();
  for (const r of records) {
    const list = out.get(r.topic);
    if (list === undefined) out.set(r.topic, [r]);
    else list.push(r);
  }
  return out;
}

type CommitResult = { ok: true } | { ok: false; err: unknown };

/** Thrown when a transaction's outcome is unknown; the loop recovers from the committed offsets. */
class TransactionOutcomeUnknown extends Error {}

export function createPolicyWorker(options: PolicyWorkerOptions, deps: PolicyWorkerDeps): PolicyWorker {
  const { metrics, logger } = deps;
  const chunks: ChunkProcessor = 'processChunk' in deps.processor ? deps.processor : inProcessChunks(deps.processor);
  const kafka = createKafka({ brokers: options.brokers, clientId: 'tracefence-policy-worker' }, logger);
  const newProducer = (): Producer =>
    kafka.producer({
      transactionalId: options.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: options.transactionTimeoutMs,
      allowAutoTopicCreation: false,
      // Exactly-once needs the idempotent producer to keep retrying rather than give up mid-sequence.
      // The broker answers CONCURRENT_TRANSACTIONS while it finishes the previous commit, for a few
      // ms: retry soon (the Java client uses 20 ms for this case) instead of the usual 100 ms.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 20, maxRetryTime: 5000 },
    });
  let producer: Producer = newProducer();
  const admin: Admin = kafka.admin();
  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId,
    readUncommitted: false,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: Math.max(1000, Math.floor(options.sessionTimeoutMs / 10)),
    allowAutoTopicCreation: false,
  });
  let running = false;
  let closed = false;
  /** Transactions (and producer replacement) one at a time: they share one transactional producer. */
  let txQueue: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const run = txQueue.then(work, work);
    txQueue = run.catch(() => undefined);
    return run;
  };

  /**
   * Replaces the producer after a transaction ended in an unknown state (kafkajs leaves its
   * transaction state machine stuck in COMMITTING/ABORTING then). The new producer initialises
   * the same transactional id, which completes or aborts whatever the old one left open, so
   * afterwards the group's committed offsets say exactly what was written.
   */
  async function resetProducer(): Promise<void> {
    const old = producer;
    producer = newProducer();
    await old.disconnect().catch(() => undefined);
    await producer.connect();
    const probe = await producer.transaction(); // InitProducerId: fences the old epoch
    await probe.abort(); // nothing was added: no request, back to ready
  }

  /** After an unknown outcome (the producer was already replaced): continue from what the broker says was committed. */
  async function recover(topic: string, partition: number): Promise<void> {
    const [group] = await admin.fetchOffsets({ groupId: options.groupId, topics: [topic] });
    const committed = group?.partitions.find((p) => p.partition === partition)?.offset;
    if (committed !== undefined && committed !== '-1') consumer.seek({ topic, partition, offset: committed });
    else throw new TracefenceError('KAFKA_UNAVAILABLE', 'no committed offset after a failed transaction; restarting the consumer', { retriable: true });
    logger.warn({ topic, partition, offset: committed }, 'resuming from the committed offset after a failed transaction');
  }

  /** kafkajs reports back-to-back transaction races as errors; they clear on retry. */
  async function commitTransaction(records: OutboundRecord[], topic: string, partition: number, nextOffset: string): Promise<void> {
    const topicMessages = [...byTopic(records)].map(([t, rs]) => ({ topic: t, messages: rs.map((r) => ({ key: r.key, value: r.value, headers: r.headers })) }));
    for (let attempt = 1; ; attempt++) {
      const tx = await producer.transaction();
      let ending = false;
      try {
        if (topicMessages.length > 0) await tx.sendBatch({ acks: -1, topicMessages });
        await tx.sendOffsets({ consumerGroupId: options.groupId, topics: [{ topic, partitions: [{ partition, offset: nextOffset }] }] });
        ending = true;
        await tx.commit();
        metrics.transactions.inc({ result: 'committed' });
        return;
      } catch (err) {
        metrics.transactions.inc({ result: 'aborted' });
        // A failed commit may still have committed; only a transaction we aborted ourselves is known.
        let aborted = false;
        if (!ending) aborted = await tx.abort().then(() => true, () => false);
        if (!aborted) {
          // Replace the producer before the next transaction (of any partition) may start.
          await resetProducer();
          throw new TransactionOutcomeUnknown(describeError(err), { cause: err });
        }
        if (attempt >= 5 || !RETRIABLE_TXN.test(describeError(err))) throw err;
        logger.warn({ attempt, err: describeError(err) }, 'transaction retried');
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt + Math.random() * 50));
      }
    }
  }
  function count(outcome: Outcome): void {
    if (outcome.kind === 'routed') metrics.routed.inc({ region: outcome.region ?? 'unknown' });
    else if (outcome.kind === 'held') metrics.held.inc({ reason: outcome.reasonCode ?? 'unknown' });
    else metrics.deadLettered.inc({ reason: outcome.reasonCode ?? 'unknown' });
    for (const [type, n] of Object.entries(outcome.findingCounts)) metrics.findings.inc({ type }, n);
  }

  return {
    async start() {
      await producer.connect();
      await admin.connect();
      await consumer.connect();
      await consumer.subscribe({ topics: [options.ingestTopic], fromBeginning: true });
      consumer.on(consumer.events.GROUP_JOIN, () => {
        running = true;
      });
      consumer.on(consumer.events.CRASH, (e) => {
        running = false;
        logger.error({ err: describeError(e.payload.error), restart: e.payload.restart }, 'consumer crashed');
        if (!e.payload.restart && !closed) deps.onFatal?.(e.payload.error);
      });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: Math.max(1, options.partitionsConsumedConcurrently ?? 1),
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          const lag = Number(batch.offsetLag());
          if (Number.isFinite(lag)) metrics.lag.set({ partition: String(batch.partition) }, lag);
          const { topic, partition, messages } = batch;
          // Chunks are committed strictly in order, one transaction at a time; while chunk k's
          // transaction is on the wire, chunk k+1 is processed (CPU overlaps Kafka round trips).
          let previous: Promise<CommitResult> | undefined;
          const settle = async (): Promise<boolean> => {
            const result = await previous;
            previous = undefined;
            if (result === undefined || result.ok) return true;
            if (!(result.err instanceof TransactionOutcomeUnknown)) throw result.err;
            logger.error({ err: result.err.message, partition }, 'transaction outcome unknown');
            await recover(topic, partition);
            return false;
          };
          for (let i = 0; i < messages.length; i += options.maxRecordsPerTransaction) {
            // On shutdown or rebalance stop between transactions: the rest is consumed again later.
            if (!isRunning() || isStale()) break;
            const chunk = messages.slice(i, i + options.maxRecordsPerTransaction);
            const last = chunk[chunk.length - 1];
            if (last === undefined) continue;
            let processed: ProcessedRecord[];
            try {
              processed = await chunks.processChunk(chunk.map((m) => toIngestRecord(topic, partition, m)));
            } catch (err) {
              // Let the previous chunk's transaction finish before the batch fails: none stays open behind it.
              // If its outcome is unknown, continue from the committed offset: the resolved one may be behind it.
              await settle();
              throw err;
            }
            const outbound: OutboundRecord[] = [];
            const outcomes: Outcome[] = [];
            for (const { outcome, seconds } of processed) {
              metrics.latency.observe(seconds);
              outcomes.push(outcome);
              for (const r of outcome.records) outbound.push(r);
            }
            if (!(await settle())) return;
            // Revoked while processing: leave the chunk to the partition's next owner.
            if (!isRunning() || isStale()) return;
            // The promise never rejects (an unhandled rejection would stop the process): it reports.
            previous = serially(() => commitTransaction(outbound, topic, partition, (BigInt(last.offset) + 1n).toString())).then(
              async (): Promise<CommitResult> => {
                resolveOffset(last.offset);
                metrics.consumed.inc(chunk.length);
                for (const o of outcomes) count(o);
                await heartbeat().catch(() => undefined); // a rebalance is noticed by isStale and the next fetch
                return { ok: true };
              },
              (err: unknown): CommitResult => ({ ok: false, err }),
            );
          }
          await settle();
        },
      });
    },
    isReady: () => running && !closed,
    async close() {
      if (closed) return;
      closed = true;
      running = false;
      // consumer.disconnect waits for the batch in progress: its open transaction commits or aborts first.
      await consumer.disconnect().catch((err: unknown) => logger.error({ err: describeError(err) }, 'consumer disconnect failed'));
      await producer.disconnect().catch((err: unknown) => logger.error({ err: describeError(err) }, 'producer disconnect failed'));
      await admin.disconnect().catch((err: unknown) => logger.error({ err: describeError(err) }, 'admin disconnect failed'));
    },
  };
}
