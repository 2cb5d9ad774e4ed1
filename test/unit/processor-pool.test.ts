/**
 * Processing threads (services/policy-worker/processor-pool.ts): outcomes come back in order
 * with Buffers intact; a thread that dies fails only the chunk it held, with a retriable
 * PROCESSING_THREAD_FAILED, and is replaced; a set-up that fails stops the pool from starting;
 * close() is idempotent and fails what is still queued.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createProcessorPool, type ChunkProcessor } from '../../services/policy-worker/processor-pool.js';
import type { IngestRecord } from '../../services/policy-worker/record-processor.js';
import { TracefenceError } from '../../services/shared/errors.js';
import { createLogger } from '../../services/shared/logger.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

const factory = new URL('../helpers/test-processor-factory.ts', import.meta.url);
const logLines: string[] = [];
const logger = createLogger('pool-test', 'info', new Writable({ write: (chunk: Buffer, _e, cb) => (logLines.push(chunk.toString()), cb()) }));

function records(values: string[], from = 0): IngestRecord[] {
  return values.map((v, i) => ({ topic: 't', partition: 0, offset: String(from + i), timestampMs: 1, headers: { h: Buffer.from(`hdr${from + i}`) }, value: Buffer.from(v) }));
}

const isThreadFailure = (err: unknown): boolean => err instanceof TracefenceError && err.code === 'PROCESSING_THREAD_FAILED' && err.retriable;

describe('processing thread pool', () => {
  const pools: ChunkProcessor[] = [];
  after(async () => {
    for (const p of pools) await p.close();
  });

  test('returns every outcome in order, with Buffer values and headers intact', async () => {
    const pool = await createProcessorPool({ size: 2, factory, config: {}, logger });
    pools.push(pool);
    const chunks = await Promise.all([pool.processChunk(records(['ok', 'ok', 'ok'], 0)), pool.processChunk(records(['ok', 'ok'], 10))]);
    const values = chunks.map((c) => c.map((r) => r.outcome.records[0]?.value));
    for (const v of values.flat()) assert.ok(Buffer.isBuffer(v));
    assert.deepStrictEqual(values.map((c) => c.map((v) => v?.toString())), [['0:hdr0', '1:hdr1', '2:hdr2'], ['10:hdr10', '11:hdr11']]);
    for (const r of chunks.flat()) assert.ok(r.seconds >= 0);
  });

  test('a thread that dies fails only its chunk (retriable) and is replaced', async () => {
    const pool = await createProcessorPool({ size: 1, factory, config: {}, logger });
    pools.push(pool);
    const dying = pool.processChunk(records(['ok', 'exit', 'ok']));
    const queued = pool.processChunk(records(['ok', 'ok'], 5));
    await assert.rejects(dying, isThreadFailure);
    // The chunk queued behind it is processed by the replacement thread.
    const done = await queued;
    assert.deepStrictEqual(done.map((r) => r.outcome.records[0]?.value.toString()), ['5:hdr5', '6:hdr6']);
    assert.ok(logLines.some((l) => l.includes('starting a replacement')));
  });

  test('a retriable processing error keeps its code and retriability; the thread lives on', async () => {
    const pool = await createProcessorPool({ size: 1, factory, config: {}, logger });
    pools.push(pool);
    await assert.rejects(pool.processChunk(records(['ok', 'retriable'])), (err: unknown) => err instanceof TracefenceError && err.code === 'AUTH_ISSUER_UNREACHABLE' && err.retriable);
    assert.equal((await pool.processChunk(records(['ok']))).length, 1);
  });

  test('when no replacement thread can start, chunks fail at once instead of waiting', async () => {
    const marker = join(mkdtempSync(join(tmpdir(), 'tf-pool-')), 'fail');
    const pool = await createProcessorPool({ size: 1, factory, config: { failSetupIfExists: marker }, logger });
    pools.push(pool);
    writeFileSync(marker, '');
    await assert.rejects(pool.processChunk(records(['exit'])), isThreadFailure);
    for (let i = 0; i < 100 && !logLines.some((l) => l.includes('replacement processing thread did not start')); i++) await new Promise((r) => setTimeout(r, 20));
    await assert.rejects(pool.processChunk(records(['ok'])), isThreadFailure);
  });

  test('a set-up that fails stops the pool from starting', async () => {
    await assert.rejects(createProcessorPool({ size: 2, factory, config: { failSetup: true }, logger }), isThreadFailure);
  });

  test('close() waits for the threads, fails queued chunks, and is idempotent', async () => {
    const pool = await createProcessorPool({ size: 1, factory, config: {}, logger });
    const busy = pool.processChunk(records(['slow']));
    const queued = pool.processChunk(records(['ok']));
    const closing = pool.close();
    await assert.rejects(queued, isThreadFailure);
    await assert.rejects(busy, isThreadFailure);
    await closing;
    await pool.close();
    await assert.rejects(pool.processChunk(records(['ok'])), isThreadFailure);
  });
});
