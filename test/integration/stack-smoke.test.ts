/** One smoke test per real service of the local stack. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Storage } from '@google-cloud/storage';
import { Redis } from 'ioredis';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createKafka, ensureTopics } from '../../services/shared/kafka/kafka-client.js';
import { DEMO_AGENTS, DEV_BROKER_AUDIENCE } from '../../infra/oidc/demo-identities.js';
import { devCredentials, gcsEndpointEu, gcsEndpointUs, issuerUrl, kafkaBrokers, redisUrl, s3Endpoint, uniqueName } from '../helpers/stack.js';

test('kafka: produce and consume on a fresh topic', async () => {
  const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'smoke' });
  const topic = uniqueName('test-smoke');
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer({ idempotent: true });
  const consumer = kafka.consumer({ groupId: uniqueName('smoke-group') });
  try {
    await ensureTopics(admin, [{ topic, numPartitions: 1 }]);
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'k', value: 'hello kafka' }] });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const got = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message within 20s')), 20_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          clearTimeout(timer);
          resolve(message.value?.toString() ?? '');
        },
      });
    });
    assert.equal(got, 'hello kafka');
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
});

test('s3: a bucket created in eu-central-1 reports that region; put and get work', async () => {
  const s3 = new S3Client({ region: 'eu-central-1', endpoint: s3Endpoint, forcePathStyle: true, credentials: devCredentials, followRegionRedirects: false });
  const bucket = uniqueName('tf-smoke');
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-central-1' } }));
    const location = await s3.send(new GetBucketLocationCommand({ Bucket: bucket }));
    assert.equal(location.LocationConstraint, 'eu-central-1');
    const head = await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    assert.equal(head.BucketRegion, 'eu-central-1');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a.txt', Body: 'stored in frankfurt' }));
    const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'a.txt' }));
    assert.equal(await obj.Body?.transformToString(), 'stored in frankfurt');
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'a.txt' }));
  } finally {
    await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
    s3.destroy();
  }
});

test('s3: the deliberately misplaced bucket really lives in us-east-1', async () => {
  const s3 = new S3Client({ region: 'eu-central-1', endpoint: s3Endpoint, forcePathStyle: true, credentials: devCredentials, followRegionRedirects: false });
  try {
    const head = await s3.send(new HeadBucketCommand({ Bucket: 'tf-eu-misplaced' }));
    assert.equal(head.BucketRegion, 'us-east-1');
  } finally {
    s3.destroy();
  }
});

test('gcs: each emulator reports its location on bucket metadata; upload and download work', async () => {
  for (const [endpoint, location] of [
    [gcsEndpointEu, 'EUROPE-WEST3'],
    [gcsEndpointUs, 'US'],
  ] as const) {
    const storage = new Storage({ apiEndpoint: endpoint, projectId: 'tracefence-dev' });
    const name = uniqueName('tf-smoke');
    const [bucket] = await storage.createBucket(name);
    try {
      const [meta] = await bucket.getMetadata();
      assert.equal(meta.location, location);
      await bucket.file('b.txt').save('hello gcs', { resumable: false });
      const [content] = await bucket.file('b.txt').download();
      assert.equal(content.toString(), 'hello gcs');
      await bucket.file('b.txt').delete();
    } finally {
      await bucket.delete().catch(() => undefined);
    }
  }
});

test('redis: set and get', async () => {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  const key = uniqueName('smoke');
  try {
    await redis.connect();
    await redis.set(key, 'value', 'EX', 60);
    assert.equal(await redis.get(key), 'value');
    await redis.del(key);
  } finally {
    redis.disconnect();
  }
});

test('oidc: a client-credentials token is issued and verifies with issuer, audience, typ and algorithm', async () => {
  const agent = DEMO_AGENTS[0];
  assert.ok(agent);
  const config = await oidc.discovery(new URL(issuerUrl), agent.clientId, agent.clientSecret, undefined, {
    execute: [oidc.allowInsecureRequests],
  });
  const tokens = await oidc.clientCredentialsGrant(config, { scope: 'traces:write' });
  const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri ?? ''));
  const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
    issuer: issuerUrl,
    audience: DEV_BROKER_AUDIENCE,
    typ: 'at+jwt',
    algorithms: ['RS256'],
  });
  assert.equal(protectedHeader.alg, 'RS256');
  assert.equal(payload['tenant'], agent.tenant);
  assert.equal(payload['agent'], agent.agent);
  assert.equal(payload.sub, agent.clientId);
});
