/**
 * Publishes reasoning traces to the ingest topic: Avro-encoded, idempotent producer, the
 * agent's access token on every record, bounded in-flight bytes (backpressure) and a
 * graceful flush on close.
 */
import type { Producer } from 'kafkajs';
import { createCodec, type Codec, type ReasoningTrace } from '../shared/avro/index.js';
import { TracefenceError } from '../shared/errors.js';
import { createKafka } from '../shared/kafka/kafka-client.js';
import { HEADERS } from '../shared/record-headers.js';
import type { Logger } from '../shared/logger.js';
import type { TokenSource } from './token-source.js';

export interface TraceProducerOptions {
  brokers: string[];
  topic: string;
  tokens: TokenSource;
  clientId?: string;
  /** Records are sent in batches of up to this many (or when `lingerMs` passes). */
  batchSize?: number;
  lingerMs?: number;
  /** Upper bound of one Kafka request's record bytes (at least one record is sent); default 4 MiB. */
  maxBatchBytes?: number;
  /** Above this many unsent bytes, `send` waits (backpressure) instead of queueing more. */
  maxBufferedBytes?: number;
  logger?: Logger;
}

export interface SendResult {
  recordId: string;
  traceId: string;
}

export interface TraceProducer {
  /** Resolves once the record is acknowledged by the broker. */
  send(trace: ReasoningTrace): Promise<SendResult>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

interface Pending {
  trace: ReasoningTrace;
  value: Buffer;
  fingerprint: string;
  resolve: (r: SendResult) => void;
  reject: (e: unknown) => void;
}

export async function createTraceProducer(options: TraceProducerOptions): Promise<TraceProducer> {
  const codec: Codec<ReasoningTrace> = createCodec('reasoning-trace');
  const kafka = createKafka({ brokers: options.brokers, clientId: options.clientId ?? 'tracefence-agent' }, options.logger);
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5, allowAutoTopicCreation: false });
  await producer.connect();

  const batchSize = options.batchSize ?? 200;
  const lingerMs = options.lingerMs ?? 5;
  const maxBufferedBytes = options.maxBufferedBytes ?? 16 * 1024 * 1024;
  const maxBatchBytes = options.maxBatchBytes ?? 4 * 1024 * 1024;
  let queue: Pending[] = [];
  let bufferedBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  let sending: Promise<void> = Promise.resolve();
  let closed = false;
  const waiters: Array<() => void> = [];

  const sendBatch = async (batch: Pending[]): Promise<void> => {
    try {
      const token = await options.tokens.getToken();
      await producer.send({
        topic: options.topic,
        acks: -1,
        messages: batch.map((p) => ({
          key: p.trace.traceId,
          value: p.value,
          headers: { [HEADERS.schema]: p.fingerprint, [HEADERS.accessToken]: token },
        })),
      });
      for (const p of batch) p.resolve({ recordId: p.trace.recordId, traceId: p.trace.traceId });
    } catch (err) {
      // One error base for callers: a kafkajs failure becomes a retriable KAFKA_UNAVAILABLE.
      const failure = err instanceof TracefenceError ? err : new TracefenceError('KAFKA_UNAVAILABLE', 'Kafka did not acknowledge the trace records', { retriable: true, cause: err });
      for (const p of batch) p.reject(failure);
    } finally {
      for (const p of batch) bufferedBytes -= p.value.length;
      while (waiters.length > 0 && bufferedBytes < maxBufferedBytes) waiters.shift()?.();
    }
  };

  /**
   * Batches are taken from the queue when the previous send has finished, not when the linger
   * timer fires: under load each Kafka request carries up to `batchSize` records instead of a
   * chain of small batches waiting behind each other.
   */
  let pumping: Promise<void> | undefined;
  const drain = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (queue.length === 0 || pumping !== undefined) return;
    pumping = (async () => {
      try {
        while (queue.length > 0) {
          let bytes = 0;
          let n = 0;
          while (n < queue.length && n < batchSize && (n === 0 || bytes + queue[n]!.value.length <= maxBatchBytes)) bytes += queue[n++]!.value.length;
          const batch = queue.slice(0, n);
          queue = queue.slice(n);
          await sendBatch(batch);
        }
      } finally {
        pumping = undefined;
      }
    })();
    sending = pumping;
  };

  return {
    async send(trace) {
      if (closed) throw new TracefenceError('KAFKA_UNAVAILABLE', 'the trace producer is closed');
      const { payload, fingerprint } = codec.encode(trace);
      while (bufferedBytes + payload.length > maxBufferedBytes && bufferedBytes > 0) {
        await new Promise<void>((resolve) => waiters.push(resolve));
        // Closed while waiting: the queue will not be drained again, so do not join it.
        if (closed) throw new TracefenceError('KAFKA_UNAVAILABLE', 'the trace producer is closed');
      }
      bufferedBytes += payload.length;
      const result = new Promise<SendResult>((resolve, reject) => queue.push({ trace, value: payload, fingerprint, resolve, reject }));
      if (queue.length >= batchSize) drain();
      else timer ??= setTimeout(drain, lingerMs);
      return result;
    },
    async flush() {
      drain();
      await sending;
    },
    async close() {
      if (closed) return;
      closed = true;
      drain();
      await sending;
      // Senders still waiting for buffer space are released; they see `closed` and fail.
      while (waiters.length > 0) waiters.shift()?.();
      await producer.disconnect();
    },
  };
}
