/**
 * kill -9 at random points, restart, repeat: every record ends in exactly one object, no two
 * objects overlap, and a final SIGTERM stops the sink cleanly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createS3Bucket,
  createTopics,
  deleteS3Bucket,
  deleteTopics,
  idOf,
  jsonLines,
  produceRegionRecords,
  readS3Objects,
  testKafka,
  uniqueName,
  waitFor,
  writeTestPolicy,
  type RegionRecord,
} from '../helpers/sink-stack.js';
import { spawnSink, type SinkProcess } from '../helpers/sink-process.js';

const TOTAL = 3_000;
const KILLS = 3;

describe('sink: crash and restart', { timeout: 90_000 }, () => {
  const kafka = testKafka();
  const topic = uniqueName('test-region-eu');
  const bucket = uniqueName('tf-test-eu-crash');
  const auditTopic = uniqueName('test-audit');
  const policy = writeTestPolicy([{ name: 'eu', topic, s3: ['eu-central-1'], gcs: ['EUROPE-WEST3'], buckets: [{ name: bucket, backend: 's3' }] }]);
  const env = {
    TRACEFENCE_POLICY_FILE: policy.file,
    TRACEFENCE_TOPIC_AUDIT: auditTopic,
    TRACEFENCE_SINK_GROUP_ID: uniqueName('tracefence-sink-test-crash'),
    TRACEFENCE_SINK_MAX_RECORDS: '40',
    TRACEFENCE_SINK_MAX_BATCH_AGE_MS: '200',
    // The broker's minimum: a killed member leaves the group quickly.
    TRACEFENCE_SINK_SESSION_TIMEOUT_MS: '6000',
    TRACEFENCE_SINK_RETRY_BUDGET_MS: '3000',
  };
  let current: SinkProcess | undefined;

  before(async () => {
    await Promise.all([
      createTopics(kafka, [
        { topic, partitions: 3 },
        { topic: auditTopic, partitions: 1 },
      ]),
      createS3Bucket(bucket, 'eu-central-1'),
    ]);
  });

  after(async () => {
    if (current !== undefined && current.child.exitCode === null) current.child.kill('SIGKILL');
    await Promise.allSettled([deleteS3Bucket(bucket), deleteTopics(kafka, [topic, auditTopic])]);
    policy.cleanup();
  });

  it('stores every record in exactly one object across repeated kill -9 and restart', async (t) => {
    let replays = 0;
    const records: RegionRecord[] = Array.from({ length: TOTAL }, (_, i) => ({
      partition: i % 3,
      // Tenant changes inside partitions force batch splits at tenant boundaries.
      tenant: Math.floor(i / 30) % 3 === 0 ? 'globex' : 'acme',
      id: `c${i}`,
      bytes: 200,
    }));
    // Produce while the sinks live and die.
    const producing = (async () => {
      for (let i = 0; i < records.length; i += 150) {
        await produceRegionRecords(kafka, topic, records.slice(i, i + 150));
        await sleep(100);
      }
    })();

    for (let k = 0; k < KILLS; k++) {
      current = spawnSink(env, ['--region', 'eu']);
      // Kill only once it owns partitions, at a random point of its work.
      await current.waitForLog('partitions assigned');
      await sleep(200 + Math.floor(Math.random() * 1500));
      replays += current.logs.filter((l) => l['msg'] === 'object already written; skipping ahead').length;
      current.child.kill('SIGKILL');
      assert.equal(await current.exited, 'SIGKILL');
    }
    await producing;
    current = spawnSink(env, ['--region', 'eu']);
    await current.waitForLog('sink started');
    const objects = await waitFor(
      'all records stored',
      async () => {
        const objs = await readS3Objects(bucket);
        return objs.reduce((n, o) => n + Number(o.metadata['tf-record-count'] ?? 0), 0) >= TOTAL ? objs : undefined;
      },
      40_000,
      1_000,
    );
    current.child.kill('SIGTERM');
    assert.equal(await current.exited, 0, 'SIGTERM stops the sink cleanly');
    replays += current.logs.filter((l) => l['msg'] === 'object already written; skipping ahead').length;
    t.diagnostic(`objects: ${objects.length}; create-only conflicts resolved by skipping ahead: ${replays}`);

    const ids = objects.flatMap((o) => jsonLines(o).map(idOf));
    assert.equal(ids.length, TOTAL, 'no record twice');
    assert.equal(new Set(ids).size, TOTAL);
    assert.deepEqual([...new Set(ids)].sort(), records.map((r) => r.id).sort());
    // Per partition, the objects' offset ranges chain without overlap.
    const byPartition = new Map<string, Array<[bigint, bigint]>>();
    for (const o of objects) {
      const p = o.metadata['tf-partition'] ?? '?';
      byPartition.set(p, [...(byPartition.get(p) ?? []), [BigInt(o.metadata['tf-first-offset'] ?? '-1'), BigInt(o.metadata['tf-last-offset'] ?? '-1')]]);
    }
    for (const [p, ranges] of byPartition) {
      ranges.sort((a, b) => (a[0] < b[0] ? -1 : 1));
      for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i]![0] > ranges[i - 1]![1], `partition ${p}: objects overlap`);
    }
  });
});
