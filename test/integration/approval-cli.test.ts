/** `tracefence review` as a real process against a running approval service. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningApprovalService } from '../../services/approval-service/approval-service.js';
import { repoRoot } from '../helpers/stack.js';
import { api, createApprovalRun, heldTrace, produceHeld, reviewerToken, startInProcess, waitFor, type ApprovalRun } from '../helpers/approval-stack.js';

let run: ApprovalRun;
let service: RunningApprovalService;
let dir: string;
let tokenFile: string;
let token: string;

before(async () => {
  run = await createApprovalRun({ minApprovals: 1 });
  service = await startInProcess(run);
  token = await reviewerToken('alice', ['reviewers:eu:acme']);
  dir = mkdtempSync(join(tmpdir(), 'tf-review-cli-'));
  tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
});

after(async () => {
  await service?.close();
  await run?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(repoRoot, 'bin', 'tracefence.js'), 'review', ...args],
      { cwd: repoRoot, env: { PATH: process.env['PATH'] ?? '', TRACEFENCE_REVIEW_URL: `http://127.0.0.1:${service.port}`, ...env } },
      (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr }),
    );
  });
}

test('list, show and approve through the CLI; refusals exit 1, usage errors exit 2; the token is never printed', async () => {
  const held = heldTrace();
  const id = held.trace.recordId;
  await produceHeld(run.kafka, run.topics.held, [held]);
  await waitFor('hold', async () => (await api(service.port, 'GET', `/api/holds/${id}`, token)).status === 200);

  const list = await cli(['list', '--token-file', tokenFile, '--status', 'pending']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${id}\\s+pending\\s+acme/support-bot\\s+FINDINGS_THRESHOLD`));

  const show = await cli(['show', id], { TRACEFENCE_REVIEW_TOKEN: token });
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /reason\s+FINDINGS_THRESHOLD: SECRET findings reached the hold threshold/);
  assert.match(show.stdout, /\[EMAIL_ADDRESS:3f2a9c01\]/);

  const noJustification = await cli(['approve', id, '--token-file', tokenFile]);
  assert.equal(noJustification.code, 2);
  const noToken = await cli(['list']);
  assert.equal(noToken.code, 2);
  const badToken = await cli(['list'], { TRACEFENCE_REVIEW_TOKEN: `${token.slice(0, -4)}AAAA` });
  assert.equal(badToken.code, 1);
  assert.match(badToken.stderr, /401 REVIEW_UNAUTHENTICATED/);

  const approved = await cli(['approve', id, '--token-file', tokenFile, '--justification', 'test key only']);
  assert.equal(approved.code, 0, approved.stderr);
  assert.match(approved.stdout, new RegExp(`${id}: approved → eu`));
  const again = await cli(['reject', id, '--token-file', tokenFile, '-j', 'too late']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /409 REVIEW_ALREADY_DECIDED/);

  for (const out of [list, show, noJustification, noToken, badToken, approved, again]) {
    assert.ok(!out.stdout.includes(token.slice(20, 60)) && !out.stderr.includes(token.slice(20, 60)), 'token printed');
  }
});
