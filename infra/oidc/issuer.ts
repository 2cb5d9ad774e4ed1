/**
 * Development and test OIDC issuer (oidc-provider 8.x, the last line that runs on Node 20).
 * - client credentials for demo agents: RS256 `at+jwt` access tokens, audience = the broker,
 *   carrying tenant, agent and groups claims;
 * - authorization code with PKCE for the reviewer web page, with demo reviewer users.
 * Signing and cookie keys are generated at first start into $OIDC_STATE_DIR (never committed).
 * Not for production: accounts and clients are fixed below, storage is in memory.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { DEMO_AGENTS, DEMO_REVIEWERS, DEV_BROKER_AUDIENCE } from './demo-identities.js';

const port = Number(process.env['OIDC_PORT'] ?? '14000');
const stateDir = process.env['OIDC_STATE_DIR'] ?? '.stack/oidc';
const issuer = `http://127.0.0.1:${port}`;
const reviewRedirects = (process.env['OIDC_REVIEW_REDIRECT_URIS'] ?? 'http://127.0.0.1:14080/auth/callback,http://localhost:14080/auth/callback')
  .split(',')
  .filter((u) => u.length > 0);

interface IssuerSecrets {
  jwks: { keys: Record<string, unknown>[] };
  cookieKeys: string[];
}

/** Keys are made once and reused, so tokens stay verifiable across issuer restarts. */
async function loadOrCreateSecrets(): Promise<IssuerSecrets> {
  const file = join(stateDir, 'issuer-secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as IssuerSecrets;
  mkdirSync(stateDir, { recursive: true });
  const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const jwk = { ...(await exportJWK(privateKey)), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
  const secrets: IssuerSecrets = { jwks: { keys: [jwk] }, cookieKeys: [randomBytes(32).toString('base64url')] };
  writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  chmodSync(file, 0o600);
  return secrets;
}

const secrets = await loadOrCreateSecrets();

const provider = new Provider(issuer, {
  jwks: secrets.jwks,
  cookies: { keys: secrets.cookieKeys },
  clients: [
    ...DEMO_AGENTS.map((a) => ({
      client_id: a.clientId,
      client_secret: a.clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic' as const,
    })),
    {
      client_id: 'tracefence-review',
      token_endpoint_auth_method: 'none' as const,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: reviewRedirects,
    },
  ],
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'groups', 'offline_access', 'traces:write', 'traces:review'],
  claims: { openid: ['sub'], profile: ['name'], groups: ['groups'] },
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => DEV_BROKER_AUDIENCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (resource !== DEV_BROKER_AUDIENCE) throw new Error('unknown resource');
        return {
          scope: 'traces:write traces:review',
          audience: DEV_BROKER_AUDIENCE,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  // Identity claims travel in the access token so the broker can bind tenant and agent.
  extraTokenClaims: (_ctx, token) => {
    const clientId = (token as { clientId?: string }).clientId;
    const accountId = (token as { accountId?: string }).accountId;
    const agent = DEMO_AGENTS.find((a) => a.clientId === clientId);
    if (agent !== undefined && accountId === undefined) {
      return { tenant: agent.tenant, agent: agent.agent, groups: agent.groups };
    }
    const reviewer = DEMO_REVIEWERS.find((r) => r.username === accountId);
    return reviewer === undefined ? {} : { name: reviewer.name, groups: reviewer.groups };
  },
  findAccount: (_ctx, id) => {
    const reviewer = DEMO_REVIEWERS.find((r) => r.username === id);
    if (reviewer === undefined) return undefined;
    return {
      accountId: id,
      claims: () => ({ sub: id, name: reviewer.name, groups: reviewer.groups }),
    };
  },
  ttl: { AccessToken: 600, ClientCredentials: 600, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
});
provider.proxy = false;

const server = provider.listen(port, '127.0.0.1');
server.on('listening', () => {
  process.stdout.write(`${JSON.stringify({ level: 'info', service: 'oidc-issuer', msg: 'listening', issuer })}\n`);
});
const shutdown = (): void => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
