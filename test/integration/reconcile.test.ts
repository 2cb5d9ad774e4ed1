/**
 * `tracefence reconcile` balances decisions against stored objects with the real sink and audit
 * sink, and catches a record deliberately removed from a bucket.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { AuditSinkApp } from '../../services/audit-sink/audit-sink-app.js';
import type { SinkApp } from '../../services/sink-worker/sink-app.js';
import { decodeAuditObject } from '../../services/audit/audit-layout.js';
import {
  createS3Bucket,
  createTopics,
  deleteS3Bucket,
  deleteTopics,
  readS3Objects,
  startSink,
  testKafka,
  uniqueName,
  waitFor,
  writeTestPolicy,
} from '../helpers/sink-stack.js';
import { auditEnv, auditEvent, produceAuditEvents, produceRegionTraces, putS3Object, runCli, startAuditSink } from '../helpers/audit-stack.js';

describe('reconcile', { timeout: 90_000 }, () => {
  const kafka = testKafka();
  const auditTopic = uniqueName('test-audit');
  const regionTopic = uniqueName('test-region-eu');
  const bucket = uniqueName('tf-test-recon-eu');
  const policy = writeTestPolicy([{ name: 'eu', topic: regionTopic, s3: ['eu-central-1'], gcs: ['EUROPE-WEST3'], buckets: [{ name: bucket, backend: 's3' }] }]);
  let env: Record<string, string> = {};
  let sink: SinkApp | undefined;
  let auditSink: AuditSinkApp | undefined;
  const startedAt = Date.now() - 60_000;
  const routed = Array.from({ length: 6 }, () => ({ recordId: randomUUID(), traceId: randomUUID().replaceAll('-', ''), tenant: 'acme' }));
  const approvedHold = { recordId: randomUUID(), traceId: randomUUID().replaceAll('-', ''), tenant: 'acme' };

  before(async () => {
    await createTopics(kafka, [
      { topic: auditTopic, partitions: 3 },
      { topic: regionTopic, partitions: 1 },
    ]);
    await createS3Bucket(bucket, 'eu-central-1');
    env = auditEnv({ TRACEFENCE_POLICY_FILE: policy.file, TRACEFENCE_TOPIC_AUDIT: auditTopic, TRACEFENCE_AUDIT_GROUP_ID: uniqueName('test-audit-sink') });
    sink = await startSink({ ...env, TRACEFENCE_SINK_REGION: 'eu', TRACEFENCE_SINK_GROUP_ID: uniqueName('test-sink') });
    auditSink = await startAuditSink(env);
  });

  after(async () => {
    await sink?.close();
    await auditSink?.close();
    await deleteTopics(kafka, [auditTopic, regionTopic]);
    await deleteS3Bucket(bucket);
    policy.cleanup();
  });

  async function dataObjects() {
    return (await readS3Objects(bucket)).filter((o) => o.key.startsWith('tenant='));
  }

  it('balances routed, held, approved and dead-lettered records against the bucket, then finds a removed record', async () => {
    await produceRegionTraces(kafka, regionTopic, [...routed, approvedHold]);
    const events = [
      ...routed.map((r) => auditEvent({ ...r, decision: 'ROUTED', region: 'eu', findingCounts: { EMAIL_ADDRESS: 1 }, maskingApplied: { EMAIL_ADDRESS: 'pseudonymize' } })),
      auditEvent({ ...approvedHold, decision: 'HELD', region: 'eu', reasonCode: 'HOLD_ON_FINDINGS' }),
      auditEvent({ ...approvedHold, decision: 'APPROVED', region: 'eu', reasonCode: 'REVIEW_APPROVED', actor: 'reviewer-1' }),
      auditEvent({ decision: 'HELD', region: null, reasonCode: 'REGION_UNRESOLVED' }),
      auditEvent({ decision: 'DEAD_LETTERED', region: null, reasonCode: 'AUTH_TOKEN_EXPIRED' }),
    ];
    await produceAuditEvents(kafka, auditTopic, events);
    await waitFor('records in objects', async () => {
      const lines = (await dataObjects()).flatMap((o) => gunzipSync(o.body).toString('utf8').split('\n').filter(Boolean));
      return lines.length === 7;
    });
    await waitFor('audit events stored', async () => {
      const objs = (await readS3Objects(bucket)).filter((o) => /^audit\/[^/]+\/events\//.test(o.key));
      return objs.flatMap((o) => decodeAuditObject(o.body)).length === events.length;
    });

    const window = ['--from', new Date(startedAt).toISOString(), '--to', new Date(Date.now() + 60_000).toISOString()];
    let r = await runCli(['reconcile', ...window], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /ingested 9 = routed 6 \+ held 2 \+ dead-lettered 1 {2}OK/);
    assert.match(r.stdout, /holds: approved 1, rejected 0, expired 0, pending 1/);
    assert.match(r.stdout, /routed \+ approved 7 = stored 7 {2}OK/);
    assert.match(r.stdout, /result: BALANCED/);

    // Someone with write access removes one record from its object.
    const victim = routed[2]?.recordId ?? '';
    const obj = (await dataObjects()).find((o) => gunzipSync(o.body).toString('utf8').includes(victim));
    assert.ok(obj !== undefined);
    const kept = gunzipSync(obj.body).toString('utf8').split('\n').filter((l) => l !== '' && !l.includes(victim));
    await putS3Object(bucket, obj.key, { body: gzipSync(Buffer.from(kept.join('\n') + '\n')), metadata: obj.metadata });

    r = await runCli(['reconcile', ...window, '--json'], env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as { ok: boolean; missingRecordIds: string[]; storageBalance: boolean; violations: Array<{ kind: string }> };
    assert.equal(report.ok, false);
    assert.equal(report.storageBalance, false);
    assert.deepEqual(report.missingRecordIds, [victim]);
    assert.ok(report.violations.some((v) => v.kind === 'object-damaged'), 'the record count recorded at write time no longer matches');

    r = await runCli(['reconcile', ...window], env);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`missing record ids:\\n  ${victim}`));
    assert.match(r.stdout, /result: NOT BALANCED/);
  });
});
