/**
 * The review rules, as pure functions of a hold, a reviewer and the clock:
 * scope by `reviewers:<region>:<tenant>` groups, distinct approvals up to the policy minimum,
 * no self-approval, any rejection decides, and a time-to-live after which the hold is expired
 * (fail closed). Each function returns the new hold or throws a TracefenceError with a REVIEW_* code.
 */
import { TracefenceError } from '../shared/errors.js';
import { deterministicId, finalEventId, type HoldJobData, type ReviewState, type Vote } from './hold-record.js';

export interface Reviewer {
  /** Verified `sub` of the access token. */
  readonly subject: string;
  readonly groups: readonly string[];
}

export interface ReviewScope {
  readonly region: string;
  readonly tenant: string;
}

const GROUP = /^reviewers:([a-z][a-z0-9-]{0,31}):([A-Za-z0-9][A-Za-z0-9._-]{0,63})$/;
export const MAX_JUSTIFICATION_CHARS = 2000;

export function reviewerScopes(groups: readonly string[]): ReviewScope[] {
  const out: ReviewScope[] = [];
  for (const g of groups) {
    const m = GROUP.exec(g);
    if (m !== null && m[1] !== undefined && m[2] !== undefined) out.push({ region: m[1], tenant: m[2] });
  }
  return out;
}

export function mayReviewIn(reviewer: Reviewer, region: string, tenant: string): boolean {
  return reviewerScopes(reviewer.groups).some((s) => s.region === region && s.tenant === tenant);
}

/** A reviewer sees a hold when one of their scopes names a candidate region and the hold's tenant. */
export function mayView(reviewer: Reviewer, hold: Pick<HoldJobData, 'tenant' | 'candidateRegions'>): boolean {
  return hold.candidateRegions.some((r) => mayReviewIn(reviewer, r, hold.tenant));
}

/** A justification: trimmed, non-empty, bounded, no control characters other than tab and newline. */
export function checkJustification(raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw new TracefenceError('REVIEW_REQUEST_INVALID', 'a justification is required for every decision', { path: 'justification' });
  }
  const text = raw.trim();
  if (text.length > MAX_JUSTIFICATION_CHARS) {
    throw new TracefenceError('REVIEW_REQUEST_INVALID', `the justification is longer than ${MAX_JUSTIFICATION_CHARS} characters`, { path: 'justification' });
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) {
    throw new TracefenceError('REVIEW_REQUEST_INVALID', 'the justification contains control characters', { path: 'justification' });
  }
  return text;
}

export function isExpired(hold: Pick<HoldJobData, 'expiresAtMs'>, nowMs: number): boolean {
  return nowMs >= hold.expiresAtMs;
}

function assertPending(hold: HoldJobData, nowMs: number): void {
  if (hold.review.status !== 'pending') {
    throw new TracefenceError('REVIEW_ALREADY_DECIDED', `the hold is already ${hold.review.status}`);
  }
  if (isExpired(hold, nowMs)) throw new TracefenceError('REVIEW_ALREADY_DECIDED', 'the hold has expired');
}

function withReview(hold: HoldJobData, review: Partial<ReviewState>): HoldJobData {
  return { ...hold, review: { ...hold.review, ...review } };
}

export interface ApproveInput {
  justification: unknown;
  /** Required when the hold has several candidate regions. */
  region?: unknown;
}

export interface RuleContext {
  minApprovals: number;
  /** Regions that exist in the current policy (a hold cannot be approved into a removed region). */
  knownRegions: ReadonlySet<string>;
  nowMs: number;
}

export function approve(hold: HoldJobData, reviewer: Reviewer, input: ApproveInput, ctx: RuleContext): HoldJobData {
  if (!mayView(reviewer, hold)) throw new TracefenceError('REVIEW_FORBIDDEN', 'your reviewer groups do not cover this hold');
  const justification = checkJustification(input.justification);
  assertPending(hold, ctx.nowMs);

  let region: string;
  if (input.region !== undefined && input.region !== null && input.region !== '') {
    if (typeof input.region !== 'string' || !hold.candidateRegions.includes(input.region)) {
      throw new TracefenceError('REVIEW_REQUEST_INVALID', `region must be one of the hold's candidate regions: ${hold.candidateRegions.join(', ')}`, { path: 'region' });
    }
    region = input.region;
  } else {
    const [only, ...rest] = hold.candidateRegions;
    if (only === undefined || rest.length > 0) {
      throw new TracefenceError('REVIEW_REQUEST_INVALID', `choose a region among the candidate regions: ${hold.candidateRegions.join(', ')}`, { path: 'region' });
    }
    region = only;
  }
  if (!ctx.knownRegions.has(region)) throw new TracefenceError('REVIEW_REQUEST_INVALID', `region ${region} is not in the current policy`, { path: 'region' });
  if (!mayReviewIn(reviewer, region, hold.tenant)) throw new TracefenceError('REVIEW_FORBIDDEN', `you are not a reviewer for region ${region} and this tenant`);
  if (reviewer.subject === hold.subject || reviewer.subject === hold.agent) {
    throw new TracefenceError('REVIEW_SELF_APPROVAL', 'a reviewer cannot approve a trace their own identity sent');
  }
  if (hold.review.votes.some((v) => v.kind === 'approve' && v.reviewer === reviewer.subject)) {
    throw new TracefenceError('REVIEW_DUPLICATE_APPROVAL', 'you already approved this hold; another reviewer must approve');
  }

  const vote: Vote = {
    eventId: deterministicId(hold.recordId, 'vote', String(hold.review.votes.length), reviewer.subject),
    reviewer: reviewer.subject,
    kind: 'approve',
    region,
    justification,
    atMs: ctx.nowMs,
  };
  const votes = [...hold.review.votes, vote];
  const forRegion = new Set(votes.filter((v) => v.kind === 'approve' && v.region === region).map((v) => v.reviewer));
  if (forRegion.size >= Math.max(1, ctx.minApprovals)) {
    return withReview(hold, { votes, status: 'approved', region, decidedAtMs: ctx.nowMs });
  }
  return withReview(hold, { votes });
}

export function reject(hold: HoldJobData, reviewer: Reviewer, input: { justification: unknown }, nowMs: number): HoldJobData {
  if (!mayView(reviewer, hold)) throw new TracefenceError('REVIEW_FORBIDDEN', 'your reviewer groups do not cover this hold');
  const justification = checkJustification(input.justification);
  assertPending(hold, nowMs);
  const vote: Vote = {
    eventId: finalEventId(hold.recordId),
    reviewer: reviewer.subject,
    kind: 'reject',
    region: null,
    justification,
    atMs: nowMs,
  };
  return withReview(hold, { votes: [...hold.review.votes, vote], status: 'rejected', decidedAtMs: nowMs });
}

/** Past its time-to-live a pending hold is rejected (EXPIRED); anything else is returned unchanged. */
export function expireIfDue(hold: HoldJobData, nowMs: number): HoldJobData {
  if (hold.review.status !== 'pending' || !isExpired(hold, nowMs)) return hold;
  return withReview(hold, { status: 'expired', decidedAtMs: nowMs });
}

/** Approvals still needed for `region` (0 once approved). */
export function approvalsMissing(hold: HoldJobData, region: string, minApprovals: number): number {
  const have = new Set(hold.review.votes.filter((v) => v.kind === 'approve' && v.region === region).map((v) => v.reviewer)).size;
  return Math.max(0, Math.max(1, minApprovals) - have);
}
