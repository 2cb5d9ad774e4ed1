/**
 * Test helpers for the audit sink and the evidence commands against the local stack: a fresh
 * audit topic, audit buckets and policy per test, events produced the way the services do,
 * the audit sink in-process, and the `tracefence` CLI as a child process.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { AuditEvent } from '../../services/shared/avro/types.js';
import { createCodec } from '../../services/shared/avro/codec.js';
import { createLogger } from '../../services/shared/logger.js';
import type { Kafka } from '../../services/shared/kafka/kafka-client.js';
import { readAuditSinkConfig } from '../../services/audit-sink/audit-sink-config.js';
import { buildAuditSinkApp, type AuditSinkApp } from '../../services/audit-sink/audit-sink-app.js';
import type { SinkApp } from '../../services/sink-worker/sink-app.js';
import {
  createS3Bucket,
  createTopics,
  deleteS3Bucket,
  deleteTopics,
  gcsStorage,
  repoRoot,
  s3Client,
  sinkEnv,
  startSink,
  testKafka,
  uniqueName,
  writeTestPolicy,
} from './sink-stack.js';

const execFileP = promisify(execFile);

export { testAuditEvent as auditEvent } from './audit-events.js';

/** Produces audit events as the policy worker does: keyed by region (or 'none'), in one transaction. */
export async function produceAuditEvents(kafka: Kafka, topic: string, events: readonly AuditEvent[]): Promise<void> {
  const codec = createCodec('audit-event');
  const producer = kafka.producer({ idempotent: true, transactionalId: uniqueName('audit-test-tx'), maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const tx = await producer.transaction();
    await tx.send({
      topic,
      messages: events.map((e) => {
        const { payload, fingerprint } = codec.encode(e);
        return { key: e.region ?? 'none', value: payload, headers: { 'tf-schema': fingerprint, 'tf-record-id': e.recordId } };
      }),
    });
    await tx.commit();
  } finally {
    await producer.disconnect();
  }
}

/** Environment for the audit sink and the CLI: the stack's, with the test's policy and topic. */
export function auditEnv(overrides: Record<string, string>): Record<string, string> {
  return sinkEnv({
    TRACEFENCE_AUDIT_LINGER_MS: '200',
    TRACEFENCE_AUDIT_SESSION_TIMEOUT_MS: '10000',
    TRACEFENCE_AUDIT_RETRY_BUDGET_MS: '4000',
    TRACEFENCE_AUDIT_GUARD_INTERVAL_MS: '2000',
    ...overrides,
  });
}

export async function startAuditSink(overrides: Record<string, string>): Promise<AuditSinkApp> {
  const app = await buildAuditSinkApp(readAuditSinkConfig(auditEnv(overrides)), createLogger('audit-test', process.env['AUDIT_TEST_LOG_LEVEL'] ?? 'silent'));
  await app.start();
  return app;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tracefence <args>` as a child process with the given environment. */
export async function runCli(args: readonly string[], env: Record<string, string>): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [join(repoRoot, 'bin', 'tracefence.js'), ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
      cwd: repoRoot,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

// --- Tampering with stored objects (what an attacker with bucket write access could do).

export interface RawObject {
  body: Buffer;
  metadata: Record<string, string>;
}

export async function getS3Object(bucket: string, key: string): Promise<RawObject> {
  const s3 = s3Client();
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return { body: Buffer.from(await got.Body!.transformToByteArray()), metadata: head.Metadata ?? {} };
  } finally {
    s3.destroy();
  }
}

/** Overwrites (no create-only precondition) an S3 object. */
export async function putS3Object(bucket: string, key: string, obj: RawObject): Promise<void> {
  const s3 = s3Client();
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: obj.body, Metadata: obj.metadata }));
  } finally {
    s3.destroy();
  }
}

export async function deleteS3Object(bucket: string, key: string): Promise<void> {
  const s3 = s3Client();
  try {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  } finally {
    s3.destroy();
  }
}

export async function getGcsObject(bucket: string, endpoint: string, key: string): Promise<RawObject> {
  const file = gcsStorage(endpoint).bucket(bucket).file(key);
  const [[body], [meta]] = await Promise.all([file.download(), file.getMetadata()]);
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta.metadata ?? {})) if (v !== null && v !== undefined) metadata[k] = String(v);
  return { body, metadata };
}

export async function putGcsObject(bucket: string, endpoint: string, key: string, obj: RawObject): Promise<void> {
  await gcsStorage(endpoint).bucket(bucket).file(key).save(obj.body, { resumable: false, validation: false, metadata: { metadata: obj.metadata } });
}

export async function deleteGcsObject(bucket: string, endpoint: string, key: string): Promise<void> {
  await gcsStorage(endpoint).bucket(bucket).file(key).delete();
}

export { repoRoot };

/** Produces region records as the policy worker does (tf-tenant, tf-record-id headers), in one transaction. */
export async function produceRegionTraces(kafka: Kafka, topic: string, records: ReadonlyArray<{ recordId: string; tenant: string; traceId: string }>): Promise<void> {
  const producer = kafka.producer({ idempotent: true, transactionalId: uniqueName('audit-test-region-tx'), maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const tx = await producer.transaction();
    await tx.send({
      topic,
      messages: records.map((r) => ({
        key: r.traceId,
        value: Buffer.from(`record:${r.recordId};`, 'utf8'),
        headers: { 'tf-tenant': r.tenant, 'tf-record-id': r.recordId },
      })),
    });
    await tx.commit();
  } finally {
    await producer.disconnect();
  }
}

/**
 * One region (eu) end to end for the evidence commands: a fresh audit topic (3 partitions), region
 * topic (1 partition), S3 bucket in eu-central-1 and policy, with the real sink and audit sink
 * in-process. Call `start` from `before` and `stop` from `after`.
 */
export interface EuAuditStack {
  kafka: Kafka;
  auditTopic: string;
  regionTopic: string;
  bucket: string;
  /** Environment of the sinks and the CLI. */
  env: Record<string, string>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function euAuditStack(bucketPrefix: string): EuAuditStack {
  const kafka = testKafka();
  const auditTopic = uniqueName('test-audit');
  const regionTopic = uniqueName('test-region-eu');
  const bucket = uniqueName(bucketPrefix);
  const policy = writeTestPolicy([{ name: 'eu', topic: regionTopic, s3: ['eu-central-1'], gcs: ['EUROPE-WEST3'], buckets: [{ name: bucket, backend: 's3' }] }]);
  const env = auditEnv({ TRACEFENCE_POLICY_FILE: policy.file, TRACEFENCE_TOPIC_AUDIT: auditTopic, TRACEFENCE_AUDIT_GROUP_ID: uniqueName('test-audit-sink') });
  let sink: SinkApp | undefined;
  let auditSink: AuditSinkApp | undefined;
  return {
    kafka,
    auditTopic,
    regionTopic,
    bucket,
    env,
    async start() {
      await createTopics(kafka, [
        { topic: auditTopic, partitions: 3 },
        { topic: regionTopic, partitions: 1 },
      ]);
      await createS3Bucket(bucket, 'eu-central-1');
      sink = await startSink({ ...env, TRACEFENCE_SINK_REGION: 'eu', TRACEFENCE_SINK_GROUP_ID: uniqueName('test-sink') });
      auditSink = await startAuditSink(env);
    },
    async stop() {
      await sink?.close();
      await auditSink?.close();
      await deleteTopics(kafka, [auditTopic, regionTopic]);
      await deleteS3Bucket(bucket);
      policy.cleanup();
    },
  };
}
