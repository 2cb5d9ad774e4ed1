/**
 * Writes the records of one OTLP request to the ingest topic with an idempotent producer, and
 * says no quickly instead of queueing without bound: above `maxBufferedBytes` in flight a
 * publish fails at once with INGEST_BACKPRESSURE (HTTP 429); a send that Kafka does not
 * acknowledge within `sendTimeoutMs` fails with KAFKA_UNAVAILABLE (HTTP 503). Both are
 * retriable: the OTLP client retries the whole request later.
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
  logger?: Logger;
}

export async function createIngestPublisher(options: IngestPublisherOptions): Promise<IngestPublisher> {
  const maxBufferedBytes = options.maxBufferedBytes ?? 32 * 1024 * 1024;
  const sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
  const kafka = createKafka({ brokers: options.brokers, clientId: options.clientId ?? 'tracefence-otlp-receiver' }, options.logger);
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5, allowAutoTopicCreation: false });
  let connected = false;
  let closed = false;
  let bufferedBytes = 0;
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

  return {
    async publish(records) {
      if (closed) throw new TracefenceError('KAFKA_UNAVAILABLE', 'the ingest publisher is closed', { retriable: true });
      if (records.length === 0) return;
      const bytes = records.reduce((n, r) => n + r.value.length, 0);
      if (bufferedBytes > 0 && bufferedBytes + bytes > maxBufferedBytes) {
        throw new TracefenceError('INGEST_BACKPRESSURE', 'the ingest producer buffer is full', { retriable: true });
      }
      bufferedBytes += bytes;
      // The bytes stay counted until Kafka settles the send, even after a timeout answered the client.
      const sent = producer
        .send({
          topic: options.topic,
          acks: -1,
          messages: records.map((r) => ({ key: r.key, value: r.value, headers: { ...r.headers } })),
        })
        .finally(() => {
          bufferedBytes -= bytes;
        });
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
      await producer.disconnect();
    },
  };
}
