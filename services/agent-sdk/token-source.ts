/**
 * Client-credentials access tokens for an agent, through openid-client: discovered once,
 * cached, and refreshed before expiry (single flight, so a burst of sends asks once).
 */
import * as oidc from 'openid-client';
import { TracefenceError } from '../shared/errors.js';

export interface TokenSourceOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Resource indicator / audience of the broker. */
  resource?: string;
  scope?: string;
  /** Refresh this long before expiry. */
  refreshBeforeMs?: number;
}

export interface TokenSource {
  getToken(): Promise<string>;
}

function isLoopback(url: URL): boolean {
  return url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
}

export function createTokenSource(options: TokenSourceOptions): TokenSource {
  const issuer = new URL(options.issuer);
  const refreshBeforeMs = options.refreshBeforeMs ?? 60_000;
  let config: Promise<oidc.Configuration> | undefined;
  let cached: { token: string; expiresAtMs: number } | undefined;
  let inFlight: Promise<string> | undefined;

  const discover = (): Promise<oidc.Configuration> => {
    // Plain HTTP is allowed only for a loopback issuer (the local development stack).
    config ??= oidc
      .discovery(issuer, options.clientId, options.clientSecret, undefined, isLoopback(issuer) ? { execute: [oidc.allowInsecureRequests] } : undefined)
      .catch((err: unknown) => {
        config = undefined;
        throw new TracefenceError('AUTH_ISSUER_UNREACHABLE', `token issuer discovery failed for ${issuer.origin}`, { retriable: true, cause: err });
      });
    return config;
  };

  const fetchToken = async (): Promise<string> => {
    const cfg = await discover();
    const params: Record<string, string> = {};
    if (options.scope !== undefined) params['scope'] = options.scope;
    if (options.resource !== undefined) params['resource'] = options.resource;
    let tokens: oidc.TokenEndpointResponse;
    try {
      tokens = await oidc.clientCredentialsGrant(cfg, params);
    } catch (err) {
      throw new TracefenceError('AUTH_ISSUER_UNREACHABLE', `client-credentials grant failed for client ${options.clientId}`, { retriable: true, cause: err });
    }
    const ttlMs = (tokens.expires_in ?? 300) * 1000;
    cached = { token: tokens.access_token, expiresAtMs: Date.now() + ttlMs };
    return tokens.access_token;
  };

  return {
    async getToken() {
      if (cached !== undefined && Date.now() < cached.expiresAtMs - refreshBeforeMs) return cached.token;
      inFlight ??= fetchToken().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
  };
}
