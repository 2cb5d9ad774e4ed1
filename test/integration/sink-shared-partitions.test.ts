/**
 * Two sink instances of one region (one consumer group) share the topic's partitions without
 * overlap: disjoint assignments, every record written once, no create-only conflicts. The
 * instances write Avro object container files to GCS here, to cover that format and backend.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import avro from 'avsc';
import type { SinkApp } from '../../services/sink-worker/sink-app.js';
import {
  createGcsBucket,
  createTopics,
  deleteGcsBucket,
  deleteTopics,
  gcsEuEndpoint,
  metricValue,
  produceRegionRecords,
  readGcsObjects,
  startSink,
  testKafka,
  uniqueName,
  waitFor,
  writeTestPolicy,
  type StoredObject,
} from '../helpers/sink-stack.js';

const TOTAL = 400;

async function avroRecords(obj: StoredObject): Promise<Array<{ offset: number; payload: Buffer }>> {
  const decoder = new avro.streams.BlockDecoder();
  const out: Array<{ offset: number; payload: Buffer }> = [];
  await new Promise<void>((resolve, reject) => {
    decoder.on('data', (r: { offset: number; payload: Buffer }) => out.push(r));
    decoder.on('end', () => resolve());
    decoder.on('error', reject);
    decoder.end(obj.body);
  });
  return out;
}

describe('sink: two instances of one region', { timeout: 60_000 }, () => {
  const kafka = testKafka();
  const topic = uniqueName('test-region-eu');
  const auditTopic = uniqueName('test-audit');
  const bucket = uniqueName('tf-test-eu-shared');
  const policy = writeTestPolicy([{ name: 'eu', topic, s3: ['eu-central-1'], gcs: ['EUROPE-WEST3'], buckets: [{ name: bucket, backend: 'gcs' }] }]);
  const sinks: SinkApp[] = [];
  const env = {
    TRACEFENCE_POLICY_FILE: policy.file,
    TRACEFENCE_TOPIC_AUDIT: auditTopic,
    TRACEFENCE_SINK_REGION: 'eu',
    TRACEFENCE_SINK_GROUP_ID: uniqueName('tracefence-sink-test-shared'),
    TRACEFENCE_SINK_FORMAT: 'avro',
    TRACEFENCE_SINK_MAX_RECORDS: '25',
  };

  before(async () => {
    await Promise.all([
      createTopics(kafka, [
        { topic, partitions: 4 },
        { topic: auditTopic, partitions: 1 },
      ]),
      createGcsBucket(bucket, gcsEuEndpoint),
    ]);
    sinks.push(await startSink(env), await startSink(env));
  });

  after(async () => {
    await Promise.allSettled(sinks.map((s) => s.close()));
    await Promise.allSettled([deleteGcsBucket(bucket, gcsEuEndpoint), deleteTopics(kafka, [topic, auditTopic])]);
    policy.cleanup();
  });

  it('splits the partitions between the instances and writes each record once', async () => {
    const [a, b] = sinks as [SinkApp, SinkApp];
    // Both members joined and the group settled before any record exists.
    await waitFor('a settled group', async () => {
      const x = a.worker.status().assigned;
      const y = b.worker.status().assigned;
      return x.length > 0 && y.length > 0 && x.length + y.length === 4;
    });
    const assignedA = a.worker.status().assigned;
    const assignedB = b.worker.status().assigned;
    assert.deepEqual([...assignedA, ...assignedB].sort(), [0, 1, 2, 3]);
    assert.equal(assignedA.filter((p) => assignedB.includes(p)).length, 0, 'partitions overlap');

    await produceRegionRecords(
      kafka,
      topic,
      Array.from({ length: TOTAL }, (_, i) => ({ partition: i % 4, tenant: 'acme', id: `s${i}` })),
    );
    const objects = await waitFor('all records stored', async () => {
      const objs = await readGcsObjects(bucket, gcsEuEndpoint);
      return objs.reduce((n, o) => n + Number(o.metadata['tf-record-count'] ?? 0), 0) >= TOTAL ? objs : undefined;
    });
    const payloads: string[] = [];
    for (const o of objects) {
      assert.match(o.key, /\.avro$/);
      const partition = Number(o.metadata['tf-partition']);
      const rows = await avroRecords(o);
      assert.equal(String(rows[0]?.offset), o.metadata['tf-first-offset']);
      payloads.push(...rows.map((r) => r.payload.toString('utf8')));
      assert.ok([...assignedA, ...assignedB].includes(partition));
    }
    assert.equal(payloads.length, TOTAL);
    assert.equal(new Set(payloads).size, TOTAL);

    let written = 0;
    let conflicts = 0;
    for (const [sink, mine] of [
      [a, assignedA],
      [b, assignedB],
    ] as const) {
      const text = await sink.registry.metrics();
      const records = metricValue(text, 'tracefence_sink_records_total', { bucket }) ?? 0;
      written += records;
      conflicts += metricValue(text, 'tracefence_sink_object_conflicts_total', { bucket }) ?? 0;
      assert.equal(records, (TOTAL / 4) * mine.length, 'each instance wrote exactly its partitions');
    }
    assert.equal(written, TOTAL);
    assert.equal(conflicts, 0);
  });
});
