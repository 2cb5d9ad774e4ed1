/**
 * Approval service configuration from the environment (read only by main.ts); every problem is
 * reported at once with the variable at fault. See docs/approval.md for the full list.
 */
import { hostname } from 'node:os';
import { EnvReader, type Env } from '../shared/config.js';

export function readApprovalConfig(env: Env) {
  const r = new EnvReader(env);
  const instanceId = r.string('TRACEFENCE_INSTANCE_ID', hostname());
  const secretText = r.optional('TRACEFENCE_REVIEW_SESSION_SECRET');
  if (secretText !== undefined && Buffer.byteLength(secretText) < 32) r.problem('TRACEFENCE_REVIEW_SESSION_SECRET', 'must be at least 32 characters');
  const port = r.int('TRACEFENCE_REVIEW_PORT', 14080, 0, 65535);
  const ttlMsOverride = r.int('TRACEFENCE_REVIEW_TTL_MS', 0, 0, 365 * 24 * 3600 * 1000);
  return r.done({
    brokers: r.list('TRACEFENCE_KAFKA_BROKERS'),
    redisUrl: r.url('TRACEFENCE_REDIS_URL'),
    policyFile: r.string('TRACEFENCE_POLICY_FILE'),
    issuer: r.url('TRACEFENCE_OIDC_ISSUER'),
    audience: r.string('TRACEFENCE_OIDC_AUDIENCE'),
    algorithms: r.list('TRACEFENCE_TOKEN_ALGORITHMS', ['RS256', 'ES256', 'PS256', 'EdDSA']),
    clockSkewSec: r.int('TRACEFENCE_CLOCK_SKEW_SEC', 30, 0, 600),
    topics: {
      held: r.string('TRACEFENCE_TOPIC_HELD', 'traces.held'),
      audit: r.string('TRACEFENCE_TOPIC_AUDIT', 'traces.audit'),
      deadLetter: r.string('TRACEFENCE_TOPIC_DEADLETTER', 'traces.deadletter'),
    },
    groupId: r.string('TRACEFENCE_REVIEW_GROUP_ID', 'tracefence-approval'),
    queuePrefix: r.string('TRACEFENCE_REVIEW_QUEUE_PREFIX', 'tracefence'),
    transactionalId: `tracefence-approval-${instanceId}`,
    /** 0 = use the policy's approval.ttlHours. */
    ttlMsOverride,
    keepDecidedSec: r.int('TRACEFENCE_REVIEW_KEEP_DECIDED_DAYS', 30, 1, 3650) * 86_400,
    host: r.string('TRACEFENCE_REVIEW_HOST', '127.0.0.1'),
    port,
    publicUrl: r.url('TRACEFENCE_REVIEW_PUBLIC_URL', `http://127.0.0.1:${port === 0 ? 14080 : port}`),
    clientId: r.string('TRACEFENCE_REVIEW_CLIENT_ID', 'tracefence-review'),
    scope: r.string('TRACEFENCE_REVIEW_SCOPE', 'openid profile groups offline_access traces:review'),
    /** Scope every reviewer access token must carry (web sessions and the API). */
    requiredScope: r.string('TRACEFENCE_REVIEW_REQUIRED_SCOPE', 'traces:review'),
    sessionSecret: secretText,
    sessionTtlSec: r.int('TRACEFENCE_REVIEW_SESSION_TTL_SEC', 8 * 3600, 60, 7 * 86_400),
    httpPort: r.int('TRACEFENCE_HTTP_PORT', 9466, 0, 65535),
  });
}

export type ApprovalConfig = ReturnType<typeof readApprovalConfig>;
