/**
 * Records of region A land only in region A's buckets, on S3 and on GCS, each exactly once,
 * under deterministic keys, without credential headers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SinkApp } from '../../services/sink-worker/sink-app.js';
import {
  createGcsBucket,
  createS3Bucket,
  createTopics,
  deleteGcsBucket,
  deleteS3Bucket,
  deleteTopics,
  gcsEuEndpoint,
  gcsUsEndpoint,
  idOf,
  jsonLines,
  metricValue,
  produceRegionRecords,
  readGcsObjects,
  readS3Objects,
  startSink,
  testKafka,
  uniqueName,
  waitFor,
  writeTestPolicy,
  type RegionRecord,
  type StoredObject,
} from '../helpers/sink-stack.js';

const KEY_PATTERN = /^tenant=([A-Za-z0-9._-]+)\/date=(\d{4}-\d{2}-\d{2})\/([^/]+)\/(\d+)\/(\d{20})\.jsonl\.gz$/;

function idsIn(objects: readonly StoredObject[]): string[] {
  return objects.flatMap((o) => jsonLines(o).map(idOf));
}

describe('sink: records of a region land only in that region', { timeout: 60_000 }, () => {
  const kafka = testKafka();
  const euTopic = uniqueName('test-region-eu');
  const usTopic = uniqueName('test-region-us');
  const auditTopic = uniqueName('test-audit');
  const buckets = {
    euS3: uniqueName('tf-test-eu'),
    usS3: uniqueName('tf-test-us'),
    euGcs: uniqueName('tf-test-eu-gcs'),
    usGcs: uniqueName('tf-test-us-gcs'),
  };
  const policy = writeTestPolicy([
    {
      name: 'eu',
      topic: euTopic,
      s3: ['eu-central-1'],
      gcs: ['EUROPE-WEST3'],
      buckets: [
        { name: buckets.euS3, backend: 's3' },
        { name: buckets.euGcs, backend: 'gcs' },
      ],
    },
    {
      name: 'us',
      topic: usTopic,
      s3: ['us-east-1'],
      gcs: ['US'],
      buckets: [
        { name: buckets.usS3, backend: 's3' },
        { name: buckets.usGcs, backend: 'gcs' },
      ],
    },
  ]);
  const sinks: SinkApp[] = [];
  const euRecords: RegionRecord[] = [];
  const usRecords: RegionRecord[] = [];

  before(async () => {
    await Promise.all([
      createTopics(kafka, [
        { topic: euTopic, partitions: 3 },
        { topic: usTopic, partitions: 2 },
        { topic: auditTopic, partitions: 1 },
      ]),
      createS3Bucket(buckets.euS3, 'eu-central-1'),
      createS3Bucket(buckets.usS3, 'us-east-1'),
      createGcsBucket(buckets.euGcs, gcsEuEndpoint),
      createGcsBucket(buckets.usGcs, gcsUsEndpoint),
    ]);
    for (let i = 0; i < 60; i++) euRecords.push({ partition: i % 3, tenant: i % 4 === 0 ? 'globex' : 'acme', id: `eu-${i}` });
    for (let i = 0; i < 20; i++) usRecords.push({ partition: i % 2, tenant: 'globex', id: `us-${i}` });
    // A credential header must never reach a bucket, whatever an upstream did.
    await produceRegionRecords(kafka, euTopic, euRecords, { authorization: 'Bearer not-a-real-token', 'tf-trace-kind': 'test' });
    await produceRegionRecords(kafka, usTopic, usRecords);
    const common = { TRACEFENCE_POLICY_FILE: policy.file, TRACEFENCE_TOPIC_AUDIT: auditTopic };
    const groupBase = uniqueName('tracefence-sink-test');
    sinks.push(
      await startSink({ ...common, TRACEFENCE_SINK_REGION: 'eu', TRACEFENCE_SINK_GROUP_ID: `${groupBase}-eu-s3` }),
      await startSink({ ...common, TRACEFENCE_SINK_GROUP_ID: `${groupBase}-eu-gcs` }, ['--region', 'eu', '--bucket', buckets.euGcs]),
      await startSink({ ...common, TRACEFENCE_SINK_REGION: 'us', TRACEFENCE_SINK_GROUP_ID: `${groupBase}-us-s3` }),
      await startSink({ ...common, TRACEFENCE_SINK_GROUP_ID: `${groupBase}-us-gcs` }, ['--region=us', `--bucket=${buckets.usGcs}`]),
    );
  });

  after(async () => {
    await Promise.allSettled(sinks.map((s) => s.close()));
    await Promise.allSettled([
      deleteS3Bucket(buckets.euS3),
      deleteS3Bucket(buckets.usS3),
      deleteGcsBucket(buckets.euGcs, gcsEuEndpoint),
      deleteGcsBucket(buckets.usGcs, gcsUsEndpoint),
      deleteTopics(kafka, [euTopic, usTopic, auditTopic]),
    ]);
    policy.cleanup();
  });

  it('writes every eu record exactly once to the eu S3 and eu GCS buckets, and nothing of eu to us', async () => {
    const want = euRecords.map((r) => r.id).sort();
    const euS3 = await waitFor('eu S3 objects', async () => {
      const objs = await readS3Objects(buckets.euS3);
      return idsIn(objs).length >= want.length ? objs : undefined;
    });
    const euGcs = await waitFor('eu GCS objects', async () => {
      const objs = await readGcsObjects(buckets.euGcs, gcsEuEndpoint);
      return idsIn(objs).length >= want.length ? objs : undefined;
    });
    assert.deepEqual(idsIn(euS3).sort(), want);
    assert.deepEqual(idsIn(euGcs).sort(), want);

    const usWant = usRecords.map((r) => r.id).sort();
    const usS3 = await waitFor('us S3 objects', async () => {
      const objs = await readS3Objects(buckets.usS3);
      return idsIn(objs).length >= usWant.length ? objs : undefined;
    });
    const usGcs = await waitFor('us GCS objects', async () => {
      const objs = await readGcsObjects(buckets.usGcs, gcsUsEndpoint);
      return idsIn(objs).length >= usWant.length ? objs : undefined;
    });
    assert.deepEqual(idsIn(usS3).sort(), usWant);
    assert.deepEqual(idsIn(usGcs).sort(), usWant);
    for (const o of [...usS3, ...usGcs]) assert.ok(!o.key.includes(euTopic), `eu object ${o.key} in a us bucket`);
    for (const o of [...euS3, ...euGcs]) assert.ok(!o.key.includes(usTopic), `us object ${o.key} in an eu bucket`);
  });

  it('names objects by tenant, date, topic, partition and first offset, one tenant per object, with offsets in metadata', async () => {
    const objects = [...(await readS3Objects(buckets.euS3)), ...(await readGcsObjects(buckets.euGcs, gcsEuEndpoint))];
    assert.ok(objects.length > 0);
    for (const o of objects) {
      const m = KEY_PATTERN.exec(o.key);
      assert.ok(m, `unexpected key ${o.key}`);
      const [, tenant, , topic, partition, first] = m;
      assert.equal(topic, euTopic);
      const lines = jsonLines(o);
      assert.equal(BigInt(first!), BigInt(lines[0]!.offset));
      assert.equal(o.metadata['tf-first-offset'], lines[0]!.offset);
      assert.equal(o.metadata['tf-last-offset'], lines.at(-1)!.offset);
      assert.equal(o.metadata['tf-record-count'], String(lines.length));
      assert.equal(o.metadata['tf-partition'], partition);
      assert.match(o.metadata['tf-sha256'] ?? '', /^[0-9a-f]{64}$/);
      for (const line of lines) {
        assert.equal(line.headers['tf-tenant'], tenant, 'a batch holds one tenant');
        assert.equal(line.headers['authorization'], undefined, 'credential header stored');
        assert.equal(line.headers['tf-trace-kind'], 'test');
      }
    }
  });

  it('reports guard state, objects and records as metrics', async () => {
    const text = await sinks[0]!.registry.metrics();
    assert.equal(metricValue(text, 'tracefence_sink_bucket_guard_ok', { region: 'eu', bucket: buckets.euS3 }), 1);
    assert.ok((metricValue(text, 'tracefence_sink_records_total', { region: 'eu', bucket: buckets.euS3 }) ?? 0) >= euRecords.length);
    assert.ok((metricValue(text, 'tracefence_sink_objects_total', { region: 'eu', bucket: buckets.euS3 }) ?? 0) >= 3);
    const health = await fetch(`http://127.0.0.1:${sinks[0]!.opsPort()}/healthz`);
    assert.equal(health.status, 200);
  });
});
