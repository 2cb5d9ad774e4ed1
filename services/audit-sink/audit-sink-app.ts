/**
 * Builds the audit sink from its configuration: policy, one bucket access per audit bucket,
 * Kafka, metrics and the ops server. main.ts runs it; integration tests build it in-process.
 */
import type { Registry } from 'prom-client';
import { loadPolicy } from '../policy/load-policy.js';
import { createCodec } from '../shared/avro/codec.js';
import { ValidationError, describeError, type ValidationIssue } from '../shared/errors.js';
import { createKafka } from '../shared/kafka/kafka-client.js';
import type { Logger } from '../shared/logger.js';
import { closeInReverse, createMetricsRegistry, startOpsServer, type Closable } from '../shared/service-runtime.js';
import { createBucketAccess, resolveAuditTargets, type BucketAccess } from '../audit/bucket-access.js';
import { createAuditSink, type AuditSink, type ChainStore } from './audit-sink.js';
import type { AuditSinkConfig } from './audit-sink-config.js';
import { createAuditSinkMetrics } from './audit-sink-metrics.js';

export interface AuditSinkApp {
  sink: AuditSink;
  registry: Registry;
  opsPort(): number;
  start(): Promise<void>;
  closables: Closable[];
  close(): Promise<void>;
}

export async function buildAuditSinkApp(config: Readonly<AuditSinkConfig>, logger: Logger, hooks: { onFatal?: (err: unknown) => void } = {}): Promise<AuditSinkApp> {
  const policy = await loadPolicy(config.policyFile);
  const issues: ValidationIssue[] = [];
  const targets = resolveAuditTargets(policy, config.auditBuckets, config.homeRegion, (path, message) => issues.push({ path, message }));
  if (issues.length > 0) throw new ValidationError('CONFIG_INVALID', 'audit sink configuration', issues);

  const accesses = new Map<string, BucketAccess>();
  const chains = new Map<string, ChainStore>();
  for (const [chain, target] of targets) {
    const id = `${target.region.name}/${target.bucket.name}`;
    let access = accesses.get(id);
    if (access === undefined) {
      access = createBucketAccess({ settings: config.storage, region: target.region, bucket: target.bucket, requestTimeoutMs: Math.min(10_000, config.retryBudgetMs) });
      accesses.set(id, access);
    }
    chains.set(chain, { target, access });
  }
  const log = logger.child({ service: 'audit-sink' });
  const kafka = createKafka({ brokers: config.kafkaBrokers, clientId: config.kafkaClientId }, log);
  const registry = createMetricsRegistry('audit-sink');
  const sink = createAuditSink({
    options: {
      topic: config.auditTopic,
      groupId: config.groupId,
      maxEventsPerObject: config.maxEventsPerObject,
      lingerMs: config.lingerMs,
      fetchMinBytes: config.fetchMinBytes,
      retryBudgetMs: config.retryBudgetMs,
      sessionTimeoutMs: config.sessionTimeoutMs,
      guardIntervalMs: config.guardIntervalMs,
    },
    kafka,
    chains,
    codec: createCodec('audit-event'),
    metrics: createAuditSinkMetrics(registry),
    logger: log,
    onFatal: (err) => {
      log.fatal({ err: describeError(err) }, 'audit consumer stopped for good');
      hooks.onFatal?.(err);
    },
  });
  const closables: Closable[] = [];
  let port = -1;
  let closing: Promise<void> | undefined;
  return {
    sink,
    registry,
    closables,
    opsPort: () => port,
    async start() {
      const ops = await startOpsServer(registry, { ready: () => sink.ready(), detail: () => ({ ...sink.status() }) }, config.httpPort);
      port = ops.port;
      closables.push({ name: 'ops-server', close: () => ops.close() });
      closables.push({ name: 'audit-sink', close: () => sink.close() });
      log.info({ port }, 'ops server listening');
      await sink.start();
    },
    close() {
      closing ??= (async () => {
        await closeInReverse(closables, log);
        // Never started: the bucket clients still need closing.
        if (closables.length === 0) for (const a of accesses.values()) a.close();
      })();
      return closing;
    },
  };
}
