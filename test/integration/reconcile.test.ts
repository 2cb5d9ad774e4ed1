/**
 * `tracefence reconcile` balances decisions against stored objects with the real sink and audit
 * sink: records the sink stored are counted from its STORED events (each checked against the
 * object it names), a record no sink reported from the objects alone; and it catches a record
 * deliberately removed from a bucket after its STORED event.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { decodeAuditObject } from '../../services/audit/audit-layout.js';
import type { ReconcileReport } from '../../services/audit/reconcile.js';
import { readS3Objects, waitFor } from '../helpers/sink-stack.js';
import { auditEvent, euAuditStack, produceAuditEvents, produceRegionTraces, putS3Object, runCli } from '../helpers/audit-stack.js';

describe('reconcile', { timeout: 90_000 }, () => {
  const stack = euAuditStack('tf-test-recon-eu');
  const { kafka, auditTopic, regionTopic, bucket, env } = stack;
  const startedAt = Date.now() - 60_000;
  const routed = Array.from({ length: 6 }, () => ({ recordId: randomUUID(), traceId: randomUUID().replaceAll('-', ''), tenant: 'acme' }));
  const approvedHold = { recordId: randomUUID(), traceId: randomUUID().replaceAll('-', ''), tenant: 'acme' };
  /** Routed, but put into the bucket by hand: no STORED event names it. */
  const imported = { recordId: randomUUID(), traceId: randomUUID().replaceAll('-', ''), tenant: 'acme' };

  before(() => stack.start());
  after(() => stack.stop());

  async function dataObjects() {
    return (await readS3Objects(bucket)).filter((o) => o.key.startsWith('tenant='));
  }

  it('balances routed, held, approved and dead-lettered records against the bucket, then finds a removed record', async () => {
    await produceRegionTraces(kafka, regionTopic, [...routed, approvedHold]);
    const events = [
      ...routed.map((r) => auditEvent({ ...r, decision: 'ROUTED', region: 'eu', findingCounts: { EMAIL_ADDRESS: 1 }, maskingApplied: { EMAIL_ADDRESS: 'pseudonymize' } })),
      auditEvent({ ...imported, decision: 'ROUTED', region: 'eu' }),
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
    const importedBody = gzipSync(Buffer.from(JSON.stringify({ offset: '0', timestamp: String(Date.now()), headers: { 'tf-record-id': imported.recordId, 'tf-tenant': 'acme' }, payload: '' }) + '\n'));
    await putS3Object(bucket, `tenant=acme/date=${new Date().toISOString().slice(0, 10)}/manual-import/0/${'0'.repeat(20)}.jsonl.gz`, {
      body: importedBody,
      metadata: { 'tf-record-count': '1', 'tf-sha256': createHash('sha256').update(importedBody).digest('hex') },
    });
    // The chain holds every produced event and, on top, the sink's STORED events (at least once each).
    const sinkStored = [...routed, approvedHold].map((r) => r.recordId);
    await waitFor('audit events and STORED events chained', async () => {
      const objs = (await readS3Objects(bucket)).filter((o) => /^audit\/[^/]+\/events\//.test(o.key));
      const chained = objs.flatMap((o) => decodeAuditObject(o.body));
      const ids = new Set(chained.map((e) => e.event.eventId));
      const storedFor = new Set(chained.filter((e) => e.event.decision === 'STORED').map((e) => e.event.recordId));
      return events.every((e) => ids.has(e.eventId)) && sinkStored.every((id) => storedFor.has(id));
    });

    const window = ['--from', new Date(startedAt).toISOString(), '--to', new Date(Date.now() + 60_000).toISOString()];
    let r = await runCli(['reconcile', ...window], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /ingested 10 = routed 7 \+ held 2 \+ dead-lettered 1 {2}OK/);
    assert.match(r.stdout, /holds: approved 1, rejected 0, expired 0, pending 1/);
    assert.match(r.stdout, /routed \+ approved 8 = stored 8 {2}OK {3}\(7 by STORED events, 1 found in objects only; /);
    assert.match(r.stdout, /result: BALANCED/);
    r = await runCli(['reconcile', ...window, '--json'], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const balanced = JSON.parse(r.stdout) as ReconcileReport;
    assert.deepEqual(balanced.violations, []);
    assert.deepEqual([balanced.counts.expectedStored, balanced.counts.stored, balanced.counts.storedByEvents, balanced.counts.storedFromObjectsOnly], [8, 8, 7, 1]);

    // Someone with write access removes one record from its object.
    const victim = routed[2]?.recordId ?? '';
    const obj = (await dataObjects()).find((o) => gunzipSync(o.body).toString('utf8').includes(victim));
    assert.ok(obj !== undefined);
    const kept = gunzipSync(obj.body).toString('utf8').split('\n').filter((l) => l !== '' && !l.includes(victim));
    await putS3Object(bucket, obj.key, { body: gzipSync(Buffer.from(kept.join('\n') + '\n')), metadata: obj.metadata });

    r = await runCli(['reconcile', ...window, '--json'], env);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as ReconcileReport;
    assert.equal(report.ok, false);
    assert.equal(report.storageBalance, false);
    assert.deepEqual(report.missingRecordIds, [victim]);
    assert.deepEqual([report.counts.stored, report.counts.storedByEvents, report.counts.storedFromObjectsOnly], [7, 6, 1]);
    // Its STORED event still names the object, but the object no longer holds it.
    const mismatch = report.violations.find((v) => v.kind === 'stored-event-mismatch');
    assert.equal(mismatch?.recordId, victim);
    assert.match(mismatch?.detail ?? '', new RegExp(`names s3://${bucket}/${obj.key.replaceAll('.', '\\.')}, an object that does not hold it`));
    assert.ok(report.violations.some((v) => v.kind === 'not-stored' && v.recordId === victim));
    assert.ok(report.violations.some((v) => v.kind === 'object-damaged'), 'the record count recorded at write time no longer matches');

    r = await runCli(['reconcile', ...window], env);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`missing record ids:\\n  ${victim}`));
    assert.match(r.stdout, /result: NOT BALANCED/);
  });
});
