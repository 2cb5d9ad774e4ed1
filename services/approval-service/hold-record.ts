/**
 * What the approval queue stores for one held trace (BullMQ job data, JSON): the masked trace
 * as Avro bytes, the findings summary, the hold reason and the review state. Nothing unmasked.
 */
import { sha256Hex } from '../shared/sha256.js';
import type { HeldTrace } from '../shared/avro/index.js';

export type HoldStatus = 'pending' | 'approved' | 'rejected' | 'expired';

export interface Vote {
  /** Deterministic audit event id of this step (a replayed step keeps its id). */
  readonly eventId: string;
  readonly reviewer: string;
  readonly kind: 'approve' | 'reject';
  /** Region approved into; null for a rejection. */
  readonly region: string | null;
  readonly justification: string;
  readonly atMs: number;
}

/** Written before the approved trace is produced; lets a retry find out whether the produce committed. */
export interface PublishIntent {
  readonly topic: string;
  /** High watermark of every partition of the region topic just before the transaction. */
  readonly fromOffsets: Readonly<Record<string, string>>;
  /** Audit events produced in the same transaction. */
  readonly eventIds: readonly string[];
}

export interface ReviewState {
  readonly status: HoldStatus;
  /** Region the trace was approved into. */
  readonly region: string | null;
  readonly decidedAtMs: number | null;
  readonly votes: readonly Vote[];
  /** Audit event ids already produced (committed). */
  readonly audited: readonly string[];
  /** The approved trace is on its region topic. */
  readonly published: boolean;
  readonly intent: PublishIntent | null;
}

export interface HoldJobData {
  readonly v: 1;
  readonly recordId: string;
  readonly traceId: string;
  readonly tenant: string;
  /** Verified subject of the token that sent the trace. */
  readonly subject: string;
  /** Verified agent (bound from the token by the policy worker). */
  readonly agent: string;
  readonly holdReasonCode: string;
  readonly holdReason: string;
  readonly findings: Readonly<Record<string, number>>;
  readonly candidateRegions: readonly string[];
  readonly policyVersion: string;
  readonly heldAtMs: number;
  readonly expiresAtMs: number;
  /** The masked trace, Avro (reasoning-trace) with its writer fingerprint. */
  readonly trace: { readonly schema: string; readonly payloadBase64: string };
  /** sha256 hex of the masked trace payload. */
  readonly contentHash: string;
  readonly source: { readonly topic: string; readonly partition: number; readonly offset: string };
  readonly review: ReviewState;
}

export const UNRESOLVED_QUEUE = 'held-unresolved';

/**
 * A hold with exactly one candidate region waits in `held-<region>`; a hold a reviewer must place
 * (several candidates) waits in `held-unresolved`. Either way reviewers see it only when one of
 * their `reviewers:<region>:<tenant>` groups names a candidate region and the hold's tenant.
 */
export function queueNameFor(candidateRegions: readonly string[]): string {
  const [only, ...rest] = candidateRegions;
  return only !== undefined && rest.length === 0 ? `held-${only}` : UNRESOLVED_QUEUE;
}

export function queueNamesFor(regions: readonly string[]): string[] {
  return [...regions.map((r) => `held-${r}`), UNRESOLVED_QUEUE];
}

/** A UUID-shaped id derived from its parts, so a replayed step yields the same audit event id. */
export function deterministicId(...parts: readonly string[]): string {
  const h = sha256Hex(parts.join('\u0000'));
  // Version 8 (custom) UUID layout with the RFC 4122 variant.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function finalEventId(recordId: string): string {
  return deterministicId(recordId, 'final');
}

export const RECORD_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface HoldSource {
  topic: string;
  partition: number;
  offset: string;
}

/** Builds the job data of a freshly held trace; `encodedTrace` is the masked trace in reasoning-trace Avro. */
export function holdFromHeldTrace(
  held: HeldTrace,
  encodedTrace: { payload: Buffer; fingerprint: string },
  ttlMs: number,
  source: HoldSource,
): HoldJobData {
  const heldAtMs = Number(held.heldAtMs);
  return {
    v: 1,
    recordId: held.trace.recordId,
    traceId: held.trace.traceId,
    tenant: held.tenant,
    subject: held.subject,
    agent: held.trace.agent,
    holdReasonCode: held.holdReasonCode,
    holdReason: held.holdReason,
    findings: { ...held.findings },
    candidateRegions: [...new Set(held.candidateRegions)],
    policyVersion: held.policyVersion,
    heldAtMs,
    expiresAtMs: heldAtMs + ttlMs,
    trace: { schema: encodedTrace.fingerprint, payloadBase64: encodedTrace.payload.toString('base64') },
    contentHash: sha256Hex(encodedTrace.payload),
    source: { topic: source.topic, partition: source.partition, offset: source.offset },
    review: { status: 'pending', region: null, decidedAtMs: null, votes: [], audited: [], published: false, intent: null },
  };
}

/** Summary safe to list: no trace content. */
export interface HoldSummary {
  recordId: string;
  traceId: string;
  tenant: string;
  agent: string;
  subject: string;
  queue: string;
  holdReasonCode: string;
  holdReason: string;
  findings: Record<string, number>;
  candidateRegions: string[];
  policyVersion: string;
  heldAt: string;
  expiresAt: string;
  status: HoldStatus;
  region: string | null;
  published: boolean;
  approvals: Array<{ reviewer: string; region: string | null; at: string; justification: string }>;
  rejection: { reviewer: string; at: string; justification: string } | null;
}

export function summarise(data: HoldJobData, queue: string): HoldSummary {
  const reject = data.review.votes.find((v) => v.kind === 'reject');
  return {
    recordId: data.recordId,
    traceId: data.traceId,
    tenant: data.tenant,
    agent: data.agent,
    subject: data.subject,
    queue,
    holdReasonCode: data.holdReasonCode,
    holdReason: data.holdReason,
    findings: { ...data.findings },
    candidateRegions: [...data.candidateRegions],
    policyVersion: data.policyVersion,
    heldAt: new Date(data.heldAtMs).toISOString(),
    expiresAt: new Date(data.expiresAtMs).toISOString(),
    status: data.review.status,
    region: data.review.region,
    published: data.review.published,
    approvals: data.review.votes
      .filter((v) => v.kind === 'approve')
      .map((v) => ({ reviewer: v.reviewer, region: v.region, at: new Date(v.atMs).toISOString(), justification: v.justification })),
    rejection: reject === undefined ? null : { reviewer: reject.reviewer, at: new Date(reject.atMs).toISOString(), justification: reject.justification },
  };
}
