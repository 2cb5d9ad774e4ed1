/**
 * The reviewer web page in a real headless Chromium: log in at the issuer (authorization code +
 * PKCE, devInteractions login and consent), see the held trace with its reason and findings,
 * approve it with a justification, and find the trace in the eu bucket written by a real eu sink.
 * The issuer only accepts the registered redirect URI, so the service listens on REVIEW_PORT of infra/stack.env.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { chromium, type Browser } from 'playwright-core';
import type { RunningApprovalService } from '../../services/approval-service/approval-service.js';
import { startService, type ServiceProcess } from '../../services/demo/service-process.js';
import { findLandings } from '../../services/demo/find-landing.js';
import { devCredentials, issuerUrl, redisUrl, repoRoot, s3Endpoint, serviceEnv, stack } from '../helpers/stack.js';
import { stackValue } from '../../infra/stack-env.js';
import { Redis } from 'ioredis';
import { approvalEnv, createApprovalRun, heldTrace, produceHeld, reviewerToken, startInProcess, waitFor, type ApprovalRun } from '../helpers/approval-stack.js';

const CHROMIUM = '/usr/bin/chromium';
const PORT = Number(stackValue(stack, 'REVIEW_PORT'));
const BASE = `http://127.0.0.1:${PORT}`;

let run: ApprovalRun;
let service: RunningApprovalService | undefined;
let sink: ServiceProcess | undefined;
let browser: Browser | undefined;
let bucket = '';

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run infra/install-chromium.sh`);
  bucket = `tf-appr-${randomBytes(5).toString('hex')}`;
  const s3 = new S3Client({ region: 'eu-central-1', endpoint: s3Endpoint, forcePathStyle: true, credentials: devCredentials });
  await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-central-1' } }));
  s3.destroy();
  run = await createApprovalRun({ minApprovals: 1 }, { eu: bucket });
  sink = await startService(
    'sink-eu',
    'services/sink-worker/main.ts',
    ['--region', 'eu'],
    { ...process.env, ...serviceEnv, ...approvalEnv(run), TRACEFENCE_HTTP_PORT: '0', TRACEFENCE_SINK_GROUP_ID: `${run.name}-sink-eu`, TRACEFENCE_SINK_MAX_BATCH_AGE_MS: '500' },
    repoRoot,
  );
  await sink.waitHealthy(90_000);
  service = await startInProcess(run, { TRACEFENCE_REVIEW_PORT: String(PORT), TRACEFENCE_REVIEW_PUBLIC_URL: BASE });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  await service?.close();
  const code = await sink?.stop('SIGTERM');
  await run?.cleanup();
  assert.equal(code ?? 0, 0);
});

test('a reviewer logs in, sees the held trace with its reason, approves it, and the trace lands in the eu bucket', async () => {
  const held = heldTrace({ holdReason: 'SECRET findings reached the hold threshold (1)' });
  const id = held.trace.recordId;
  await produceHeld(run.kafka, run.topics.held, [held]);

  const context = await browser!.newContext();
  const page = await context.newPage();
  await page.goto(`${BASE}/`);
  // The issuer's devInteractions login form (any password), then its consent page.
  await page.waitForSelector('input[name="login"]', { timeout: 15_000 });
  assert.ok(page.url().startsWith('http://127.0.0.1:14000/'), 'redirected to the issuer');
  await page.fill('input[name="login"]', 'alice');
  await page.fill('input[name="password"]', 'any-password');
  await page.click('button[type="submit"]');
  await page.waitForLoadState('load');
  if (!page.url().startsWith(BASE)) {
    await page.click('button[type="submit"]');
  }
  await page.waitForURL(`${BASE}/**`, { timeout: 15_000 });
  assert.equal(await page.textContent('#reviewer'), 'alice');

  // The session cookie is httpOnly and SameSite=Lax.
  const cookie = (await context.cookies(BASE)).find((c) => c.name === 'tf_review_session');
  assert.ok(cookie);
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Lax');

  // The hold appears once the intake has queued it.
  await waitFor('hold listed', async () => {
    await page.goto(`${BASE}/`);
    return (await page.locator(`tr[data-record-id="${id}"]`).count()) === 1;
  });
  const row = page.locator(`tr[data-record-id="${id}"]`);
  assert.match((await row.locator('.reason').textContent()) ?? '', /FINDINGS_THRESHOLD\s*SECRET findings reached the hold threshold/);
  assert.match((await row.locator('.findings').textContent()) ?? '', /SECRET × 1/);

  await row.locator('a').click();
  await page.waitForSelector('#approve-form');
  assert.match((await page.textContent('#hold-reason')) ?? '', /SECRET findings reached the hold threshold/);
  // Finding spans are marked; trace text is escaped, not markup.
  assert.deepEqual(await page.locator('mark.finding').evaluateAll((els) => els.map((e) => e.getAttribute('data-finding'))), ['EMAIL_ADDRESS', 'SECRET']);
  assert.equal(await page.locator('#preview b').count(), 0);
  assert.match((await page.textContent('#preview')) ?? '', /<b>now<\/b>/);

  // Without a justification the browser refuses to submit; the server refuses too (checked via the API tests).
  await page.fill('#approve-justification', 'Test key only, safe for the eu bucket');
  await page.click('#approve-button');
  await page.waitForSelector('#flash');
  assert.match((await page.textContent('#flash')) ?? '', /Approved into eu/);
  assert.match((await page.textContent('#status')) ?? '', /approved → eu/);

  // A post without the CSRF token is refused.
  const forged = await context.request.post(`${BASE}/holds/${id}/reject`, { form: { justification: 'forged' }, headers: { origin: BASE } });
  assert.equal(forged.status(), 403);

  const landings = await waitFor('trace in the eu bucket', async () => {
    const found = await findLandings([{ name: bucket, backend: 's3', endpoint: s3Endpoint }], new Set([id]), devCredentials);
    return found.length > 0 ? found : undefined;
  }, 60_000);
  assert.equal(landings.length, 1);
  assert.equal(landings[0]?.bucket, bucket);
  assert.equal(landings[0]?.bucketLocation, 'eu-central-1');

  // The access token expires (10 minutes at the issuer): the session renews it with its refresh
  // token, and the reviewer stays logged in. Simulated by an expired token in the stored session.
  const sessionCookie = (await context.cookies(BASE)).find((c) => c.name === 'tf_review_session');
  assert.ok(sessionCookie);
  const key = `${run.prefix}:review-session:${sessionCookie.value.split('.')[0]}`;
  const redis = new Redis(redisUrl);
  try {
    const stored = JSON.parse((await redis.get(key)) ?? 'null') as { accessToken?: string; refreshToken?: string } | null;
    assert.ok(stored?.refreshToken, 'the login granted a refresh token (offline_access)');
    const firstRefresh = stored.refreshToken;
    const expired = await reviewerToken('alice', ['reviewers:eu:acme'], { expiresInSec: -120 });
    await redis.set(key, JSON.stringify({ ...stored, accessToken: expired }), 'KEEPTTL');
    await page.goto(`${BASE}/`);
    assert.ok(page.url().startsWith(BASE), `still on the review page, not sent to log in: ${page.url()}`);
    assert.equal(await page.textContent('#reviewer'), 'alice');
    const renewed = JSON.parse((await redis.get(key)) ?? 'null') as { accessToken?: string; refreshToken?: string } | null;
    assert.ok(renewed?.accessToken !== undefined && renewed.accessToken !== expired, 'a new access token is stored');

    // A refresh token the issuer refuses logs the reviewer out: back to the issuer to log in.
    await redis.set(key, JSON.stringify({ ...renewed, accessToken: expired, refreshToken: `${firstRefresh}x` }), 'KEEPTTL');
    await page.goto(`${BASE}/`);
    await page.waitForURL((u) => u.toString().startsWith(issuerUrl), { timeout: 15_000 });
    const loggedOut = JSON.parse((await redis.get(key)) ?? 'null') as { accessToken?: string; refreshToken?: string } | null;
    assert.equal(loggedOut?.accessToken, undefined);
    assert.equal(loggedOut?.refreshToken, undefined);
  } finally {
    redis.disconnect();
  }
  await context.close();
});
