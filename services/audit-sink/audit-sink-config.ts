/**
 * Audit sink configuration from the environment, validated in one pass and frozen.
 * Storage variables are the sink worker's (TRACEFENCE_S3_*, AWS_*, TRACEFENCE_GCS_*).
 */
import { EnvReader, type Env } from '../shared/config.js';
import { readStorageSettings, type StorageSettings } from '../audit/bucket-access.js';

export interface AuditSinkConfig {
  policyFile: string;
  kafkaBrokers: string[];
  kafkaClientId: string;
  groupId: string;
  auditTopic: string;
  /** region -> audit bucket (one of the region's policy buckets); default the region's first bucket. */
  auditBuckets: Readonly<Record<string, string>>;
  /** Region whose audit bucket stores events without a region; default the only region. */
  homeRegion: string | undefined;
  httpPort: number;
  maxEventsPerObject: number;
  lingerMs: number;
  fetchMinBytes: number;
  retryBudgetMs: number;
  sessionTimeoutMs: number;
  guardIntervalMs: number;
  shutdownGraceMs: number;
  storage: StorageSettings;
}

export function readAuditSinkConfig(env: Env): Readonly<AuditSinkConfig> {
  const r = new EnvReader(env);
  const sessionTimeoutMs = r.int('TRACEFENCE_AUDIT_SESSION_TIMEOUT_MS', 30_000, 6_000, 300_000);
  const retryBudgetMs = r.int('TRACEFENCE_AUDIT_RETRY_BUDGET_MS', Math.floor(sessionTimeoutMs * 0.5), 100, 300_000);
  if (retryBudgetMs >= sessionTimeoutMs) r.problem('TRACEFENCE_AUDIT_RETRY_BUDGET_MS', `must be shorter than TRACEFENCE_AUDIT_SESSION_TIMEOUT_MS (${sessionTimeoutMs})`);
  const config: AuditSinkConfig = {
    policyFile: r.string('TRACEFENCE_POLICY_FILE'),
    kafkaBrokers: r.list('TRACEFENCE_KAFKA_BROKERS'),
    kafkaClientId: r.string('TRACEFENCE_KAFKA_CLIENT_ID', 'tracefence-audit-sink'),
    groupId: r.string('TRACEFENCE_AUDIT_GROUP_ID', 'tracefence-audit-sink'),
    auditTopic: r.string('TRACEFENCE_TOPIC_AUDIT', 'traces.audit'),
    auditBuckets: r.map('TRACEFENCE_AUDIT_BUCKETS'),
    homeRegion: r.optional('TRACEFENCE_AUDIT_HOME_REGION'),
    httpPort: r.int('TRACEFENCE_HTTP_PORT', 0, 0, 65_535),
    maxEventsPerObject: r.int('TRACEFENCE_AUDIT_MAX_EVENTS', 1_000, 1, 100_000),
    lingerMs: r.int('TRACEFENCE_AUDIT_LINGER_MS', 1_000, 0, 60_000),
    fetchMinBytes: r.int('TRACEFENCE_AUDIT_FETCH_MIN_BYTES', 64 * 1024, 1, 64 * 1024 * 1024),
    retryBudgetMs,
    sessionTimeoutMs,
    guardIntervalMs: r.int('TRACEFENCE_AUDIT_GUARD_INTERVAL_MS', 300_000, 1_000, 24 * 3_600_000),
    shutdownGraceMs: r.int('TRACEFENCE_SHUTDOWN_GRACE_MS', 30_000, 1_000, 600_000),
    storage: readStorageSettings(r),
  };
  return r.done(config);
}
