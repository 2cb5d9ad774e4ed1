/**
 * Test helpers for the region sink against the local stack: fresh topics, buckets and policy
 * files per test, a producer that writes region records the way the policy worker does, and
 * readers for what landed in the buckets.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  S3Client,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { Storage } from '@google-cloud/storage';
import { createKafka, ensureTopics, type Kafka } from '../../services/shared/kafka/kafka-client.js';
import { devServiceEnv, readStackEnv, stackValue } from '../../infra/stack-env.js';
import { readSinkConfig, type SinkConfig } from '../../services/sink-worker/sink-config.js';
import { createLogger } from '../../services/shared/logger.js';
import { buildSinkApp, type SinkApp } from '../../services/sink-worker/sink-app.js';
import { createCodec } from '../../services/shared/avro/codec.js';
import type { AuditEvent } from '../../services/shared/avro/types.js';

export const repoRoot = join(import.meta.dirname, '..', '..');
export const stack = readStackEnv();
export const serviceEnv: Readonly<Record<string, string>> = devServiceEnv(stack, repoRoot);
export const gcsEuEndpoint = `http://127.0.0.1:${stackValue(stack, 'GCS_EU_PORT')}`;
export const gcsUsEndpoint = `http://127.0.0.1:${stackValue(stack, 'GCS_US_PORT')}`;

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 12)}`;
}

export function s3Client(region = 'us-east-1'): S3Client {
  return new S3Client({
    region,
    endpoint: serviceEnv['TRACEFENCE_S3_ENDPOINT'],
    forcePathStyle: true,
    credentials: { accessKeyId: 'tracefence-dev', secretAccessKey: 'tracefence-dev' },
  });
}

export async function createS3Bucket(name: string, region: string, versioned = false): Promise<void> {
  const s3 = s3Client(region);
  try {
    await s3.send(
      new CreateBucketCommand({
        Bucket: name,
        ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
      }),
    );
    if (versioned) await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
  } finally {
    s3.destroy();
  }
}

export async function deleteS3Bucket(name: string): Promise<void> {
  const s3 = s3Client();
  try {
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: name }));
    for (const v of [...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])]) {
      await s3.send(new DeleteObjectCommand({ Bucket: name, Key: v.Key, VersionId: v.VersionId }));
    }
    for (const obj of await listS3Keys(s3, name)) await s3.send(new DeleteObjectCommand({ Bucket: name, Key: obj }));
    await s3.send(new DeleteBucketCommand({ Bucket: name }));
  } catch {
    // Best effort: a leftover test bucket does not break other tests (names are unique).
  } finally {
    s3.destroy();
  }
}

async function listS3Keys(s3: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return keys;
}

export function gcsStorage(endpoint: string): Storage {
  return new Storage({ apiEndpoint: endpoint, projectId: 'tracefence-dev' });
}

/** bucket=endpoint entries of the GCS buckets tests created, added to TRACEFENCE_GCS_ENDPOINTS. */
const testGcsEndpoints: string[] = [];

export async function createGcsBucket(name: string, endpoint: string): Promise<void> {
  await gcsStorage(endpoint).createBucket(name);
  testGcsEndpoints.push(`${name}=${endpoint}`);
}

export async function deleteGcsBucket(name: string, endpoint: string): Promise<void> {
  try {
    const bucket = gcsStorage(endpoint).bucket(name);
    await bucket.deleteFiles({ force: true });
    await bucket.delete();
  } catch {
    // Best effort, as for S3.
  }
}

export interface StoredObject {
  key: string;
  metadata: Record<string, string>;
  body: Buffer;
}

export async function readS3Objects(bucket: string): Promise<StoredObject[]> {
  const s3 = s3Client();
  try {
    const out: StoredObject[] = [];
    for (const key of await listS3Keys(s3, bucket)) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const body = Buffer.from(await got.Body!.transformToByteArray());
      out.push({ key, metadata: head.Metadata ?? {}, body });
    }
    return out.sort((a, b) => a.key.localeCompare(b.key));
  } finally {
    s3.destroy();
  }
}

export async function readGcsObjects(bucket: string, endpoint: string): Promise<StoredObject[]> {
  const [files] = await gcsStorage(endpoint).bucket(bucket).getFiles();
  const out: StoredObject[] = [];
  for (const f of files) {
    const [meta] = await f.getMetadata();
    const [body] = await f.download();
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(meta.metadata ?? {})) if (v !== null && v !== undefined) metadata[k] = String(v);
    out.push({ key: f.name, metadata, body });
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

export interface JsonLine {
  offset: string;
  timestamp: string;
  headers: Record<string, string>;
  payload?: string;
  trace?: unknown;
}

export function jsonLines(obj: StoredObject): JsonLine[] {
  return gunzipSync(obj.body)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as JsonLine);
}

export function testKafka(): Kafka {
  return createKafka({ brokers: [serviceEnv['TRACEFENCE_KAFKA_BROKERS'] ?? ''], clientId: uniqueName('sink-test') });
}

export async function createTopics(kafka: Kafka, topics: ReadonlyArray<{ topic: string; partitions: number }>): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, topics.map((t) => ({ topic: t.topic, numPartitions: t.partitions })));
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.deleteTopics({ topics, timeout: 5000 });
  } catch {
    // Best effort.
  } finally {
    await admin.disconnect();
  }
}

export interface RegionRecord {
  partition: number;
  tenant: string;
  /** Unique marker put in the payload so a test can find the record again. */
  id: string;
  bytes?: number;
}

/** Produces records as the policy worker does: tf-tenant header, opaque payload, in one transaction per call. */
export async function produceRegionRecords(kafka: Kafka, topic: string, records: readonly RegionRecord[], extraHeaders: Record<string, string> = {}): Promise<void> {
  const producer = kafka.producer({ idempotent: true, transactionalId: uniqueName('sink-test-tx'), maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const tx = await producer.transaction();
    const byPartition = new Map<number, RegionRecord[]>();
    for (const r of records) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r]);
    await tx.send({
      topic,
      messages: records.map((r) => ({
        partition: r.partition,
        key: r.tenant,
        value: payloadFor(r),
        headers: { 'tf-tenant': r.tenant, ...extraHeaders },
      })),
    });
    await tx.commit();
  } finally {
    await producer.disconnect();
  }
}

export function payloadFor(r: RegionRecord): Buffer {
  const head = Buffer.from(`record:${r.id};`, 'utf8');
  const pad = Math.max(0, (r.bytes ?? 0) - head.length);
  return Buffer.concat([head, Buffer.alloc(pad, 0x61)]);
}

/** Record id out of a stored JSON line (payload is base64 of the opaque test payload). */
export function idOf(line: JsonLine): string {
  const text = Buffer.from(line.payload ?? '', 'base64').toString('utf8');
  const m = /^record:([^;]+);/.exec(text);
  return m?.[1] ?? '';
}

export interface TestRegion {
  name: string;
  topic: string;
  s3: string[];
  gcs: string[];
  buckets: Array<{ name: string; backend: 's3' | 'gcs' }>;
  requireBucketEncryption?: boolean;
}

/** A policy file for the test's regions and buckets, in a fresh temp directory. */
export function writeTestPolicy(regions: readonly TestRegion[]): { file: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tf-sink-policy-'));
  const lines = ['version: 1', 'regions:'];
  for (const r of regions) {
    lines.push(
      `  ${r.name}:`,
      `    jurisdiction: ${r.name.toUpperCase()}`,
      `    topic: ${r.topic}`,
      '    allowedLocations:',
      `      s3: [${r.s3.join(', ')}]`,
      `      gcs: [${r.gcs.join(', ')}]`,
      '    encryption:',
      `      s3: { mode: sse-s3${r.requireBucketEncryption === true ? ', requireBucketDefault: true' : ''} }`,
      '    buckets:',
      ...r.buckets.map((b) => `      - { name: ${b.name}, backend: ${b.backend} }`),
    );
  }
  lines.push(
    'tenants:',
    '  acme:',
    `    homeRegion: ${regions[0]?.name ?? 'eu'}`,
    `    allowedRegions: [${regions.map((r) => r.name).join(', ')}]`,
    '    crossBorder: hold',
    '    maskingProfile: default',
    'masking:',
    '  profiles:',
    '    default:',
    '      default: redact',
    'classification:',
    '  customDetectors: []',
    'approval:',
    '  minApprovals: 1',
    '  ttlHours: 72',
  );
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, lines.join('\n') + '\n');
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Environment for a sink under test: the stack's, plus fast batching and a unique group. */
export function sinkEnv(overrides: Record<string, string>): Record<string, string> {
  return {
    ...serviceEnv,
    TRACEFENCE_GCS_ENDPOINTS: [serviceEnv['TRACEFENCE_GCS_ENDPOINTS'], ...testGcsEndpoints].filter(Boolean).join(','),
    TRACEFENCE_HTTP_PORT: '0',
    TRACEFENCE_SINK_MAX_BATCH_AGE_MS: '500',
    TRACEFENCE_SINK_SESSION_TIMEOUT_MS: '10000',
    TRACEFENCE_SINK_RETRY_BUDGET_MS: '5000',
    TRACEFENCE_SINK_GUARD_INTERVAL_MS: '2000',
    TRACEFENCE_SINK_LAG_INTERVAL_MS: '1000',
    LOG_LEVEL: 'warn',
    ...overrides,
  };
}

export function sinkConfig(overrides: Record<string, string>, argv: string[] = []): Readonly<SinkConfig> {
  return readSinkConfig(sinkEnv(overrides), argv);
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${lastErr === undefined ? '' : `: ${String(lastErr)}`}`);
}

/** Value of one metric sample from Prometheus text, matching all given labels. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

// --- In-process sinks and the audit topic.

export async function startSink(overrides: Record<string, string>, argv: string[] = []): Promise<SinkApp> {
  const config = sinkConfig(overrides, argv);
  const app = await buildSinkApp(config, createLogger('sink-test', process.env['SINK_TEST_LOG_LEVEL'] ?? 'silent'));
  await app.start();
  return app;
}

export interface AuditRead {
  event: AuditEvent;
  headers: Record<string, string>;
}

/** Reads every audit event on a (test) audit topic seen so far. */
export async function readAuditEvents(kafka: Kafka, topic: string, atLeast: number, timeoutMs = 15_000): Promise<AuditRead[]> {
  const codec = createCodec('audit-event');
  const consumer = kafka.consumer({ groupId: uniqueName('sink-test-audit') });
  const out: AuditRead[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = Array.isArray(v) ? String(v[0]) : v.toString();
        out.push({ event: codec.decode(message.value ?? Buffer.alloc(0), headers['tf-schema']), headers });
      },
    });
    await waitFor('audit events', async () => out.length >= atLeast, timeoutMs);
  } finally {
    await consumer.disconnect();
  }
  return out;
}
