/**
 * A processing thread of processor-pool.ts: builds a record processor with the factory module
 * named in workerData, then processes the chunks it is sent, one record after another, and
 * answers with the outcomes (or the code of the error that stopped the chunk).
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { TracefenceError } from '../shared/errors.js';
import type { IngestRecord } from './record-processor.js';
import { asBuffer, reviveHeaders, type FromThread, type ProcessedRecord, type ProcessorFactoryResult, type ToThread } from './processor-pool.js';

interface ThreadData {
  factory: string;
  config: unknown;
}

type Factory = (config: unknown, onUnexpected: (err: unknown) => void) => Promise<ProcessorFactoryResult>;

const port = parentPort;
if (port === null) throw new Error('processor-thread.ts runs as a worker thread only');
const data = workerData as ThreadData;
const send = (m: FromThread): void => port.postMessage(m);
const label = (err: unknown): string => (err instanceof TracefenceError ? err.code : err instanceof Error ? err.name : typeof err);

let built: ProcessorFactoryResult;
try {
  const mod = (await import(data.factory)) as { createProcessor: Factory };
  built = await mod.createProcessor(data.config, (err) => send({ type: 'unexpected', label: label(err) }));
} catch (err) {
  send({ type: 'setup-failed', label: label(err) });
  process.exit(1);
}

port.on('message', (m: ToThread) => {
  if (m.type === 'close') {
    built.close();
    // Keep-alive handles of the issuer client (JWKS fetches) must not hold the thread open.
    process.exit(0);
  }
  void (async () => {
    const results: ProcessedRecord[] = [];
    try {
      for (const r of m.records) {
        const record: IngestRecord = { ...r, headers: reviveHeaders(r.headers), value: r.value === null ? null : asBuffer(r.value) };
        const start = performance.now();
        const outcome = await built.processor.process(record);
        results.push({ outcome, seconds: (performance.now() - start) / 1000 });
      }
    } catch (err) {
      send({ type: 'failed', id: m.id, code: err instanceof TracefenceError ? err.code : null, label: label(err), retriable: err instanceof TracefenceError ? err.retriable : false });
      return;
    }
    send({ type: 'done', id: m.id, results });
  })();
});
send({ type: 'ready' });
