import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  base64url,
  createLocalJWKSet,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { TracefenceError, ValidationError, type ErrorCode } from '../../services/shared/errors.js';
import { createTokenVerifier, discoverJwks, type TokenVerifierOptions } from '../../services/policy/token-verifier.js';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'tracefence-broker';
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0); // record timestamp used by most tests
const T0S = T0 / 1000;

let rsa: { privateKey: CryptoKey; publicKey: CryptoKey };
let other: { privateKey: CryptoKey; publicKey: CryptoKey };
let ec: { privateKey: CryptoKey; publicKey: CryptoKey };
let publicJwk: JWK;
let ecJwk: JWK;
let hmacFromPublicPem: Uint8Array;

before(async () => {
  rsa = await generateKeyPair('RS256', { extractable: true });
  other = await generateKeyPair('RS256', { extractable: true });
  ec = await generateKeyPair('ES256', { extractable: true });
  publicJwk = { ...(await exportJWK(rsa.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  ecJwk = { ...(await exportJWK(ec.publicKey)), kid: 'e1', alg: 'ES256' };
  // The classic confusion attack: an HMAC "secret" equal to the published public key.
  hmacFromPublicPem = new TextEncoder().encode(await exportSPKI(rsa.publicKey));
});

/** Local JWKS with a call counter, so tests can see whether key work was done. */
function countingJwks(keys: JWK[] = [publicJwk, ecJwk]): { getKey: JWTVerifyGetKey; calls: () => number } {
  const local = createLocalJWKSet({ keys });
  let n = 0;
  return {
    getKey: async (header, input) => {
      n++;
      return local(header, input);
    },
    calls: () => n,
  };
}

interface SignOptions {
  claims?: JWTPayload;
  header?: Record<string, unknown>;
  key?: CryptoKey | Uint8Array;
  alg?: string;
  omit?: string[];
}

async function sign(o: SignOptions = {}): Promise<string> {
  const claims: JWTPayload = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'agent-client-1',
    client_id: 'agent-client-1',
    tenant: 'acme',
    agent: 'planner',
    groups: ['eu-only'],
    iat: T0S - 60,
    nbf: T0S - 60,
    exp: T0S + 300,
    ...o.claims,
  };
  for (const k of o.omit ?? []) delete claims[k];
  const alg = o.alg ?? 'RS256';
  return new SignJWT(claims).setProtectedHeader({ alg, kid: 'k1', typ: 'at+jwt', ...o.header }).sign(o.key ?? rsa.privateKey);
}

/** Same payload and signature under a different header: for checks that happen before verification. */
function withHeader(token: string, header: Record<string, unknown>): string {
  const [, payload, signature] = token.split('.');
  return `${base64url.encode(JSON.stringify(header))}.${payload}.${signature}`;
}

function verifier(extra: Partial<TokenVerifierOptions> = {}, jwks = countingJwks()) {
  return { v: createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: jwks.getKey, ...extra }), jwks };
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, token?: string): Promise<TracefenceError> {
  let caught: unknown;
  await p.then(
    () => assert.fail(`expected ${code}`),
    (err: unknown) => {
      caught = err;
    },
  );
  assert.ok(caught instanceof TracefenceError, `expected TracefenceError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (token !== undefined) {
    // The token, or any of its parts, never appears in the error.
    for (const part of token.split('.').filter((s) => s.length > 8)) {
      assert.ok(!caught.message.includes(part), 'error message contains the token');
      assert.ok(!String(caught.stack).includes(part), 'error stack contains the token');
    }
  }
  return caught;
}

test('happy path: identity is bound from the token', async () => {
  const { v } = verifier({ requiredTyp: 'at+jwt' });
  const token = await sign();
  const id = await v.verify(token, T0);
  assert.deepEqual(id, {
    subject: 'agent-client-1',
    tenant: 'acme',
    agent: 'planner',
    groups: ['eu-only'],
    scopes: [],
    expiresAtMs: (T0S + 300) * 1000,
    tokenHash: createHash('sha256').update(token).digest('hex'),
  });
  assert.ok(Object.isFrozen(id));
  assert.ok(Object.isFrozen(id.groups));
});

test('agent falls back to sub, then client_id; groups default to none', async () => {
  const { v } = verifier();
  const viaSub = await v.verify(await sign({ omit: ['agent', 'groups'] }), T0);
  assert.equal(viaSub.agent, 'agent-client-1');
  assert.deepEqual(viaSub.groups, []);
  const viaClientId = await v.verify(await sign({ omit: ['agent', 'sub'], claims: { client_id: 'cc-9' } }), T0);
  assert.equal(viaClientId.agent, 'cc-9');
  assert.equal(viaClientId.subject, 'cc-9');
});

test('scopes come from the space-separated scope claim or an scp list; anything else is none', async () => {
  const { v } = verifier({ cacheSize: 0 });
  assert.deepEqual((await v.verify(await sign({ claims: { scope: 'traces:write  traces:review traces:write' } }), T0)).scopes, ['traces:write', 'traces:review']);
  assert.deepEqual((await v.verify(await sign({ claims: { scp: ['traces:review', 7, ''] } }), T0)).scopes, ['traces:review']);
  assert.deepEqual((await v.verify(await sign({ claims: { scope: ['traces:review'] } }), T0)).scopes, []);
  assert.deepEqual((await v.verify(await sign({ claims: { scope: 'x'.repeat(5000) } }), T0)).scopes, []);
});

test('custom claim names', async () => {
  const { v } = verifier({ tenantClaim: 'org', agentClaim: 'azp', groupsClaim: 'roles' });
  const id = await v.verify(await sign({ claims: { org: 'globex', azp: 'bot-7', roles: ['a', 'a', 'b'] } }), T0);
  assert.equal(id.tenant, 'globex');
  assert.equal(id.agent, 'bot-7');
  assert.deepEqual(id.groups, ['a', 'b']);
});

test('ES256 with its own key verifies; several keys without kid are each tried', async () => {
  const { v } = verifier();
  assert.equal((await v.verify(await sign({ alg: 'ES256', key: ec.privateKey, header: { kid: 'e1' } }), T0)).tenant, 'acme');
  const second = { ...(await exportJWK(other.publicKey)), alg: 'RS256' };
  const { v: v2 } = verifier({}, countingJwks([second, { ...publicJwk, kid: undefined }]));
  const token = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 's', tenant: 't', exp: T0S + 60 }).setProtectedHeader({ alg: 'RS256' }).sign(rsa.privateKey);
  assert.equal((await v2.verify(token, T0)).tenant, 't');
});

test('exp and nbf are judged at the record timestamp, with skew, not the wall clock', async () => {
  const { v } = verifier({ clockSkewSec: 30, cacheSize: 0 });
  // Signed for 2025: the wall clock is irrelevant.
  const token = await sign({ claims: { nbf: T0S, exp: T0S + 100 } });
  await v.verify(token, T0);
  await v.verify(token, (T0S - 30) * 1000); // nbf - skew: still valid
  await rejectsWith(v.verify(token, (T0S - 31) * 1000), 'AUTH_TOKEN_NOT_YET_VALID', token);
  await v.verify(token, (T0S + 129) * 1000 + 999); // last valid millisecond before exp + skew
  await rejectsWith(v.verify(token, (T0S + 130) * 1000), 'AUTH_TOKEN_EXPIRED', token);
  await rejectsWith(v.verify(token, Date.now()), 'AUTH_TOKEN_EXPIRED', token);
});

test('zero skew is exact', async () => {
  const { v } = verifier({ clockSkewSec: 0, cacheSize: 0 });
  const token = await sign({ claims: { nbf: T0S, exp: T0S + 10 } });
  await rejectsWith(v.verify(token, T0 - 1), 'AUTH_TOKEN_NOT_YET_VALID');
  await v.verify(token, T0);
  await rejectsWith(v.verify(token, T0 + 10_000), 'AUTH_TOKEN_EXPIRED');
});

test('the cache saves key work but re-checks the times', async () => {
  const { v, jwks } = verifier({ clockSkewSec: 30 });
  const token = await sign({ claims: { nbf: T0S, exp: T0S + 100 } });
  const first = await v.verify(token, T0);
  assert.equal(jwks.calls(), 1);
  const second = await v.verify(token, T0 + 1000);
  assert.equal(jwks.calls(), 1, 'second verify must not call the key function');
  assert.equal(second, first);
  await rejectsWith(v.verify(token, (T0S + 130) * 1000), 'AUTH_TOKEN_EXPIRED', token);
  await rejectsWith(v.verify(token, (T0S - 31) * 1000), 'AUTH_TOKEN_NOT_YET_VALID', token);
  assert.equal(jwks.calls(), 1, 'time failures on a cache hit need no key work either');
  // Still cached and valid for an in-window record after the failures.
  await v.verify(token, T0 + 5000);
  assert.equal(jwks.calls(), 1);
});

test('a failed verification is not cached', async () => {
  const { v, jwks } = verifier();
  const token = await sign({ claims: { aud: 'someone-else' } });
  await rejectsWith(v.verify(token, T0), 'AUTH_AUDIENCE_MISMATCH');
  await rejectsWith(v.verify(token, T0), 'AUTH_AUDIENCE_MISMATCH');
  assert.equal(jwks.calls(), 2);
});

test('the cache is a bounded LRU', async () => {
  const { v, jwks } = verifier({ cacheSize: 2 });
  const [a, b, c] = await Promise.all([sign({ claims: { jti: 'a' } }), sign({ claims: { jti: 'b' } }), sign({ claims: { jti: 'c' } })]);
  assert.ok(a && b && c);
  await v.verify(a, T0);
  await v.verify(b, T0);
  await v.verify(a, T0); // a is now most recent
  await v.verify(c, T0); // evicts b
  assert.equal(jwks.calls(), 3);
  await v.verify(a, T0);
  assert.equal(jwks.calls(), 3);
  await v.verify(b, T0);
  assert.equal(jwks.calls(), 4);
});

test('cacheSize 0 disables the cache', async () => {
  const { v, jwks } = verifier({ cacheSize: 0 });
  const token = await sign();
  await v.verify(token, T0);
  await v.verify(token, T0);
  assert.equal(jwks.calls(), 2);
});

// Failure codes, one row each: [name, make token, verifier options, code].
const failures: [string, () => Promise<string>, Partial<TokenVerifierOptions>, ErrorCode][] = [
  ['empty token', async () => '', {}, 'AUTH_TOKEN_MALFORMED'],
  ['not a JWT', async () => 'hello', {}, 'AUTH_TOKEN_MALFORMED'],
  ['JWE-shaped (five parts)', async () => 'a.b.c.d.e', {}, 'AUTH_TOKEN_MALFORMED'],
  ['garbage header', async () => `${base64url.encode('{not json')}.${base64url.encode('{}')}.sig`, {}, 'AUTH_TOKEN_MALFORMED'],
  ['token too long', async () => sign({ claims: { pad: 'x'.repeat(17 * 1024) } }), {}, 'AUTH_TOKEN_MALFORMED'],
  ['token longer than a custom bound', async () => sign(), { maxTokenBytes: 256 }, 'AUTH_TOKEN_MALFORMED'],
  ['payload swapped for non-JSON', async () => `${(await sign()).split('.')[0]}.${base64url.encode('nope')}.${(await sign()).split('.')[2]}`, {}, 'AUTH_SIGNATURE_INVALID'],
  ['expired', async () => sign({ claims: { exp: T0S - 31 } }), {}, 'AUTH_TOKEN_EXPIRED'],
  ['not yet valid', async () => sign({ claims: { nbf: T0S + 31 } }), {}, 'AUTH_TOKEN_NOT_YET_VALID'],
  ['no exp', async () => sign({ omit: ['exp'] }), {}, 'AUTH_CLAIMS_MISSING'],
  ['exp not a number', async () => sign({ claims: { exp: 'tomorrow' as unknown as number } }), {}, 'AUTH_TOKEN_MALFORMED'],
  ['wrong issuer', async () => sign({ claims: { iss: 'https://evil.test' } }), {}, 'AUTH_ISSUER_MISMATCH'],
  ['no issuer', async () => sign({ omit: ['iss'] }), {}, 'AUTH_ISSUER_MISMATCH'],
  ['wrong audience', async () => sign({ claims: { aud: ['other-api'] } }), {}, 'AUTH_AUDIENCE_MISMATCH'],
  ['no audience', async () => sign({ omit: ['aud'] }), {}, 'AUTH_AUDIENCE_MISMATCH'],
  ['alg none', async () => `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${base64url.encode(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, tenant: 'acme', sub: 's', exp: T0S + 60 }))}.`, {}, 'AUTH_ALGORITHM_REFUSED'],
  ['HS256 signed with the public key PEM', async () => sign({ alg: 'HS256', key: hmacFromPublicPem }), {}, 'AUTH_ALGORITHM_REFUSED'],
  ['RS512 outside the allow-list', async () => withHeader(await sign(), { alg: 'RS512', kid: 'k1' }), {}, 'AUTH_ALGORITHM_REFUSED'],
  ['ES256 when only RS256 is allowed', async () => sign({ alg: 'ES256', key: ec.privateKey, header: { kid: 'e1' } }), { algorithms: ['RS256'] }, 'AUTH_ALGORITHM_REFUSED'],
  ['header without alg', async () => `${base64url.encode(JSON.stringify({ typ: 'JWT' }))}.${base64url.encode('{}')}.c2ln`, {}, 'AUTH_ALGORITHM_REFUSED'],
  ['signed by an unrelated key under a published kid', async () => sign({ key: other.privateKey }), {}, 'AUTH_SIGNATURE_INVALID'],
  ['payload tampered after signing', async () => {
    const [h, , s] = (await sign()).split('.');
    return `${h}.${base64url.encode(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, tenant: 'globex', sub: 's', exp: T0S + 60 }))}.${s}`;
  }, {}, 'AUTH_SIGNATURE_INVALID'],
  ['unknown kid', async () => sign({ key: other.privateKey, header: { kid: 'rotated-away' } }), {}, 'AUTH_UNKNOWN_KEY'],
  ['no tenant claim', async () => sign({ omit: ['tenant'] }), {}, 'AUTH_CLAIMS_MISSING'],
  ['tenant claim not a string', async () => sign({ claims: { tenant: ['acme'] } }), {}, 'AUTH_CLAIMS_MISSING'],
  ['empty tenant claim', async () => sign({ claims: { tenant: '' } }), {}, 'AUTH_CLAIMS_MISSING'],
  ['no agent, sub or client_id', async () => sign({ omit: ['agent', 'sub', 'client_id'] }), {}, 'AUTH_CLAIMS_MISSING'],
  ['groups claim not a list', async () => sign({ claims: { groups: 'eu-only' } }), {}, 'AUTH_CLAIMS_MISSING'],
  ['groups claim with a non-string', async () => sign({ claims: { groups: ['eu-only', 7] } }), {}, 'AUTH_CLAIMS_MISSING'],
  ['typ is not at+jwt', async () => sign({ header: { typ: 'JWT' } }), { requiredTyp: 'at+jwt' }, 'AUTH_TOKEN_TYPE_MISMATCH'],
  ['no typ header', async () => sign({ header: { typ: undefined } }), { requiredTyp: 'at+jwt' }, 'AUTH_TOKEN_TYPE_MISMATCH'],
  ['unknown crit header', async () =>
    new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 's', tenant: 't', exp: T0S + 60 })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1', crit: ['x-custom'], 'x-custom': 1 })
      .sign(rsa.privateKey, { crit: { 'x-custom': true } }), {}, 'AUTH_TOKEN_MALFORMED'],
];

for (const [name, make, opts, code] of failures) {
  test(`refuses: ${name} -> ${code}`, async () => {
    const { v } = verifier(opts);
    const token = await make();
    const err = await rejectsWith(v.verify(token, T0), code, token);
    assert.equal(err.retriable, false);
  });
}

test('an unreachable key source is AUTH_ISSUER_UNREACHABLE and retriable', async () => {
  const down: JWTVerifyGetKey = async () => {
    throw new TypeError('fetch failed');
  };
  const v = createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: down });
  const token = await sign();
  const err = await rejectsWith(v.verify(token, T0), 'AUTH_ISSUER_UNREACHABLE', token);
  assert.equal(err.retriable, true);
});

test('options are validated: none, HS* and unknown algorithms cannot be allowed', () => {
  for (const algorithms of [['none'], ['HS256'], ['RS256', 'HS512'], [], ['rs256']]) {
    assert.throws(
      () => createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: countingJwks().getKey, algorithms }),
      (err: unknown) => err instanceof ValidationError && err.code === 'CONFIG_INVALID' && err.issues.some((i) => i.path === 'algorithms'),
      JSON.stringify(algorithms),
    );
  }
  assert.throws(
    () => createTokenVerifier({ issuer: '', audience: '', jwks: 'not a url', clockSkewSec: -1, cacheSize: 1.5 }),
    (err: unknown) =>
      err instanceof ValidationError &&
      ['issuer', 'audience', 'jwks', 'clockSkewSec', 'cacheSize'].every((p) => err.issues.some((i) => i.path === p)),
  );
});

test('close() is idempotent and stops verification', async () => {
  const { v } = verifier();
  const token = await sign();
  await v.verify(token, T0);
  v.close();
  v.close();
  await rejectsWith(v.verify(token, T0), 'INTERNAL');
});

test('a non-finite record timestamp is refused', async () => {
  const { v } = verifier();
  await rejectsWith(v.verify(await sign(), Number.NaN), 'INTERNAL');
});

// A loopback issuer in this process: discovery document and JWKS, with a request log.
let server: Server;
let base = '';
const requests: string[] = [];
let jwksStatus = 200;

before(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks`, token_endpoint: `${base}/token`, response_types_supported: ['code'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'] }));
      return;
    }
    if (req.url === '/jwks') {
      res.writeHead(jwksStatus, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [publicJwk] }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('discoverJwks finds jwks_uri on a loopback issuer and the keys verify tokens', async () => {
  jwksStatus = 200;
  requests.length = 0;
  const getKey = await discoverJwks(base, { allowInsecureLoopback: true });
  const v = createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: getKey });
  assert.equal((await v.verify(await sign(), T0)).tenant, 'acme');
  assert.deepEqual(requests, ['/.well-known/openid-configuration', '/jwks']);
});

test('an unknown kid refetches the remote JWKS at most once per cooldown', async () => {
  jwksStatus = 200;
  requests.length = 0;
  const v = createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: `${base}/jwks` });
  await v.verify(await sign(), T0);
  for (let i = 0; i < 5; i++) await rejectsWith(v.verify(await sign({ header: { kid: `new-${i}` }, key: other.privateKey }), T0), 'AUTH_UNKNOWN_KEY');
  assert.deepEqual(requests, ['/jwks']);
});

test('a JWKS endpoint that fails is retriable AUTH_ISSUER_UNREACHABLE', async () => {
  jwksStatus = 503;
  try {
    const v = createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: new URL(`${base}/jwks`) });
    const err = await rejectsWith(v.verify(await sign(), T0), 'AUTH_ISSUER_UNREACHABLE');
    assert.equal(err.retriable, true);
  } finally {
    jwksStatus = 200;
  }
});

test('discoverJwks refuses plain http unless the issuer is loopback and allowed', async () => {
  await assert.rejects(discoverJwks(base), (err: unknown) => err instanceof ValidationError && err.code === 'CONFIG_INVALID');
  await assert.rejects(discoverJwks('http://issuer.invalid', { allowInsecureLoopback: true }), (err: unknown) => err instanceof ValidationError);
  await assert.rejects(discoverJwks('not a url'), (err: unknown) => err instanceof ValidationError);
});

test('discoverJwks on an issuer that does not answer is retriable', async () => {
  await assert.rejects(discoverJwks(`${base}/nothing-here`, { allowInsecureLoopback: true }), (err: unknown) => {
    assert.ok(err instanceof TracefenceError);
    assert.equal(err.code, 'AUTH_ISSUER_UNREACHABLE');
    assert.equal(err.retriable, true);
    return true;
  });
});
