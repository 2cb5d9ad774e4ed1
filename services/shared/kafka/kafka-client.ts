/**
 * Our only door to kafkajs (barely maintained upstream): everything Kafka goes through here
 * so the client can be swapped without touching the services.
 */
import { Kafka, logLevel, type Admin, type ITopicConfig, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { Logger } from '../logger.js';

export interface KafkaConnection {
  brokers: string[];
  clientId: string;
}

/**
 * Broker answers kafkajs logs as errors on every attempt although they are routine and retried
 * (the broker finishing the previous transaction, a coordinator loading): debug, not error. When
 * retries run out, the caller gets the error and reports it.
 */
const ROUTINE_RETRIED = /another concurrent operation on the same transaction was ongoing|coordinator is loading/i;

/** Route kafkajs logs into our structured logger at the matching level. */
export function kafkaLogCreator(logger: Logger | undefined) {
  return () =>
    ({ level, log }: LogEntry) => {
      if (logger === undefined) return;
      const { message, ...rest } = log;
      // Keep kafkajs detail but never whole payloads: only its own scalar fields.
      const fields = { kafka: rest.error === undefined ? undefined : String(rest.error), broker: rest['broker'] };
      const routine = ROUTINE_RETRIED.test(message) || (rest.error !== undefined && ROUTINE_RETRIED.test(String(rest.error)));
      if (routine) logger.debug(fields, message);
      else if (level === logLevel.ERROR) logger.error(fields, message);
      else if (level === logLevel.WARN) logger.warn(fields, message);
      else logger.debug(fields, message);
    };
}

// We pick partitioners explicitly where it matters; kafkajs' v2 migration notice is noise.
process.env['KAFKAJS_NO_PARTITIONER_WARNING'] ??= '1';

export function createKafka(conn: KafkaConnection, logger?: Logger): Kafka {
  const config: KafkaConfig = {
    clientId: conn.clientId,
    brokers: conn.brokers,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
    retry: { initialRetryTime: 100, retries: 8, maxRetryTime: 5000 },
    connectionTimeout: 3000,
  };
  return new Kafka(config);
}

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  configEntries?: Record<string, string>;
}

/** Create the topics that do not exist yet; leaves existing ones untouched. */
export async function ensureTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing: ITopicConfig[] = specs
    .filter((s) => !existing.has(s.topic))
    .map((s) => ({
      topic: s.topic,
      numPartitions: s.numPartitions,
      configEntries: Object.entries(s.configEntries ?? {}).map(([name, value]) => ({ name, value })),
    }));
  if (missing.length > 0) await admin.createTopics({ topics: missing, waitForLeaders: true });
  return missing.map((t) => t.topic);
}

// --- Consumers and producers for the region sinks (types re-exported so services never import kafkajs).
export type { Kafka, Consumer, Producer, Admin, EachMessagePayload, KafkaMessage, IHeaders } from 'kafkajs';

export interface ReadCommittedConsumerOptions {
  groupId: string;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Upper bound of one fetch per partition; keeps memory per partition predictable. */
  maxBytesPerPartition?: number;
}

/** A consumer that only sees committed transactional records and never commits on its own. */
export function createReadCommittedConsumer(kafka: Kafka, o: ReadCommittedConsumerOptions) {
  return kafka.consumer({
    groupId: o.groupId,
    readUncommitted: false,
    sessionTimeout: o.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: o.heartbeatIntervalMs ?? 3_000,
    maxBytesPerPartition: o.maxBytesPerPartition ?? 1_048_576,
    allowAutoTopicCreation: false,
  });
}

/** The latest offset (high watermark) per partition of a topic. */
export async function fetchHighWatermarks(admin: Admin, topic: string): Promise<Map<number, bigint>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, BigInt(o.high)] as const));
}
