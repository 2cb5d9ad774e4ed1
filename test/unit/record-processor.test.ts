/**
 * The record processor without Kafka: real codecs, the real classifier and masker, the dev
 * policy (plus a region no tenant may use) and a token verifier over a local key set.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { parseDocument } from 'yaml';
import { startTrace } from '../../services/agent-sdk/trace-builder.js';
import { parsePolicy } from '../../services/policy/load-policy.js';
import type { Policy } from '../../services/policy/policy-types.js';
import { createTokenVerifier } from '../../services/policy/token-verifier.js';
import { createRecordProcessor, type IngestRecord, type Outcome, type RecordProcessorDeps } from '../../services/policy-worker/record-processor.js';
import { createTenantScrubbers } from '../../services/policy-worker/tenant-scrubbers.js';
import { createCodec, type ReasoningTrace } from '../../services/shared/avro/index.js';
import { TracefenceError } from '../../services/shared/errors.js';
import { HEADERS } from '../../services/shared/record-headers.js';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'urn:tracefence:broker';
const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const TOPICS = { held: 't.held', deadLetter: 't.deadletter', audit: 't.audit' };
const EMAIL = 'planted.person@example.org';
const SECRET = 'ghp_UnitPlantedTokenAbCdEfGhIjKlMnOpQrSt';

const traceCodec = createCodec('reasoning-trace');
const heldCodec = createCodec('held-trace');
const deadLetterCodec = createCodec('dead-letter');
const auditCodec = createCodec('audit-event');

let policy: Policy;
let signingKey: CryptoKey;
let deps: RecordProcessorDeps;

const AGENTS = {
  acme: { tenant: 'acme', agent: 'support-bot', groups: ['eu-only'] },
  globex: { tenant: 'globex', agent: 'research-bot', groups: [] as string[] },
  initech: { tenant: 'initech', agent: 'ops-bot', groups: [] as string[] },
};
type Tenant = keyof typeof AGENTS;

before(async () => {
  const doc = parseDocument(readFileSync(join(import.meta.dirname, '..', '..', 'infra', 'policy.dev.yaml'), 'utf8'));
  doc.setIn(
    ['regions', 'apac'],
    doc.createNode({ jurisdiction: 'SG', topic: 'traces.region.apac', allowedLocations: { s3: ['ap-southeast-1'] }, buckets: [{ name: 'tf-apac', backend: 's3' }] }),
  );
  policy = parsePolicy(doc.toString(), 'unit-test policy');
  const pair = await generateKeyPair('RS256', { extractable: true });
  signingKey = pair.privateKey;
  const jwks = createLocalJWKSet({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] });
  const scrubbers = createTenantScrubbers(policy, randomBytes(32));
  deps = {
    policy,
    verifier: createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks }),
    traceCodec,
    heldCodec,
    deadLetterCodec,
    auditCodec,
    scrubberFor: scrubbers.scrubberFor,
    maskingOpsFor: scrubbers.maskingOpsFor,
    topics: TOPICS,
    maxRecordBytes: 64 * 1024,
    now: () => T0 + 5,
  };
});

function token(tenant: Tenant, claims: JWTPayload = {}): Promise<string> {
  const a = AGENTS[tenant];
  return new SignJWT({ sub: `client-${tenant}`, tenant: a.tenant, agent: a.agent, groups: a.groups, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(T0 / 1000 - 60)
    .setExpirationTime(T0 / 1000 + 600)
    .sign(signingKey);
}

function trace(tenant: Tenant, o: { declare?: string; payloadTenant?: string; payloadAgent?: string; sensitive?: boolean } = {}): ReasoningTrace {
  const a = AGENTS[tenant];
  const t = startTrace({ tenant: o.payloadTenant ?? a.tenant, agent: o.payloadAgent ?? a.agent, ...(o.declare === undefined ? {} : { dataSubjectRegion: o.declare }) });
  t.llmStep({ provider: 'openai', model: 'gpt-4o' })
    .input('user', o.sensitive === true ? `write to ${EMAIL}, deploy with ${SECRET}` : 'hello')
    .output('assistant', 'ok')
    .end();
  return t.end();
}

let offset = 0;
async function ingest(value: Buffer | null, headers: Record<string, string>, timestampMs = T0): Promise<IngestRecord> {
  return { topic: 'traces.ingest', partition: 0, offset: String(offset++), timestampMs, headers, value };
}

async function record(tenant: Tenant, t: ReasoningTrace, tok?: string): Promise<IngestRecord> {
  const { payload, fingerprint } = traceCodec.encode(t);
  return ingest(payload, { [HEADERS.schema]: fingerprint, [HEADERS.accessToken]: tok ?? (await token(tenant)) });
}

function auditOf(outcome: Outcome) {
  const audits = outcome.records.filter((r) => r.topic === TOPICS.audit);
  assert.equal(audits.length, 1, 'exactly one audit event');
  assert.equal(outcome.records.length, 2, 'one decision record and one audit event');
  const [a] = audits as [(typeof audits)[number]];
  return auditCodec.decode(a.value, a.headers[HEADERS.schema]);
}

function deadLetterOf(outcome: Outcome) {
  assert.equal(outcome.kind, 'dead-lettered');
  const r = outcome.records.find((x) => x.topic === TOPICS.deadLetter);
  assert.ok(r !== undefined);
  return deadLetterCodec.decode(r.value, r.headers[HEADERS.schema]);
}

function assertClean(outcome: Outcome): void {
  for (const r of outcome.records) {
    const bytes = Buffer.concat([r.value, Buffer.from(JSON.stringify(r.headers)), Buffer.from(r.key)]);
    for (const v of [EMAIL, SECRET]) assert.equal(bytes.includes(v), false, `${r.topic} holds a planted value`);
    assert.equal(r.headers[HEADERS.accessToken], undefined);
  }
}

describe('record processor', () => {
  test('routes to the home region, masked, with the verified identity and one audit event', async () => {
    const t = trace('globex', { sensitive: true });
    const out = await createRecordProcessor(deps).process(await record('globex', t));
    assert.equal(out.kind, 'routed');
    assert.equal(out.region, 'us');
    const [routed] = out.records;
    assert.equal(routed?.topic, 'traces.region.us');
    assert.equal(routed?.headers[HEADERS.tenant], 'globex');
    assertClean(out);
    const audit = auditOf(out);
    assert.equal(audit.decision, 'ROUTED');
    assert.equal(audit.subject, 'client-globex');
    assert.equal(audit.recordId, t.recordId);
    assert.equal(audit.maskingApplied['EMAIL_ADDRESS'], 'pseudonymize');
    assert.equal(audit.policyVersion, policy.version);
  });

  test('holds: no region resolvable, cross-border request, secret at the threshold', async () => {
    const p = createRecordProcessor(deps);
    const cases: Array<[Tenant, Parameters<typeof trace>[1], string, string[]]> = [
      ['initech', {}, 'REGION_UNRESOLVED', ['eu', 'us']],
      ['acme', { declare: 'us' }, 'CROSS_BORDER', ['eu', 'us']],
      ['acme', { sensitive: true }, 'FINDINGS_THRESHOLD', ['eu']],
    ];
    for (const [tenant, o, reason, candidates] of cases) {
      const out = await p.process(await record(tenant, trace(tenant, o)));
      assert.equal(out.kind, 'held', reason);
      const h = out.records.find((r) => r.topic === TOPICS.held);
      assert.ok(h !== undefined);
      const held = heldCodec.decode(h.value, h.headers[HEADERS.schema]);
      assert.equal(held.holdReasonCode, reason);
      assert.deepEqual([...held.candidateRegions].sort(), candidates);
      assert.equal(auditOf(out).decision, 'HELD');
      assertClean(out);
    }
  });

  test('a refuse tenant asking for a region outside its list is dead-lettered', async () => {
    const out = await createRecordProcessor(deps).process(await record('globex', trace('globex', { declare: 'apac' })));
    assert.equal(deadLetterOf(out).reasonCode, 'POLICY_REGION_REFUSED');
    assert.equal(auditOf(out).decision, 'DEAD_LETTERED');
  });

  test('identity comes from the token: another tenant or agent in the payload is refused', async () => {
    const p = createRecordProcessor(deps);
    for (const o of [{ payloadTenant: 'globex' }, { payloadAgent: 'someone-else' }]) {
      const out = await p.process(await record('acme', trace('acme', { ...o, sensitive: true })));
      const dl = deadLetterOf(out);
      assert.equal(dl.reasonCode, 'IDENTITY_MISMATCH');
      assert.equal(dl.tenant, 'acme');
      assert.equal(dl.encryptedPayload, null);
      assertClean(out);
    }
  });

  test('token times are checked against the record timestamp, not the clock', async () => {
    const p = createRecordProcessor(deps);
    const r = await record('acme', trace('acme'), await token('acme', { nbf: T0 / 1000 - 60 }));
    assert.equal((await p.process({ ...r, timestampMs: T0 + 3600_000 })).reasonCode, 'AUTH_TOKEN_EXPIRED');
    assert.equal((await p.process({ ...r, timestampMs: T0 - 3600_000 })).reasonCode, 'AUTH_TOKEN_NOT_YET_VALID');
    assert.equal((await p.process(r)).kind, 'routed');
  });

  test('ids that are not a UUID and 32 hex are refused without being copied downstream', async () => {
    const p = createRecordProcessor(deps);
    const base = trace('acme');
    for (const bad of [{ recordId: EMAIL }, { traceId: SECRET }]) {
      const out = await p.process(await record('acme', { ...base, ...bad }));
      const dl = deadLetterOf(out);
      assert.equal(dl.reasonCode, 'RECORD_MALFORMED');
      assert.equal(dl.recordId, null);
      assertClean(out);
    }
  });

  test('a planted value in a structural field is masked', async () => {
    const t = trace('globex');
    const step = t.steps[0];
    assert.ok(step !== undefined);
    step.responseId = `resp for ${EMAIL}`;
    step.stepId = 'plain-step-id';
    const out = await createRecordProcessor(deps).process(await record('globex', t));
    assert.equal(out.kind, 'routed');
    assertClean(out);
    const [routed] = out.records;
    const decoded = traceCodec.decode(routed?.value ?? Buffer.alloc(0), routed?.headers[HEADERS.schema]);
    assert.equal(decoded.steps[0]?.stepId, 'plain-step-id', 'clean ids are kept');
  });

  test('a planted value in an attribute or label name is masked, and no value is lost', async () => {
    const t = trace('globex');
    const step = t.steps[0];
    assert.ok(step !== undefined);
    t.labels = { [EMAIL]: 'a', [`other.${EMAIL}`]: 'b', plain: 'c' };
    t.attributes = { [`key ${SECRET}`]: 'v' };
    step.attributes = { [EMAIL]: 'w' };
    const out = await createRecordProcessor(deps).process(await record('globex', t));
    assertClean(out);
    const [first] = out.records;
    const decoded = first?.topic === TOPICS.held ? heldCodec.decode(first.value, first.headers[HEADERS.schema]).trace : traceCodec.decode(first?.value ?? Buffer.alloc(0), first?.headers[HEADERS.schema]);
    assert.equal(Object.keys(decoded.labels).length, 3);
    assert.equal(decoded.labels['plain'], 'c');
    assert.deepEqual(Object.values(decoded.steps[0]?.attributes ?? {}), ['w']);
  });

  test('JSON nested too deep is dead-lettered without quoting its keys', async () => {
    const t = trace('globex');
    const part = t.steps[0]?.input[0]?.parts[0];
    assert.ok(part !== undefined);
    let deep: unknown = 'x';
    for (let i = 0; i < 200; i++) deep = [deep];
    part.content = JSON.stringify({ [EMAIL]: deep });
    const out = await createRecordProcessor(deps).process(await record('globex', t));
    assert.equal(deadLetterOf(out).reasonCode, 'SCAN_INPUT_INVALID');
    assertClean(out);
  });

  test('a tf-schema header that is not a fingerprint is not echoed', async () => {
    const { payload } = traceCodec.encode(trace('acme'));
    const out = await createRecordProcessor(deps).process(await ingest(payload, { [HEADERS.schema]: SECRET, [HEADERS.accessToken]: await token('acme') }));
    const dl = deadLetterOf(out);
    assert.equal(dl.reasonCode, 'SCHEMA_UNKNOWN');
    assert.equal(dl.sourceSchema, '(not a fingerprint)');
    assertClean(out);
  });

  test('missing token, garbage and truncated payloads, oversized records are dead-lettered with their codes', async () => {
    const p = createRecordProcessor(deps);
    const good = traceCodec.encode(trace('acme'));
    const tok = await token('acme');
    const h = { [HEADERS.schema]: good.fingerprint, [HEADERS.accessToken]: tok };
    const cases: Array<[IngestRecord, string]> = [
      [await ingest(good.payload, { [HEADERS.schema]: good.fingerprint }), 'AUTH_TOKEN_MISSING'],
      [await ingest(randomBytes(200), h), 'RECORD_MALFORMED'],
      [await ingest(good.payload.subarray(0, 20), h), 'RECORD_MALFORMED'],
      [await ingest(null, h), 'RECORD_MALFORMED'],
      [await ingest(Buffer.alloc(64 * 1024 + 1), h), 'RECORD_TOO_LARGE'],
    ];
    for (const [r, code] of cases) {
      const out = await p.process(r);
      assert.equal(deadLetterOf(out).reasonCode, code);
      const audit = auditOf(out);
      assert.equal(audit.recordId, `traces.ingest/0/${r.offset}`, 'undecoded records are audited by source position');
    }
  });

  test('a non-retriable fault after decoding dead-letters the record; a retriable one is thrown', async () => {
    const seen: unknown[] = [];
    const failing = createRecordProcessor({
      ...deps,
      scrubberFor: () => ({
        scrub: () => {
          throw new Error(`boom ${EMAIL}`);
        },
      }),
      onUnexpected: (err) => seen.push(err),
    });
    const out = await failing.process(await record('acme', trace('acme')));
    assert.equal(deadLetterOf(out).reasonCode, 'INTERNAL');
    assert.equal(seen.length, 1);
    assertClean(out);

    // A masked trace that grows past the limit is refused, not retried forever.
    const growing = createRecordProcessor({
      ...deps,
      scrubberFor: () => ({ scrub: (t: ReasoningTrace) => ({ trace: { ...t, labels: { pad: 'x'.repeat(2_000_000) } }, findingCounts: {} }) }),
    });
    assert.equal(deadLetterOf(await growing.process(await record('globex', trace('globex')))).reasonCode, 'RECORD_TOO_LARGE');

    const unreachable = createRecordProcessor({
      ...deps,
      verifier: {
        verify: async () => {
          throw new TracefenceError('AUTH_ISSUER_UNREACHABLE', 'down', { retriable: true });
        },
      },
    });
    await assert.rejects(unreachable.process(await record('acme', trace('acme'))), (err: unknown) => err instanceof TracefenceError && err.retriable);
  });
});
