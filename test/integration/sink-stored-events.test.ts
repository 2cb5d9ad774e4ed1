/**
 * Every record a sink stores yields a STORED audit event naming the bucket, the object key and the
 * location the guard verified, produced before the offsets are committed; retries (a failed
 * produce, a crash between the upload and the events) emit the same event ids again, so after
 * dedup there is exactly one per record and bucket. `tracefence evidence` then shows the location
 * verified at write time.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { AuditEvent } from '../../services/shared/avro/types.js';
import type { Kafka } from '../../services/shared/kafka/kafka-client.js';
import type { AuditSinkApp } from '../../services/audit-sink/audit-sink-app.js';
import { decodeAuditObject } from '../../services/audit/audit-layout.js';
import type { RecordEvidence } from '../../services/audit/evidence.js';
import type { SinkApp } from '../../services/sink-worker/sink-app.js';
import { storedEventId } from '../../services/sink-worker/stored-audit.js';
import {
  createGcsBucket,
  createS3Bucket,
  createTopics,
  deleteGcsBucket,
  deleteS3Bucket,
  deleteTopics,
  gcsEuEndpoint,
  jsonLines,
  metricValue,
  readGcsObjects,
  readS3Objects,
  startSink,
  testKafka,
  uniqueName,
  waitFor,
  writeTestPolicy,
  type StoredObject,
} from '../helpers/sink-stack.js';
import { dedupById, produceTraceRecords, readStoredEvents, startSinkWithAudit, traceRecords, tracePayload, type TraceRecord } from '../helpers/sink-audit.js';
import { auditEnv, auditEvent, produceAuditEvents, runCli, startAuditSink } from '../helpers/audit-stack.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const POLICY_VERSION = 'e'.repeat(64);

/** record id -> key of the data object holding it (each record must be in exactly one). */
function keysByRecord(objects: readonly StoredObject[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const o of objects.filter((x) => x.key.startsWith('tenant='))) {
    for (const line of jsonLines(o)) {
      const id = line.headers['tf-record-id'] ?? '';
      assert.ok(!out.has(id), `record ${id} is in two objects`);
      out.set(id, o.key);
    }
  }
  return out;
}

/** Exactly one STORED event per record (after dedup), each naming the object that holds it. */
function assertOnePerRecord(events: readonly AuditEvent[], records: readonly TraceRecord[], bucket: string, keys: ReadonlyMap<string, string>, location: string): void {
  const unique = dedupById(events.filter((e) => e.bucket === bucket));
  assert.equal(unique.length, records.length, `one STORED event per record in ${bucket} after dedup`);
  const byRecord = new Map(unique.map((e) => [e.recordId, e] as const));
  assert.equal(byRecord.size, records.length, 'no record has two different event ids');
  for (const r of records) {
    const e = byRecord.get(r.recordId);
    assert.ok(e !== undefined, `no STORED event for ${r.recordId}`);
    const key = keys.get(r.recordId);
    assert.ok(key !== undefined, `record ${r.recordId} not in ${bucket}`);
    assert.equal(e.decision, 'STORED');
    assert.equal(e.region, 'eu');
    assert.equal(e.objectKey, key);
    assert.equal(e.bucketLocation, location);
    assert.equal(e.traceId, r.traceId);
    assert.equal(e.tenant, r.tenant);
    assert.equal(e.policyVersion, POLICY_VERSION);
    assert.equal(e.contentHash, createHash('sha256').update(tracePayload(r).payload).digest('hex'));
    assert.equal(e.actor, null);
    assert.equal(e.prevHash, null);
    assert.equal(e.eventId, storedEventId(r.recordId, bucket, key));
    assert.match(e.eventId, UUID);
  }
}

async function committed(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return (t?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

describe('sink: STORED audit events', { timeout: 120_000 }, () => {
  const kafka = testKafka();
  const cleanups: Array<() => Promise<unknown>> = [];

  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  /** A fresh region topic, audit topic, S3 bucket (eu-central-1) and policy. */
  async function fixture(partitions: number, gcs = false) {
    const topic = uniqueName('test-region-eu');
    const auditTopic = uniqueName('test-audit');
    const bucket = uniqueName('tf-test-stored');
    const gcsBucket = uniqueName('tf-test-stored-gcs');
    const policy = writeTestPolicy([
      {
        name: 'eu',
        topic,
        s3: ['eu-central-1'],
        gcs: ['EUROPE-WEST3'],
        buckets: [{ name: bucket, backend: 's3' }, ...(gcs ? [{ name: gcsBucket, backend: 'gcs' as const }] : [])],
      },
    ]);
    await createTopics(kafka, [
      { topic, partitions },
      { topic: auditTopic, partitions: 1 },
    ]);
    await createS3Bucket(bucket, 'eu-central-1');
    if (gcs) await createGcsBucket(gcsBucket, gcsEuEndpoint);
    cleanups.push(async () => {
      await deleteTopics(kafka, [topic, auditTopic]);
      await deleteS3Bucket(bucket);
      if (gcs) await deleteGcsBucket(gcsBucket, gcsEuEndpoint);
      policy.cleanup();
    });
    return { topic, auditTopic, bucket, gcsBucket, policy };
  }

  describe('S3 and GCS sinks, and the evidence command', () => {
    let f: Awaited<ReturnType<typeof fixture>>;
    const sinks: SinkApp[] = [];
    let auditSink: AuditSinkApp | undefined;
    let env: Record<string, string> = {};
    const groups = { s3: uniqueName('test-sink-s3'), gcs: uniqueName('test-sink-gcs') };
    const records = traceRecords(30, 3);

    before(async () => {
      f = await fixture(3, true);
      env = auditEnv({ TRACEFENCE_POLICY_FILE: f.policy.file, TRACEFENCE_TOPIC_AUDIT: f.auditTopic, TRACEFENCE_AUDIT_GROUP_ID: uniqueName('test-audit-sink') });
      sinks.push(
        await startSink({ ...env, TRACEFENCE_SINK_REGION: 'eu', TRACEFENCE_SINK_GROUP_ID: groups.s3, TRACEFENCE_SINK_MAX_RECORDS: '4' }),
        await startSink({ ...env, TRACEFENCE_SINK_GROUP_ID: groups.gcs, TRACEFENCE_SINK_MAX_RECORDS: '4' }, ['--region', 'eu', '--bucket', f.gcsBucket]),
      );
    });

    after(async () => {
      await Promise.allSettled(sinks.map((s) => s.close()));
      await auditSink?.close();
    });

    it('emits one STORED event per record and bucket, with the object key and the verified location, before committing', async () => {
      await produceTraceRecords(kafka, f.topic, records, POLICY_VERSION);
      const s3Keys = await waitFor('all records in S3', async () => {
        const keys = keysByRecord(await readS3Objects(f.bucket));
        return keys.size === records.length ? keys : undefined;
      });
      const gcsKeys = await waitFor('all records in GCS', async () => {
        const keys = keysByRecord(await readGcsObjects(f.gcsBucket, gcsEuEndpoint));
        return keys.size === records.length ? keys : undefined;
      });
      await waitFor('offsets committed', async () =>
        (await committed(kafka, groups.s3, f.topic)) === records.length && (await committed(kafka, groups.gcs, f.topic)) === records.length,
      );
      // Offsets are committed only after the events were acknowledged: all of them are there now.
      const events = await readStoredEvents(kafka, f.auditTopic, records.map((r) => r.recordId), 10_000, 500);
      assertOnePerRecord(events, records, `s3://${f.bucket}`, s3Keys, 'eu-central-1');
      assertOnePerRecord(events, records, `gcs://${f.gcsBucket}`, gcsKeys, 'EUROPE-WEST3');
      for (const [sink, bucket] of [
        [sinks[0], f.bucket],
        [sinks[1], f.gcsBucket],
      ] as const) {
        const text = await sink!.registry.metrics();
        assert.equal(metricValue(text, 'tracefence_sink_stored_events_total', { region: 'eu', bucket }), records.length);
        assert.equal(metricValue(text, 'tracefence_sink_audit_failures_total', { region: 'eu', bucket }) ?? 0, 0);
      }
    });

    it('lets `tracefence evidence` show the location verified by the sink at write time', async () => {
      const r0 = records[0]!;
      await produceAuditEvents(kafka, f.auditTopic, [
        auditEvent({ recordId: r0.recordId, traceId: r0.traceId, tenant: r0.tenant, decision: 'ROUTED', region: 'eu', occurredAtMs: Date.now() - 60_000 }),
      ]);
      auditSink = await startAuditSink(env);
      await waitFor(
        'the STORED events in the audit chain',
        async () => {
          const objs = (await readS3Objects(f.bucket)).filter((o) => /^audit\/[^/]+\/events\//.test(o.key));
          const stored = objs.flatMap((o) => decodeAuditObject(o.body)).filter((e) => e.event.recordId === r0.recordId);
          return stored.length >= 3; // ROUTED + STORED for each bucket
        },
        30_000,
      );

      let r = await runCli(['evidence', '--trace', r0.traceId, '--json'], env);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const [ev, ...others] = JSON.parse(r.stdout) as RecordEvidence[];
      assert.equal(others.length, 0);
      assert.equal(ev?.recordId, r0.recordId);
      assert.equal(ev?.status, 'stored');
      const storage = [...(ev?.storage ?? [])].sort((a, b) => a.bucket.localeCompare(b.bucket));
      assert.deepEqual(
        storage.map((s) => [s.bucket, s.bucketLocation, s.locationSource, s.locationAllowed]),
        [
          [`gcs://${f.gcsBucket}`, 'EUROPE-WEST3', 'sink-at-write', true],
          [`s3://${f.bucket}`, 'eu-central-1', 'sink-at-write', true],
        ],
      );

      r = await runCli(['evidence', '--trace', r0.traceId], env);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`stored in +s3://${f.bucket}/tenant=acme/date=`));
      assert.match(r.stdout, /bucket location +eu-central-1 \(verified by the sink at write time, allowed by policy\)/);
      assert.match(r.stdout, /bucket location +EUROPE-WEST3 \(verified by the sink at write time, allowed by policy\)/);
      assert.doesNotMatch(r.stdout, /reported by the store at lookup/);
    });
  });

  it('commits nothing while the events are not acknowledged; the retry meets the object and emits the same ids', async () => {
    const f = await fixture(1);
    const group = uniqueName('test-sink-fail');
    const records = traceRecords(12, 1);
    let calls = 0;
    const sink = await startSinkWithAudit(
      { TRACEFENCE_POLICY_FILE: f.policy.file, TRACEFENCE_TOPIC_AUDIT: f.auditTopic, TRACEFENCE_SINK_REGION: 'eu', TRACEFENCE_SINK_GROUP_ID: group, TRACEFENCE_SINK_MAX_RECORDS: '5' },
      (audit) => ({
        emit: (event, details) => audit.emit(event, details),
        async emitAll(messages) {
          calls += 1;
          // First: produced, but the acknowledgement is lost. Second: not produced at all.
          if (calls === 1) await audit.emitAll(messages);
          if (calls <= 2) throw new Error(`injected audit failure ${calls}`);
          await audit.emitAll(messages);
        },
      }),
    );
    cleanups.push(() => sink.close());
    await produceTraceRecords(kafka, f.topic, records, POLICY_VERSION);
    await waitFor('offsets committed', async () => (await committed(kafka, group, f.topic)) === records.length, 30_000);
    const keys = keysByRecord(await readS3Objects(f.bucket));
    assert.equal(keys.size, records.length);
    const events = await readStoredEvents(kafka, f.auditTopic, records.map((r) => r.recordId), 10_000, 500);
    assert.ok(events.length > records.length, 'the lost acknowledgement left duplicates on the topic');
    assertOnePerRecord(events, records, `s3://${f.bucket}`, keys, 'eu-central-1');
    const text = await sink.registry.metrics();
    assert.equal(metricValue(text, 'tracefence_sink_audit_failures_total', { region: 'eu', bucket: f.bucket }), 2);
    assert.ok((metricValue(text, 'tracefence_sink_object_conflicts_total', { region: 'eu', bucket: f.bucket }) ?? 0) >= 1);
  });

  it('after a crash between the upload and the events, the next owner emits the events of the object it meets', async () => {
    const f = await fixture(1);
    const group = uniqueName('test-sink-crash');
    const records = traceRecords(10, 1);
    const common = { TRACEFENCE_POLICY_FILE: f.policy.file, TRACEFENCE_TOPIC_AUDIT: f.auditTopic, TRACEFENCE_SINK_REGION: 'eu', TRACEFENCE_SINK_GROUP_ID: group };
    // The first owner writes an object of 6 records, then never gets its events out.
    const first = await startSinkWithAudit({ ...common, TRACEFENCE_SINK_MAX_RECORDS: '6' }, (audit) => ({
      emit: (event, details) => audit.emit(event, details),
      emitAll: async () => {
        throw new Error('process died before producing');
      },
    }));
    await produceTraceRecords(kafka, f.topic, records, POLICY_VERSION);
    const firstObject = await waitFor('the first object', async () => (await readS3Objects(f.bucket)).find((o) => o.key.startsWith('tenant=')));
    assert.equal(firstObject.metadata['tf-record-count'], '6');
    await waitFor('a failed produce', async () => (metricValue(await first.registry.metrics(), 'tracefence_sink_audit_failures_total', { region: 'eu', bucket: f.bucket }) ?? 0) >= 1);
    await first.close();
    assert.equal(await committed(kafka, group, f.topic), 0, 'nothing committed without the events');

    // The next owner batches differently (2 records): its first batch meets the 6-record object.
    const second = await startSink({ ...common, TRACEFENCE_SINK_MAX_RECORDS: '2' });
    cleanups.push(() => second.close());
    await waitFor('offsets committed', async () => (await committed(kafka, group, f.topic)) === records.length, 30_000);
    const objects = (await readS3Objects(f.bucket)).filter((o) => o.key.startsWith('tenant='));
    assert.deepEqual(objects.map((o) => o.metadata['tf-record-count']), ['6', '2', '2']);
    const keys = keysByRecord(objects);
    const events = await readStoredEvents(kafka, f.auditTopic, records.map((r) => r.recordId), 10_000, 500);
    assertOnePerRecord(events, records, `s3://${f.bucket}`, keys, 'eu-central-1');
    assert.deepEqual(
      records.slice(0, 6).map((r) => events.find((e) => e.recordId === r.recordId)?.objectKey),
      Array(6).fill(firstObject.key),
    );
  });
});
