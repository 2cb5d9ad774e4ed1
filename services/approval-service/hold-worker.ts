/**
 * Acts on holds: one BullMQ worker per queue runs a hold when a decision wakes it or when its
 * time-to-live runs out. Under the hold's lock it expires an undecided hold past its TTL, then
 * produces what is still missing (audit events of each step and, once approved, the trace to its
 * region topic) in one Kafka transaction, records that in the job, and either completes the job
 * (decided) or puts it back to sleep until its expiry (still pending).
 *
 * Exactly once to the region topic: before the transaction the job records an intent (the region
 * topic's high watermarks); after the commit it records `published`. A retry that finds an intent
 * without `published` reads the region topic from those offsets (read_committed) for the record id
 * and produces again only when no committed copy exists.
 */
import { DelayedError, Worker, type Job } from 'bullmq';
import { describeError, TracefenceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { AuditEvent, Codec } from '../shared/avro/index.js';
import type { HoldJobData, HoldStatus } from './hold-record.js';
import { expireIfDue } from './review-rules.js';
import { planOutcome } from './outcome-records.js';
import type { OutcomePublisher } from './outcome-publisher.js';
import { cappedBackoff, type HoldStore } from './hold-store.js';
import type { ApprovalMetrics } from './approval-metrics.js';

export interface HoldProcessorDeps {
  store: Pick<HoldStore, 'withLock' | 'get'>;
  publisher: Pick<OutcomePublisher, 'send' | 'highWatermarks' | 'committedSince'>;
  auditCodec: Codec<AuditEvent>;
  auditTopic: string;
  regionTopic: (region: string) => string | undefined;
  policyVersion: string;
  metrics?: ApprovalMetrics;
  now?: () => number;
}

export interface JobHandle {
  id: string;
  updateData(data: HoldJobData): Promise<void>;
  /** Puts the job back to sleep until `atMs`; the processor then throws DelayedError. */
  sleepUntil(atMs: number): Promise<void>;
}

export type HoldRunResult = { status: HoldStatus; produced: number; sleeping: boolean };

/** One run over one hold; exported for tests that drive it without BullMQ's scheduler. */
export function createHoldProcessor(deps: HoldProcessorDeps): (handle: JobHandle) => Promise<HoldRunResult> {
  const now = deps.now ?? Date.now;
  return (handle) =>
    deps.store.withLock(handle.id, async () => {
      const stored = await deps.store.get(handle.id);
      if (stored === undefined) throw new TracefenceError('REVIEW_NOT_FOUND', 'the hold vanished');
      let hold = stored.data;
      const save = async (next: HoldJobData): Promise<void> => {
        await handle.updateData(next);
        hold = next;
      };

      const expired = expireIfDue(hold, now());
      if (expired !== hold) {
        await save(expired);
        deps.metrics?.decisions.inc({ decision: 'expired' });
      }

      // A crash may have hit between the commit and `published`: look before producing again.
      const intent = hold.review.intent;
      if (intent !== null && !hold.review.published) {
        const committed = await deps.publisher.committedSince(intent, hold.recordId);
        deps.metrics?.recoveries.inc({ found: String(committed) });
        await save({
          ...hold,
          review: {
            ...hold.review,
            intent: null,
            published: committed,
            audited: committed ? [...new Set([...hold.review.audited, ...intent.eventIds])] : hold.review.audited,
          },
        });
      }

      const plan = planOutcome(hold, { auditCodec: deps.auditCodec, auditTopic: deps.auditTopic, regionTopic: deps.regionTopic, policyVersion: deps.policyVersion, nowMs: now() });
      if (hold.review.status === 'approved' && !hold.review.published && plan.regionRecord === null) {
        throw new TracefenceError('POLICY_REGION_REFUSED', `approved region ${hold.review.region ?? '?'} has no topic in the current policy`, { retriable: true });
      }
      let produced = 0;
      if (plan.regionRecord !== null || plan.events.length > 0) {
        const eventIds = plan.events.map((e) => e.eventId);
        if (plan.regionRecord !== null) {
          const fromOffsets = await deps.publisher.highWatermarks(plan.regionRecord.topic);
          await save({ ...hold, review: { ...hold.review, intent: { topic: plan.regionRecord.topic, fromOffsets, eventIds } } });
        }
        const records = [...(plan.regionRecord === null ? [] : [plan.regionRecord]), ...plan.events.map((e) => e.record)];
        await deps.publisher.send(records);
        produced = records.length;
        await save({
          ...hold,
          review: {
            ...hold.review,
            intent: null,
            published: hold.review.published || plan.regionRecord !== null,
            audited: [...new Set([...hold.review.audited, ...eventIds])],
          },
        });
        if (plan.regionRecord !== null) deps.metrics?.published.inc({ region: hold.review.region ?? 'unknown' });
      }

      if (hold.review.status === 'pending') {
        await handle.sleepUntil(hold.expiresAtMs);
        return { status: hold.review.status, produced, sleeping: true };
      }
      return { status: hold.review.status, produced, sleeping: false };
    });
}

export interface HoldWorkers {
  isRunning(): boolean;
  close(): Promise<void>;
}

export function startHoldWorkers(
  o: { redisUrl: string; prefix: string; queueNames: readonly string[]; concurrency?: number },
  deps: HoldProcessorDeps,
  logger: Logger,
): HoldWorkers {
  const run = createHoldProcessor(deps);
  const processor = async (job: Job<HoldJobData>, token?: string): Promise<HoldRunResult> => {
    const result = await run({
      id: job.id ?? '',
      updateData: (data) => job.updateData(data),
      sleepUntil: (atMs) => job.moveToDelayed(Math.max(atMs, Date.now() + 1), token),
    });
    if (result.sleeping) throw new DelayedError();
    logger.info({ recordId: job.id, status: result.status, produced: result.produced }, 'hold decided');
    return result;
  };
  const workers = o.queueNames.map(
    (name) =>
      new Worker<HoldJobData, HoldRunResult>(name, processor, {
        connection: { url: o.redisUrl, maxRetriesPerRequest: null },
        prefix: o.prefix,
        concurrency: o.concurrency ?? 4,
        settings: { backoffStrategy: (attemptsMade: number) => cappedBackoff(attemptsMade) },
      }),
  );
  for (const w of workers) {
    w.on('failed', (job, err) => logger.warn({ recordId: job?.id, attempts: job?.attemptsMade, err: err instanceof TracefenceError ? err.code : describeError(err) }, 'hold step failed; retried'));
    w.on('error', (err) => logger.error({ err: describeError(err) }, 'hold worker error'));
  }
  let closed = false;
  return {
    isRunning: () => !closed && workers.every((w) => w.isRunning()),
    async close() {
      if (closed) return;
      closed = true;
      for (const w of workers) await w.close().catch((err: unknown) => logger.error({ err: describeError(err) }, 'hold worker close failed'));
    },
  };
}
