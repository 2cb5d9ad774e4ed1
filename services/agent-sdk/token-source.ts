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
  /** Refresh this long before expiry (default 60 s; at most half the token's lifetime). */
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
  let cached: { token: string; expiresAtMs: number; refreshAtMs: number } | undefined;
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
      // An OAuth error answer (invalid_client, invalid_target...) is a configuration fault: retrying cannot help.
      if (err instanceof oidc.ResponseBodyError && err.status >= 400 && err.status < 500) {
        const oauthError = /^[a-z_]{1,64}$/.test(err.error) ? err.error : 'error';
        throw new TracefenceError('CONFIG_INVALID', `the issuer refused client credentials for client ${options.clientId} (${oauthError})`, { cause: err });
      }
      throw new TracefenceError('AUTH_ISSUER_UNREACHABLE', `client-credentials grant failed for client ${options.clientId}`, { retriable: true, cause: err });
    }
    const ttlMs = (tokens.expires_in ?? 300) * 1000;
    // A token shorter-lived than the refresh margin would be refetched on every call: refresh at half-life instead.
    const marginMs = Math.min(refreshBeforeMs, ttlMs / 2);
    cached = { token: tokens.access_token, expiresAtMs: Date.now() + ttlMs, refreshAtMs: Date.now() + ttlMs - marginMs };
    return tokens.access_token;
  };

  return {
    async getToken() {
      if (cached !== undefined && Date.now() < cached.refreshAtMs) return cached.token;
      inFlight ??= fetchToken().finally(() => {
        inFlight = undefined;
      });
      try {
        return await inFlight;
      } catch (err) {
        // An early refresh that fails must not fail a send while the current token is still valid.
        if (cached !== undefined && Date.now() < cached.expiresAtMs - 5_000) return cached.token;
        throw err;
      }
    },
  };
}
