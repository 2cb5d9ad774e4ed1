/**
 * Intake from the held topic, exactly once into the queue: each held record becomes a BullMQ job
 * whose id is the record id (a replay finds the job and changes nothing), and the consumer's
 * offset is committed only after Redis acknowledged the add. A record that cannot be decoded is
 * dead-lettered (the held topic is written by the policy worker only, so that is a bug to see).
 */
import { sha256Hex } from '../shared/sha256.js';
import type { Consumer, Producer } from '../shared/kafka/kafka-client.js';
import { createKafka } from '../shared/kafka/kafka-client.js';
import type { Codec, DeadLetter, HeldTrace, ReasoningTrace } from '../shared/avro/index.js';
import { describeError, TracefenceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { HEADERS, headerString } from '../shared/record-headers.js';
import { holdFromHeldTrace, RECORD_ID_PATTERN, type HoldJobData } from './hold-record.js';
import type { HoldStore } from './hold-store.js';
import type { ApprovalMetrics } from './approval-metrics.js';

export interface HeldIntakeOptions {
  brokers: string[];
  heldTopic: string;
  deadLetterTopic: string;
  groupId: string;
  ttlMs: number;
  sessionTimeoutMs?: number;
}

export interface HeldIntakeDeps {
  store: Pick<HoldStore, 'add'>;
  heldCodec: Codec<HeldTrace>;
  traceCodec: Codec<ReasoningTrace>;
  deadLetterCodec: Codec<DeadLetter>;
  metrics: ApprovalMetrics;
  logger: Logger;
  now?: () => number;
}

export interface HeldIntake {
  start(): Promise<void>;
  isReady(): boolean;
  close(): Promise<void>;
}

export interface HeldMessage {
  topic: string;
  partition: number;
  offset: string;
  headers: Parameters<typeof headerString>[0];
  value: Buffer | null;
}

/** Decodes one held record into job data, or explains why it cannot be queued. */
export function decodeHeld(
  m: HeldMessage,
  deps: Pick<HeldIntakeDeps, 'heldCodec' | 'traceCodec'>,
  ttlMs: number,
): { ok: true; hold: HoldJobData } | { ok: false; code: string; message: string } {
  if (m.value === null || m.value.length === 0) return { ok: false, code: 'RECORD_MALFORMED', message: 'the held record has no value' };
  let held: HeldTrace;
  try {
    held = deps.heldCodec.decode(m.value, headerString(m.headers, HEADERS.schema));
  } catch (err) {
    return { ok: false, code: err instanceof TracefenceError ? err.code : 'RECORD_MALFORMED', message: 'the held record could not be decoded' };
  }
  if (!RECORD_ID_PATTERN.test(held.trace.recordId)) return { ok: false, code: 'RECORD_MALFORMED', message: 'the held trace has no UUID record id' };
  if (held.candidateRegions.length === 0) return { ok: false, code: 'RECORD_MALFORMED', message: 'the held record names no candidate region' };
  const encoded = deps.traceCodec.encode(held.trace);
  return { ok: true, hold: holdFromHeldTrace(held, encoded, ttlMs, { topic: m.topic, partition: m.partition, offset: m.offset }) };
}

export function createHeldIntake(o: HeldIntakeOptions, deps: HeldIntakeDeps): HeldIntake {
  const { logger, metrics } = deps;
  const now = deps.now ?? Date.now;
  const kafka = createKafka({ brokers: o.brokers, clientId: 'tracefence-approval-intake' }, logger);
  const sessionTimeout = o.sessionTimeoutMs ?? 30_000;
  const consumer: Consumer = kafka.consumer({
    groupId: o.groupId,
    readUncommitted: false,
    sessionTimeout,
    heartbeatInterval: Math.max(1000, Math.floor(sessionTimeout / 10)),
    allowAutoTopicCreation: false,
  });
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // An idempotent producer must keep retrying rather than give up mid-sequence.
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 5000 },
  });
  let running = false;
  let closed = false;

  async function deadLetter(m: HeldMessage, code: string, message: string): Promise<void> {
    const envelope: DeadLetter = {
      reasonCode: code,
      fieldPath: null,
      message,
      sourceTopic: m.topic,
      sourcePartition: m.partition,
      sourceOffset: Number(m.offset),
      recordId: null,
      tenant: headerString(m.headers, HEADERS.tenant) ?? null,
      sourceSchema: null,
      failedAtMs: now(),
      encryptedPayload: null,
    };
    const { payload, fingerprint } = deps.deadLetterCodec.encode(envelope);
    const ref = `${m.topic}/${m.partition}/${m.offset}`;
    await producer.send({
      topic: o.deadLetterTopic,
      acks: -1,
      messages: [{ key: sha256Hex(ref), value: payload, headers: { [HEADERS.schema]: fingerprint, [HEADERS.reason]: code } }],
    });
  }

  return {
    async start() {
      await producer.connect();
      await consumer.connect();
      await consumer.subscribe({ topics: [o.heldTopic], fromBeginning: true });
      consumer.on(consumer.events.GROUP_JOIN, () => {
        running = true;
      });
      consumer.on(consumer.events.CRASH, (e) => {
        running = false;
        logger.error({ err: describeError(e.payload.error), restart: e.payload.restart }, 'held intake consumer crashed');
      });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary }) => {
          for (const message of batch.messages) {
            if (!isRunning() || isStale()) return;
            const m: HeldMessage = { topic: batch.topic, partition: batch.partition, offset: message.offset, headers: message.headers, value: message.value };
            const decoded = decodeHeld(m, deps, o.ttlMs);
            if (decoded.ok) {
              // Retriable on a Redis fault: the offset is not committed and the record comes again.
              const added = await deps.store.add(decoded.hold, now());
              metrics.intake.inc({ result: added ? 'added' : 'duplicate' });
            } else {
              await deadLetter(m, decoded.code, decoded.message);
              metrics.intake.inc({ result: 'invalid' });
              logger.error({ code: decoded.code, partition: m.partition, offset: m.offset }, 'held record dead-lettered');
            }
            resolveOffset(message.offset);
            // Commit right after the job is durably added (Redis acknowledged it).
            await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(message.offset) + 1n).toString() }]);
            await heartbeat();
          }
          await commitOffsetsIfNecessary();
        },
      });
    },
    isReady: () => running && !closed,
    async close() {
      if (closed) return;
      closed = true;
      running = false;
      await consumer.disconnect().catch((err: unknown) => logger.error({ err: describeError(err) }, 'intake consumer disconnect failed'));
      await producer.disconnect().catch(() => undefined);
    },
  };
}
