/**
 * `tracefence evidence` tells the whole story of a held-then-approved trace, in order, from the
 * audit chains (written by the real audit sink) and the region bucket (written by the real sink).
 * Records the sink stored show the location its guard verified at write time (its STORED event);
 * an object no sink reported (put into the bucket directly) is found by reading the bucket, with
 * the location the store reports at lookup.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { RecordEvidence } from '../../services/audit/evidence.js';
import { decodeAuditObject } from '../../services/audit/audit-layout.js';
import type { ChainEntry } from '../../services/audit/audit-chain.js';
import { storedEventId } from '../../services/sink-worker/stored-audit.js';
import { readS3Objects, waitFor } from '../helpers/sink-stack.js';
import { auditEvent, euAuditStack, produceAuditEvents, produceRegionTraces, putS3Object, runCli } from '../helpers/audit-stack.js';

describe('evidence', { timeout: 90_000 }, () => {
  const stack = euAuditStack('tf-test-evid-eu');
  const { kafka, auditTopic, regionTopic, bucket, env } = stack;
  const held = { recordId: randomUUID(), traceId: randomUUID().replaceAll('-', ''), tenant: 'acme' };
  const direct = { recordId: randomUUID(), traceId: randomUUID().replaceAll('-', ''), tenant: 'acme' };
  /** Put into the bucket by hand: no sink stored it, so no STORED event names it. */
  const imported = { recordId: randomUUID(), traceId: randomUUID().replaceAll('-', ''), tenant: 'acme' };
  const t0 = Date.now() - 30_000;
  const sender = { subject: 'client-agent-7', agent: 'support-bot' };

  before(() => stack.start());
  after(() => stack.stop());

  it('shows a held, reviewed, approved and stored trace in order, with where it landed', async () => {
    const findings = { findingCounts: { SECRET: 1, EMAIL_ADDRESS: 2 }, maskingApplied: { SECRET: 'redact', EMAIL_ADDRESS: 'pseudonymize' } };
    // The policy worker holds it (no single candidate region: the 'none' chain), a reviewer approves for eu.
    const produced = [
      auditEvent({ ...held, ...sender, ...findings, decision: 'HELD', region: null, reasonCode: 'HOLD_ON_FINDINGS', occurredAtMs: t0 }),
      auditEvent({ ...direct, ...sender, decision: 'ROUTED', region: 'eu', occurredAtMs: t0 + 500 }),
      auditEvent({ ...imported, ...sender, decision: 'ROUTED', region: 'eu', occurredAtMs: t0 + 600 }),
      auditEvent({ ...held, ...sender, findingCounts: findings.findingCounts, decision: 'HELD', region: 'eu', reasonCode: 'REVIEW_APPROVAL_RECORDED', actor: 'alice@example.test', occurredAtMs: t0 + 1_000 }),
      auditEvent({ ...held, ...sender, findingCounts: findings.findingCounts, decision: 'APPROVED', region: 'eu', reasonCode: 'REVIEW_APPROVED', actor: 'alice@example.test', occurredAtMs: t0 + 2_000 }),
    ];
    await produceAuditEvents(kafka, auditTopic, produced);
    // The approved trace reaches the region topic and the sink stores it (and emits its STORED events).
    await produceRegionTraces(kafka, regionTopic, [direct, held]);
    const object = await waitFor('the approved trace in the bucket', async () =>
      (await readS3Objects(bucket)).find((o) => o.key.startsWith('tenant=acme/') && gunzipSync(o.body).toString('utf8').includes(held.recordId)),
    );
    // A record no sink reported: an object put into the bucket directly, as an import would.
    const importedKey = `tenant=acme/date=${new Date().toISOString().slice(0, 10)}/manual-import/0/${'0'.repeat(20)}.jsonl.gz`;
    const importedBody = gzipSync(Buffer.from(JSON.stringify({ offset: '0', timestamp: String(Date.now()), headers: { 'tf-record-id': imported.recordId, 'tf-tenant': 'acme' }, payload: '' }) + '\n'));
    await putS3Object(bucket, importedKey, { body: importedBody, metadata: { 'tf-record-count': '1', 'tf-sha256': createHash('sha256').update(importedBody).digest('hex') } });

    // The chain holds what was produced, plus the sink's STORED events for the two records it wrote.
    const entries = await waitFor('audit events and STORED events chained', async () => {
      const objs = (await readS3Objects(bucket)).filter((o) => /^audit\/[^/]+\/events\//.test(o.key));
      const chained: ChainEntry[] = objs.flatMap((o) => decodeAuditObject(o.body));
      const ids = new Set(chained.map((e) => e.event.eventId));
      const storedFor = new Set(chained.filter((e) => e.event.decision === 'STORED').map((e) => e.event.recordId));
      return produced.every((e) => ids.has(e.eventId)) && storedFor.has(held.recordId) && storedFor.has(direct.recordId) ? chained : undefined;
    });
    const heldStored = entries.filter((e) => e.event.decision === 'STORED' && e.event.recordId === held.recordId);
    assert.ok(heldStored.length >= 1);
    for (const e of heldStored) {
      assert.equal(e.event.eventId, storedEventId(held.recordId, `s3://${bucket}`, object.key), 'the sink names its STORED event deterministically');
      assert.equal(e.event.subject, 'tracefence-sink:eu');
    }
    assert.ok(!entries.some((e) => e.event.decision === 'STORED' && e.event.recordId === imported.recordId), 'no sink reported the imported object');

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
    // One storage entry although the sink may have emitted its event more than once.
    assert.deepEqual(ev.storage, [
      {
        bucket: `s3://${bucket}`,
        objectKey: object.key,
        bucketLocation: 'eu-central-1',
        locationSource: 'sink-at-write',
        locations: [{ location: 'eu-central-1', allowed: true }],
        locationAllowed: true,
      },
    ]);

    r = await runCli(['evidence', '--trace', held.traceId], env);
    assert.equal(r.code, 0, r.stderr);
    const order = ['HOLD_ON_FINDINGS', 'REVIEW_APPROVAL_RECORDED', 'REVIEW_APPROVED', 'STORED'].map((w) => r.stdout.indexOf(w, r.stdout.indexOf('story:')));
    assert.ok(order.every((i, k) => i > 0 && (k === 0 || i > (order[k - 1] ?? 0))), `story in order:\n${r.stdout}`);
    assert.match(r.stdout, /sender +subject client-agent-7, agent support-bot \(verified token\)/);
    assert.match(r.stdout, /findings \(masking\) +SECRET=1 \(redact\), EMAIL_ADDRESS=2 \(pseudonymize\)/);
    assert.equal(r.stdout.match(/^stored in /gm)?.length, 1, r.stdout);
    assert.match(r.stdout, new RegExp(`stored in +s3://${bucket}/${object.key.replaceAll('.', '\\.')}\n`));
    assert.match(r.stdout, /bucket location +eu-central-1 \(verified by the sink at write time, allowed by policy\)/);
    assert.match(r.stdout, /review +APPROVED by alice@example\.test for eu/);

    // Per tenant: the routed record the sink stored shows the location verified at write time; the
    // imported one has no STORED event, so it is found in the region bucket and its location read now.
    r = await runCli(['evidence', '--tenant', 'acme', '--from', new Date(t0 - 1_000).toISOString(), '--to', 'now', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const all = JSON.parse(r.stdout) as RecordEvidence[];
    assert.deepEqual(all.map((e) => e.recordId), [held.recordId, direct.recordId, imported.recordId]);
    const [, d, i] = all;
    assert.equal(d?.status, 'stored');
    assert.deepEqual(
      d?.storage.map((s) => [s.bucket, s.bucketLocation, s.locationSource, s.locationAllowed]),
      [[`s3://${bucket}`, 'eu-central-1', 'sink-at-write', true]],
    );
    assert.equal(i?.status, 'stored');
    assert.deepEqual(i?.storage, [
      {
        bucket: `s3://${bucket}`,
        objectKey: importedKey,
        bucketLocation: 'eu-central-1',
        locationSource: 'store-at-lookup',
        locations: [{ location: 'eu-central-1', allowed: true }],
        locationAllowed: true,
      },
    ]);
    r = await runCli(['evidence', '--trace', imported.traceId], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /bucket location +eu-central-1 \(reported by the store at lookup, allowed by policy\)/);

    r = await runCli(['evidence', '--trace', 'f'.repeat(32)], env);
    assert.equal(r.code, 1);
  });
});
