/**
 * The reviewer API and its rules on the real stack (Kafka, Redis, issuer keys): intake exactly
 * once, 401/403 scoping, justification, two distinct approvals, no self-approval, rejection wins,
 * the approved trace on its region topic exactly once, and every step audited with its actor.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import type { RunningApprovalService } from '../../services/approval-service/approval-service.js';
import { HEADERS } from '../../services/shared/record-headers.js';
import { redisUrl } from '../helpers/stack.js';
import {
  api,
  createApprovalRun,
  decodeAudit,
  heldTrace,
  produceHeld,
  readTopic,
  reviewerToken,
  startInProcess,
  waitFor,
  type ApprovalRun,
} from '../helpers/approval-stack.js';

let run: ApprovalRun;
let service: RunningApprovalService;
let alice: string;
let bob: string;
let carol: string;

before(async () => {
  run = await createApprovalRun({ minApprovals: 2 });
  service = await startInProcess(run);
  alice = await reviewerToken('alice', ['reviewers:eu:acme', 'reviewers:eu:initech']);
  bob = await reviewerToken('bob', ['reviewers:eu:acme']);
  carol = await reviewerToken('carol', ['reviewers:us:globex', 'reviewers:us:initech']);
});

after(async () => {
  await service?.close();
  await run?.cleanup();
});

async function waitHeld(recordId: string): Promise<void> {
  await waitFor(`hold ${recordId}`, async () => (await api(service.port, 'GET', `/api/holds/${recordId}`, alice)).status === 200);
}

test('a held record enters its queue once; a replay changes nothing', async () => {
  const held = heldTrace();
  await produceHeld(run.kafka, run.topics.held, [held, held]);
  await waitHeld(held.trace.recordId);
  // Let the replayed copy be consumed as well.
  await new Promise((r) => setTimeout(r, 1500));
  const list = await api(service.port, 'GET', '/api/holds?tenant=acme', alice);
  assert.equal(list.status, 200);
  const holds = list.body['holds'] as Array<Record<string, unknown>>;
  assert.equal(holds.filter((h) => h['recordId'] === held.trace.recordId).length, 1);
  const redis = new Redis(redisUrl);
  try {
    const ids = await redis.keys(`${run.prefix}:held-*:${held.trace.recordId}`);
    assert.equal(ids.length, 1, 'one job across all queues');
    assert.match(ids[0] ?? '', /:held-eu:/);
    // Nothing unmasked stored: the job holds only what the masked held record held.
    const raw = JSON.stringify(await redis.hgetall(ids[0] ?? ''));
    assert.ok(!raw.includes('eyJ'), 'no token in the queue');
  } finally {
    redis.disconnect();
  }

  const shown = await api(service.port, 'GET', `/api/holds/${held.trace.recordId}`, bob);
  assert.equal(shown.status, 200);
  const hold = shown.body['hold'] as Record<string, unknown>;
  assert.equal(hold['holdReasonCode'], 'FINDINGS_THRESHOLD');
  assert.deepEqual(hold['findings'], { EMAIL_ADDRESS: 1, SECRET: 1 });
  assert.equal(hold['status'], 'pending');
  const preview = shown.body['preview'] as { steps: Array<{ input: Array<{ parts: Array<{ text: { text: string; findings: Array<{ type: string; start: number; end: number }> } }> }> }> };
  const text = preview.steps[0]?.input[0]?.parts[0]?.text;
  assert.ok(text);
  assert.deepEqual(text.findings.map((f) => f.type), ['EMAIL_ADDRESS', 'SECRET']);
  assert.equal(text.text.slice(text.findings[0]!.start, text.findings[0]!.end), '[EMAIL_ADDRESS:3f2a9c01]');
});

test('401 without a token or with an invalid one, with WWW-Authenticate', async () => {
  const none = await api(service.port, 'GET', '/api/holds');
  assert.equal(none.status, 401);
  assert.equal((none.body['error'] as Record<string, unknown>)['code'], 'REVIEW_UNAUTHENTICATED');
  assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer realm=/);

  const forged = `${alice.slice(0, -4)}AAAA`;
  const bad = await api(service.port, 'GET', '/api/holds', forged);
  assert.equal(bad.status, 401);
  assert.match(bad.headers.get('www-authenticate') ?? '', /error="invalid_token"/);

  const wrongAudience = await api(service.port, 'GET', '/api/holds', await reviewerToken('alice', ['reviewers:eu:acme'], { audience: 'urn:other' }));
  assert.equal(wrongAudience.status, 401);
  const expired = await api(service.port, 'GET', '/api/holds', await reviewerToken('alice', ['reviewers:eu:acme'], { expiresInSec: -120 }));
  assert.equal(expired.status, 401);
  const approveAnon = await api(service.port, 'POST', `/api/holds/${heldTrace().trace.recordId}/approve`, undefined, { justification: 'x' });
  assert.equal(approveAnon.status, 401);
});

test('403 for a reviewer of another region or another tenant; 404 for an unknown hold', async () => {
  const held = heldTrace();
  await produceHeld(run.kafka, run.topics.held, [held]);
  await waitHeld(held.trace.recordId);
  const id = held.trace.recordId;

  // carol reviews us (globex, initech): not eu/acme.
  assert.equal((await api(service.port, 'GET', `/api/holds/${id}`, carol)).status, 403);
  const carolApprove = await api(service.port, 'POST', `/api/holds/${id}/approve`, carol, { justification: 'looks fine' });
  assert.equal(carolApprove.status, 403);
  assert.equal((carolApprove.body['error'] as Record<string, unknown>)['code'], 'REVIEW_FORBIDDEN');
  assert.equal((await api(service.port, 'POST', `/api/holds/${id}/reject`, carol, { justification: 'no' })).status, 403);
  // Same region, other tenant.
  const euGlobex = await reviewerToken('dave', ['reviewers:eu:globex']);
  assert.equal((await api(service.port, 'GET', `/api/holds/${id}`, euGlobex)).status, 403);
  assert.equal((await api(service.port, 'POST', `/api/holds/${id}/approve`, euGlobex, { justification: 'ok' })).status, 403);
  // Other tenant or region in a list filter.
  assert.equal((await api(service.port, 'GET', '/api/holds?tenant=globex', alice)).status, 403);
  assert.equal((await api(service.port, 'GET', '/api/holds?region=us', alice)).status, 403);
  // An agent token has no reviewer group at all.
  assert.equal((await api(service.port, 'GET', '/api/holds', await reviewerToken('agent-acme-support', ['eu-only']))).status, 403);
  // Reviewer groups without the review scope (an agent's traces:write token): refused, and said why.
  const noScope = await api(service.port, 'GET', `/api/holds/${id}`, await reviewerToken('alice', ['reviewers:eu:acme'], { scope: 'traces:write' }));
  assert.equal(noScope.status, 403);
  assert.match(String((noScope.body['error'] as Record<string, unknown>)['message']), /traces:review scope/);
  // carol's own list does not contain the eu/acme hold.
  const carolList = await api(service.port, 'GET', '/api/holds', carol);
  assert.equal(carolList.status, 200);
  assert.equal((carolList.body['holds'] as Array<Record<string, unknown>>).some((h) => h['recordId'] === id), false);

  assert.equal((await api(service.port, 'GET', `/api/holds/${heldTrace().trace.recordId}`, alice)).status, 404);
  assert.equal((await api(service.port, 'GET', '/api/holds/not-a-uuid', alice)).status, 404);
});

test('a justification is required on every decision; bodies are bounded', async () => {
  const held = heldTrace();
  await produceHeld(run.kafka, run.topics.held, [held]);
  await waitHeld(held.trace.recordId);
  const id = held.trace.recordId;
  for (const body of [{}, { justification: '' }, { justification: '   ' }, { justification: 42 }, { justification: 'x'.repeat(2001) }]) {
    const r = await api(service.port, 'POST', `/api/holds/${id}/approve`, alice, body);
    assert.equal(r.status, 400, JSON.stringify(body).slice(0, 60));
    assert.equal((r.body['error'] as Record<string, unknown>)['code'], 'REVIEW_REQUEST_INVALID');
  }
  assert.equal((await api(service.port, 'POST', `/api/holds/${id}/reject`, alice, {})).status, 400);
  const huge = await fetch(`http://127.0.0.1:${service.port}/api/holds/${id}/reject`, {
    method: 'POST',
    headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
    body: JSON.stringify({ justification: 'y'.repeat(64 * 1024) }),
  });
  assert.equal(huge.status, 400);
  const shown = await api(service.port, 'GET', `/api/holds/${id}`, alice);
  assert.equal((shown.body['hold'] as Record<string, unknown>)['status'], 'pending');
});

test('two distinct approvals are needed; self-approval is refused; the trace reaches its region topic once, audited', async () => {
  const held = heldTrace();
  await produceHeld(run.kafka, run.topics.held, [held]);
  await waitHeld(held.trace.recordId);
  const id = held.trace.recordId;

  // The agent's own identity may not approve, even with a reviewer group.
  const self = await reviewerToken('agent-acme-support', ['reviewers:eu:acme']);
  const selfApprove = await api(service.port, 'POST', `/api/holds/${id}/approve`, self, { justification: 'my own trace is fine' });
  assert.equal(selfApprove.status, 403);
  assert.equal((selfApprove.body['error'] as Record<string, unknown>)['code'], 'REVIEW_SELF_APPROVAL');

  const first = await api(service.port, 'POST', `/api/holds/${id}/approve`, alice, { justification: 'secret is a test key' });
  assert.equal(first.status, 200);
  assert.equal((first.body['hold'] as Record<string, unknown>)['status'], 'pending');
  const again = await api(service.port, 'POST', `/api/holds/${id}/approve`, alice, { justification: 'me again' });
  assert.equal(again.status, 409);
  assert.equal((again.body['error'] as Record<string, unknown>)['code'], 'REVIEW_DUPLICATE_APPROVAL');

  const second = await api(service.port, 'POST', `/api/holds/${id}/approve`, bob, { justification: 'agreed' });
  assert.equal(second.status, 200);
  assert.equal((second.body['hold'] as Record<string, unknown>)['status'], 'approved');
  assert.equal((second.body['hold'] as Record<string, unknown>)['region'], 'eu');
  const late = await api(service.port, 'POST', `/api/holds/${id}/reject`, alice, { justification: 'changed my mind' });
  assert.equal(late.status, 409);
  assert.equal((late.body['error'] as Record<string, unknown>)['code'], 'REVIEW_ALREADY_DECIDED');

  await waitFor('published', async () => ((await api(service.port, 'GET', `/api/holds/${id}`, alice)).body['hold'] as Record<string, unknown>)['published'] === true);
  const eu = await readTopic(run.kafka, run.topics.eu, { until: (rs) => rs.some((r) => r.headers[HEADERS.recordId] === id), settleMs: 1000 });
  const mine = eu.filter((r) => r.headers[HEADERS.recordId] === id);
  assert.equal(mine.length, 1, 'exactly one record on the region topic');
  assert.equal(mine[0]?.key, held.trace.traceId);
  assert.equal(mine[0]?.headers[HEADERS.tenant], 'acme');
  assert.ok(mine[0]?.headers[HEADERS.schema]);
  assert.ok(mine[0]?.headers[HEADERS.policyVersion]);
  const us = await readTopic(run.kafka, run.topics.us, { timeoutMs: 1000 });
  assert.equal(us.filter((r) => r.headers[HEADERS.recordId] === id).length, 0);

  const audit = await readTopic(run.kafka, run.topics.audit, { until: (rs) => rs.filter((r) => r.headers[HEADERS.recordId] === id).length >= 3 });
  const events = audit.filter((r) => r.headers[HEADERS.recordId] === id).map(decodeAudit);
  assert.deepEqual(events.map((e) => [e.decision, e.actor]).sort(), [['APPROVED', 'alice,bob'], ['HELD', 'alice'], ['HELD', 'bob']].sort());
  const approved = events.find((e) => e.decision === 'APPROVED');
  assert.equal(approved?.region, 'eu');
  assert.equal(new Set(events.map((e) => e.eventId)).size, 3);
});

test('any rejection decides, even after an approval', async () => {
  const held = heldTrace();
  await produceHeld(run.kafka, run.topics.held, [held]);
  await waitHeld(held.trace.recordId);
  const id = held.trace.recordId;
  assert.equal((await api(service.port, 'POST', `/api/holds/${id}/approve`, alice, { justification: 'fine by me' })).status, 200);
  const rejected = await api(service.port, 'POST', `/api/holds/${id}/reject`, bob, { justification: 'contains a live secret' });
  assert.equal(rejected.status, 200);
  assert.equal((rejected.body['hold'] as Record<string, unknown>)['status'], 'rejected');
  const after = await api(service.port, 'POST', `/api/holds/${id}/approve`, await reviewerToken('erin', ['reviewers:eu:acme']), { justification: 'ok' });
  assert.equal(after.status, 409);

  const audit = await readTopic(run.kafka, run.topics.audit, { until: (rs) => rs.some((r) => r.headers[HEADERS.recordId] === id && decodeAudit(r).decision === 'REJECTED') });
  const rejection = audit.filter((r) => r.headers[HEADERS.recordId] === id).map(decodeAudit).find((e) => e.decision === 'REJECTED');
  assert.equal(rejection?.actor, 'bob');
  assert.equal(rejection?.reasonCode, 'REVIEW_REJECTED');
  const eu = await readTopic(run.kafka, run.topics.eu, { timeoutMs: 1500 });
  assert.equal(eu.filter((r) => r.headers[HEADERS.recordId] === id).length, 0, 'a rejected trace reaches no region');
});

test('an unresolved hold is approved into a chosen candidate region by reviewers of that region', async () => {
  const held = heldTrace({ tenant: 'initech', agent: 'ops-bot', subject: 'agent-initech-ops', candidateRegions: ['eu', 'us'], holdReasonCode: 'REGION_UNRESOLVED', holdReason: 'no region declared and no home region' });
  await produceHeld(run.kafka, run.topics.held, [held]);
  const id = held.trace.recordId;
  await waitFor('unresolved hold', async () => (await api(service.port, 'GET', `/api/holds/${id}`, carol)).status === 200);
  // Both an eu and a us reviewer of initech see it.
  assert.equal((await api(service.port, 'GET', `/api/holds/${id}`, alice)).status, 200);
  const noRegion = await api(service.port, 'POST', `/api/holds/${id}/approve`, carol, { justification: 'us customer' });
  assert.equal(noRegion.status, 400);
  assert.equal((noRegion.body['error'] as Record<string, unknown>)['path'], 'region');
  assert.equal((await api(service.port, 'POST', `/api/holds/${id}/approve`, carol, { justification: 'x', region: 'apac' })).status, 400);
  // carol may not approve into eu.
  assert.equal((await api(service.port, 'POST', `/api/holds/${id}/approve`, carol, { justification: 'x', region: 'eu' })).status, 403);
  assert.equal((await api(service.port, 'POST', `/api/holds/${id}/approve`, carol, { justification: 'us customer', region: 'us' })).status, 200);
  const second = await api(service.port, 'POST', `/api/holds/${id}/approve`, await reviewerToken('frank', ['reviewers:us:initech']), { justification: 'confirmed', region: 'us' });
  assert.equal((second.body['hold'] as Record<string, unknown>)['status'], 'approved');
  const us = await readTopic(run.kafka, run.topics.us, { until: (rs) => rs.some((r) => r.headers[HEADERS.recordId] === id), settleMs: 500 });
  assert.equal(us.filter((r) => r.headers[HEADERS.recordId] === id).length, 1);
});
