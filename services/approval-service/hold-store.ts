/**
 * The approval queue: one BullMQ queue per region (`held-<region>`) plus `held-unresolved`,
 * jobs keyed by record id (jobId = record id, so a replayed hold is a no-op), delayed until the
 * hold's time-to-live. Review decisions change a job's data under a per-hold Redis lock; the hold
 * worker (hold-worker.ts) is the only one that acts on a decision.
 */
import { randomUUID } from 'node:crypto';
import { Queue, type Job, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { TracefenceError } from '../shared/errors.js';
import { queueNameFor, queueNamesFor, type HoldJobData } from './hold-record.js';

export interface HoldStoreOptions {
  redisUrl: string;
  /** BullMQ key prefix; every key of this service starts with it. */
  prefix: string;
  regions: readonly string[];
  /** Decided holds are kept this long (seconds) so a replayed held record still finds its job. */
  keepDecidedSec: number;
  /** How long a decision waits for a hold's lock before answering 503. */
  lockWaitMs?: number;
}

export interface StoredHold {
  queue: string;
  job: Job<HoldJobData>;
  data: HoldJobData;
}

export interface HoldStore {
  readonly prefix: string;
  readonly queueNames: readonly string[];
  /** The Redis connection (shared with sessions and workers' blocking connections are separate). */
  readonly redis: Redis;
  /** Adds the hold once; `false` when a job with this record id already exists (replay). */
  add(data: HoldJobData, nowMs: number): Promise<boolean>;
  get(recordId: string): Promise<StoredHold | undefined>;
  /** Every hold in the given queues, newest first, at most `limit`. */
  list(queues: readonly string[], limit: number): Promise<StoredHold[]>;
  /** Runs `fn` while holding the hold's lock (released even when `fn` throws). */
  withLock<T>(recordId: string, fn: () => Promise<T>): Promise<T>;
  /** Lets the worker act on a changed hold now rather than at its expiry. */
  wake(job: Job<HoldJobData>): Promise<void>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
const LOCK_TTL_MS = 30_000;
const ALL_STATES = ['delayed', 'waiting', 'active', 'completed', 'failed', 'prioritized', 'paused', 'waiting-children'] as const;

export function jobOptions(data: HoldJobData, nowMs: number, keepDecidedSec: number): JobsOptions {
  return {
    jobId: data.recordId,
    // Waits until its time-to-live; a decision wakes it earlier.
    delay: Math.max(0, data.expiresAtMs - nowMs),
    // Kafka or Redis outages are retried with capped backoff; the hold never silently drops.
    attempts: 1_000_000,
    backoff: { type: 'capped' },
    removeOnComplete: { age: keepDecidedSec },
    removeOnFail: false,
  };
}

/** Backoff for the `capped` type: exponential from 500 ms, at most 30 s. */
export function cappedBackoff(attemptsMade: number): number {
  return Math.min(30_000, 500 * 2 ** Math.min(16, Math.max(0, attemptsMade - 1)));
}

export async function createHoldStore(o: HoldStoreOptions): Promise<HoldStore> {
  const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  await redis.connect();
  const names = queueNamesFor(o.regions);
  const queues = new Map<string, Queue<HoldJobData>>(names.map((n) => [n, new Queue<HoldJobData>(n, { connection: redis, prefix: o.prefix })]));
  const lockWaitMs = o.lockWaitMs ?? 10_000;
  let closed = false;

  const queueOf = (name: string): Queue<HoldJobData> => {
    const q = queues.get(name);
    if (q === undefined) throw new TracefenceError('INTERNAL', `no queue ${name}`);
    return q;
  };

  const redisFault = (err: unknown): TracefenceError =>
    err instanceof TracefenceError ? err : new TracefenceError('QUEUE_UNAVAILABLE', 'the approval queue (Redis) failed', { retriable: true, cause: err });

  return {
    prefix: o.prefix,
    queueNames: names,
    redis,
    async add(data, nowMs) {
      const queue = queueOf(queueNameFor(data.candidateRegions));
      try {
        if ((await queue.getJob(data.recordId)) !== undefined) return false;
        // jobId = record id: adding an existing id is a no-op in BullMQ, so a race here is harmless too.
        await queue.add('hold', data, jobOptions(data, nowMs, o.keepDecidedSec));
        return true;
      } catch (err) {
        throw redisFault(err);
      }
    },
    async get(recordId) {
      try {
        for (const [name, queue] of queues) {
          const job = await queue.getJob(recordId);
          if (job !== undefined && job !== null) return { queue: name, job, data: job.data };
        }
        return undefined;
      } catch (err) {
        throw redisFault(err);
      }
    },
    async list(names, limit) {
      try {
        const out: StoredHold[] = [];
        for (const name of names) {
          const jobs = await queueOf(name).getJobs([...ALL_STATES], 0, 999);
          for (const job of jobs) if (job?.data?.v === 1) out.push({ queue: name, job, data: job.data });
        }
        return out.sort((a, b) => b.data.heldAtMs - a.data.heldAtMs).slice(0, limit);
      } catch (err) {
        throw redisFault(err);
      }
    },
    async withLock(recordId, fn) {
      const key = `${o.prefix}:review-lock:${recordId}`;
      const token = randomUUID();
      const deadline = Date.now() + lockWaitMs;
      for (let wait = 20; ; wait = Math.min(250, wait * 2)) {
        let ok: string | null;
        try {
          ok = await redis.set(key, token, 'PX', LOCK_TTL_MS, 'NX');
        } catch (err) {
          throw redisFault(err);
        }
        if (ok === 'OK') break;
        if (Date.now() > deadline) throw new TracefenceError('QUEUE_UNAVAILABLE', 'the hold is busy; try again', { retriable: true });
        await new Promise((r) => setTimeout(r, wait));
      }
      try {
        return await fn();
      } finally {
        await redis.eval(RELEASE, 1, key, token).catch(() => undefined);
      }
    },
    async wake(job) {
      try {
        if (await job.isDelayed()) await job.promote();
      } catch {
        // Not delayed any more (already waiting or active): the worker reads the fresh data anyway.
      }
    },
    async ping() {
      try {
        return (await redis.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const q of queues.values()) await q.close().catch(() => undefined);
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
