/**
 * Access tokens of the demo agents against the running development issuer: real ones (client
 * credentials) and hand-made ones signed with the issuer's own key (read from
 * <state>/oidc/issuer-secrets.json) or with a foreign key, to build expired, wrong-audience,
 * forged and key-confusion tokens. Tokens are never printed.
 */
import { createPublicKey, randomBytes, type JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { base64url, importJWK, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { createTokenSource, type TokenSource } from '../../services/agent-sdk/token-source.js';
import { DEMO_AGENTS, DEV_BROKER_AUDIENCE } from '../../infra/oidc/demo-identities.js';
import { issuerUrl, repoRoot } from './stack.js';

export type Tenant = 'acme' | 'globex' | 'initech';
export const TENANTS: readonly Tenant[] = ['acme', 'globex', 'initech'];

/** The stack's runtime state directory (infra/stack.sh: $TRACEFENCE_STATE, default .stack/). */
export const stateDir = process.env['TRACEFENCE_STATE'] ?? join(repoRoot, '.stack');

export function demoAgent(tenant: Tenant): { tenant: string; agent: string; clientId: string; clientSecret: string; groups: string[] } {
  const a = DEMO_AGENTS.find((x) => x.tenant === tenant);
  if (a === undefined) throw new Error(`no demo agent for ${tenant}`);
  return a;
}

/** One token source per demo tenant; getToken() refreshes before expiry. */
export function createAgentTokens(): { get(tenant: Tenant): Promise<string> } {
  const sources = new Map<Tenant, TokenSource>();
  return {
    get(tenant) {
      let s = sources.get(tenant);
      if (s === undefined) {
        const a = demoAgent(tenant);
        s = createTokenSource({ issuer: issuerUrl, clientId: a.clientId, clientSecret: a.clientSecret, resource: DEV_BROKER_AUDIENCE });
        sources.set(tenant, s);
      }
      return s.getToken();
    },
  };
}

export interface IssuerKey {
  key: CryptoKey;
  kid: string;
  publicJwk: JWK;
}

/** The running development issuer's private signing key. */
export async function issuerSigningKey(): Promise<IssuerKey> {
  const secrets = JSON.parse(readFileSync(join(stateDir, 'oidc', 'issuer-secrets.json'), 'utf8')) as { jwks: { keys: JWK[] } };
  const jwk = secrets.jwks.keys[0];
  if (jwk === undefined || typeof jwk.kid !== 'string') throw new Error('issuer secrets hold no signing key');
  const key = (await importJWK(jwk, 'RS256')) as CryptoKey;
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk;
  return { key, kid: jwk.kid, publicJwk };
}

/** Claims like the issuer's own access tokens for a demo agent: issued 10 s before `nowSec`, valid for `ttlSec`. */
export function agentClaims(tenant: Tenant, options: { ttlSec: number; nowSec?: number }): JWTPayload {
  const a = demoAgent(tenant);
  const nowSec = options.nowSec ?? Math.floor(Date.now() / 1000);
  return {
    iss: issuerUrl,
    aud: DEV_BROKER_AUDIENCE,
    sub: a.clientId,
    client_id: a.clientId,
    tenant: a.tenant,
    agent: a.agent,
    groups: a.groups,
    iat: nowSec - 10,
    exp: nowSec + options.ttlSec,
    jti: randomBytes(8).toString('hex'),
  };
}

export function signToken(claims: JWTPayload, key: CryptoKey | Uint8Array, header: { alg: string; kid?: string; typ?: string; [k: string]: unknown }): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ typ: 'at+jwt', ...header }).sign(key);
}

/** An unsigned token (`alg: none`). */
export function unsignedToken(claims: JWTPayload): string {
  return `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${base64url.encode(JSON.stringify(claims))}.`;
}

/** The issuer's public key as PEM text: the HMAC secret of a key-confusion (RS256 -> HS256) token. */
export function publicKeyPem(publicJwk: JWK): Uint8Array {
  const pem = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  return new TextEncoder().encode(String(pem));
}
