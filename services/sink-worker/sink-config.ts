/**
 * Sink configuration from flags and the environment, validated in one pass (every problem
 * reported at once, with the variable at fault) and frozen. Only main.ts calls this.
 */
import { EnvReader, type Env } from '../shared/config.js';
import type { SinkFormat } from './object-key.js';
import { readStorageSettings, type StorageSettings } from './storage-settings.js';

export interface SinkConfig {
  region: string;
  /** Bucket chosen with --bucket / TRACEFENCE_SINK_BUCKET; default: the region's first bucket. */
  bucket: string | undefined;
  policyFile: string;
  kafkaBrokers: string[];
  kafkaClientId: string;
  /** Consumer group; default tracefence-sink-<region>[-<bucket>]. */
  groupId: string | undefined;
  auditTopic: string;
  httpPort: number;
  format: SinkFormat;
  keyPrefix: string;
  maxRecords: number;
  maxBatchBytes: number;
  maxBatchAgeMs: number;
  memoryCapBytes: number;
  retryBudgetMs: number;
  sessionTimeoutMs: number;
  guardIntervalMs: number;
  lagIntervalMs: number;
  concurrency: number;
  s3: StorageSettings['s3'];
  gcs: StorageSettings['gcs'];
  shutdownGraceMs: number;
}

/** --name value or --name=value. */
function flag(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === `--${name}`) return argv[i + 1];
    if (a?.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}

const FORMATS: readonly SinkFormat[] = ['jsonl-gz', 'avro'];

export function readSinkConfig(env: Env, argv: readonly string[]): Readonly<SinkConfig> {
  const r = new EnvReader(env);
  const region = flag(argv, 'region') ?? r.optional('TRACEFENCE_SINK_REGION');
  if (region === undefined || region === '') r.problem('TRACEFENCE_SINK_REGION', 'is required (or --region <name>)');
  const format = r.string('TRACEFENCE_SINK_FORMAT', 'jsonl-gz') as SinkFormat;
  if (!FORMATS.includes(format)) r.problem('TRACEFENCE_SINK_FORMAT', `must be one of ${FORMATS.join(', ')}, got '${format}'`);
  const sessionTimeoutMs = r.int('TRACEFENCE_SINK_SESSION_TIMEOUT_MS', 30_000, 6_000, 300_000);
  const retryBudgetMs = r.int('TRACEFENCE_SINK_RETRY_BUDGET_MS', Math.floor(sessionTimeoutMs * 0.6), 100, 300_000);
  if (retryBudgetMs >= sessionTimeoutMs) {
    r.problem('TRACEFENCE_SINK_RETRY_BUDGET_MS', `must be shorter than TRACEFENCE_SINK_SESSION_TIMEOUT_MS (${sessionTimeoutMs})`);
  }
  const maxBatchBytes = r.int('TRACEFENCE_SINK_MAX_BATCH_BYTES', 16 * 1024 * 1024, 1024, 1024 * 1024 * 1024);
  const memoryCapBytes = r.int('TRACEFENCE_SINK_MEMORY_CAP_BYTES', 256 * 1024 * 1024, 1024, 16 * 1024 * 1024 * 1024);
  if (memoryCapBytes < maxBatchBytes) r.problem('TRACEFENCE_SINK_MEMORY_CAP_BYTES', 'must be at least TRACEFENCE_SINK_MAX_BATCH_BYTES');
  const config: SinkConfig = {
    region: region ?? '',
    bucket: flag(argv, 'bucket') ?? r.optional('TRACEFENCE_SINK_BUCKET'),
    policyFile: r.string('TRACEFENCE_POLICY_FILE'),
    kafkaBrokers: r.list('TRACEFENCE_KAFKA_BROKERS'),
    kafkaClientId: r.string('TRACEFENCE_KAFKA_CLIENT_ID', `tracefence-sink-${region ?? 'unknown'}`),
    groupId: r.optional('TRACEFENCE_SINK_GROUP_ID'),
    auditTopic: r.string('TRACEFENCE_TOPIC_AUDIT', 'traces.audit'),
    httpPort: r.int('TRACEFENCE_HTTP_PORT', 0, 0, 65_535),
    format,
    keyPrefix: r.string('TRACEFENCE_SINK_KEY_PREFIX', ''),
    maxRecords: r.int('TRACEFENCE_SINK_MAX_RECORDS', 10_000, 1, 10_000_000),
    maxBatchBytes,
    maxBatchAgeMs: r.int('TRACEFENCE_SINK_MAX_BATCH_AGE_MS', 60_000, 100, 24 * 3_600_000),
    memoryCapBytes,
    retryBudgetMs,
    sessionTimeoutMs,
    guardIntervalMs: r.int('TRACEFENCE_SINK_GUARD_INTERVAL_MS', 300_000, 1_000, 24 * 3_600_000),
    lagIntervalMs: r.int('TRACEFENCE_SINK_LAG_INTERVAL_MS', 15_000, 1_000, 3_600_000),
    concurrency: r.int('TRACEFENCE_SINK_CONCURRENCY', 4, 1, 256),
    ...readStorageSettings(r),
    shutdownGraceMs: r.int('TRACEFENCE_SHUTDOWN_GRACE_MS', 30_000, 1_000, 600_000),
  };
  return r.done(config);
}

export function defaultGroupId(region: string, bucket: string | undefined): string {
  return bucket === undefined ? `tracefence-sink-${region}` : `tracefence-sink-${region}-${bucket}`;
}
