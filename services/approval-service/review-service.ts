/**
 * The reviewer operations shared by the JSON API and the web page: list, show, approve, reject.
 * Every operation is scoped by the reviewer's `reviewers:<region>:<tenant>` groups; decisions run
 * under the hold's lock and wake the hold worker, which produces the outcome and its audit events.
 */
import type { Codec, ReasoningTrace } from '../shared/avro/index.js';
import { TracefenceError } from '../shared/errors.js';
import { RECORD_ID_PATTERN, summarise, type HoldStatus, type HoldSummary } from './hold-record.js';
import type { HoldStore, StoredHold } from './hold-store.js';
import { approve, mayReviewIn, mayView, reject, reviewerScopes, type ApproveInput, type Reviewer } from './review-rules.js';
import { previewTrace, type TracePreview } from './trace-preview.js';
import type { ApprovalMetrics } from './approval-metrics.js';

export interface ReviewServiceDeps {
  store: Pick<HoldStore, 'get' | 'list' | 'withLock' | 'wake' | 'queueNames'>;
  traceCodec: Codec<ReasoningTrace>;
  minApprovals: number;
  knownRegions: ReadonlySet<string>;
  metrics?: ApprovalMetrics;
  now?: () => number;
}

export interface ListFilter {
  region?: string | undefined;
  tenant?: string | undefined;
  status?: HoldStatus | undefined;
  limit: number;
}

export interface HoldDetail {
  hold: HoldSummary;
  /** Approvals still needed per candidate region while pending. */
  approvalsRequired: number;
  /** Candidate regions this reviewer may approve into. */
  approvableRegions: string[];
  preview: TracePreview;
}

export interface ReviewService {
  list(reviewer: Reviewer, filter: ListFilter): Promise<HoldSummary[]>;
  show(reviewer: Reviewer, recordId: string): Promise<HoldDetail>;
  approve(reviewer: Reviewer, recordId: string, input: ApproveInput): Promise<HoldSummary>;
  reject(reviewer: Reviewer, recordId: string, input: { justification: unknown }): Promise<HoldSummary>;
}

export const STATUSES: readonly HoldStatus[] = ['pending', 'approved', 'rejected', 'expired'];

/** Status as a reviewer should see it: a pending hold past its TTL is already expired. */
function effective(s: HoldSummary, nowMs: number): HoldSummary {
  return s.status === 'pending' && Date.parse(s.expiresAt) <= nowMs ? { ...s, status: 'expired' } : s;
}

export function createReviewService(deps: ReviewServiceDeps): ReviewService {
  const now = deps.now ?? Date.now;

  async function find(reviewer: Reviewer, recordId: string): Promise<StoredHold> {
    if (!RECORD_ID_PATTERN.test(recordId)) throw new TracefenceError('REVIEW_NOT_FOUND', 'no hold with this record id');
    const stored = await deps.store.get(recordId);
    if (stored === undefined) throw new TracefenceError('REVIEW_NOT_FOUND', 'no hold with this record id');
    if (!mayView(reviewer, stored.data)) throw new TracefenceError('REVIEW_FORBIDDEN', 'your reviewer groups do not cover this hold');
    return stored;
  }

  async function decide(reviewer: Reviewer, recordId: string, apply: (stored: StoredHold) => StoredHold['data']): Promise<HoldSummary> {
    if (!RECORD_ID_PATTERN.test(recordId)) throw new TracefenceError('REVIEW_NOT_FOUND', 'no hold with this record id');
    return deps.store.withLock(recordId, async () => {
      const stored = await find(reviewer, recordId);
      const next = apply(stored);
      await stored.job.updateData(next);
      await deps.store.wake(stored.job);
      return summarise(next, stored.queue);
    });
  }

  return {
    async list(reviewer, filter) {
      const scopes = reviewerScopes(reviewer.groups);
      if (scopes.length === 0) throw new TracefenceError('REVIEW_FORBIDDEN', 'you are in no reviewers:<region>:<tenant> group');
      const regions = new Set(scopes.map((s) => s.region));
      if (filter.region !== undefined) {
        if (!regions.has(filter.region)) throw new TracefenceError('REVIEW_FORBIDDEN', `you are not a reviewer for region ${filter.region}`);
        regions.clear();
        regions.add(filter.region);
      }
      if (filter.tenant !== undefined && !scopes.some((s) => s.tenant === filter.tenant)) {
        throw new TracefenceError('REVIEW_FORBIDDEN', `you are not a reviewer for tenant ${filter.tenant}`);
      }
      const queues = deps.store.queueNames.filter((q) => q === 'held-unresolved' || regions.has(q.slice('held-'.length)));
      const nowMs = now();
      const holds = await deps.store.list(queues, 1000);
      return holds
        .filter((h) => mayView(reviewer, h.data))
        .filter((h) => filter.tenant === undefined || h.data.tenant === filter.tenant)
        .filter((h) => filter.region === undefined || h.data.candidateRegions.includes(filter.region))
        .map((h) => effective(summarise(h.data, h.queue), nowMs))
        .filter((s) => filter.status === undefined || s.status === filter.status)
        .slice(0, filter.limit);
    },
    async show(reviewer, recordId) {
      const stored = await find(reviewer, recordId);
      const trace = deps.traceCodec.decode(Buffer.from(stored.data.trace.payloadBase64, 'base64'), stored.data.trace.schema);
      const hold = effective(summarise(stored.data, stored.queue), now());
      const approvable = stored.data.candidateRegions.filter((r) => deps.knownRegions.has(r) && mayReviewIn(reviewer, r, stored.data.tenant));
      const have = Math.max(0, ...approvable.map((r) => new Set(hold.approvals.filter((a) => a.region === r).map((a) => a.reviewer)).size));
      return {
        hold,
        approvalsRequired: hold.status === 'pending' ? Math.max(0, Math.max(1, deps.minApprovals) - have) : 0,
        approvableRegions: approvable,
        preview: previewTrace(trace),
      };
    },
    async approve(reviewer, recordId, input) {
      const out = await decide(reviewer, recordId, (s) => approve(s.data, reviewer, input, { minApprovals: deps.minApprovals, knownRegions: deps.knownRegions, nowMs: now() }));
      deps.metrics?.decisions.inc({ decision: out.status === 'approved' ? 'approved' : 'approval' });
      return out;
    },
    async reject(reviewer, recordId, input) {
      const out = await decide(reviewer, recordId, (s) => reject(s.data, reviewer, input, now()));
      deps.metrics?.decisions.inc({ decision: 'rejected' });
      return out;
    },
  };
}
