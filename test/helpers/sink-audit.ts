/**
 * Test helpers for the sink's STORED audit events: region records that are real reasoning traces
 * (so the sink decodes their trace id), an in-process sink whose audit producer can be made to
 * fail, and a reader that collects STORED events from the audit topic.
 */
import { randomUUID } from 'node:crypto';
import { createCodec } from '../../services/shared/avro/codec.js';
import type { AuditEvent } from '../../services/shared/avro/types.js';
import type { Kafka } from '../../services/shared/kafka/kafka-client.js';
import { createLogger } from '../../services/shared/logger.js';
import type { GuardAuditSink } from '../../services/sink-worker/guard-audit.js';
import { buildSinkApp, type SinkApp } from '../../services/sink-worker/sink-app.js';
import { sampleTrace } from '../fixtures/avro/samples.js';
import { sinkConfig, uniqueName, waitFor } from './sink-stack.js';

export interface TraceRecord {
  recordId: string;
  traceId: string;
  tenant: string;
  partition: number;
}

export function traceRecords(n: number, partitions: number, tenant = 'acme'): TraceRecord[] {
  return Array.from({ length: n }, (_, i) => ({ recordId: randomUUID(), traceId: randomUUID().replaceAll('-', ''), tenant, partition: i % partitions }));
}

/** Avro payload of a reasoning trace with these ids, as the policy worker puts it on a region topic. */
export function tracePayload(r: TraceRecord): { payload: Buffer; fingerprint: string } {
  return createCodec('reasoning-trace').encode({ ...sampleTrace, recordId: r.recordId, traceId: r.traceId, tenant: r.tenant });
}

/** Produces the traces in one transaction, with the headers the policy worker sets. */
export async function produceTraceRecords(kafka: Kafka, topic: string, records: readonly TraceRecord[], policyVersion = 'e'.repeat(64)): Promise<void> {
  const producer = kafka.producer({ idempotent: true, transactionalId: uniqueName('sink-audit-tx'), maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const tx = await producer.transaction();
    await tx.send({
      topic,
      messages: records.map((r) => {
        const { payload, fingerprint } = tracePayload(r);
        return {
          partition: r.partition,
          key: r.traceId,
          value: payload,
          headers: { 'tf-schema': fingerprint, 'tf-tenant': r.tenant, 'tf-record-id': r.recordId, 'tf-policy-version': policyVersion },
        };
      }),
    });
    await tx.commit();
  } finally {
    await producer.disconnect();
  }
}

/** An in-process sink like startSink, with its audit producer wrapped. */
export async function startSinkWithAudit(overrides: Record<string, string>, wrapAudit: (audit: GuardAuditSink) => GuardAuditSink, argv: string[] = []): Promise<SinkApp> {
  const app = await buildSinkApp(sinkConfig(overrides, argv), createLogger('sink-test', process.env['SINK_TEST_LOG_LEVEL'] ?? 'silent'), { wrapAudit });
  await app.start();
  return app;
}

/**
 * Every STORED event on the audit topic (duplicates included), once each of `recordIds` has one
 * and nothing new arrived for `settleMs`.
 */
export async function readStoredEvents(kafka: Kafka, topic: string, recordIds: readonly string[], timeoutMs = 30_000, settleMs = 1_500): Promise<AuditEvent[]> {
  const codec = createCodec('audit-event');
  const consumer = kafka.consumer({ groupId: uniqueName('sink-test-stored') });
  const out: AuditEvent[] = [];
  let lastAt = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const raw = message.headers?.['tf-schema'];
        const fingerprint = raw === undefined ? undefined : (Array.isArray(raw) ? raw[0] : raw)?.toString();
        const event = codec.decode(message.value ?? Buffer.alloc(0), fingerprint);
        if (event.decision === 'STORED') out.push(event);
        lastAt = Date.now();
      },
    });
    await waitFor(
      'a STORED event for every record',
      async () => {
        const seen = new Set(out.map((e) => e.recordId));
        return recordIds.every((id) => seen.has(id)) && Date.now() - lastAt >= settleMs;
      },
      timeoutMs,
    );
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Events with the same id once (what the audit trail keeps). */
export function dedupById(events: readonly AuditEvent[]): AuditEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => (seen.has(e.eventId) ? false : (seen.add(e.eventId), true)));
}
