/**
 * Creates what the local stack needs after its servers are up: the project topics and the
 * buckets, each in its real region or location. Idempotent: safe to run on every start.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { CreateBucketCommand, S3Client, type BucketLocationConstraint } from '@aws-sdk/client-s3';
import { Storage } from '@google-cloud/storage';
import { parse as parseYaml } from 'yaml';
import { createKafka, ensureTopics } from '../services/shared/kafka/kafka-client.js';
import { projectTopicSpecs } from '../services/shared/kafka/project-topics.js';
import { devServiceEnv, parsePairs, readStackEnv, stackValue } from './stack-env.js';

const repo = join(import.meta.dirname, '..');
const stack = readStackEnv();
const env = devServiceEnv(stack, repo);

async function withRetry<T>(what: string, fn: () => Promise<T>, attempts = 30): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function regionTopicsFromPolicy(): string[] {
  const doc = parseYaml(readFileSync(env['TRACEFENCE_POLICY_FILE'] ?? '', 'utf8')) as { regions?: Record<string, { topic?: string }> };
  return Object.values(doc.regions ?? {}).flatMap((r) => (typeof r.topic === 'string' ? [r.topic] : []));
}

async function createTopics(): Promise<void> {
  const kafka = createKafka({ brokers: [env['TRACEFENCE_KAFKA_BROKERS'] ?? ''], clientId: 'tracefence-bootstrap' });
  const admin = kafka.admin();
  await withRetry('kafka admin connect', () => admin.connect());
  try {
    const created = await withRetry('create topics', () =>
      ensureTopics(
        admin,
        projectTopicSpecs({
          ingest: stackValue(stack, 'TOPIC_INGEST'),
          deadLetter: stackValue(stack, 'TOPIC_DEADLETTER'),
          audit: stackValue(stack, 'TOPIC_AUDIT'),
          held: stackValue(stack, 'TOPIC_HELD'),
          regionTopics: regionTopicsFromPolicy(),
        }),
      ),
    );
    if (created.length > 0) console.error(`[stack] topics created: ${created.join(', ')}`);
  } finally {
    await admin.disconnect();
  }
}

async function createS3Buckets(): Promise<void> {
  for (const [bucket, region] of parsePairs(stackValue(stack, 'S3_BUCKETS'))) {
    const s3 = new S3Client({
      region,
      endpoint: env['TRACEFENCE_S3_ENDPOINT'],
      forcePathStyle: true,
      credentials: { accessKeyId: 'tracefence-dev', secretAccessKey: 'tracefence-dev' },
    });
    try {
      await s3.send(
        new CreateBucketCommand({
          Bucket: bucket,
          ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
        }),
      );
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
    } finally {
      s3.destroy();
    }
  }
}

async function createGcsBuckets(): Promise<void> {
  const servers: Array<[string, string]> = [
    [`http://127.0.0.1:${stackValue(stack, 'GCS_EU_PORT')}`, stackValue(stack, 'GCS_EU_BUCKETS')],
    [`http://127.0.0.1:${stackValue(stack, 'GCS_US_PORT')}`, stackValue(stack, 'GCS_US_BUCKETS')],
  ];
  for (const [apiEndpoint, buckets] of servers) {
    const storage = new Storage({ apiEndpoint, projectId: 'tracefence-dev' });
    for (const bucket of buckets.split(/\s+/).filter(Boolean)) {
      const [exists] = await storage.bucket(bucket).exists();
      if (!exists) await storage.createBucket(bucket);
    }
  }
}

await Promise.all([createTopics(), createS3Buckets(), createGcsBuckets()]);
