/**
 * The thin slice, real at every hop: agents get tokens from the issuer and publish Avro traces;
 * the policy worker verifies, masks and routes them; one sink per region writes objects; each
 * trace is found in its own region's bucket only, masked, and held traces in none.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client, type BucketLocationConstraint } from '@aws-sdk/client-s3';
import { parse, stringify } from 'yaml';
import { createKafka, ensureTopics } from '../../services/shared/kafka/kafka-client.js';
import { projectTopicSpecs } from '../../services/shared/kafka/project-topics.js';
import { startTrace } from '../../services/agent-sdk/trace-builder.js';
import { createTokenSource } from '../../services/agent-sdk/token-source.js';
import { createTraceProducer } from '../../services/agent-sdk/trace-producer.js';
import { findLandings, type Landing } from '../../services/demo/find-landing.js';
import { startService, type ServiceProcess } from '../../services/demo/service-process.js';
import { DEMO_AGENTS, DEV_BROKER_AUDIENCE } from '../../infra/oidc/demo-identities.js';
import { devCredentials, issuerUrl, kafkaBrokers, repoRoot, s3Endpoint, serviceEnv, uniqueName } from '../helpers/stack.js';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';

const run = uniqueName('e2e');
const topics = {
  ingest: `${run}.ingest`,
  deadLetter: `${run}.deadletter`,
  audit: `${run}.audit`,
  held: `${run}.held`,
  eu: `${run}.region.eu`,
  us: `${run}.region.us`,
};
const buckets = { eu: `${run}-eu`, us: `${run}-us` };
const planted = { email: 'jane.roe@example.org', card: '4111 1111 1111 1111', phone: '+44 20 7946 0958' };
const services: ServiceProcess[] = [];
let policyFile = '';

function s3(region: string): S3Client {
  return new S3Client({ region, endpoint: s3Endpoint, forcePathStyle: true, credentials: devCredentials, followRegionRedirects: false });
}

before(async () => {
  // A policy like the development one, pointed at this test's own topics and buckets.
  const policy = parse(readFileSync(join(repoRoot, 'infra', 'policy.dev.yaml'), 'utf8')) as {
    regions: Record<string, { topic: string; buckets: Array<{ name: string; backend: string }> }>;
  };
  for (const region of ['eu', 'us'] as const) {
    const r = policy.regions[region];
    assert.ok(r);
    r.topic = topics[region];
    r.buckets = [{ name: buckets[region], backend: 's3' }];
  }
  policyFile = join(mkdtempSync(join(tmpdir(), 'tf-e2e-')), 'policy.yaml');
  writeFileSync(policyFile, stringify(policy));

  for (const [region, location] of [
    ['eu', 'eu-central-1'],
    ['us', 'us-east-1'],
  ] as const) {
    const client = s3(location);
    await client.send(
      new CreateBucketCommand({
        Bucket: buckets[region],
        ...(location === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: location as BucketLocationConstraint } }),
      }),
    );
    client.destroy();
  }

  const admin = createKafka({ brokers: kafkaBrokers, clientId: 'e2e' }).admin();
  await admin.connect();
  await ensureTopics(admin, projectTopicSpecs({ ...topics, regionTopics: [topics.eu, topics.us] }, 2));
  await admin.disconnect();

  const env = {
    ...process.env,
    ...serviceEnv,
    TRACEFENCE_POLICY_FILE: policyFile,
    TRACEFENCE_TOPIC_INGEST: topics.ingest,
    TRACEFENCE_TOPIC_DEADLETTER: topics.deadLetter,
    TRACEFENCE_TOPIC_AUDIT: topics.audit,
    TRACEFENCE_TOPIC_HELD: topics.held,
    TRACEFENCE_PSEUDONYM_KEY: randomBytes(32).toString('base64'),
  };
  services.push(
    await startService('policy-worker', 'services/policy-worker/main.ts', [], { ...env, TRACEFENCE_GROUP_ID: `${run}-policy`, TRACEFENCE_INSTANCE_ID: run }, repoRoot),
    await startService('sink-eu', 'services/sink-worker/main.ts', ['--region', 'eu'], { ...env, TRACEFENCE_SINK_GROUP_ID: `${run}-sink-eu`, TRACEFENCE_SINK_MAX_BATCH_AGE_MS: '1000' }, repoRoot),
    await startService('sink-us', 'services/sink-worker/main.ts', ['--region', 'us'], { ...env, TRACEFENCE_SINK_GROUP_ID: `${run}-sink-us`, TRACEFENCE_SINK_MAX_BATCH_AGE_MS: '1000' }, repoRoot),
  );
  await Promise.all(services.map((s) => s.waitHealthy(90_000)));
});

after(async () => {
  const codes = await Promise.all(services.map((s) => s.stop('SIGTERM')));
  const admin = createKafka({ brokers: kafkaBrokers, clientId: 'e2e' }).admin();
  await admin.connect();
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  await admin.disconnect();
  // A clean SIGTERM stop exits 0 for every service.
  assert.deepEqual(codes, services.map(() => 0));
});

async function publish(clientId: string, count: number): Promise<string[]> {
  const agent = DEMO_AGENTS.find((a) => a.clientId === clientId);
  assert.ok(agent);
  const tokens = createTokenSource({ issuer: issuerUrl, clientId, clientSecret: agent.clientSecret, resource: DEV_BROKER_AUDIENCE, scope: 'traces:write' });
  const producer = await createTraceProducer({ brokers: kafkaBrokers, topic: topics.ingest, tokens });
  const ids: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const t = startTrace({ tenant: agent.tenant, agent: agent.agent });
      const step = t.llmStep({ provider: 'anthropic', model: 'claude' });
      step.input('user', `Please email ${planted.email}, card ${planted.card}, phone ${planted.phone} (#${i})`);
      step.output('assistant', 'Done.');
      step.end();
      const record = t.end();
      ids.push(record.recordId);
      await producer.send(record);
    }
  } finally {
    await producer.close();
  }
  return ids;
}

async function waitForLandings(ids: ReadonlySet<string>, timeoutMs: number): Promise<Landing[]> {
  const refs = [
    { name: buckets.eu, backend: 's3' as const, endpoint: s3Endpoint },
    { name: buckets.us, backend: 's3' as const, endpoint: s3Endpoint },
  ];
  const deadline = Date.now() + timeoutMs;
  let landings: Landing[] = [];
  while (Date.now() < deadline) {
    landings = await findLandings(refs, ids, devCredentials);
    if (new Set(landings.map((l) => l.recordId)).size >= ids.size) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  return landings;
}

test('each tenant’s traces land only in its own region’s bucket, masked; undecidable ones are held', async () => {
  const acme = await publish('agent-acme-support', 5);
  const globex = await publish('agent-globex-research', 5);
  const initech = await publish('agent-initech-ops', 2);

  const all = new Set([...acme, ...globex, ...initech]);
  const landings = await waitForLandings(new Set([...acme, ...globex]), 60_000);

  for (const id of acme) {
    const where = landings.filter((l) => l.recordId === id);
    assert.equal(where.length, 1, `acme record ${id} must be in exactly one object`);
    assert.equal(where[0]?.bucket, buckets.eu);
    assert.equal(where[0]?.bucketLocation, 'eu-central-1');
  }
  for (const id of globex) {
    const where = landings.filter((l) => l.recordId === id);
    assert.equal(where.length, 1, `globex record ${id} must be in exactly one object`);
    assert.equal(where[0]?.bucket, buckets.us);
    assert.equal(where[0]?.bucketLocation, 'us-east-1');
  }
  // initech declares no region and has no home region: held, never written to a default region.
  assert.equal(landings.filter((l) => initech.includes(l.recordId)).length, 0);
  assert.equal(landings.filter((l) => !all.has(l.recordId)).length, 0);

  // No planted value survives in any stored object.
  for (const key of new Set(landings.map((l) => `${l.bucket}\n${l.key}`))) {
    const [bucket, objectKey] = key.split('\n') as [string, string];
    const client = s3('us-east-1');
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey }));
    const text = gunzipSync(Buffer.from(await res.Body!.transformToByteArray())).toString('utf8');
    client.destroy();
    for (const value of Object.values(planted)) assert.ok(!text.includes(value), `${value} leaked into ${objectKey}`);
    assert.ok(!text.includes('eyJ'), 'no token may reach a bucket');
  }
});
