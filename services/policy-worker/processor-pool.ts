/**
 * Record processing off the Kafka thread. The policy worker hands over whole chunks (the
 * records of one transaction); a pool of worker threads, each with its own record processor
 * built from the same setup, returns every record's outcome in order. The Kafka loop keeps
 * the transaction: it commits a chunk only with all its outcomes, so a thread that dies takes
 * nothing with it (its chunk fails with a retriable PROCESSING_THREAD_FAILED, is not
 * committed and is consumed again), and the pool starts a replacement thread.
 *
 * inProcessChunks() gives the same interface over a processor in the calling thread.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { TracefenceError, type ErrorCode } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { HeaderValue } from '../shared/record-headers.js';
import type { IngestRecord, Outcome, RecordProcessor } from './record-processor.js';

export interface ProcessedRecord {
  outcome: Outcome;
  /** Time the processor took for this record. */
  seconds: number;
}

export interface ChunkProcessor {
  /** Outcomes in the order of `records`; rejects as a whole when any record threw. */
  processChunk(records: readonly IngestRecord[]): Promise<ProcessedRecord[]>;
  /** Idempotent; chunks still queued fail with PROCESSING_THREAD_FAILED. */
  close(): Promise<void>;
}

/** The processor of the calling thread, one record after another. */
export function inProcessChunks(processor: RecordProcessor): ChunkProcessor {
  return {
    async processChunk(records) {
      const out: ProcessedRecord[] = [];
      for (const r of records) {
        const start = performance.now();
        const outcome = await processor.process(r);
        out.push({ outcome, seconds: (performance.now() - start) / 1000 });
      }
      return out;
    },
    async close() {},
  };
}

/** What a thread's factory module exports: `createProcessor(config)`. */
export interface ProcessorFactoryResult {
  processor: RecordProcessor;
  close(): void;
}

export interface ProcessorPoolOptions {
  /** Threads, at least 1. */
  size: number;
  /** URL of a module exporting `createProcessor(config): Promise<ProcessorFactoryResult>`. */
  factory: URL;
  /** Structured-cloneable; given to the factory in every thread. */
  config: unknown;
  logger: Logger;
  /** How long close() waits for a thread to finish before terminating it. */
  closeTimeoutMs?: number;
}

// --- Messages between the pool and its threads.
export type ToThread = { type: 'chunk'; id: number; records: readonly IngestRecord[] } | { type: 'close' };
export type FromThread =
  | { type: 'ready' }
  | { type: 'setup-failed'; label: string }
  | { type: 'done'; id: number; results: ProcessedRecord[] }
  | { type: 'failed'; id: number; code: ErrorCode | null; label: string; retriable: boolean }
  | { type: 'unexpected'; label: string };

/** Structured clone turns a Buffer into a plain Uint8Array: view it as a Buffer again (no copy). */
export function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

export function reviveHeaders(headers: Readonly<Record<string, HeaderValue>>): Record<string, HeaderValue> {
  const out: Record<string, HeaderValue> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || typeof v === 'string') out[k] = v;
    else if (Array.isArray(v)) out[k] = v.map((x) => (typeof x === 'string' ? x : asBuffer(x)));
    else out[k] = asBuffer(v);
  }
  return out;
}

interface Task {
  id: number;
  records: readonly IngestRecord[];
  resolve(results: ProcessedRecord[]): void;
  reject(err: unknown): void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  /** A thread is being started for this slot. */
  starting: boolean;
  /** Resolves when the slot's current thread has exited. */
  exited: Promise<void>;
  /** The chunk this thread works on; one at a time, so a crash loses exactly one. */
  task: Task | undefined;
}

const THREAD_ENTRY = new URL('./processor-thread.ts', import.meta.url);

function startThread(entry: URL, workerData: unknown): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { workerData });
  // Node 20 does not carry module hooks into worker threads: register tsx there before loading TypeScript.
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

function threadFailed(message: string, cause?: unknown): TracefenceError {
  return new TracefenceError('PROCESSING_THREAD_FAILED', message, { retriable: true, cause });
}

/** Starts `size` threads and resolves once every one has built its processor; rejects if any could not. */
export async function createProcessorPool(options: ProcessorPoolOptions): Promise<ChunkProcessor> {
  const { logger } = options;
  const slots: Slot[] = [];
  const queue: Task[] = [];
  let nextId = 1;
  let closing = false;

  const dispatch = (): void => {
    for (const slot of slots) {
      if (queue.length === 0) return;
      if (!slot.ready || slot.task !== undefined) continue;
      const task = queue.shift() as Task;
      slot.task = task;
      slot.worker.postMessage({ type: 'chunk', id: task.id, records: task.records } satisfies ToThread);
    }
  };

  /** Starts one thread; resolves when it is ready, rejects when its setup failed. */
  const spawn = (slot?: Slot): Promise<Slot> =>
    new Promise<Slot>((resolve, reject) => {
      const worker = startThread(THREAD_ENTRY, { factory: options.factory.href, config: options.config });
      let onExit = (): void => undefined;
      const exited = new Promise<void>((r) => (onExit = r));
      const s: Slot = slot ?? { worker, ready: false, starting: true, exited, task: undefined };
      s.worker = worker;
      s.exited = exited;
      s.ready = false;
      s.starting = true;
      let started = false;
      worker.on('message', (m: FromThread) => {
        switch (m.type) {
          case 'ready':
            started = true;
            s.ready = true;
            s.starting = false;
            resolve(s);
            dispatch();
            return;
          case 'setup-failed':
            // Not starting any more: from here on the slot counts as dead, before the thread's exit event.
            s.starting = false;
            reject(threadFailed(`a processing thread could not build its processor (${m.label})`));
            return;
          case 'unexpected':
            logger.error({ code: m.label }, 'record dead-lettered after a processing fault');
            return;
          case 'done':
          case 'failed': {
            const task = s.task;
            if (task === undefined || task.id !== m.id) return;
            s.task = undefined;
            if (m.type === 'done') {
              for (const r of m.results) for (const o of r.outcome.records) o.value = asBuffer(o.value);
              task.resolve(m.results);
            } else {
              // Same code and retriability as in process; the message stays in the thread (it may quote data).
              task.reject(new TracefenceError(m.code ?? 'INTERNAL', `record processing failed in a processing thread (${m.label})`, { retriable: m.retriable }));
            }
            dispatch();
            return;
          }
        }
      });
      worker.on('error', (err) => {
        logger.error({ err: err instanceof Error ? err.name : typeof err }, 'processing thread failed');
      });
      worker.on('exit', (code) => {
        onExit();
        s.ready = false;
        s.starting = false;
        const task = s.task;
        s.task = undefined;
        if (!started) {
          reject(threadFailed(`a processing thread stopped before it was ready (exit code ${code})`));
          return;
        }
        if (closing) {
          task?.reject(threadFailed('the processing pool is closed'));
          return;
        }
        logger.error({ exitCode: code, chunkLost: task !== undefined }, 'processing thread stopped; starting a replacement');
        task?.reject(threadFailed(`a processing thread stopped (exit code ${code}) while it held a chunk; the chunk is not committed`));
        spawn(s).catch((err: unknown) => {
          // A replacement that cannot start leaves the slot dead; queued chunks go to the others or wait.
          logger.error({ err: err instanceof TracefenceError ? err.code : 'unknown' }, 'replacement processing thread did not start');
          if (slots.every((x) => !x.ready && !x.starting)) for (const t of queue.splice(0)) t.reject(threadFailed('no processing thread is running'));
        });
      });
    });

  try {
    for (let i = 0; i < Math.max(1, options.size); i++) {
      const slot = await spawn();
      slots.push(slot);
    }
  } catch (err) {
    closing = true;
    await Promise.all(slots.map((s) => s.worker.terminate()));
    throw err;
  }

  return {
    processChunk(records) {
      if (closing) return Promise.reject(threadFailed('the processing pool is closed'));
      // Every replacement failed to start: fail now rather than queue forever.
      if (slots.every((x) => !x.ready && !x.starting)) return Promise.reject(threadFailed('no processing thread is running'));
      return new Promise<ProcessedRecord[]>((resolve, reject) => {
        queue.push({ id: nextId++, records, resolve, reject });
        dispatch();
      });
    },
    async close() {
      if (closing) return;
      closing = true;
      for (const t of queue.splice(0)) t.reject(threadFailed('the processing pool is closed'));
      const timeout = options.closeTimeoutMs ?? 5000;
      await Promise.all(
        slots.map(async (s) => {
          if (!s.ready && !s.starting) return; // its thread is gone already
          s.worker.postMessage({ type: 'close' } satisfies ToThread);
          const timer = setTimeout(() => void s.worker.terminate(), timeout);
          await s.exited;
          clearTimeout(timer);
        }),
      );
    },
  };
}
