/**
 * Issue 5 acceptance on the real stack: the policy worker (child process) routes, holds and
 * dead-letters each record exactly once with one audit event, authenticates every record
 * against the running issuer, and never lets a planted sensitive value out of the ingest topic.
 *
 * One worker and one batch of records for the whole file; each test checks one property.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, randomBytes } from 'node:crypto';
import { base64url, generateKeyPair, type CryptoKey } from 'jose';
import { startTrace } from '../../services/agent-sdk/trace-builder.js';
import { createCodec, type AuditEvent, type DeadLetter, type HeldTrace, type ReasoningTrace } from '../../services/shared/avro/index.js';
import { HEADERS } from '../../services/shared/record-headers.js';
import {
  agentClaims,
  agentToken,
  closeHarness,
  createTopology,
  decode,
  demoAgent,
  issuerSigningKey,
  produceRaw,
  readTopics,
  signToken,
  startWorker,
  waitForCaughtUp,
  type RawRecord,
  type ReadRecord,
  type TestTopology,
  type WorkerProcess,
} from '../helpers/policy-worker-harness.js';

type Tenant = 'acme' | 'globex' | 'initech';

/** Values that must never leave the ingest topic. */
const PLANTED = {
  email: 'jane.roe.planted@example.com',
  card: '4111 1111 1111 1111',
  ssn: '536-22-1784',
  secret: 'ghp_PlantedTokenAbCdEfGhIjKlMnOpQrStUv01',
};

const MAX_RECORD_BYTES = 64 * 1024;

type Expect =
  | { kind: 'routed'; region: 'eu' | 'us' }
  | { kind: 'held'; reason: string; candidates: string[] }
  | { kind: 'dead-lettered'; reason: string };

interface Case {
  key: string;
  record: RawRecord;
  /** Set when the payload decodes (the outcome then names it). */
  recordId?: string;
  expect: Expect;
}

const traceCodec = createCodec('reasoning-trace');

function buildTrace(tenant: Tenant, options: { declare?: string; payloadTenant?: string; sensitive?: boolean } = {}): ReasoningTrace {
  const agent = demoAgent(tenant);
  const t = startTrace({
    tenant: options.payloadTenant ?? agent.tenant,
    agent: agent.agent,
    ...(options.declare === undefined ? {} : { dataSubjectRegion: options.declare }),
    ...(options.sensitive === true ? { attributes: { 'customer.contact': PLANTED.email } } : {}),
  });
  const llm = t.llmStep({ provider: 'openai', model: 'gpt-4o' });
  if (options.sensitive === true) {
    llm.input('user', `Please update my card ${PLANTED.card}, my SSN: ${PLANTED.ssn}, and write to ${PLANTED.email}.`);
    llm.output('assistant', [
      { type: 'reasoning', content: `The user gave SSN ${PLANTED.ssn}; I will use the deploy token ${PLANTED.secret}.` },
      { type: 'text', content: 'Done.' },
    ]);
  } else {
    llm.input('user', 'What is the weather in Paris?').output('assistant', 'Sunny, 21 degrees.');
  }
  llm.end();
  if (options.sensitive === true) {
    t.toolStep({ name: 'crm_update', callId: 'call_1', arguments: { email: PLANTED.email, card: PLANTED.card, apiKey: PLANTED.secret }, parent: llm })
      .result({ ok: true, contact: PLANTED.email })
      .end();
  }
  return t.end();
}

function traceRecord(trace: ReasoningTrace, token: string | undefined): RawRecord {
  const { payload, fingerprint } = traceCodec.encode(trace);
  return {
    key: trace.traceId,
    value: payload,
    headers: { [HEADERS.schema]: fingerprint, ...(token === undefined ? {} : { [HEADERS.accessToken]: token }) },
  };
}

let topology: TestTopology;
let worker: WorkerProcess;
const cases: Case[] = [];
const realTokens: string[] = [];
/** Per case key: every record of the region, held and dead-letter topics it produced. */
const outcomes = new Map<string, ReadRecord[]>();
/** Per case key: its audit events. */
const audits = new Map<string, AuditEvent[]>();
let everyOutput: ReadRecord[] = [];
let ingestCount = 0;

async function buildCases(): Promise<void> {
  const tokens = { acme: await agentToken('acme'), globex: await agentToken('globex'), initech: await agentToken('initech') };
  realTokens.push(tokens.acme, tokens.globex, tokens.initech);
  const add = (key: string, trace: ReasoningTrace | undefined, record: RawRecord, expect: Expect): void => {
    cases.push({ key, record: { ...record, key }, ...(trace === undefined ? {} : { recordId: trace.recordId }), expect });
  };
  const ok = (key: string, tenant: Tenant, expect: Expect, options: Parameters<typeof buildTrace>[1] = {}): void => {
    const trace = buildTrace(tenant, options);
    add(key, trace, traceRecord(trace, tokens[tenant]), expect);
  };

  // Routing and holds.
  ok('route-acme-home', 'acme', { kind: 'routed', region: 'eu' });
  ok('route-globex-home', 'globex', { kind: 'routed', region: 'us' });
  ok('route-globex-declares-eu', 'globex', { kind: 'routed', region: 'eu' }, { declare: 'eu' });
  ok('route-globex-sensitive', 'globex', { kind: 'routed', region: 'us' }, { sensitive: true });
  ok('hold-initech-unresolved', 'initech', { kind: 'held', reason: 'REGION_UNRESOLVED', candidates: ['eu', 'us'] });
  ok('hold-acme-cross-border', 'acme', { kind: 'held', reason: 'CROSS_BORDER', candidates: ['eu', 'us'] }, { declare: 'us' });
  ok('hold-acme-secret', 'acme', { kind: 'held', reason: 'FINDINGS_THRESHOLD', candidates: ['eu'] }, { sensitive: true });
  ok('refuse-globex-apac', 'globex', { kind: 'dead-lettered', reason: 'POLICY_REGION_REFUSED' }, { declare: 'apac' });
  ok('spoof-tenant', 'acme', { kind: 'dead-lettered', reason: 'IDENTITY_MISMATCH' }, { payloadTenant: 'globex', sensitive: true });

  // Structural fields are producer-controlled too: a planted value there must not travel either.
  const badId = buildTrace('acme');
  add('record-id-not-uuid', undefined, traceRecord({ ...badId, recordId: PLANTED.email }, tokens.acme), { kind: 'dead-lettered', reason: 'RECORD_MALFORMED' });
  ok('declared-region-planted', 'acme', { kind: 'held', reason: 'REGION_UNKNOWN', candidates: ['eu'] }, { declare: PLANTED.ssn.replace(/^/, 'SSN ') });

  // Authentication failures, each with its own code.
  const issuer = await issuerSigningKey();
  const now = Math.floor(Date.now() / 1000);
  const foreign = await generateKeyPair('RS256', { extractable: true });
  const withToken = (key: string, token: string | undefined, reason: string): void => {
    const trace = buildTrace('acme', { sensitive: true });
    add(key, trace, traceRecord(trace, token), { kind: 'dead-lettered', reason });
  };
  const real = (claims: Record<string, unknown>): Promise<string> =>
    signToken({ ...agentClaims('acme', now), ...claims }, issuer.key, { alg: 'RS256', kid: issuer.kid });
  withToken('auth-missing', undefined, 'AUTH_TOKEN_MISSING');
  withToken('auth-expired', await real({ iat: now - 7200, exp: now - 3600 }), 'AUTH_TOKEN_EXPIRED');
  withToken('auth-not-yet-valid', await real({ nbf: now + 3600, exp: now + 7200 }), 'AUTH_TOKEN_NOT_YET_VALID');
  withToken('auth-wrong-issuer', await real({ iss: 'http://127.0.0.1:14999' }), 'AUTH_ISSUER_MISMATCH');
  withToken('auth-wrong-audience', await real({ aud: 'urn:tracefence:someone-else' }), 'AUTH_AUDIENCE_MISMATCH');
  withToken('auth-bad-signature', await signToken(agentClaims('acme', now), foreign.privateKey, { alg: 'RS256', kid: issuer.kid }), 'AUTH_SIGNATURE_INVALID');
  // A real token whose payload was edited (tenant swapped) no longer verifies either.
  const [h, , s] = tokens.acme.split('.');
  const edited = base64url.encode(JSON.stringify({ ...agentClaims('globex', now) }));
  withToken('auth-tampered-payload', `${h}.${edited}.${s}`, 'AUTH_SIGNATURE_INVALID');
  const noneToken = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${base64url.encode(JSON.stringify(agentClaims('acme', now)))}.`;
  withToken('auth-alg-none', noneToken, 'AUTH_ALGORITHM_REFUSED');
  const publicPem = createPublicKey({ key: issuer.publicJwk as import('node:crypto').JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  withToken(
    'auth-hs256-public-key',
    await signToken(agentClaims('acme', now), new TextEncoder().encode(String(publicPem)), { alg: 'HS256', kid: issuer.kid }),
    'AUTH_ALGORITHM_REFUSED',
  );
  withToken('auth-unknown-kid', await signToken(agentClaims('acme', now), foreign.privateKey as CryptoKey, { alg: 'RS256', kid: 'no-such-key-id' }), 'AUTH_UNKNOWN_KEY');
  withToken('auth-garbage-token', 'not-a-jwt', 'AUTH_TOKEN_MALFORMED');

  // Payload problems.
  const good = traceRecord(buildTrace('acme'), tokens.acme);
  const fingerprint = String(good.headers?.[HEADERS.schema]);
  add('malformed-garbage', undefined, { value: randomBytes(300), headers: { [HEADERS.schema]: fingerprint, [HEADERS.accessToken]: tokens.acme } }, {
    kind: 'dead-lettered',
    reason: 'RECORD_MALFORMED',
  });
  const sensitive = traceRecord(buildTrace('acme', { sensitive: true }), tokens.acme);
  const full = sensitive.value ?? Buffer.alloc(0);
  add('malformed-truncated', undefined, { value: full.subarray(0, Math.floor(full.length / 2)), headers: sensitive.headers ?? {} }, {
    kind: 'dead-lettered',
    reason: 'RECORD_MALFORMED',
  });
  add('malformed-empty', undefined, { value: Buffer.alloc(0), headers: { [HEADERS.schema]: fingerprint, [HEADERS.accessToken]: tokens.acme } }, {
    kind: 'dead-lettered',
    reason: 'RECORD_MALFORMED',
  });
  add('schema-unknown', undefined, { value: good.value, headers: { [HEADERS.schema]: 'f'.repeat(64), [HEADERS.accessToken]: tokens.acme } }, {
    kind: 'dead-lettered',
    reason: 'SCHEMA_UNKNOWN',
  });
  // An unknown-schema header holding a secret: the header text must not be copied downstream either.
  add('schema-header-secret', undefined, { value: good.value, headers: { [HEADERS.schema]: PLANTED.secret, [HEADERS.accessToken]: tokens.acme } }, {
    kind: 'dead-lettered',
    reason: 'SCHEMA_UNKNOWN',
  });
  const big = buildTrace('acme');
  const step = big.steps[0];
  if (step !== undefined) step.attributes['padding'] = JSON.stringify('x'.repeat(MAX_RECORD_BYTES + 10_000) + PLANTED.email);
  add('oversized', big, traceRecord(big, tokens.acme), { kind: 'dead-lettered', reason: 'RECORD_TOO_LARGE' });
}

function keyOfOutput(r: ReadRecord, byRecordId: Map<string, string>, byOffset: Map<string, string>, ingestTopic: string): string | undefined {
  const rid = r.headers[HEADERS.recordId];
  if (rid !== undefined && byRecordId.has(rid)) return byRecordId.get(rid);
  if (r.topic.endsWith('.deadletter')) {
    const dl = decode('dead-letter', r);
    if (dl.sourceTopic === ingestTopic) return byOffset.get(`${dl.sourcePartition}/${dl.sourceOffset}`);
  }
  return undefined;
}

before(async () => {
  topology = await createTopology({ partitions: 3 });
  worker = await startWorker({ topology, env: { TRACEFENCE_MAX_RECORD_BYTES: String(MAX_RECORD_BYTES) } });
  await buildCases();
  await produceRaw(topology.topics.ingest, cases.map((c) => c.record));
  await waitForCaughtUp(topology, 60_000);

  const { topics } = topology;
  const read = await readTopics([topics.ingest, ...topology.decisionTopics(), topics.audit]);
  const ingest = read.get(topics.ingest) ?? [];
  ingestCount = ingest.length;
  const byOffset = new Map<string, string>(ingest.map((r) => [`${r.partition}/${r.offset}`, r.key ?? '']));
  const byRecordId = new Map(cases.filter((c) => c.recordId !== undefined).map((c) => [c.recordId as string, c.key] as const));
  for (const topic of topology.decisionTopics()) {
    for (const r of read.get(topic) ?? []) {
      everyOutput.push(r);
      const key = keyOfOutput(r, byRecordId, byOffset, topics.ingest) ?? `(unmatched ${r.topic}/${r.partition}/${r.offset})`;
      outcomes.set(key, [...(outcomes.get(key) ?? []), r]);
    }
  }
  for (const r of read.get(topics.audit) ?? []) {
    everyOutput.push(r);
    const event = decode('audit-event', r);
    const [, sourceTopic, partition, offset] = /^(.+)\/(\d+)\/(\d+)$/.exec(event.recordId) ?? [];
    const bySource = sourceTopic === topics.ingest ? byOffset.get(`${partition ?? ''}/${offset ?? ''}`) : undefined;
    const key = byRecordId.get(event.recordId) ?? bySource ?? `(unmatched audit ${event.recordId})`;
    audits.set(key, [...(audits.get(key) ?? []), event]);
  }
});

after(async () => {
  await worker?.kill('SIGTERM');
  await topology?.destroy();
  await closeHarness();
});

describe('policy worker on the local stack', () => {
  test('every ingested record has exactly one outcome, the expected one', () => {
    assert.equal(ingestCount, cases.length);
    const unmatched = [...outcomes.keys()].filter((k) => k.startsWith('(unmatched'));
    assert.deepEqual(unmatched, [], 'outputs that belong to no produced record');
    for (const c of cases) {
      const got = outcomes.get(c.key) ?? [];
      assert.equal(got.length, 1, `${c.key}: ${got.length} outcomes (${got.map((r) => r.topic).join(', ')})`);
      const [out] = got as [ReadRecord];
      const { topics } = topology;
      switch (c.expect.kind) {
        case 'routed': {
          assert.equal(out.topic, topics.regions[c.expect.region], `${c.key} goes to region ${c.expect.region}`);
          const trace = decode('reasoning-trace', out);
          assert.equal(trace.recordId, c.recordId);
          break;
        }
        case 'held': {
          assert.equal(out.topic, topics.held, `${c.key} is held`);
          const held: HeldTrace = decode('held-trace', out);
          assert.equal(held.holdReasonCode, c.expect.reason, c.key);
          assert.deepEqual([...held.candidateRegions].sort(), [...c.expect.candidates].sort(), `${c.key} candidate regions`);
          assert.equal(held.trace.recordId, c.recordId);
          break;
        }
        case 'dead-lettered': {
          assert.equal(out.topic, topics.deadLetter, `${c.key} is dead-lettered`);
          const dl: DeadLetter = decode('dead-letter', out);
          assert.equal(dl.reasonCode, c.expect.reason, `${c.key} reason`);
          assert.equal(out.headers[HEADERS.reason], c.expect.reason);
          assert.equal(dl.encryptedPayload, null, 'unclassified payloads are not kept');
          break;
        }
      }
    }
  });

  test('routed and held records carry the verified tenant, never the token', () => {
    for (const r of everyOutput) {
      assert.equal(r.headers[HEADERS.accessToken], undefined, `${r.topic} record carries no token header`);
    }
    const routed = outcomes.get('route-globex-declares-eu')?.[0];
    assert.equal(routed?.headers[HEADERS.tenant], 'globex');
  });

  test('every record gets exactly one audit event with the matching decision', () => {
    const total = [...audits.values()].reduce((n, list) => n + list.length, 0);
    assert.equal(total, cases.length, 'one audit event per ingested record');
    for (const c of cases) {
      const events = audits.get(c.key) ?? [];
      assert.equal(events.length, 1, `${c.key}: ${events.length} audit events`);
      const [event] = events as [AuditEvent];
      const decision = { routed: 'ROUTED', held: 'HELD', 'dead-lettered': 'DEAD_LETTERED' }[c.expect.kind];
      assert.equal(event.decision, decision, c.key);
      if (c.expect.kind === 'routed') assert.equal(event.region, c.expect.region);
      if (c.expect.kind !== 'routed') assert.equal(event.reasonCode, c.expect.reason, c.key);
      assert.match(event.policyVersion, /^[0-9a-f]{64}$/);
    }
    const sensitive = audits.get('route-globex-sensitive')?.[0];
    assert.ok((sensitive?.findingCounts['EMAIL_ADDRESS'] ?? 0) > 0, 'findings are counted');
    assert.equal(sensitive?.maskingApplied['EMAIL_ADDRESS'], 'pseudonymize');
    assert.equal(sensitive?.subject, demoAgent('globex').clientId, 'the verified subject');
  });

  test('planted email, card, SSN and secret never leave the ingest topic, nor reach the logs', () => {
    const ingestOnly = Object.values(PLANTED);
    for (const r of everyOutput) {
      const bytes = Buffer.concat([r.value ?? Buffer.alloc(0), Buffer.from(JSON.stringify(r.headers)), Buffer.from(r.key ?? '')]);
      for (const [name, value] of Object.entries(PLANTED)) {
        const owner = [...outcomes, ...audits].find(([, list]) => list.includes(r as never))?.[0] ?? '';
        assert.equal(bytes.includes(value), false, `${r.topic}/${r.partition}/${r.offset} ${owner} contains the planted ${name}`);
      }
      for (const token of realTokens) assert.equal(bytes.includes(token), false, `${r.topic} contains an access token`);
    }
    const masked = decode('reasoning-trace', outcomes.get('route-globex-sensitive')?.[0] as ReadRecord);
    const text = JSON.stringify(masked, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    assert.match(text, /1111/, 'the card keeps its last four digits');
    const logs = worker.output();
    for (const value of ingestOnly) assert.equal(logs.includes(value), false, 'the worker logged a planted value');
    for (const token of realTokens) assert.equal(logs.includes(token), false, 'the worker logged an access token');
  });

  test('the metrics endpoint exposes routed, held and dead-lettered counters', async () => {
    const text = await worker.metrics();
    const value = (name: string, labels: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    const count = (pred: (e: Expect) => boolean): number => cases.filter((c) => pred(c.expect)).length;
    assert.equal(value('tracefence_policy_records_routed_total', 'region="eu"'), count((e) => e.kind === 'routed' && e.region === 'eu'));
    assert.equal(value('tracefence_policy_records_routed_total', 'region="us"'), count((e) => e.kind === 'routed' && e.region === 'us'));
    for (const reason of ['REGION_UNRESOLVED', 'CROSS_BORDER', 'FINDINGS_THRESHOLD']) {
      assert.equal(value('tracefence_policy_records_held_total', `reason="${reason}"`), count((e) => e.kind === 'held' && e.reason === reason), reason);
    }
    for (const reason of new Set(cases.filter((c) => c.expect.kind === 'dead-lettered').map((c) => (c.expect as { reason: string }).reason))) {
      assert.equal(
        value('tracefence_policy_records_dead_lettered_total', `reason="${reason}"`),
        count((e) => e.kind === 'dead-lettered' && e.reason === reason),
        reason,
      );
    }
    const consumed = text.split('\n').find((l) => l.startsWith('tracefence_policy_records_consumed_total'));
    assert.equal(Number(consumed?.split(' ').at(-1)), cases.length);
  });

  test('SIGTERM: the worker closes its consumer, processing threads and producer, and exits 0', async () => {
    const { code, signal } = await worker.kill('SIGTERM');
    assert.equal(signal, null);
    assert.equal(code, 0, worker.output().slice(-2000));
  });
});
