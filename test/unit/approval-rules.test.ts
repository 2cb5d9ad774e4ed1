import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TracefenceError } from '../../services/shared/errors.js';
import { deterministicId, queueNameFor } from '../../services/approval-service/hold-record.js';
import { holdData as hold } from '../helpers/hold-data.js';
import { approve, expireIfDue, mayView, reject, reviewerScopes, type RuleContext } from '../../services/approval-service/review-rules.js';
import { markFindings, markedTextHtml } from '../../services/approval-service/trace-preview.js';
import { escapeHtml } from '../../services/approval-service/web-pages.js';

const ctx = (minApprovals = 1, nowMs = 5000): RuleContext => ({ minApprovals, knownRegions: new Set(['eu', 'us']), nowMs });
const alice = { subject: 'alice', groups: ['reviewers:eu:acme'] };
const bob = { subject: 'bob', groups: ['reviewers:eu:acme', 'other-group'] };

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof TracefenceError) return err.code;
    throw err;
  }
  return 'no error';
}

test('reviewer scopes come only from well-formed reviewers:<region>:<tenant> groups', () => {
  assert.deepEqual(reviewerScopes(['reviewers:eu:acme', 'reviewers:EU:acme', 'reviewers:eu', 'admins', 'reviewers:us:glob.ex']), [
    { region: 'eu', tenant: 'acme' },
    { region: 'us', tenant: 'glob.ex' },
  ]);
  assert.equal(mayView(alice, hold()), true);
  assert.equal(mayView({ subject: 'c', groups: ['reviewers:us:acme'] }, hold()), false);
  assert.equal(mayView({ subject: 'c', groups: ['reviewers:eu:globex'] }, hold()), false);
  assert.equal(mayView({ subject: 'c', groups: ['reviewers:us:acme'] }, hold({ candidateRegions: ['eu', 'us'] })), true);
});

test('queues: one per single candidate region, one for unresolved holds', () => {
  assert.equal(queueNameFor(['eu']), 'held-eu');
  assert.equal(queueNameFor(['eu', 'us']), 'held-unresolved');
  assert.equal(queueNameFor([]), 'held-unresolved');
});

test('minimum distinct approvals, no duplicate, no self-approval', () => {
  const h0 = hold();
  const h1 = approve(h0, alice, { justification: ' ok ' }, ctx(2));
  assert.equal(h1.review.status, 'pending');
  assert.equal(h1.review.votes[0]?.justification, 'ok');
  assert.equal(code(() => approve(h1, alice, { justification: 'again' }, ctx(2))), 'REVIEW_DUPLICATE_APPROVAL');
  const h2 = approve(h1, bob, { justification: 'fine' }, ctx(2));
  assert.equal(h2.review.status, 'approved');
  assert.equal(h2.review.region, 'eu');
  assert.equal(code(() => approve(h2, { subject: 'carl', groups: ['reviewers:eu:acme'] }, { justification: 'x' }, ctx(2))), 'REVIEW_ALREADY_DECIDED');
  for (const sub of ['agent-acme-support', 'support-bot']) {
    assert.equal(code(() => approve(h0, { subject: sub, groups: ['reviewers:eu:acme'] }, { justification: 'x' }, ctx())), 'REVIEW_SELF_APPROVAL');
  }
  assert.equal(approve(h0, alice, { justification: 'x' }, ctx(1)).review.status, 'approved');
  // minApprovals 0 in a policy still needs one approval.
  assert.equal(approve(h0, alice, { justification: 'x' }, ctx(0)).review.status, 'approved');
});

test('justification is required and bounded', () => {
  for (const j of [undefined, '', '  ', 3, 'x'.repeat(2001), 'bell\u0007']) {
    assert.equal(code(() => approve(hold(), alice, { justification: j }, ctx())), 'REVIEW_REQUEST_INVALID');
    assert.equal(code(() => reject(hold(), alice, { justification: j }, 5000)), 'REVIEW_REQUEST_INVALID');
  }
  assert.equal(approve(hold(), alice, { justification: 'line 1\nline 2' }, ctx()).review.status, 'approved');
});

test('any rejection decides; expiry is fail-closed', () => {
  const h1 = approve(hold(), alice, { justification: 'ok' }, ctx(2));
  const r = reject(h1, bob, { justification: 'no' }, 6000);
  assert.equal(r.review.status, 'rejected');
  assert.equal(code(() => reject(r, alice, { justification: 'no' }, 6000)), 'REVIEW_ALREADY_DECIDED');
  // Past the TTL nothing is accepted, and the hold expires.
  assert.equal(code(() => approve(hold(), alice, { justification: 'ok' }, ctx(1, 10_000))), 'REVIEW_ALREADY_DECIDED');
  assert.equal(code(() => reject(hold(), alice, { justification: 'ok' }, 10_001)), 'REVIEW_ALREADY_DECIDED');
  assert.equal(expireIfDue(hold(), 9_999).review.status, 'pending');
  assert.equal(expireIfDue(hold(), 10_000).review.status, 'expired');
  assert.equal(expireIfDue(r, 20_000).review.status, 'rejected');
  assert.equal(code(() => reject(hold(), { subject: 'x', groups: ['reviewers:us:acme'] }, { justification: 'no' }, 5000)), 'REVIEW_FORBIDDEN');
});

test('unresolved holds: region required, must be a candidate, known and in the reviewer scope', () => {
  const h = hold({ candidateRegions: ['eu', 'us'] });
  assert.equal(code(() => approve(h, alice, { justification: 'x' }, ctx())), 'REVIEW_REQUEST_INVALID');
  assert.equal(code(() => approve(h, alice, { justification: 'x', region: 'apac' }, ctx())), 'REVIEW_REQUEST_INVALID');
  assert.equal(code(() => approve(h, alice, { justification: 'x', region: 'us' }, ctx())), 'REVIEW_FORBIDDEN');
  assert.equal(code(() => approve(hold({ candidateRegions: ['eu', 'gone'] }), alice, { justification: 'x', region: 'gone' }, ctx())), 'REVIEW_REQUEST_INVALID');
  const ok = approve(h, alice, { justification: 'x', region: 'eu' }, ctx());
  assert.equal(ok.review.region, 'eu');
  // Approvals count per region.
  const split = approve(approve(h, alice, { justification: 'x', region: 'eu' }, ctx(2)), { subject: 'u', groups: ['reviewers:us:acme'] }, { justification: 'y', region: 'us' }, ctx(2));
  assert.equal(split.review.status, 'pending');
});

test('deterministic ids are UUID-shaped and stable', () => {
  const a = deterministicId('r', 'final');
  assert.equal(a, deterministicId('r', 'final'));
  assert.notEqual(a, deterministicId('r', 'vote'));
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('finding labels are marked; HTML is escaped everywhere', () => {
  const t = markFindings('to [EMAIL_ADDRESS:3f2a] and [SECRET] but not [lower] <script>');
  assert.deepEqual(t.findings.map((f) => [f.type, t.text.slice(f.start, f.end)]), [
    ['EMAIL_ADDRESS', '[EMAIL_ADDRESS:3f2a]'],
    ['SECRET', '[SECRET]'],
  ]);
  const html = markedTextHtml(t, escapeHtml);
  assert.ok(html.includes('<mark class="finding" data-finding="SECRET">[SECRET]</mark>'));
  assert.ok(!html.includes('<script>'));
  assert.ok(html.includes('&#60;script&#62;'));
  assert.equal(escapeHtml(`"'<>&\`=`), '&#34;&#39;&#60;&#62;&#38;&#96;&#61;');
  assert.equal(markFindings('x'.repeat(10), 4).truncated, true);
});
