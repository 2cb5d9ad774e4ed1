/**
 * A bucket that reports the wrong location, or replicates to another jurisdiction, receives
 * nothing; the guard metric and a GUARD_BLOCKED audit event say why. Once fixed, writes resume.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DeleteBucketReplicationCommand, PutBucketReplicationCommand } from '@aws-sdk/client-s3';
import type { SinkApp } from '../../services/sink-worker/sink-app.js';
import {
  createS3Bucket,
  createTopics,
  deleteS3Bucket,
  deleteTopics,
  gcsUsEndpoint,
  idOf,
  jsonLines,
  metricValue,
  produceRegionRecords,
  readAuditEvents,
  readGcsObjects,
  readS3Objects,
  s3Client,
  startSink,
  testKafka,
  uniqueName,
  waitFor,
  writeTestPolicy,
} from '../helpers/sink-stack.js';

const MISPLACED_S3 = 'tf-eu-misplaced';
const MISPLACED_GCS = 'tf-eu-misplaced-gcs';

describe('sink: bucket location guard', { timeout: 60_000 }, () => {
  const kafka = testKafka();
  const topic = uniqueName('test-region-eu');
  const auditTopic = uniqueName('test-audit');
  const replicated = uniqueName('tf-test-eu-repl');
  const replica = uniqueName('tf-test-us-replica');
  const policy = writeTestPolicy([
    {
      name: 'eu',
      topic,
      s3: ['eu-central-1', 'eu-west-1'],
      gcs: ['EUROPE-WEST3', 'EU'],
      buckets: [
        { name: MISPLACED_S3, backend: 's3' },
        { name: MISPLACED_GCS, backend: 'gcs' },
        { name: replicated, backend: 's3' },
      ],
    },
  ]);
  const sinks: SinkApp[] = [];
  const common = { TRACEFENCE_POLICY_FILE: policy.file, TRACEFENCE_TOPIC_AUDIT: auditTopic };
  const group = uniqueName('tracefence-sink-test');
  const records = Array.from({ length: 12 }, (_, i) => ({ partition: i % 2, tenant: 'acme', id: `guard-${i}` }));

  before(async () => {
    await Promise.all([
      createTopics(kafka, [
        { topic, partitions: 2 },
        { topic: auditTopic, partitions: 1 },
      ]),
      // moto replicates only between versioned buckets.
      createS3Bucket(replicated, 'eu-central-1', true),
      createS3Bucket(replica, 'us-east-1', true),
    ]);
    const s3 = s3Client('eu-central-1');
    try {
      await s3.send(
        new PutBucketReplicationCommand({
          Bucket: replicated,
          ReplicationConfiguration: {
            Role: 'arn:aws:iam::123456789012:role/replication',
            Rules: [{ ID: 'to-us', Status: 'Enabled', Priority: 1, Filter: { Prefix: '' }, DeleteMarkerReplication: { Status: 'Disabled' }, Destination: { Bucket: `arn:aws:s3:::${replica}` } }],
          },
        }),
      );
    } finally {
      s3.destroy();
    }
    await produceRegionRecords(kafka, topic, records);
    sinks.push(
      await startSink({ ...common, TRACEFENCE_SINK_REGION: 'eu', TRACEFENCE_SINK_GROUP_ID: `${group}-s3` }),
      await startSink({ ...common, TRACEFENCE_SINK_GROUP_ID: `${group}-gcs` }, ['--region', 'eu', '--bucket', MISPLACED_GCS]),
      await startSink({ ...common, TRACEFENCE_SINK_GROUP_ID: `${group}-repl` }, ['--region', 'eu', '--bucket', replicated]),
    );
  });

  after(async () => {
    await Promise.allSettled(sinks.map((s) => s.close()));
    await Promise.allSettled([deleteS3Bucket(replicated), deleteS3Bucket(replica), deleteTopics(kafka, [topic, auditTopic])]);
    policy.cleanup();
  });

  it('refuses the misplaced S3 and GCS buckets and the bucket replicating to us-east-1, and says why', async () => {
    const [s3Sink, gcsSink, replSink] = sinks;
    for (const [sink, bucket] of [
      [s3Sink, MISPLACED_S3],
      [gcsSink, MISPLACED_GCS],
      [replSink, replicated],
    ] as const) {
      const text = await sink!.registry.metrics();
      assert.equal(metricValue(text, 'tracefence_sink_bucket_guard_ok', { region: 'eu', bucket }), 0, `${bucket} guard gauge`);
      assert.equal(sink!.worker.ready(), false);
      const health = await fetch(`http://127.0.0.1:${sink!.opsPort()}/healthz`);
      assert.equal(health.status, 503);
    }
    assert.equal(sinks[2]!.worker.guard.current()?.reasonCode, 'BUCKET_LOCATION_MISMATCH');
    assert.match(sinks[2]!.worker.guard.current()?.detail ?? '', new RegExp(`replication:${replica}:.*us-east-1`));

    const events = await readAuditEvents(kafka, auditTopic, 3);
    const byBucket = new Map(events.map((e) => [e.event.bucket, e] as const));
    for (const bucket of [`s3://${MISPLACED_S3}`, `gcs://${MISPLACED_GCS}`, `s3://${replicated}`]) {
      const e = byBucket.get(bucket);
      assert.ok(e, `no audit event for ${bucket}`);
      assert.equal(e.event.decision, 'GUARD_BLOCKED');
      assert.equal(e.event.reasonCode, 'BUCKET_LOCATION_MISMATCH');
      assert.equal(e.event.region, 'eu');
      assert.match(e.event.bucketLocation ?? '', /allowed /);
      assert.ok((e.headers['tf-guard-allowed'] ?? '').length > 0);
    }
    assert.match(byBucket.get(`s3://${MISPLACED_S3}`)?.headers['tf-guard-reported'] ?? '', /us-east-1/);
    assert.match(byBucket.get(`gcs://${MISPLACED_GCS}`)?.headers['tf-guard-reported'] ?? '', /=US/);

    // Give the sinks time to (wrongly) write; nothing of this topic may appear anywhere.
    await new Promise((r) => setTimeout(r, 2_000));
    const misplacedS3 = (await readS3Objects(MISPLACED_S3)).filter((o) => o.key.includes(topic));
    const misplacedGcs = (await readGcsObjects(MISPLACED_GCS, gcsUsEndpoint)).filter((o) => o.key.includes(topic));
    assert.deepEqual(misplacedS3, []);
    assert.deepEqual(misplacedGcs, []);
    assert.deepEqual(await readS3Objects(replicated), []);
    assert.deepEqual(await readS3Objects(replica), []);
  });

  it('resumes writing once the replication to another jurisdiction is removed', async () => {
    const s3 = s3Client('eu-central-1');
    try {
      await s3.send(new DeleteBucketReplicationCommand({ Bucket: replicated }));
    } finally {
      s3.destroy();
    }
    const objects = await waitFor('objects after the fix', async () => {
      const objs = await readS3Objects(replicated);
      return objs.flatMap(jsonLines).length >= records.length ? objs : undefined;
    }, 20_000);
    assert.deepEqual(objects.flatMap(jsonLines).map(idOf).sort(), records.map((r) => r.id).sort());
    const text = await sinks[2]!.registry.metrics();
    assert.equal(metricValue(text, 'tracefence_sink_bucket_guard_ok', { region: 'eu', bucket: replicated }), 1);
  });
});
