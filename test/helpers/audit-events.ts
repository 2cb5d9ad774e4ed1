/** Audit events for tests, without the stack: one event with defaults, and chained (stored) events in sequence. */
import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '../../services/shared/avro/types.js';
import type { StoredAuditEvent } from '../../services/audit/audit-reader.js';

/** An audit event: a ROUTED eu decision for acme with fresh ids, overridden by `fields`. */
export function testAuditEvent(fields: Partial<AuditEvent>): AuditEvent {
  return {
    eventId: randomUUID(),
    recordId: randomUUID(),
    traceId: randomUUID().replaceAll('-', ''),
    tenant: 'acme',
    subject: 'agent-client-1',
    agent: 'agent-1',
    decision: 'ROUTED',
    region: 'eu',
    reasonCode: null,
    findingCounts: {},
    maskingApplied: {},
    policyVersion: 'f'.repeat(64),
    contentHash: 'c'.repeat(64),
    bucket: null,
    objectKey: null,
    bucketLocation: null,
    occurredAtMs: Date.now(),
    prevHash: null,
    actor: null,
    ...fields,
  };
}

/**
 * A maker of events as read from the audit chains: each call takes the next seq (from 1), occurs at
 * `startMs + seq`, has a hash made of its seq and is verified, in the chain `chainOf` names.
 * `defaults` apply before each call's fields.
 */
export function storedEventSequence(options: {
  startMs: number;
  defaults: Partial<AuditEvent>;
  chainOf: (event: AuditEvent) => string;
}): (fields: Partial<AuditEvent>) => StoredAuditEvent {
  let seq = 0;
  return (fields) => {
    seq += 1;
    const event = testAuditEvent({ ...options.defaults, occurredAtMs: options.startMs + seq, ...fields });
    return { event, chain: options.chainOf(event), seq, hash: String(seq).padStart(64, '0'), object: 's3://audit/x', verified: true };
  };
}
