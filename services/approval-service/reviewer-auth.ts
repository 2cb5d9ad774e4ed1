/**
 * Reviewer authentication: an OIDC access token from the issuer (RS256 `at+jwt` for the broker
 * audience), verified with the shared token verifier against the current time. The reviewer is
 * the token's `sub`; their scopes come from the `groups` claim (`reviewers:<region>:<tenant>`).
 * The token must also carry the review scope (`traces:review` by default): an agent's token for the
 * same audience is not a reviewer's, whatever its groups say.
 */
import { TracefenceError } from '../shared/errors.js';
import type { TokenVerifier } from '../policy/token-verifier.js';
import type { Reviewer } from './review-rules.js';

export interface AuthenticatedReviewer extends Reviewer {
  readonly expiresAtMs: number;
}

export interface ReviewerAuthenticator {
  /**
   * Verifies a bearer token; throws REVIEW_UNAUTHENTICATED (or AUTH_ISSUER_UNREACHABLE, retriable),
   * or REVIEW_FORBIDDEN for a valid token without the review scope.
   */
  authenticate(token: string): Promise<AuthenticatedReviewer>;
}

export const DEFAULT_REVIEW_SCOPE = 'traces:review';

export function createReviewerAuthenticator(verifier: TokenVerifier, now: () => number = Date.now, requiredScope: string = DEFAULT_REVIEW_SCOPE): ReviewerAuthenticator {
  return {
    async authenticate(token) {
      let id: Awaited<ReturnType<TokenVerifier['verify']>>;
      try {
        id = await verifier.verify(token, now());
      } catch (err) {
        if (err instanceof TracefenceError && err.retriable) throw err;
        const why = err instanceof TracefenceError ? err.code : 'AUTH_TOKEN_MALFORMED';
        throw new TracefenceError('REVIEW_UNAUTHENTICATED', `the access token was refused (${why})`, { cause: err });
      }
      // RFC 6750 insufficient_scope: a valid token that is not for reviewing (HTTP 403).
      if (!id.scopes.includes(requiredScope)) throw new TracefenceError('REVIEW_FORBIDDEN', `the access token lacks the ${requiredScope} scope`);
      return { subject: id.subject, groups: id.groups, expiresAtMs: id.expiresAtMs };
    },
  };
}

/**
 * Token verifier options for reviewer tokens: reviewer tokens carry no tenant claim (a reviewer
 * is not an agent), so the verifier's required tenant claim is pointed at `sub`.
 */
export const REVIEWER_TOKEN_CLAIMS = { tenantClaim: 'sub', agentClaim: 'sub', groupsClaim: 'groups', requiredTyp: 'at+jwt' } as const;

export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const m = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)$/i.exec(authorization.trim());
  return m?.[1];
}
