/**
 * Time-to-live on the real stack: a hold nobody decides is rejected automatically (fail closed)
 * with an EXPIRED audit event, and can no longer be approved; a restart of the service keeps the
 * holds (they live in Redis) and a replay of the held topic does not bring an expired hold back.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningApprovalService } from '../../services/approval-service/approval-service.js';
import { HEADERS } from '../../services/shared/record-headers.js';
import { api, createApprovalRun, decodeAudit, heldTrace, produceHeld, readTopic, reviewerToken, startInProcess, waitFor, type ApprovalRun } from '../helpers/approval-stack.js';

let run: ApprovalRun;
let service: RunningApprovalService | undefined;
let alice: string;

before(async () => {
  run = await createApprovalRun({ minApprovals: 1 });
  service = await startInProcess(run, { TRACEFENCE_REVIEW_TTL_MS: '3000' });
  alice = await reviewerToken('alice', ['reviewers:eu:acme']);
});

after(async () => {
  await service?.close();
  await run?.cleanup();
});

test('an undecided hold expires after its time-to-live: EXPIRED audit event, no region record, no later approval', async () => {
  const held = heldTrace();
  const id = held.trace.recordId;
  await produceHeld(run.kafka, run.topics.held, [held]);
  const port = service!.port;
  await waitFor('hold', async () => (await api(port, 'GET', `/api/holds/${id}`, alice)).status === 200);

  const audit = await readTopic(run.kafka, run.topics.audit, { until: (rs) => rs.some((r) => r.headers[HEADERS.recordId] === id), timeoutMs: 20_000 });
  const events = audit.filter((r) => r.headers[HEADERS.recordId] === id).map(decodeAudit);
  assert.equal(events.length, 1);
  assert.equal(events[0]?.decision, 'EXPIRED');
  assert.equal(events[0]?.reasonCode, 'REVIEW_TTL_EXPIRED');
  assert.equal(events[0]?.actor, 'system:approval-ttl');

  const shown = await api(port, 'GET', `/api/holds/${id}`, alice);
  assert.equal((shown.body['hold'] as Record<string, unknown>)['status'], 'expired');
  const late = await api(port, 'POST', `/api/holds/${id}/approve`, alice, { justification: 'too late' });
  assert.equal(late.status, 409);
  assert.equal((late.body['error'] as Record<string, unknown>)['code'], 'REVIEW_ALREADY_DECIDED');
  const list = await api(port, 'GET', '/api/holds?status=expired', alice);
  assert.ok((list.body['holds'] as Array<Record<string, unknown>>).some((h) => h['recordId'] === id));

  const eu = await readTopic(run.kafka, run.topics.eu, { timeoutMs: 1500 });
  assert.equal(eu.filter((r) => r.headers[HEADERS.recordId] === id).length, 0);
});

test('a restart keeps the holds; a replayed held record does not revive an expired hold', async () => {
  const held = heldTrace();
  const id = held.trace.recordId;
  await service!.close();
  service = await startInProcess(run, { TRACEFENCE_REVIEW_TTL_MS: '3000' });
  await produceHeld(run.kafka, run.topics.held, [held]);
  await waitFor('hold', async () => (await api(service!.port, 'GET', `/api/holds/${id}`, alice)).status === 200);
  await waitFor('expired', async () => ((await api(service!.port, 'GET', `/api/holds/${id}`, alice)).body['hold'] as Record<string, unknown>)['status'] === 'expired');
  await readTopic(run.kafka, run.topics.audit, { until: (rs) => rs.some((r) => r.headers[HEADERS.recordId] === id), timeoutMs: 20_000 });
  // Replay: the same record again on the held topic, after it expired.
  await produceHeld(run.kafka, run.topics.held, [held]);
  await new Promise((r) => setTimeout(r, 4000));
  const shown = await api(service!.port, 'GET', `/api/holds/${id}`, alice);
  assert.equal((shown.body['hold'] as Record<string, unknown>)['status'], 'expired');
  const audit = await readTopic(run.kafka, run.topics.audit, { timeoutMs: 2000 });
  assert.equal(audit.filter((r) => r.headers[HEADERS.recordId] === id).length, 1, 'one EXPIRED event, not two');
});
