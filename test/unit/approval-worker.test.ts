/**
 * The hold worker's step logic with in-memory fakes: expiry, one transaction per step, and
 * exactly-once delivery to the region topic across a crash between the Kafka commit and the
 * `published` marker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCodec } from '../../services/shared/avro/index.js';
import type { HoldJobData, PublishIntent } from '../../services/approval-service/hold-record.js';
import { createHoldProcessor, type JobHandle } from '../../services/approval-service/hold-worker.js';
import type { OutboundRecord } from '../../services/approval-service/outcome-records.js';
import { approve } from '../../services/approval-service/review-rules.js';
import { holdData } from '../helpers/hold-data.js';

const auditCodec = createCodec('audit-event');

function hold(): HoldJobData {
  return holdData({ traceId: 'b'.repeat(32), trace: { schema: 'f'.repeat(64), payloadBase64: Buffer.from('masked').toString('base64') } });
}

/** A fake Kafka: committed records, with an optional crash right after a commit. */
function fakeWorld(initial: HoldJobData, nowMs: number) {
  let data = initial;
  const committed: OutboundRecord[] = [];
  let crashAfterCommit = false;
  let sleptUntil: number | undefined;
  const handle: JobHandle = {
    id: initial.recordId,
    async updateData(next) {
      data = next;
    },
    async sleepUntil(atMs) {
      sleptUntil = atMs;
    },
  };
  const run = createHoldProcessor({
    store: {
      withLock: async (_id, fn) => fn(),
      get: async () => ({ queue: 'held-eu', data, job: undefined as never }),
    },
    publisher: {
      async send(records) {
        committed.push(...records);
        if (crashAfterCommit) {
          crashAfterCommit = false;
          throw new Error('process died after the commit');
        }
      },
      async highWatermarks() {
        return { '0': String(committed.filter((r) => r.topic === 'region.eu').length) };
      },
      async committedSince(intent: PublishIntent, recordId: string) {
        return committed.filter((r) => r.topic === intent.topic).slice(Number(intent.fromOffsets['0'] ?? '0')).some((r) => r.headers['tf-record-id'] === recordId);
      },
    },
    auditCodec,
    auditTopic: 'audit',
    regionTopic: (r) => (r === 'eu' ? 'region.eu' : undefined),
    policyVersion: 'pv',
    now: () => nowMs,
  });
  return {
    run: () => run(handle),
    get data() {
      return data;
    },
    set data(d: HoldJobData) {
      data = d;
    },
    committed,
    crashNextCommit() {
      crashAfterCommit = true;
    },
    get sleptUntil() {
      return sleptUntil;
    },
  };
}

test('a pending hold sleeps until its expiry; at expiry it is EXPIRED once', async () => {
  const w = fakeWorld(hold(), 5000);
  const r = await w.run();
  assert.deepEqual(r, { status: 'pending', produced: 0, sleeping: true });
  assert.equal(w.sleptUntil, 10_000);

  const late = fakeWorld(hold(), 10_000);
  const done = await late.run();
  assert.equal(done.status, 'expired');
  assert.equal(late.committed.length, 1);
  const event = auditCodec.decode(late.committed[0]!.value, late.committed[0]!.headers['tf-schema']);
  assert.equal(event.decision, 'EXPIRED');
  assert.equal(event.actor, 'system:approval-ttl');
  // Running again produces nothing more.
  await late.run();
  assert.equal(late.committed.length, 1);
});

test('approval: region record and APPROVED event in one step, once', async () => {
  const w = fakeWorld(hold(), 5000);
  w.data = approve(w.data, { subject: 'alice', groups: ['reviewers:eu:acme'] }, { justification: 'ok' }, { minApprovals: 1, knownRegions: new Set(['eu']), nowMs: 5000 });
  const r = await w.run();
  assert.equal(r.status, 'approved');
  assert.equal(r.sleeping, false);
  assert.deepEqual(w.committed.map((c) => c.topic).sort(), ['audit', 'audit', 'region.eu']);
  const region = w.committed.find((c) => c.topic === 'region.eu')!;
  assert.equal(region.key, 'b'.repeat(32));
  assert.equal(region.value.toString(), 'masked');
  assert.deepEqual(Object.keys(region.headers).sort(), ['tf-policy-version', 'tf-record-id', 'tf-schema', 'tf-tenant']);
  assert.equal(w.data.review.published, true);
  await w.run();
  assert.equal(w.committed.length, 3);
});

test('a crash between the Kafka commit and the published marker does not produce the trace twice', async () => {
  const w = fakeWorld(hold(), 5000);
  w.data = approve(w.data, { subject: 'alice', groups: ['reviewers:eu:acme'] }, { justification: 'ok' }, { minApprovals: 1, knownRegions: new Set(['eu']), nowMs: 5000 });
  w.crashNextCommit();
  await assert.rejects(w.run());
  assert.equal(w.data.review.published, false);
  assert.ok(w.data.review.intent !== null, 'the intent was recorded before producing');
  await w.run();
  assert.equal(w.committed.filter((c) => c.topic === 'region.eu').length, 1);
  assert.equal(w.committed.filter((c) => c.topic === 'audit').length, 2, 'audit events of the committed step are not produced again');
  assert.equal(w.data.review.published, true);
  assert.equal(w.data.review.intent, null);
});

test('a failure before the commit produces the trace on retry', async () => {
  const w = fakeWorld(hold(), 5000);
  w.data = approve(w.data, { subject: 'alice', groups: ['reviewers:eu:acme'] }, { justification: 'ok' }, { minApprovals: 1, knownRegions: new Set(['eu']), nowMs: 5000 });
  // Simulate: intent written, then the process died before anything was committed.
  w.data = { ...w.data, review: { ...w.data.review, intent: { topic: 'region.eu', fromOffsets: { '0': '0' }, eventIds: [] } } };
  await w.run();
  assert.equal(w.committed.filter((c) => c.topic === 'region.eu').length, 1);
  assert.equal(w.data.review.published, true);
});
