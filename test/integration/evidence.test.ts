/**
 * `tracefence evidence` tells the whole story of a held-then-approved trace, in order, from the
 * audit chains (written by the real audit sink) and the region bucket (written by the real sink).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { AuditSinkApp } from '../../services/audit-sink/audit-sink-app.js';
import type { SinkApp } from '../../services/sink-worker/sink-app.js';
import type { RecordEvidence } from '../../services/audit/evidence.js';
import { decodeAuditObject } from '../../services/audit/audit-layout.js';
import { createS3Bucket, createTopics, deleteS3Bucket, deleteTopics, readS3Objects, startSink, testKafka, uniqueName, waitFor, writeTestPolicy } from '../helpers/sink-stack.js';
import { auditEnv, auditEvent, produceAuditEvents, produceRegionTraces, runCli, startAuditSink } from '../helpers/audit-stack.js';

describe('evidence', { timeout: 90_000 }, () => {
  const kafka = testKafka();
  const auditTopic = uniqueName('test-audit');
  const regionTopic = uniqueName('test-region-eu');
  const bucket = uniqueName('tf-test-evid-eu');
  const policy = writeTestPolicy([{ name: 'eu', topic: regionTopic, s3: ['eu-central-1'], gcs: ['EUROPE-WEST3'], buckets: [{ name: bucket, backend: 's3' }] }]);
  let env: Record<string, string> = {};
  let sink: SinkApp | undefined;
  let auditSink: AuditSinkApp | undefined;
  const held = { recordId: randomUUID(), traceId: randomUUID().replaceAll('-', ''), tenant: 'acme' };
  const direct = { recordId: randomUUID(), traceId: randomUUID().replaceAll('-', ''), tenant: 'acme' };
  const t0 = Date.now() - 30_000;
  const sender = { subject: 'client-agent-7', agent: 'support-bot' };

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

  it('shows a held, reviewed, approved and stored trace in order, with where it landed', async () => {
    const findings = { findingCounts: { SECRET: 1, EMAIL_ADDRESS: 2 }, maskingApplied: { SECRET: 'redact', EMAIL_ADDRESS: 'pseudonymize' } };
    // The policy worker holds it (no single candidate region: the 'none' chain), a reviewer approves for eu.
    await produceAuditEvents(kafka, auditTopic, [
      auditEvent({ ...held, ...sender, ...findings, decision: 'HELD', region: null, reasonCode: 'HOLD_ON_FINDINGS', occurredAtMs: t0 }),
      auditEvent({ ...direct, ...sender, decision: 'ROUTED', region: 'eu', occurredAtMs: t0 + 500 }),
      auditEvent({ ...held, ...sender, findingCounts: findings.findingCounts, decision: 'HELD', region: 'eu', reasonCode: 'REVIEW_APPROVAL_RECORDED', actor: 'alice@example.test', occurredAtMs: t0 + 1_000 }),
      auditEvent({ ...held, ...sender, findingCounts: findings.findingCounts, decision: 'APPROVED', region: 'eu', reasonCode: 'REVIEW_APPROVED', actor: 'alice@example.test', occurredAtMs: t0 + 2_000 }),
    ]);
    // The approved trace reaches the region topic and the sink stores it.
    await produceRegionTraces(kafka, regionTopic, [direct, held]);
    const object = await waitFor('the approved trace in the bucket', async () =>
      (await readS3Objects(bucket)).find((o) => o.key.startsWith('tenant=acme/') && gunzipSync(o.body).toString('utf8').includes(held.recordId)),
    );
    // A sink that reports its writes adds a STORED event with the location it verified.
    await produceAuditEvents(kafka, auditTopic, [
      auditEvent({ ...held, subject: 'tracefence-sink:eu', agent: 'tracefence-sink', decision: 'STORED', region: 'eu', bucket: `s3://${bucket}`, objectKey: object.key, bucketLocation: 'eu-central-1', occurredAtMs: t0 + 3_000 }),
    ]);
    await waitFor('audit events stored', async () => {
      const objs = (await readS3Objects(bucket)).filter((o) => /^audit\/[^/]+\/events\//.test(o.key));
      return objs.flatMap((o) => decodeAuditObject(o.body)).length === 5;
    });

    let r = await runCli(['evidence', '--trace', held.traceId, '--json'], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const [ev, ...others] = JSON.parse(r.stdout) as RecordEvidence[];
    assert.equal(others.length, 0);
    assert.ok(ev !== undefined);
    assert.equal(ev.recordId, held.recordId);
    assert.equal(ev.status, 'stored');
    assert.deepEqual(ev.sender, sender);
    assert.equal(ev.decision?.decision, 'HELD');
    assert.equal(ev.decision?.reasonCode, 'HOLD_ON_FINDINGS');
    assert.equal(ev.decision?.policyVersion, 'f'.repeat(64));
    assert.deepEqual(ev.findingCounts, findings.findingCounts);
    assert.deepEqual(ev.maskingApplied, findings.maskingApplied);
    assert.equal(ev.region, 'eu');
    assert.deepEqual(ev.story.map((s) => [s.decision, s.actor, s.chain]), [
      ['HELD', null, 'none'],
      ['HELD', 'alice@example.test', 'eu'],
      ['APPROVED', 'alice@example.test', 'eu'],
      ['STORED', null, 'eu'],
    ]);
    assert.deepEqual(ev.reviews.map((v) => v.decision), ['HELD', 'APPROVED']);
    assert.deepEqual(ev.storage, [{ bucket: `s3://${bucket}`, objectKey: object.key, bucketLocation: 'eu-central-1', locationSource: 'sink-at-write', locationAllowed: true }]);

    r = await runCli(['evidence', '--trace', held.traceId], env);
    assert.equal(r.code, 0, r.stderr);
    const order = ['HOLD_ON_FINDINGS', 'REVIEW_APPROVAL_RECORDED', 'REVIEW_APPROVED', 'STORED'].map((w) => r.stdout.indexOf(w, r.stdout.indexOf('story:')));
    assert.ok(order.every((i, k) => i > 0 && (k === 0 || i > (order[k - 1] ?? 0))), `story in order:\n${r.stdout}`);
    assert.match(r.stdout, /sender +subject client-agent-7, agent support-bot \(verified token\)/);
    assert.match(r.stdout, /findings \(masking\) +SECRET=1 \(redact\), EMAIL_ADDRESS=2 \(pseudonymize\)/);
    assert.match(r.stdout, new RegExp(`stored in +s3://${bucket}/tenant=acme/date=`));
    assert.match(r.stdout, /review +APPROVED by alice@example\.test for eu/);

    // Without a STORED event the object is found in the region bucket and its location read now.
    r = await runCli(['evidence', '--tenant', 'acme', '--from', new Date(t0 - 1_000).toISOString(), '--to', 'now', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const all = JSON.parse(r.stdout) as RecordEvidence[];
    assert.deepEqual(all.map((e) => e.recordId), [held.recordId, direct.recordId]);
    const d = all[1];
    assert.equal(d?.status, 'stored');
    assert.equal(d?.storage[0]?.locationSource, 'store-at-lookup');
    assert.equal(d?.storage[0]?.bucketLocation, 'eu-central-1');
    assert.equal(d?.storage[0]?.locationAllowed, true);

    r = await runCli(['evidence', '--trace', 'f'.repeat(32)], env);
    assert.equal(r.code, 1);
  });
});
