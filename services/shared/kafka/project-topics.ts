import type { TopicSpec } from './kafka-client.js';

export interface ProjectTopicNames {
  ingest: string;
  deadLetter: string;
  audit: string;
  held: string;
  regionTopics: readonly string[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The topics Tracefence needs. The ingest topic uses broker time (LogAppendTime) because token
 * expiry is checked against it, and keeps unmasked data only briefly.
 */
export function projectTopicSpecs(names: ProjectTopicNames, partitions = 3): TopicSpec[] {
  return [
    {
      topic: names.ingest,
      numPartitions: partitions,
      configEntries: { 'message.timestamp.type': 'LogAppendTime', 'retention.ms': String(DAY_MS), 'max.message.bytes': String(2 * 1024 * 1024) },
    },
    { topic: names.deadLetter, numPartitions: partitions, configEntries: { 'retention.ms': String(14 * DAY_MS) } },
    { topic: names.audit, numPartitions: partitions, configEntries: { 'retention.ms': String(30 * DAY_MS) } },
    { topic: names.held, numPartitions: partitions, configEntries: { 'retention.ms': String(7 * DAY_MS) } },
    ...names.regionTopics.map((topic) => ({ topic, numPartitions: partitions, configEntries: { 'retention.ms': String(7 * DAY_MS) } })),
  ];
}
