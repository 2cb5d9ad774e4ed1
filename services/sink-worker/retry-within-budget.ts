/**
 * Jittered exponential backoff bounded by a time budget. The budget stays below the Kafka
 * session timeout so a slow object store never gets this consumer thrown out of its group.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryOptions {
  budgetMs: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** False stops retrying at once (the error is not worth another attempt). */
  isRetriable: (err: unknown) => boolean;
  /** Called between attempts (e.g. a Kafka heartbeat). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => Promise<void> | void;
  now?: () => number;
}

export async function retryWithinBudget<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const now = options.now ?? Date.now;
  const deadline = now() + options.budgetMs;
  const initial = options.initialDelayMs ?? 100;
  const cap = options.maxDelayMs ?? 3_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!options.isRetriable(err)) throw err;
      // Full jitter: spreads retries of many partitions hitting the same outage.
      const delay = Math.round(Math.random() * Math.min(cap, initial * 2 ** (attempt - 1)));
      if (now() + delay >= deadline) throw err;
      await options.onRetry?.(err, attempt, delay);
      await sleep(delay);
    }
  }
}
