/**
 * Builds a region sink from its configuration: policy, object store client, location guard,
 * audit producer, metrics. main.ts runs it; integration tests build it in-process the same way.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { Storage } from '@google-cloud/storage';
import { getRegion, loadPolicy } from '../policy/load-policy.js';
import { createCodec } from '../shared/avro/codec.js';
import type { AuditEvent } from '../shared/avro/types.js';
import { ValidationError, describeError } from '../shared/errors.js';
import { createKafka } from '../shared/kafka/kafka-client.js';
import type { Logger } from '../shared/logger.js';
import { closeInReverse, createMetricsRegistry, startOpsServer, type Closable } from '../shared/service-runtime.js';
import type { Registry } from 'prom-client';
import { createGcsBucketInspector, createS3BucketInspector, type BucketInspector } from './bucket-location-guard.js';
import type { GuardAuditSink } from './guard-audit.js';
import { createGcsObjectStore, createS3ObjectStore, type ObjectStore } from './object-store.js';
import { defaultGroupId, type SinkConfig } from './sink-config.js';
import { s3ClientRegion } from './storage-settings.js';
import { createSinkMetrics } from './sink-metrics.js';
import { createSinkWorker, SCHEMA_HEADER_NAME, type SinkWorker } from './sink-worker.js';
import { createTraceDecoder } from './trace-decoder.js';

/** Bytes of audit events per produce request (the broker's default message limit is 1 MiB). */
const AUDIT_SEND_BYTES = 512 * 1024;

export interface SinkApp {
  worker: SinkWorker;
  registry: Registry;
  /** Port of the /metrics and /healthz server (after start). */
  opsPort(): number;
  start(): Promise<void>;
  /** Everything opened, in start order (runUntilSignal closes in reverse). */
  closables: Closable[];
  close(): Promise<void>;
}

/** Builds every dependency of one sink from its validated config; opens nothing until start(). */
export interface SinkAppHooks {
  onFatal?: (err: unknown) => void;
  /** Wraps the audit producer (tests inject produce failures here). */
  wrapAudit?: (audit: GuardAuditSink) => GuardAuditSink;
}

export async function buildSinkApp(config: Readonly<SinkConfig>, logger: Logger, hooks: SinkAppHooks = {}): Promise<SinkApp> {
  const closables: Closable[] = [];
  const policy = await loadPolicy(config.policyFile);
  const region = getRegion(policy, config.region);
  if (region === undefined) {
    throw new ValidationError('CONFIG_INVALID', 'sink configuration', [
      { path: 'TRACEFENCE_SINK_REGION', message: `region '${config.region}' is not in the policy file ${config.policyFile}` },
    ]);
  }
  // Only a bucket the policy lists for this region may ever be written.
  const bucket = config.bucket === undefined ? region.buckets[0] : region.buckets.find((b) => b.name === config.bucket);
  if (bucket === undefined) {
    throw new ValidationError('CONFIG_INVALID', 'sink configuration', [
      { path: 'TRACEFENCE_SINK_BUCKET', message: `bucket '${config.bucket ?? '(default)'}' is not a bucket of region '${region.name}' in the policy` },
    ]);
  }
  const log = logger.child({ region: region.name, bucket: bucket.name, backend: bucket.backend });

  let store: ObjectStore;
  let inspector: BucketInspector;
  if (bucket.backend === 's3') {
    const client = new S3Client({
      region: s3ClientRegion(config, region),
      ...(config.s3.endpoint === undefined ? {} : { endpoint: config.s3.endpoint }),
      forcePathStyle: config.s3.forcePathStyle,
      // A copy: the SDK annotates the credentials object and the config is frozen.
      ...(config.s3.credentials === undefined ? {} : { credentials: { ...config.s3.credentials } }),
      // A redirect names another region: the guard must see it, never follow it.
      followRegionRedirects: false,
      maxAttempts: 2,
      requestHandler: { requestTimeout: Math.min(10_000, config.retryBudgetMs), connectionTimeout: 3_000 },
    });
    closables.push({ name: 's3-client', close: async () => client.destroy() });
    store = createS3ObjectStore({ client, bucket: bucket.name, encryption: region.encryption.s3, expectedBucketOwner: config.s3.expectedBucketOwner });
    inspector = createS3BucketInspector({
      client,
      bucket: bucket.name,
      expectedBucketOwner: config.s3.expectedBucketOwner,
      readEncryption: region.encryption.s3.requireBucketDefault,
    });
  } else {
    const apiEndpoint = config.gcs.endpoints[bucket.name];
    const storage = new Storage({
      ...(apiEndpoint === undefined ? {} : { apiEndpoint }),
      ...(config.gcs.projectId === undefined ? {} : { projectId: config.gcs.projectId }),
      // Our own retry loop keeps within the budget; create-only writes are safe to repeat.
      retryOptions: { autoRetry: false },
    });
    store = createGcsObjectStore({ storage, bucket: bucket.name, kmsKeyName: region.encryption.gcs.kmsKeyName });
    inspector = createGcsBucketInspector(storage, bucket.name);
  }

  const kafka = createKafka({ brokers: config.kafkaBrokers, clientId: config.kafkaClientId }, log);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  const auditCodec = createCodec('audit-event');
  const toMessage = (event: AuditEvent, details: Readonly<Record<string, string>>) => {
    const encoded = auditCodec.encode(event);
    return { key: region.name, value: encoded.payload, headers: { [SCHEMA_HEADER_NAME]: encoded.fingerprint, ...details } };
  };
  const producerAudit: GuardAuditSink = {
    async emit(event, details) {
      await producer.send({ topic: config.auditTopic, acks: -1, messages: [toMessage(event, details)] });
    },
    async emitAll(items) {
      // Keyed by region: one partition, so one request holds one record batch; keep it well under
      // the broker's message size limit.
      let chunk: Array<ReturnType<typeof toMessage>> = [];
      let bytes = 0;
      const send = async () => {
        if (chunk.length === 0) return;
        await producer.send({ topic: config.auditTopic, acks: -1, messages: chunk });
        chunk = [];
        bytes = 0;
      };
      for (const { event, details } of items) {
        const m = toMessage(event, details);
        const size = m.value.length + 256;
        if (bytes + size > AUDIT_SEND_BYTES) await send();
        chunk.push(m);
        bytes += size;
      }
      await send();
    },
  };

  const audit = hooks.wrapAudit?.(producerAudit) ?? producerAudit;

  const registry = createMetricsRegistry('sink-worker');
  const worker = createSinkWorker({
    options: {
      region,
      bucket,
      policyVersion: policy.version,
      topic: region.topic,
      groupId: config.groupId ?? defaultGroupId(region.name, config.bucket),
      format: config.format,
      keyPrefix: config.keyPrefix,
      maxRecords: config.maxRecords,
      maxBatchBytes: config.maxBatchBytes,
      maxBatchAgeMs: config.maxBatchAgeMs,
      memoryCapBytes: config.memoryCapBytes,
      retryBudgetMs: config.retryBudgetMs,
      sessionTimeoutMs: config.sessionTimeoutMs,
      guardIntervalMs: config.guardIntervalMs,
      partitionsConsumedConcurrently: config.concurrency,
      lagIntervalMs: config.lagIntervalMs,
    },
    kafka,
    store,
    inspector,
    audit,
    metrics: createSinkMetrics(registry),
    logger: log,
    decoder: createTraceDecoder(),
    onFatal: (err) => {
      log.fatal({ err: describeError(err) }, 'consumer stopped for good');
      hooks.onFatal?.(err);
    },
  });
  let port = -1;
  let closing: Promise<void> | undefined;
  return {
    worker,
    registry,
    closables,
    opsPort: () => port,
    async start() {
      await producer.connect();
      closables.push({ name: 'audit-producer', close: () => producer.disconnect() });
      closables.push({ name: 'sink', close: () => worker.close() });
      const ops = await startOpsServer(registry, { ready: () => worker.ready(), detail: () => ({ ...worker.status() }) }, config.httpPort);
      port = ops.port;
      closables.push({ name: 'ops-server', close: () => ops.close() });
      log.info({ port }, 'ops server listening');
      await worker.start();
    },
    close() {
      // Every step runs even if one fails; reverse order of start.
      closing ??= closeInReverse(closables, log).then(() => undefined);
      return closing;
    },
  };
}

