/**
 * Verifies the agent's access token on each record (invariant 5). Times are checked
 * against the record's broker timestamp (LogAppendTime), not the wall clock, so a
 * replayed or delayed partition is judged as of when the record was appended.
 *
 * Every failure maps to its own TracefenceError code; only an unreachable issuer is
 * retriable. The token never appears in an error message; callers may log `tokenHash`.
 */
import { sha256Hex } from '../shared/sha256.js';
import { allowInsecureRequests, discovery } from 'openid-client';
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  type ProtectedHeaderParameters,
} from 'jose';
import { TracefenceError, ValidationError, type ErrorCode, type ValidationIssue } from '../shared/errors.js';

export const DEFAULT_ALGORITHMS: readonly string[] = Object.freeze(['RS256', 'ES256', 'PS256', 'EdDSA']);
/** Asymmetric JWS algorithms only: 'none' and HMAC (HS*) can never be configured. */
const ASYMMETRIC_ALGORITHMS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);
const DEFAULT_MAX_TOKEN_BYTES = 16 * 1024;
const MAX_CLAIM_LENGTH = 256;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const REMOTE_JWKS_OPTIONS = { cooldownDuration: 30_000, timeoutDuration: 5_000 } as const;

export interface TokenVerifierOptions {
  issuer: string;
  audience: string;
  /** A key resolver (e.g. from discoverJwks or createLocalJWKSet), or the JWKS URL. */
  jwks: JWTVerifyGetKey | URL | string;
  /** Allowed JWS algorithms; default RS256, ES256, PS256, EdDSA. 'none' and HS* are refused. */
  algorithms?: readonly string[];
  /** Skew allowed on exp and nbf, in whole seconds; default 30. */
  clockSkewSec?: number;
  /** Claim holding the tenant; default 'tenant'. */
  tenantClaim?: string;
  /** Claim holding the agent id; default 'agent', falling back to 'sub' then 'client_id'. */
  agentClaim?: string;
  /** Claim holding the agent's groups (array of strings, absent = none); default 'groups'. */
  groupsClaim?: string;
  /** Verified tokens kept (LRU); 0 disables the cache. Default 10000. */
  cacheSize?: number;
  /** Required `typ` header, e.g. 'at+jwt' (RFC 9068); unset = not checked. */
  requiredTyp?: string;
  /** Longest token accepted, in bytes; default 16 KiB. */
  maxTokenBytes?: number;
}

export interface VerifiedIdentity {
  /** `sub`, or `client_id` when the token has no `sub`. */
  readonly subject: string;
  readonly tenant: string;
  readonly agent: string;
  readonly groups: readonly string[];
  /** OAuth scopes granted (RFC 9068 `scope`, space-separated, or an `scp` list); empty when absent. */
  readonly scopes: readonly string[];
  readonly expiresAtMs: number;
  /** sha256 hex of the token: safe to log and to audit, the token itself is not. */
  readonly tokenHash: string;
}

export interface TokenVerifier {
  /** Verifies `token` as of `atMs` (the record's broker timestamp, epoch ms). */
  verify(token: string, atMs: number): Promise<VerifiedIdentity>;
  /** Drops the cache; later verify calls fail. Idempotent. */
  close(): void;
}

interface CacheEntry {
  identity: VerifiedIdentity;
  expSec: number;
  nbfSec: number | undefined;
}

/** Thrown by the key resolver wrapper when the issuer keys could not be obtained at all. */
class KeySourceError extends Error {}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const o = compileOptions(options);
  const cache = new Map<string, CacheEntry>();
  let closed = false;

  const getKey: JWTVerifyGetKey = async (header, input) => {
    try {
      return await o.getKey(header, input);
    } catch (err) {
      // These two describe the token, not the issuer; everything else means the key source failed.
      if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys) throw err;
      throw new KeySourceError('issuer keys unavailable', { cause: err });
    }
  };

  const verifyOptions: JWTVerifyOptions = {
    issuer: o.issuer,
    audience: o.audience,
    algorithms: [...o.algorithms],
    clockTolerance: o.clockSkewSec,
    requiredClaims: ['exp'],
    ...(o.requiredTyp === undefined ? {} : { typ: o.requiredTyp }),
  };

  const checkTimes = (entry: CacheEntry, atMs: number): void => {
    // Same arithmetic as jose's own check, so a cache hit and a fresh verification agree.
    const now = Math.floor(atMs / 1000);
    if (entry.nbfSec !== undefined && entry.nbfSec > now + o.clockSkewSec) fail('AUTH_TOKEN_NOT_YET_VALID', 'token not yet valid at the record timestamp');
    if (entry.expSec <= now - o.clockSkewSec) fail('AUTH_TOKEN_EXPIRED', 'token expired at the record timestamp');
  };

  async function verifySignatureAndClaims(token: string, atMs: number): Promise<JWTPayload> {
    const opts: JWTVerifyOptions = { ...verifyOptions, currentDate: new Date(atMs) };
    try {
      return (await jwtVerify(token, getKey, opts)).payload;
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSMultipleMatchingKeys)) throw err;
      // Several published keys fit a token without a usable kid: try each.
      for await (const key of err) {
        try {
          return (await jwtVerify(token, key, opts)).payload;
        } catch (inner) {
          if (!(inner instanceof joseErrors.JWSSignatureVerificationFailed)) throw inner;
        }
      }
      throw new joseErrors.JWSSignatureVerificationFailed();
    }
  }

  return {
    async verify(token: string, atMs: number): Promise<VerifiedIdentity> {
      if (closed) throw new TracefenceError('INTERNAL', 'token verifier is closed');
      if (typeof atMs !== 'number' || !Number.isFinite(atMs)) throw new TracefenceError('INTERNAL', 'record timestamp is not a finite number');
      if (typeof token !== 'string' || token.length === 0) fail('AUTH_TOKEN_MALFORMED', 'token is empty');
      if (Buffer.byteLength(token, 'utf8') > o.maxTokenBytes) fail('AUTH_TOKEN_MALFORMED', `token is longer than ${o.maxTokenBytes} bytes`);
      if (!COMPACT_JWS.test(token)) fail('AUTH_TOKEN_MALFORMED', 'token is not a compact JWS (three base64url parts)');

      const tokenHash = sha256Hex(token);
      const hit = cache.get(tokenHash);
      if (hit !== undefined) {
        checkTimes(hit, atMs);
        cache.delete(tokenHash);
        cache.set(tokenHash, hit);
        return hit.identity;
      }

      let header: ProtectedHeaderParameters;
      try {
        header = decodeProtectedHeader(token);
      } catch {
        fail('AUTH_TOKEN_MALFORMED', 'token header is not valid base64url JSON');
      }
      // Decided before any key is touched: 'none' and HS256-with-the-public-key never reach verification.
      if (typeof header.alg !== 'string' || !o.algorithms.includes(header.alg)) {
        fail('AUTH_ALGORITHM_REFUSED', `token algorithm ${safeAlg(header.alg)} is not allowed`);
      }

      let payload: JWTPayload;
      try {
        payload = await verifySignatureAndClaims(token, atMs);
      } catch (err) {
        throw mapError(err);
      }

      const entry: CacheEntry = {
        identity: Object.freeze({ ...extractIdentity(payload, o), tokenHash }),
        expSec: payload.exp as number,
        nbfSec: payload.nbf,
      };
      checkTimes(entry, atMs);
      if (o.cacheSize > 0) {
        cache.set(tokenHash, entry);
        if (cache.size > o.cacheSize) {
          const oldest = cache.keys().next();
          if (oldest.done !== true) cache.delete(oldest.value);
        }
      }
      return entry.identity;
    },
    close(): void {
      closed = true;
      cache.clear();
    },
  };
}

interface CompiledOptions {
  issuer: string;
  audience: string;
  getKey: JWTVerifyGetKey;
  algorithms: readonly string[];
  clockSkewSec: number;
  tenantClaim: string;
  agentClaim: string;
  groupsClaim: string;
  cacheSize: number;
  requiredTyp: string | undefined;
  maxTokenBytes: number;
}

function compileOptions(options: TokenVerifierOptions): CompiledOptions {
  const issues: ValidationIssue[] = [];
  const nonEmpty = (v: unknown, path: string): string => {
    if (typeof v === 'string' && v.length > 0) return v;
    issues.push({ path, message: 'must be a non-empty string' });
    return '';
  };
  const int = (v: number | undefined, path: string, dflt: number, min: number, max: number): number => {
    if (v === undefined) return dflt;
    if (Number.isInteger(v) && v >= min && v <= max) return v;
    issues.push({ path, message: `must be an integer from ${min} to ${max}` });
    return dflt;
  };

  const algorithms = options.algorithms === undefined ? DEFAULT_ALGORITHMS : [...new Set(options.algorithms)];
  if (algorithms.length === 0) issues.push({ path: 'algorithms', message: 'must not be empty' });
  for (const alg of algorithms) {
    if (!ASYMMETRIC_ALGORITHMS.has(alg)) issues.push({ path: 'algorithms', message: `${safeAlg(alg)} is not an allowed asymmetric JWS algorithm` });
  }

  let getKey: JWTVerifyGetKey = async () => {
    throw new Error('no key source');
  };
  if (typeof options.jwks === 'function') getKey = options.jwks;
  else {
    try {
      getKey = createRemoteJWKSet(new URL(options.jwks), REMOTE_JWKS_OPTIONS);
    } catch {
      issues.push({ path: 'jwks', message: 'must be a key resolver function or an absolute URL' });
    }
  }

  const compiled: CompiledOptions = {
    issuer: nonEmpty(options.issuer, 'issuer'),
    audience: nonEmpty(options.audience, 'audience'),
    getKey,
    algorithms: Object.freeze([...algorithms]),
    clockSkewSec: int(options.clockSkewSec, 'clockSkewSec', 30, 0, 600),
    tenantClaim: options.tenantClaim === undefined ? 'tenant' : nonEmpty(options.tenantClaim, 'tenantClaim'),
    agentClaim: options.agentClaim === undefined ? 'agent' : nonEmpty(options.agentClaim, 'agentClaim'),
    groupsClaim: options.groupsClaim === undefined ? 'groups' : nonEmpty(options.groupsClaim, 'groupsClaim'),
    cacheSize: int(options.cacheSize, 'cacheSize', 10_000, 0, 10_000_000),
    requiredTyp: options.requiredTyp === undefined ? undefined : nonEmpty(options.requiredTyp, 'requiredTyp'),
    maxTokenBytes: int(options.maxTokenBytes, 'maxTokenBytes', DEFAULT_MAX_TOKEN_BYTES, 64, 1024 * 1024),
  };
  if (issues.length > 0) throw new ValidationError('CONFIG_INVALID', 'token verifier options', issues);
  return compiled;
}

function extractIdentity(payload: JWTPayload, o: CompiledOptions): Omit<VerifiedIdentity, 'tokenHash'> {
  const tenant = claimString(payload, o.tenantClaim);
  if (tenant === undefined) fail('AUTH_CLAIMS_MISSING', `token lacks a usable "${o.tenantClaim}" claim`);
  const subject = claimString(payload, 'sub') ?? claimString(payload, 'client_id');
  const agent = claimString(payload, o.agentClaim) ?? subject;
  if (agent === undefined || subject === undefined) fail('AUTH_CLAIMS_MISSING', `token lacks a usable "${o.agentClaim}", "sub" or "client_id" claim`);

  let groups: string[] = [];
  if (Object.hasOwn(payload, o.groupsClaim)) {
    const raw = payload[o.groupsClaim];
    // Groups narrow what an agent may do; an unreadable claim must not read as "no groups".
    if (!Array.isArray(raw) || !raw.every((g): g is string => typeof g === 'string' && g.length > 0 && g.length <= MAX_CLAIM_LENGTH)) {
      fail('AUTH_CLAIMS_MISSING', `token "${o.groupsClaim}" claim is not a list of strings`);
    }
    groups = [...new Set(raw)];
  }
  const exp = payload.exp as number;
  return { subject, tenant, agent, groups: Object.freeze(groups), scopes: Object.freeze(readScopes(payload)), expiresAtMs: exp * 1000 };
}

/** `scope` (RFC 9068: one space-separated string) or `scp` (a list, as some issuers write it); unreadable = none. */
function readScopes(payload: JWTPayload): string[] {
  const scope = payload['scope'];
  if (typeof scope === 'string' && scope.length <= MAX_CLAIM_LENGTH) return [...new Set(scope.split(' ').filter((s) => s.length > 0))];
  const scp = payload['scp'];
  if (Array.isArray(scp) && scp.length <= 64) return [...new Set(scp.filter((s): s is string => typeof s === 'string' && s.length > 0 && s.length <= MAX_CLAIM_LENGTH))];
  return [];
}

function claimString(payload: JWTPayload, claim: string): string | undefined {
  if (!Object.hasOwn(payload, claim)) return undefined;
  const v = payload[claim];
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_CLAIM_LENGTH ? v : undefined;
}

function mapError(err: unknown): TracefenceError {
  if (err instanceof TracefenceError) return err;
  if (err instanceof KeySourceError) {
    return new TracefenceError('AUTH_ISSUER_UNREACHABLE', 'issuer keys (JWKS) could not be obtained', { retriable: true, cause: err.cause });
  }
  if (err instanceof joseErrors.JWTExpired) return new TracefenceError('AUTH_TOKEN_EXPIRED', 'token expired at the record timestamp');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    // No cause attached: jose's claim errors carry the whole claims set.
    switch (err.claim) {
      case 'iss':
        return new TracefenceError('AUTH_ISSUER_MISMATCH', err.reason === 'missing' ? 'token has no issuer' : 'token issuer is not the configured issuer');
      case 'aud':
        return new TracefenceError('AUTH_AUDIENCE_MISMATCH', err.reason === 'missing' ? 'token has no audience' : 'token audience does not include this broker');
      case 'nbf':
        if (err.reason === 'check_failed') return new TracefenceError('AUTH_TOKEN_NOT_YET_VALID', 'token not yet valid at the record timestamp');
        break;
      case 'typ':
        return new TracefenceError('AUTH_TOKEN_TYPE_MISMATCH', 'token typ header is not the required one');
      default:
        break;
    }
    if (err.reason === 'missing') return new TracefenceError('AUTH_CLAIMS_MISSING', `token lacks the "${safeClaim(err.claim)}" claim`);
    return new TracefenceError('AUTH_TOKEN_MALFORMED', `token claim "${safeClaim(err.claim)}" is invalid`);
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return new TracefenceError('AUTH_ALGORITHM_REFUSED', 'token algorithm is not allowed');
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return new TracefenceError('AUTH_SIGNATURE_INVALID', 'token signature does not verify');
  if (err instanceof joseErrors.JWKSNoMatchingKey) return new TracefenceError('AUTH_UNKNOWN_KEY', 'token names a key the issuer does not publish');
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid || err instanceof joseErrors.JOSENotSupported) {
    return new TracefenceError('AUTH_TOKEN_MALFORMED', 'token is not a well-formed signed JWT');
  }
  return new TracefenceError('INTERNAL', 'token verification failed unexpectedly', { cause: err });
}

function fail(code: ErrorCode, message: string): never {
  throw new TracefenceError(code, message);
}

function safeAlg(alg: unknown): string {
  return typeof alg === 'string' && /^[A-Za-z0-9+_-]{1,16}$/.test(alg) ? JSON.stringify(alg) : '(unprintable)';
}

function safeClaim(claim: string): string {
  return /^[A-Za-z0-9_:.-]{1,64}$/.test(claim) ? claim : '(unprintable)';
}

export interface DiscoverJwksOptions {
  /** Permit plain http for an issuer on 127.0.0.1, ::1 or localhost (local stack and tests only). */
  allowInsecureLoopback?: boolean;
  /** Client id sent with discovery; discovery itself does not use it. */
  clientId?: string;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Finds the issuer's jwks_uri by OpenID discovery and returns a remote key set that
 * refetches on an unknown kid at most once per 30 s (cooldown) with a 5 s timeout.
 */
export async function discoverJwks(issuerUrl: string, options: DiscoverJwksOptions = {}): Promise<JWTVerifyGetKey> {
  let issuer: URL;
  try {
    issuer = new URL(issuerUrl);
  } catch {
    throw new ValidationError('CONFIG_INVALID', 'issuer', [{ path: 'issuer', message: 'must be an absolute URL' }]);
  }
  const insecureOk = (u: URL): boolean => u.protocol === 'https:' || (options.allowInsecureLoopback === true && u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname));
  if (!insecureOk(issuer)) {
    throw new ValidationError('CONFIG_INVALID', 'issuer', [{ path: 'issuer', message: 'must use https (plain http only for a loopback issuer with allowInsecureLoopback)' }]);
  }

  let jwksUri: string | undefined;
  try {
    const config = await discovery(issuer, options.clientId ?? 'tracefence-policy-worker', undefined, undefined, {
      timeout: 5,
      ...(issuer.protocol === 'http:' ? { execute: [allowInsecureRequests] } : {}),
    });
    jwksUri = config.serverMetadata().jwks_uri;
  } catch (err) {
    throw new TracefenceError('AUTH_ISSUER_UNREACHABLE', 'OpenID discovery of the issuer failed', { retriable: true, cause: err });
  }
  if (jwksUri === undefined) throw new TracefenceError('AUTH_ISSUER_UNREACHABLE', 'issuer metadata has no jwks_uri', { retriable: true });
  let url: URL;
  try {
    url = new URL(jwksUri);
  } catch {
    throw new TracefenceError('AUTH_ISSUER_UNREACHABLE', 'issuer metadata jwks_uri is not a URL', { retriable: true });
  }
  if (!insecureOk(url)) {
    throw new ValidationError('CONFIG_INVALID', 'issuer', [{ path: 'jwks_uri', message: 'issuer publishes a non-https jwks_uri' }]);
  }
  return createRemoteJWKSet(url, REMOTE_JWKS_OPTIONS);
}

/** A verifier for the issuer's tokens whose keys come from OpenID discovery (what every service's main needs). */
export async function createIssuerTokenVerifier(
  options: Omit<TokenVerifierOptions, 'jwks'> & { clientId?: string },
): Promise<TokenVerifier> {
  const { clientId, ...verifierOptions } = options;
  const jwks = await discoverJwks(options.issuer, { allowInsecureLoopback: true, ...(clientId === undefined ? {} : { clientId }) });
  return createTokenVerifier({ ...verifierOptions, jwks });
}
