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

/** Route kafkajs logs into our structured logger at the matching level. */
function kafkaLogCreator(logger: Logger | undefined) {
  return () =>
    ({ level, log }: LogEntry) => {
      if (logger === undefined) return;
      const { message, ...rest } = log;
      // Keep kafkajs detail but never whole payloads: only its own scalar fields.
      const fields = { kafka: rest.error === undefined ? undefined : String(rest.error), broker: rest['broker'] };
      if (level === logLevel.ERROR) logger.error(fields, message);
      else if (level === logLevel.WARN) logger.warn(fields, message);
      else logger.debug(fields, message);
    };
}

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
