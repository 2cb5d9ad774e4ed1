/**
 * Access tokens for the chaos and hostile-input runs (test/helpers/dev-tokens.ts): real ones from
 * the running issuer and hand-made ones; hand-made agent tokens are valid for an hour.
 */
import type { JWTPayload } from 'jose';
import { agentClaims as devAgentClaims, type Tenant } from '../../test/helpers/dev-tokens.js';

export {
  createAgentTokens,
  demoAgent,
  issuerSigningKey,
  publicKeyPem,
  signToken,
  TENANTS,
  unsignedToken,
  type IssuerKey,
  type Tenant,
} from '../../test/helpers/dev-tokens.js';

/** Claims like the issuer's own access tokens for a demo agent, valid now (for an hour). */
export function agentClaims(tenant: Tenant, nowSec = Math.floor(Date.now() / 1000)): JWTPayload {
  return devAgentClaims(tenant, { nowSec, ttlSec: 3600 });
}
