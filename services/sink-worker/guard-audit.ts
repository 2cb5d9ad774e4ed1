/**
 * Audit evidence for guard decisions: a GUARD_BLOCKED event on the audit topic whenever a
 * bucket is refused, saying what the bucket reported and what the region allows.
 */
import { randomUUID } from 'node:crypto';
import { sha256Hex } from '../shared/sha256.js';
import type { AuditEvent } from '../shared/avro/types.js';
import type { GuardVerdict } from './bucket-location-guard.js';

/** One audit event and the Kafka headers that go with it. */
export interface AuditMessage {
  event: AuditEvent;
  details: Readonly<Record<string, string>>;
}

/** Where the sink's audit events go (guard blocks, STORED); sink-app wires it to the audit topic. */
export interface GuardAuditSink {
  emit(event: AuditEvent, details: Readonly<Record<string, string>>): Promise<void>;
  /** Produces every event; resolves only when the broker acknowledged all of them (acks=all). */
  emitAll(messages: readonly AuditMessage[]): Promise<void>;
}

export const SINK_SUBJECT_PREFIX = 'tracefence-sink';

export function guardBlockedEvent(v: GuardVerdict, policyVersion: string, nowMs = Date.now()): { event: AuditEvent; details: Record<string, string> } {
  const reported = v.reported.map((l) => `${l.source}=${l.location}`).join(',');
  const details = {
    'tf-guard-reason': v.reasonCode ?? 'UNKNOWN',
    'tf-guard-reported': reported,
    'tf-guard-allowed': v.allowed.join(','),
    'tf-guard-detail': v.detail.slice(0, 1000),
  };
  const event: AuditEvent = {
    eventId: randomUUID(),
    recordId: '',
    traceId: '',
    tenant: '',
    subject: `${SINK_SUBJECT_PREFIX}:${v.region}`,
    agent: SINK_SUBJECT_PREFIX,
    decision: 'GUARD_BLOCKED',
    region: v.region,
    reasonCode: v.reasonCode ?? null,
    findingCounts: {},
    maskingApplied: {},
    policyVersion,
    // The facts the decision rests on, so the event can be checked against the bucket later.
    contentHash: sha256Hex(JSON.stringify({ reported: v.reported, allowed: v.allowed, reason: v.reasonCode })),
    bucket: `${v.backend}://${v.bucket}`,
    objectKey: null,
    bucketLocation: `reported ${reported === '' ? '(unreadable)' : reported}; allowed ${v.allowed.join(',')}`,
    occurredAtMs: nowMs,
    prevHash: null,
    actor: null,
  };
  return { event, details };
}
