/**
 * Writes the records of one OTLP request to the ingest topic with an idempotent producer, and
 * says no quickly instead of queueing without bound: above `maxBufferedBytes` in flight a
 * publish fails at once with INGEST_BACKPRESSURE (HTTP 429); a send that Kafka does not
 * acknowledge within `sendTimeoutMs` fails with KAFKA_UNAVAILABLE (HTTP 503). Both are
 * retriable: the OTLP client retries the whole request later. Concurrent requests are coalesced:
 * while one Kafka send is in flight the next requests queue, and go together in the next send.
 */
import { TracefenceError } from '../shared/errors.js';
import { createKafka, type Producer } from '../shared/kafka/kafka-client.js';
import type { Logger } from '../shared/logger.js';

export interface IngestRecord {
  key: string;
  value: Buffer;
  headers: Readonly<Record<string, string>>;
}

/** What the receiver needs from Kafka; a fake in unit tests. */
export interface IngestPublisher {
  /** Resolves once every record is acknowledged by all in-sync replicas. */
  publish(records: readonly IngestRecord[]): Promise<void>;
  /** Connected and not closed. */
  isReady(): boolean;
  close(): Promise<void>;
}

export interface IngestPublisherOptions {
  brokers: string[];
  topic: string;
  clientId?: string;
  /** Bytes of record values in flight; default 32 MiB. */
  maxBufferedBytes?: number;
  /** Default 10 s. */
  sendTimeoutMs?: number;
  /** Requests arriving while a Kafka send is in flight are coalesced into one send of up to this many bytes; default 4 MiB. */
  maxBatchBytes?: number;
  logger?: Logger;
}

interface Pending {
  records: readonly IngestRecord[];
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export async function createIngestPublisher(options: IngestPublisherOptions): Promise<IngestPublisher> {
  const maxBufferedBytes = options.maxBufferedBytes ?? 32 * 1024 * 1024;
  const sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
  const maxBatchBytes = options.maxBatchBytes ?? 4 * 1024 * 1024;
  const kafka = createKafka({ brokers: options.brokers, clientId: options.clientId ?? 'tracefence-otlp-receiver' }, options.logger);
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5, allowAutoTopicCreation: false });
  let connected = false;
  let closed = false;
  let bufferedBytes = 0;
  let queue: Pending[] = [];
  let pumping: Promise<void> | undefined;
  producer.on(producer.events.CONNECT, () => {
    connected = true;
  });
  producer.on(producer.events.DISCONNECT, () => {
    connected = false;
  });
  try {
    await producer.connect();
  } catch (err) {
    throw new TracefenceError('KAFKA_UNAVAILABLE', 'the ingest producer could not connect to Kafka', { retriable: true, cause: err });
  }
  connected = true;

  /** One Kafka request for the records of every request that arrived while the previous one was in flight. */
  const sendBatch = async (batch: readonly Pending[]): Promise<void> => {
    try {
      await producer.send({
        topic: options.topic,
        acks: -1,
        messages: batch.flatMap((p) => p.records.map((r) => ({ key: r.key, value: r.value, headers: { ...r.headers } }))),
      });
      for (const p of batch) p.resolve();
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      for (const p of batch) bufferedBytes -= p.bytes;
    }
  };

  const pump = (): void => {
    pumping ??= (async () => {
      try {
        while (queue.length > 0) {
          let bytes = 0;
          let n = 0;
          while (n < queue.length && (n === 0 || bytes + queue[n]!.bytes <= maxBatchBytes)) bytes += queue[n++]!.bytes;
          const batch = queue.slice(0, n);
          queue = queue.slice(n);
          await sendBatch(batch);
        }
      } finally {
        pumping = undefined;
      }
    })();
  };

  return {
    async publish(records) {
      if (closed) throw new TracefenceError('KAFKA_UNAVAILABLE', 'the ingest publisher is closed', { retriable: true });
      if (records.length === 0) return;
      const bytes = records.reduce((n, r) => n + r.value.length, 0);
      if (bufferedBytes > 0 && bufferedBytes + bytes > maxBufferedBytes) {
        throw new TracefenceError('INGEST_BACKPRESSURE', 'the ingest producer buffer is full', { retriable: true });
      }
      // The bytes stay counted until Kafka settles the send, even after a timeout answered the client.
      bufferedBytes += bytes;
      const sent = new Promise<void>((resolve, reject) => queue.push({ records, bytes, resolve, reject }));
      pump();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no acknowledgement within ${sendTimeoutMs} ms`)), sendTimeoutMs);
      });
      try {
        await Promise.race([sent, timeout]);
      } catch (err) {
        sent.catch(() => undefined);
        throw new TracefenceError('KAFKA_UNAVAILABLE', 'Kafka did not acknowledge the ingest records', { retriable: true, cause: err });
      } finally {
        clearTimeout(timer);
      }
    },
    isReady: () => connected && !closed,
    async close() {
      if (closed) return;
      closed = true;
      await pumping;
      await producer.disconnect();
    },
  };
}
