/**
 * Hostile inputs for the real ingest path: malformed and truncated Avro, oversized records,
 * JSON nested 10,000 deep, invalid UTF-8, forged / expired / `alg: none` / wrong-audience /
 * key-confusion tokens, tenant spoofing, and text built to make regular expressions backtrack.
 * Each case says what must happen to it: dead-lettered with one of the listed reasons, or (for
 * the backtracking inputs, which are valid traces) exactly one outcome, in bounded time.
 * Every case carries planted values that must never leave the ingest topic.
 */
import { randomBytes } from 'node:crypto';
import { generateKeyPair, exportJWK, type CryptoKey } from 'jose';
import { startTrace } from '../../services/agent-sdk/trace-builder.js';
import { createCodec, type ReasoningTrace } from '../../services/shared/avro/index.js';
import { HEADERS } from '../../services/shared/record-headers.js';
import { agentClaims, demoAgent, issuerSigningKey, publicKeyPem, signToken, unsignedToken, type Tenant } from './chaos-tokens.js';

export interface RawIngestRecord {
  key: string;
  value: Buffer | null;
  headers: Record<string, string>;
}

export type HostileExpectation = { kind: 'dead-lettered'; reasons: readonly string[] } | { kind: 'any-one-outcome' };

export interface HostileCase {
  name: string;
  category: 'avro' | 'size' | 'nesting' | 'utf8' | 'token' | 'identity' | 'backtracking';
  record: RawIngestRecord;
  /** Set when the payload decodes to a trace with this record id. */
  recordId?: string;
  expect: HostileExpectation;
  /** Values inside the record that must not appear in any output or log. */
  planted: string[];
}

export interface HostileCorpusOptions {
  /** The policy worker's TRACEFENCE_MAX_RECORD_BYTES (default 1,000,000). */
  maxRecordBytes?: number;
  /** Size of each backtracking input's text (default 256 KiB). */
  backtrackingChars?: number;
  /** Real access tokens by tenant. */
  token: (tenant: Tenant) => Promise<string>;
}

const traceCodec = createCodec('reasoning-trace', { maxBytes: 64 * 1024 * 1024 });
const deadLetterCodec = createCodec('dead-letter');

/** Planted values shared by every hostile case (never printed). */
export const HOSTILE_PLANTED = {
  email: 'hostile.planted.5e1f@example.org',
  card: '4539 1488 0343 6467',
  secret: 'ghp_HostilePlantedSecretAbCdEfGhIjKlMn01',
};

function baseTrace(tenant: Tenant, text = `write to ${HOSTILE_PLANTED.email}, card ${HOSTILE_PLANTED.card}, key ${HOSTILE_PLANTED.secret}`): ReasoningTrace {
  const a = demoAgent(tenant);
  const t = startTrace({ tenant: a.tenant, agent: a.agent });
  t.llmStep({ provider: 'openai', model: 'gpt-4o' }).input('user', text).output('assistant', 'ok').end();
  t.toolStep({ name: 'crm', callId: 'call_1', arguments: { q: 'x' } }).result({ ok: true }).end();
  return t.end();
}

function encode(trace: ReasoningTrace): { value: Buffer; fingerprint: string } {
  const { payload, fingerprint } = traceCodec.encode(trace);
  return { value: payload, fingerprint };
}

function zigzagVarint(n: bigint): Buffer {
  let z = n >= 0n ? n << 1n : (-n << 1n) - 1n;
  const out: number[] = [];
  do {
    let b = Number(z & 0x7fn);
    z >>= 7n;
    if (z > 0n) b |= 0x80;
    out.push(b);
  } while (z > 0n);
  return Buffer.from(out);
}

/** Replaces an ASCII marker inside an encoded payload with bytes of the same length. */
function replaceBytes(payload: Buffer, marker: string, bytes: Buffer): Buffer {
  if (bytes.length !== Buffer.byteLength(marker)) throw new Error('replacement must keep the length');
  const at = payload.indexOf(marker);
  if (at < 0) throw new Error('marker not found');
  const out = Buffer.from(payload);
  bytes.copy(out, at);
  return out;
}

function nestedArrays(depth: number, leaf: string): string {
  return '['.repeat(depth) + JSON.stringify(leaf) + ']'.repeat(depth);
}

function nestedObjects(depth: number, leaf: string): string {
  return '{"a":'.repeat(depth) + JSON.stringify(leaf) + '}'.repeat(depth);
}

/** Text built to make a naive pattern backtrack: long runs with a planted value at the end. */
function backtrackingTexts(n: number): Array<[string, string]> {
  const fill = (unit: string): string => unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
  const b64 = randomBytes(Math.ceil((n * 3) / 4)).toString('base64').slice(0, n);
  return [
    ['digits', fill('0123456789')],
    ['digit-groups', fill('4111 ')],
    ['dots', fill('1.')],
    ['dots-only', fill('.')],
    ['at-signs', fill('a@')],
    ['at-only', fill('@')],
    ['email-like', fill('a.b-c_d+')],
    ['base64', b64],
    ['spaces', fill(' ')],
    ['colons-hex', fill('a:')],
    ['secret-prefixes', fill('ghp_AKIAsk-eyJ')],
    ['pem-headers', fill('-----BEGIN ')],
    ['key-words', fill('password=token=')],
    ['iban-like', fill('DE89 ')],
  ];
}

export async function buildHostileCorpus(options: HostileCorpusOptions): Promise<HostileCase[]> {
  const maxRecordBytes = options.maxRecordBytes ?? 1_000_000;
  const acme = await options.token('acme');
  const cases: HostileCase[] = [];
  const planted = Object.values(HOSTILE_PLANTED);
  let n = 0;
  const add = (c: Omit<HostileCase, 'planted'> & { planted?: string[] }): void => {
    cases.push({ planted, ...c });
    n++;
  };
  const dl = (...reasons: string[]): HostileExpectation => ({ kind: 'dead-lettered', reasons });
  const withToken = (value: Buffer | null, fingerprint: string | undefined, token: string | undefined): Record<string, string> => ({
    ...(fingerprint === undefined ? {} : { [HEADERS.schema]: fingerprint }),
    ...(token === undefined ? {} : { [HEADERS.accessToken]: token }),
    ...(value === null ? {} : {}),
  });
  const key = (name: string): string => `hostile:${name}:${n}`;

  // --- Avro -----------------------------------------------------------------------------------
  const good = encode(baseTrace('acme'));
  add({ name: 'avro-random-bytes', category: 'avro', record: { key: key('avro-random-bytes'), value: randomBytes(512), headers: withToken(null, good.fingerprint, acme) }, expect: dl('RECORD_MALFORMED') });
  for (const [label, cut] of [
    ['one-byte', 1],
    ['half', Math.floor(good.value.length / 2)],
    ['minus-one', good.value.length - 1],
  ] as const) {
    add({ name: `avro-truncated-${label}`, category: 'avro', record: { key: key('trunc'), value: good.value.subarray(0, cut), headers: withToken(null, good.fingerprint, acme) }, expect: dl('RECORD_MALFORMED') });
  }
  add({ name: 'avro-trailing-bytes', category: 'avro', record: { key: key('trailing'), value: Buffer.concat([good.value, randomBytes(16)]), headers: withToken(null, good.fingerprint, acme) }, expect: dl('RECORD_MALFORMED') });
  // A 20-byte payload announcing a billion steps (avsc trusts block counts).
  const empty = encode({ ...baseTrace('acme'), steps: [], attributes: {}, labels: {} });
  add({
    name: 'avro-huge-block-count',
    category: 'avro',
    record: { key: key('blocks'), value: Buffer.concat([empty.value.subarray(0, empty.value.length - 2), zigzagVarint(1_000_000_000n), Buffer.from([0])]), headers: withToken(null, empty.fingerprint, acme) },
    expect: dl('RECORD_MALFORMED'),
  });
  add({ name: 'avro-huge-string-length', category: 'avro', record: { key: key('strlen'), value: Buffer.concat([zigzagVarint(1n << 40n), Buffer.from('abc')]), headers: withToken(null, good.fingerprint, acme) }, expect: dl('RECORD_MALFORMED') });
  add({ name: 'avro-negative-length', category: 'avro', record: { key: key('neglen'), value: Buffer.concat([zigzagVarint(-5n), Buffer.from('abcdef')]), headers: withToken(null, good.fingerprint, acme) }, expect: dl('RECORD_MALFORMED') });
  add({ name: 'avro-empty-value', category: 'avro', record: { key: key('empty'), value: Buffer.alloc(0), headers: withToken(null, good.fingerprint, acme) }, expect: dl('RECORD_MALFORMED') });
  add({ name: 'avro-null-value', category: 'avro', record: { key: key('null'), value: null, headers: withToken(null, good.fingerprint, acme) }, expect: dl('RECORD_MALFORMED') });
  add({ name: 'schema-header-missing', category: 'avro', record: { key: key('noschema'), value: good.value, headers: withToken(null, undefined, acme) }, expect: dl('SCHEMA_UNKNOWN') });
  add({ name: 'schema-header-unknown', category: 'avro', record: { key: key('unk'), value: good.value, headers: withToken(null, 'e'.repeat(64), acme) }, expect: dl('SCHEMA_UNKNOWN') });
  add({ name: 'schema-header-secret', category: 'avro', record: { key: key('hdrsecret'), value: good.value, headers: withToken(null, HOSTILE_PLANTED.secret, acme) }, expect: dl('SCHEMA_UNKNOWN') });
  const otherKind = deadLetterCodec.encode({
    reasonCode: 'X', fieldPath: null, message: 'x', sourceTopic: 't', sourcePartition: 0, sourceOffset: 0, recordId: null, tenant: null, sourceSchema: null, failedAtMs: 0, encryptedPayload: null,
  });
  add({ name: 'schema-header-other-kind', category: 'avro', record: { key: key('otherkind'), value: good.value, headers: withToken(null, otherKind.fingerprint, acme) }, expect: dl('SCHEMA_UNKNOWN') });
  const badId = baseTrace('acme');
  const badIdEnc = encode({ ...badId, recordId: HOSTILE_PLANTED.email });
  add({ name: 'record-id-not-uuid', category: 'avro', record: { key: key('badid'), value: badIdEnc.value, headers: withToken(null, badIdEnc.fingerprint, acme) }, expect: dl('RECORD_MALFORMED') });

  // --- Size -----------------------------------------------------------------------------------
  const big = baseTrace('acme');
  const bigStep = big.steps[0];
  if (bigStep !== undefined) bigStep.attributes['padding'] = JSON.stringify(`${'lorem ipsum '.repeat(Math.ceil((maxRecordBytes + 50_000) / 12))} ${HOSTILE_PLANTED.email}`);
  const bigEnc = encode(big);
  add({ name: 'over-size-limit', category: 'size', recordId: big.recordId, record: { key: big.recordId, value: bigEnc.value, headers: withToken(null, bigEnc.fingerprint, acme) }, expect: dl('RECORD_TOO_LARGE') });

  // --- Nesting: JSON text 10,000 deep in tool arguments, an attribute, a message part ------------
  for (const [name, mutate] of [
    ['nested-tool-arguments-arrays', (t: ReasoningTrace) => { const tool = t.steps[1]?.tool; if (tool) tool.arguments = nestedArrays(10_000, HOSTILE_PLANTED.email); }],
    ['nested-tool-result-objects', (t: ReasoningTrace) => { const tool = t.steps[1]?.tool; if (tool) tool.result = nestedObjects(10_000, HOSTILE_PLANTED.card); }],
    ['nested-attribute', (t: ReasoningTrace) => { t.attributes['deep'] = nestedObjects(10_000, HOSTILE_PLANTED.secret); }],
    ['nested-100k-arrays', (t: ReasoningTrace) => { const tool = t.steps[1]?.tool; if (tool) tool.arguments = nestedArrays(100_000, HOSTILE_PLANTED.email); }],
  ] as const) {
    const t = baseTrace('globex', 'nothing sensitive here');
    mutate(t);
    const e = encode(t);
    add({ name, category: 'nesting', recordId: t.recordId, record: { key: t.recordId, value: e.value, headers: withToken(null, e.fingerprint, await options.token('globex')) }, expect: dl('SCAN_INPUT_INVALID', 'RECORD_MALFORMED', 'RECORD_TOO_LARGE') });
  }

  // --- Invalid UTF-8 inside an Avro string (length prefix kept right) ---------------------------
  for (const [name, bytes] of [
    ['utf8-invalid-bytes', Buffer.from([0xff, 0xfe, 0xfd, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, 0x80])],
    ['utf8-overlong', Buffer.from([0xc0, 0xaf, 0xe0, 0x80, 0xaf, 0xf0, 0x80, 0x80, 0xaf, 0xc1, 0xbf, 0xc0, 0x80, 0x41, 0x41])],
    ['utf8-lone-surrogates', Buffer.from([0xed, 0xa0, 0x80, 0xed, 0xbf, 0xbf, 0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80, 0x41, 0x41, 0x41])],
    ['utf8-split-email', Buffer.from([0x6a, 0x61, 0x6e, 0x65, 0xff, 0x40, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f])],
  ] as const) {
    const marker = 'QQQQQQQQQQQQQQQ';
    const t = baseTrace('acme', `${marker} then ${HOSTILE_PLANTED.email}`);
    const e = encode(t);
    add({ name, category: 'utf8', recordId: t.recordId, record: { key: t.recordId, value: replaceBytes(e.value, marker, bytes), headers: withToken(null, e.fingerprint, acme) }, expect: dl('RECORD_MALFORMED') });
  }

  // --- Tokens ---------------------------------------------------------------------------------
  const issuer = await issuerSigningKey();
  const now = Math.floor(Date.now() / 1000);
  const foreign = await generateKeyPair('RS256', { extractable: true });
  const real = (claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> =>
    signToken({ ...agentClaims('acme', now), ...claims }, issuer.key, { alg: 'RS256', kid: issuer.kid, ...header });
  const tokenCase = async (name: string, token: string | undefined, ...reasons: string[]): Promise<void> => {
    const t = baseTrace('acme');
    // A token for a tenant the policy does not know: the payload names that tenant too.
    if (name === 'token-unknown-tenant') t.tenant = 'evilcorp';
    const e = encode(t);
    add({ name, category: 'token', recordId: t.recordId, record: { key: t.recordId, value: e.value, headers: withToken(null, e.fingerprint, token) }, expect: dl(...reasons) });
  };
  await tokenCase('token-missing', undefined, 'AUTH_TOKEN_MISSING');
  await tokenCase('token-garbage', 'not-a-jwt', 'AUTH_TOKEN_MALFORMED');
  await tokenCase('token-forged-signature', await signToken(agentClaims('acme', now), foreign.privateKey, { alg: 'RS256', kid: issuer.kid }), 'AUTH_SIGNATURE_INVALID');
  const [h, , s] = acme.split('.');
  await tokenCase('token-tampered-claims', `${h}.${Buffer.from(JSON.stringify(agentClaims('globex', now))).toString('base64url')}.${s}`, 'AUTH_SIGNATURE_INVALID');
  await tokenCase('token-expired', await real({ iat: now - 7200, exp: now - 3600 }), 'AUTH_TOKEN_EXPIRED');
  await tokenCase('token-not-yet-valid', await real({ nbf: now + 3600, exp: now + 7200 }), 'AUTH_TOKEN_NOT_YET_VALID');
  await tokenCase('token-alg-none', unsignedToken(agentClaims('acme', now)), 'AUTH_ALGORITHM_REFUSED');
  await tokenCase('token-wrong-audience', await real({ aud: 'urn:tracefence:someone-else' }), 'AUTH_AUDIENCE_MISMATCH');
  await tokenCase('token-wrong-issuer', await real({ iss: 'http://127.0.0.1:14999' }), 'AUTH_ISSUER_MISMATCH');
  await tokenCase('token-key-confusion-hs256', await signToken(agentClaims('acme', now), publicKeyPem(issuer.publicJwk), { alg: 'HS256', kid: issuer.kid }), 'AUTH_ALGORITHM_REFUSED');
  await tokenCase('token-unknown-kid', await signToken(agentClaims('acme', now), foreign.privateKey as CryptoKey, { alg: 'RS256', kid: 'no-such-key' }), 'AUTH_UNKNOWN_KEY');
  const foreignJwk = await exportJWK(foreign.publicKey);
  await tokenCase('token-embedded-jwk', await signToken(agentClaims('acme', now), foreign.privateKey, { alg: 'RS256', jwk: foreignJwk }), 'AUTH_UNKNOWN_KEY', 'AUTH_SIGNATURE_INVALID', 'AUTH_TOKEN_MALFORMED');
  await tokenCase('token-id-token-type', await real({}, { typ: 'JWT' }), 'AUTH_TOKEN_TYPE_MISMATCH');
  await tokenCase('token-no-tenant-claim', await real({ tenant: undefined }), 'AUTH_CLAIMS_MISSING');
  await tokenCase('token-unknown-tenant', await real({ tenant: 'evilcorp' }), 'POLICY_TENANT_UNKNOWN');
  await tokenCase('token-huge', `${h}.${'A'.repeat(200_000)}.${s}`, 'AUTH_TOKEN_MALFORMED', 'AUTH_SIGNATURE_INVALID');
  await tokenCase('token-planted-secret', `Bearer ${HOSTILE_PLANTED.secret}`, 'AUTH_TOKEN_MALFORMED');

  // --- Identity -------------------------------------------------------------------------------
  for (const [name, mutate] of [
    ['spoof-tenant', (t: ReasoningTrace) => ({ ...t, tenant: 'globex' })],
    ['spoof-agent', (t: ReasoningTrace) => ({ ...t, agent: 'research-bot' })],
    ['spoof-unknown-tenant', (t: ReasoningTrace) => ({ ...t, tenant: 'evilcorp' })],
  ] as const) {
    const t = mutate(baseTrace('acme'));
    const e = encode(t);
    add({ name, category: 'identity', recordId: t.recordId, record: { key: t.recordId, value: e.value, headers: withToken(null, e.fingerprint, acme) }, expect: dl('IDENTITY_MISMATCH') });
  }

  // --- Backtracking: valid traces whose text is long runs of pattern-feeding characters ---------
  const chars = options.backtrackingChars ?? 256 * 1024;
  const globex = await options.token('globex');
  for (const [name, text] of backtrackingTexts(chars)) {
    const t = baseTrace('globex', `${text} ${HOSTILE_PLANTED.email}`);
    const tool = t.steps[1]?.tool;
    if (tool) tool.arguments = JSON.stringify({ q: text.slice(0, Math.floor(chars / 4)), contact: HOSTILE_PLANTED.card });
    const e = encode(t);
    add({ name: `backtracking-${name}`, category: 'backtracking', recordId: t.recordId, record: { key: t.recordId, value: e.value, headers: withToken(null, e.fingerprint, globex) }, expect: { kind: 'any-one-outcome' } });
  }
  return cases;
}
