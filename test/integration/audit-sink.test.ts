/**
 * The audit sink chains events per region into that region's bucket (S3 and GCS), survives a
 * restart and a full replay without forking or duplicating, and `tracefence audit verify`
 * detects altered, deleted and reordered audit objects in the real object store.
 */
import assert from 'node:assert/strict';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { AuditSinkApp } from '../../services/audit-sink/audit-sink-app.js';
import type { ChainEntry } from '../../services/audit/audit-chain.js';
import { decodeAuditObject } from '../../services/audit/audit-layout.js';
import { openAuditStores } from '../../services/audit/cli-support.js';
import { verifyStoredChain } from '../../services/audit/verify-stored-chain.js';
import {
  createGcsBucket,
  createS3Bucket,
  createTopics,
  deleteGcsBucket,
  deleteS3Bucket,
  deleteTopics,
  gcsUsEndpoint,
  readGcsObjects,
  readS3Objects,
  testKafka,
  uniqueName,
  waitFor,
  writeTestPolicy,
  metricValue,
  type StoredObject,
} from '../helpers/sink-stack.js';
import {
  auditEnv,
  auditEvent,
  deleteGcsObject,
  deleteS3Object,
  getGcsObject,
  getS3Object,
  produceAuditEvents,
  putGcsObject,
  putS3Object,
  runCli,
  startAuditSink,
  type RawObject,
} from '../helpers/audit-stack.js';

function entriesOf(objects: readonly StoredObject[], chain: string): ChainEntry[] {
  return objects.filter((o) => o.key.startsWith(`audit/${chain}/events/`)).flatMap((o) => decodeAuditObject(o.body));
}

function rewrite(obj: RawObject, edit: (lines: string[]) => string[]): RawObject {
  const lines = gunzipSync(obj.body).toString('utf8').split('\n').filter((l) => l.length > 0);
  return { body: gzipSync(Buffer.from(edit(lines).join('\n') + '\n')), metadata: obj.metadata };
}

describe('audit sink and audit verify', { timeout: 90_000 }, () => {
  const kafka = testKafka();
  const topic = uniqueName('test-audit');
  const euBucket = uniqueName('tf-test-audit-eu');
  const usBucket = uniqueName('tf-test-audit-us');
  const policy = writeTestPolicy([
    { name: 'eu', topic: uniqueName('test-region-eu'), s3: ['eu-central-1'], gcs: ['EUROPE-WEST3'], buckets: [{ name: euBucket, backend: 's3' }] },
    { name: 'us', topic: uniqueName('test-region-us'), s3: ['us-east-1'], gcs: ['US'], buckets: [{ name: usBucket, backend: 'gcs' }] },
  ]);
  let env: Record<string, string> = {};
  let sink: AuditSinkApp | undefined;

  before(async () => {
    await createTopics(kafka, [{ topic, partitions: 3 }]);
    await createS3Bucket(euBucket, 'eu-central-1');
    await createGcsBucket(usBucket, gcsUsEndpoint);
    env = auditEnv({
      TRACEFENCE_POLICY_FILE: policy.file,
      TRACEFENCE_TOPIC_AUDIT: topic,
      TRACEFENCE_AUDIT_GROUP_ID: uniqueName('test-audit-sink'),
      TRACEFENCE_AUDIT_HOME_REGION: 'eu',
      TRACEFENCE_AUDIT_MAX_EVENTS: '4',
    });
  });

  after(async () => {
    await sink?.close();
    await deleteTopics(kafka, [topic]);
    await deleteS3Bucket(euBucket);
    await deleteGcsBucket(usBucket, gcsUsEndpoint);
    policy.cleanup();
  });

  it('chains each region into its own bucket, events without a region into the home region', async () => {
    sink = await startAuditSink(env);
    const eu = Array.from({ length: 10 }, () => auditEvent({ region: 'eu' }));
    const us = Array.from({ length: 5 }, () => auditEvent({ region: 'us', tenant: 'globex' }));
    const none = Array.from({ length: 3 }, () => auditEvent({ region: null, decision: 'DEAD_LETTERED', reasonCode: 'AUTH_TOKEN_EXPIRED' }));
    await produceAuditEvents(kafka, topic, [...eu, ...us, ...none]);

    const euObjects = await waitFor('eu and none chains', async () => {
      const objs = await readS3Objects(euBucket);
      return entriesOf(objs, 'eu').length === 10 && entriesOf(objs, 'none').length === 3 ? objs : undefined;
    });
    const usObjects = await waitFor('us chain', async () => {
      const objs = await readGcsObjects(usBucket, gcsUsEndpoint);
      return entriesOf(objs, 'us').length === 5 ? objs : undefined;
    });
    const euChain = entriesOf(euObjects, 'eu');
    assert.deepEqual(euChain.map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(euChain.map((e) => e.event.eventId), eu.map((e) => e.eventId), 'chain order is topic order');
    assert.equal(euChain[0]?.event.prevHash, null);
    for (let i = 1; i < euChain.length; i++) assert.equal(euChain[i]?.event.prevHash, euChain[i - 1]?.hash);
    // Deterministic keys by chain position, at most 4 events per object, a checkpoint per object.
    const euKeys = euObjects.filter((o) => o.key.startsWith('audit/eu/events/')).map((o) => o.key);
    assert.deepEqual(euKeys, [1, 5, 9].map((s) => `audit/eu/events/${String(s).padStart(20, '0')}.jsonl.gz`));
    assert.equal(euObjects.filter((o) => o.key.startsWith('audit/eu/checkpoints/')).length, 3);
    assert.ok(usObjects.every((o) => o.key.startsWith('audit/us/')), 'us events only in the us bucket');
    assert.deepEqual(entriesOf(usObjects, 'us').map((e) => e.event.eventId), us.map((e) => e.eventId));
    assert.equal(entriesOf(euObjects, 'us').length, 0, 'no us event in the eu bucket');
    // Metadata for readers that do not open the object.
    const first = euObjects.find((o) => o.key.endsWith('00000000000000000001.jsonl.gz'));
    assert.equal(first?.metadata['tf-audit-first-seq'], '1');
    assert.equal(first?.metadata['tf-audit-last-seq'], '4');

    const res = await fetch(`http://127.0.0.1:${sink.opsPort()}/metrics`);
    assert.equal(metricValue(await res.text(), 'tracefence_audit_events_total', { chain: 'eu' }), 10);
    assert.equal((await fetch(`http://127.0.0.1:${sink.opsPort()}/healthz`)).status, 200);

    const r = await runCli(['audit', 'verify', '--region', 'all'], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.match(/result: INTACT/g)?.length, 3, r.stdout);
    assert.match(r.stdout, /chain none in s3:\/\/tf-test-audit-eu.*3 events/);
  });

  it('continues the chain after a restart, and a full replay neither forks nor duplicates it', async () => {
    await sink?.close();
    const more = Array.from({ length: 3 }, () => auditEvent({ region: 'eu' }));
    await produceAuditEvents(kafka, topic, more);
    sink = await startAuditSink(env);
    await waitFor('eu chain continued', async () => entriesOf(await readS3Objects(euBucket), 'eu').length === 13);
    await sink.close();

    // A new consumer group replays the whole topic: everything is already stored and is skipped.
    sink = await startAuditSink({ ...env, TRACEFENCE_AUDIT_GROUP_ID: uniqueName('test-audit-replay') });
    const late = auditEvent({ region: 'eu' });
    await produceAuditEvents(kafka, topic, [late]);
    const chain = await waitFor('replay done', async () => {
      const c = entriesOf(await readS3Objects(euBucket), 'eu');
      return c.length >= 14 ? c : undefined;
    });
    assert.equal(chain.length, 14, 'replayed events are not chained twice');
    assert.equal(chain.at(-1)?.event.eventId, late.eventId);
    assert.equal(new Set(chain.map((e) => e.event.eventId)).size, 14);
    const r = await runCli(['audit', 'verify', '--region', 'eu', '--json'], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as { ok: boolean; events: number; head: { seq: number } };
    assert.equal(report.ok, true);
    assert.equal(report.head.seq, 14);
    await sink.close();
    sink = undefined;
  });

  it('detects an altered, a deleted and a reordered audit object, then passes once restored', async () => {
    const key = (seq: number) => `audit/eu/events/${String(seq).padStart(20, '0')}.jsonl.gz`;
    const second = key(5);
    const original = await getS3Object(euBucket, second);

    // Altered: a ROUTED decision rewritten as HELD, hash left alone.
    await putS3Object(euBucket, second, rewrite(original, (lines) => lines.map((l, i) => (i === 1 ? l.replace('"decision":"ROUTED"', '"decision":"HELD"') : l))));
    let r = await runCli(['audit', 'verify', '--region', 'eu'], env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /first break: ALTERED in audit\/eu\/events\/00000000000000000005\.jsonl\.gz/);
    assert.match(r.stdout, /found 6/);

    // Deleted: the whole second object.
    await deleteS3Object(euBucket, second);
    r = await runCli(['audit', 'verify', '--region', 'eu'], env);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /first break: MISSING in audit\/eu\/events\/00000000000000000009\.jsonl\.gz/);
    assert.match(r.stdout, /seq 5\.\.8 missing/);

    // Reordered: two events swapped inside the object.
    await putS3Object(euBucket, second, rewrite(original, (lines) => [lines[1] ?? '', lines[0] ?? '', ...lines.slice(2)]));
    r = await runCli(['audit', 'verify', '--region', 'eu', '--json'], env);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout) as { ok: boolean; breaks: Array<{ kind: string; object: string }> };
    assert.equal(report.breaks[0]?.kind, 'reordered');
    assert.equal(report.breaks[0]?.object, second);

    // Whole objects swapped: the third object's events stored under the second key and back.
    const third = await getS3Object(euBucket, key(9));
    await putS3Object(euBucket, second, third);
    await putS3Object(euBucket, key(9), original);
    r = await runCli(['audit', 'verify', '--region', 'eu'], env);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /first break: REORDERED/);

    await putS3Object(euBucket, second, original);
    await putS3Object(euBucket, key(9), third);
    const stores = await openAuditStores(env);
    try {
      const store = stores.chains.get('eu');
      assert.ok(store !== undefined);
      const restored = await verifyStoredChain(store.access, 'eu');
      assert.equal(restored.ok, true, JSON.stringify(restored.breaks));
      assert.equal(restored.head.seq, 14);
    } finally {
      stores.close();
    }
  });

  it('detects tampering on GCS too, and a deleted tail object through its checkpoint', async () => {
    const key = 'audit/us/events/00000000000000000005.jsonl.gz';
    const original = await getGcsObject(usBucket, gcsUsEndpoint, key);
    const lines = gunzipSync(original.body).toString('utf8').split('\n').filter(Boolean);
    const altered = lines.map((l) => l.replace('"tenant":"globex"', '"tenant":"acme"'));
    await putGcsObject(usBucket, gcsUsEndpoint, key, { body: gzipSync(Buffer.from(altered.join('\n') + '\n')), metadata: original.metadata });
    let r = await runCli(['audit', 'verify', '--region', 'us'], env);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /first break: ALTERED in audit\/us\/events\/00000000000000000005/);

    // The tail object deleted: nothing after it to notice, but its checkpoint remains.
    await deleteGcsObject(usBucket, gcsUsEndpoint, key);
    r = await runCli(['audit', 'verify', '--region', 'us'], env);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /first break: MISSING/);
    assert.match(r.stdout, /not in the bucket/);
  });
});
