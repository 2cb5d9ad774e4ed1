/**
 * Audit evidence for writes: one STORED event per record the sink put in an object, naming the
 * bucket, the object key and the location the guard verified for that bucket.
 *
 * Event ids are derived from (record id, bucket, object key), never random: a batch that is
 * retried after a crash (or after a failed produce) emits the same ids again, and the audit trail
 * drops the duplicates. STORED events are therefore at-least-once with stable ids.
 */
import { createHash } from 'node:crypto';
import { sha256Hex } from '../shared/sha256.js';
import type { AuditEvent } from '../shared/avro/types.js';
import { HEADERS } from '../shared/record-headers.js';
import type { SinkRecord } from './batch-encoder.js';
import type { GuardVerdict } from './bucket-location-guard.js';
import type { AuditMessage } from './guard-audit.js';
import { SINK_SUBJECT_PREFIX } from './guard-audit.js';

/** What one STORED event says about one record; small, so a replay can hold many. */
export interface StoredFact {
  offset: bigint;
  recordId: string;
  tenant: string;
  traceId: string;
  /** sha256 hex of the record's payload bytes (as consumed from the region topic). */
  contentHash: string;
  policyVersion: string | undefined;
}

export interface StoredContext {
  region: string;
  backend: 's3' | 'gcs';
  bucket: string;
  objectKey: string;
  /** The location the guard verified for the bucket (see verifiedLocation). */
  bucketLocation: string;
  /** Used when a record carries no tf-policy-version header. */
  sinkPolicyVersion: string;
  occurredAtMs: number;
}

/** A UUID-shaped (version 5 layout) id from a sha256 of the parts: same parts, same id. */
export function storedEventId(recordId: string, bucket: string, objectKey: string): string {
  const h = createHash('sha256').update(`tracefence-stored-v1\n${recordId}\n${bucket}\n${objectKey}`).digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The locations the guard compared with the region's allow-list (bucket and replicas), distinct,
 * in the order reported: one value for an ordinary bucket.
 */
export function verifiedLocation(v: GuardVerdict): string {
  const distinct = v.reported.map((l) => l.location).filter((l, i, all) => all.indexOf(l) === i);
  return distinct.length === 0 ? 'unknown' : distinct.join(', ');
}

/**
 * Facts of one record. A record without a tf-record-id header is named by its source position
 * (topic/partition/offset), as the audit sink names records it cannot decode.
 */
export function storedFact(r: SinkRecord, topic: string, partition: number, traceId: string): StoredFact {
  const recordId = r.headers[HEADERS.recordId];
  return {
    offset: r.offset,
    recordId: recordId !== undefined && recordId !== '' ? recordId : `${topic}/${partition}/${r.offset.toString()}`,
    tenant: r.tenant ?? '',
    traceId,
    contentHash: sha256Hex(r.value),
    policyVersion: r.headers[HEADERS.policyVersion],
  };
}

export function storedEvent(f: StoredFact, c: StoredContext): AuditMessage {
  const bucket = `${c.backend}://${c.bucket}`;
  const event: AuditEvent = {
    eventId: storedEventId(f.recordId, bucket, c.objectKey),
    recordId: f.recordId,
    traceId: f.traceId,
    tenant: f.tenant,
    subject: `${SINK_SUBJECT_PREFIX}:${c.region}`,
    agent: SINK_SUBJECT_PREFIX,
    decision: 'STORED',
    region: c.region,
    reasonCode: null,
    findingCounts: {},
    maskingApplied: {},
    policyVersion: f.policyVersion !== undefined && f.policyVersion !== '' ? f.policyVersion : c.sinkPolicyVersion,
    contentHash: f.contentHash,
    bucket,
    objectKey: c.objectKey,
    bucketLocation: c.bucketLocation,
    occurredAtMs: c.occurredAtMs,
    prevHash: null,
    actor: null,
  };
  const details: Record<string, string> = { [HEADERS.recordId]: f.recordId };
  if (f.tenant !== '') details[HEADERS.tenant] = f.tenant;
  return { event, details };
}
