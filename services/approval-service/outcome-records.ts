/**
 * The Kafka records a review produces: the approved trace for its region topic (same contract as
 * the policy worker: key = traceId; headers tf-schema, tf-tenant, tf-record-id, tf-policy-version)
 * and one audit event per step, each with the reviewer as actor and a deterministic event id.
 */
import type { AuditEvent, Codec } from '../shared/avro/index.js';
import { HEADERS } from '../shared/record-headers.js';
import { finalEventId, type HoldJobData } from './hold-record.js';

export interface OutboundRecord {
  topic: string;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

export interface OutcomeContext {
  auditCodec: Codec<AuditEvent>;
  auditTopic: string;
  /** Region name -> topic, from the policy. */
  regionTopic: (region: string) => string | undefined;
  /** Version of the policy the approval service enforces. */
  policyVersion: string;
  nowMs: number;
}

/** Audit header carrying the event id, so a reader can drop a replayed duplicate without decoding. */
export const AUDIT_EVENT_ID_HEADER = 'tf-event-id';
export const TTL_ACTOR = 'system:approval-ttl';

interface PlannedEvent {
  record: OutboundRecord;
  eventId: string;
}

export interface PlannedOutcome {
  /** The approved trace for its region topic, when it still has to be produced. */
  regionRecord: OutboundRecord | null;
  events: PlannedEvent[];
}

function auditRecord(ctx: OutcomeContext, hold: HoldJobData, fields: Pick<AuditEvent, 'eventId' | 'decision' | 'region' | 'reasonCode' | 'actor' | 'occurredAtMs'>): PlannedEvent {
  const event: AuditEvent = {
    recordId: hold.recordId,
    traceId: hold.traceId,
    tenant: hold.tenant,
    subject: hold.subject,
    agent: hold.agent,
    findingCounts: { ...hold.findings },
    maskingApplied: {},
    policyVersion: ctx.policyVersion,
    contentHash: hold.contentHash,
    bucket: null,
    objectKey: null,
    bucketLocation: null,
    prevHash: null,
    ...fields,
  };
  const { payload, fingerprint } = ctx.auditCodec.encode(event);
  return {
    eventId: event.eventId,
    record: {
      topic: ctx.auditTopic,
      // Keyed by region like every audit event, so each region's chain stays ordered in one partition.
      key: event.region ?? 'none',
      value: payload,
      headers: { [HEADERS.schema]: fingerprint, [HEADERS.recordId]: hold.recordId, [HEADERS.tenant]: hold.tenant, [AUDIT_EVENT_ID_HEADER]: event.eventId },
    },
  };
}

/** Region of a hold's audit events before a region is chosen: its only candidate, else none. */
function holdRegion(hold: HoldJobData): string | null {
  return hold.candidateRegions.length === 1 ? (hold.candidateRegions[0] ?? null) : null;
}

/** What still has to be produced for this hold: un-audited steps and, once approved, the trace. */
export function planOutcome(hold: HoldJobData, ctx: OutcomeContext): PlannedOutcome {
  const audited = new Set(hold.review.audited);
  const events: PlannedEvent[] = [];
  for (const vote of hold.review.votes) {
    if (vote.kind !== 'approve' || audited.has(vote.eventId)) continue;
    events.push(
      auditRecord(ctx, hold, { eventId: vote.eventId, decision: 'HELD', region: vote.region, reasonCode: 'REVIEW_APPROVAL_RECORDED', actor: vote.reviewer, occurredAtMs: vote.atMs }),
    );
  }
  const finalId = finalEventId(hold.recordId);
  const { status } = hold.review;
  const decidedAt = hold.review.decidedAtMs ?? ctx.nowMs;
  if (status !== 'pending' && !audited.has(finalId)) {
    if (status === 'approved') {
      const region = hold.review.region;
      const approvers = [...new Set(hold.review.votes.filter((v) => v.kind === 'approve' && v.region === region).map((v) => v.reviewer))];
      events.push(auditRecord(ctx, hold, { eventId: finalId, decision: 'APPROVED', region, reasonCode: 'REVIEW_APPROVED', actor: approvers.join(','), occurredAtMs: decidedAt }));
    } else if (status === 'rejected') {
      const by = hold.review.votes.find((v) => v.kind === 'reject');
      events.push(auditRecord(ctx, hold, { eventId: finalId, decision: 'REJECTED', region: holdRegion(hold), reasonCode: 'REVIEW_REJECTED', actor: by?.reviewer ?? null, occurredAtMs: decidedAt }));
    } else {
      events.push(auditRecord(ctx, hold, { eventId: finalId, decision: 'EXPIRED', region: holdRegion(hold), reasonCode: 'REVIEW_TTL_EXPIRED', actor: TTL_ACTOR, occurredAtMs: decidedAt }));
    }
  }

  let regionRecord: OutboundRecord | null = null;
  if (status === 'approved' && !hold.review.published && hold.review.region !== null) {
    const topic = ctx.regionTopic(hold.review.region);
    if (topic !== undefined) {
      regionRecord = {
        topic,
        key: hold.traceId,
        value: Buffer.from(hold.trace.payloadBase64, 'base64'),
        headers: {
          [HEADERS.schema]: hold.trace.schema,
          [HEADERS.tenant]: hold.tenant,
          [HEADERS.recordId]: hold.recordId,
          [HEADERS.policyVersion]: ctx.policyVersion,
        },
      };
    }
  }
  return { regionRecord, events };
}
