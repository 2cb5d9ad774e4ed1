/**
 * Produces raw records to the ingest topic the way an agent's idempotent producer does, and
 * keeps trying through a broker restart: a failed send is retried with backoff (a retry after an
 * unknown outcome may write a record twice; reconciliation counts ingest copies, not sends).
 */
import type { Producer } from '../../services/shared/kafka/kafka-client.js';
import type { RawIngestRecord } from './hostile-corpus.js';
import { chaosKafka } from './topic-reader.js';

const MAX_REQUEST_BYTES = 900 * 1024;

export interface IngestProducer {
  send(records: readonly RawIngestRecord[]): Promise<void>;
  readonly retries: number;
  close(): Promise<void>;
}

export async function createIngestProducer(topic: string, log: (msg: string) => void): Promise<IngestProducer> {
  const make = (): Producer => chaosKafka().producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5000 } });
  let producer = make();
  await producer.connect();
  let retries = 0;

  async function sendOnce(chunk: readonly RawIngestRecord[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await producer.send({ topic, acks: -1, messages: chunk.map((r) => ({ key: r.key, value: r.value, headers: r.headers })) });
        return;
      } catch (err) {
        retries++;
        if (attempt % 5 === 0) log(`ingest send still failing after ${attempt} attempts: ${err instanceof Error ? err.message : String(err)}`);
        if (attempt > 200) throw err;
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * attempt)));
        // A fresh producer after repeated failures (the old one may be stuck after a broker restart).
        if (attempt % 3 === 0) {
          await producer.disconnect().catch(() => undefined);
          producer = make();
          await producer.connect().catch(() => undefined);
        }
      }
    }
  }

  return {
    async send(records) {
      let chunk: RawIngestRecord[] = [];
      let bytes = 0;
      for (const r of records) {
        const size = (r.value?.length ?? 0) + 512;
        if (chunk.length > 0 && bytes + size > MAX_REQUEST_BYTES) {
          await sendOnce(chunk);
          chunk = [];
          bytes = 0;
        }
        chunk.push(r);
        bytes += size;
      }
      if (chunk.length > 0) await sendOnce(chunk);
    },
    get retries() {
      return retries;
    },
    async close() {
      await producer.disconnect().catch(() => undefined);
    },
  };
}
