/**
 * Kafka header names: the contract between agents, the policy worker, the approval service
 * and the sinks. Changing one is a breaking change for every producer in the field.
 */
export const HEADERS = {
  /** Writer schema fingerprint (see services/shared/avro/codec.ts). */
  schema: 'tf-schema',
  /** The agent's OIDC access token. Ingest topic only; never forwarded. */
  accessToken: 'tf-access-token',
  /** Verified tenant, set by the policy worker on region, held and audit records. */
  tenant: 'tf-tenant',
  recordId: 'tf-record-id',
  policyVersion: 'tf-policy-version',
  /** Dead-letter reason code, for filtering without decoding. */
  reason: 'tf-reason',
} as const;

export type HeaderValue = Buffer | string | (Buffer | string)[] | undefined;

/** First value of a header as a string, or undefined. */
export function headerString(headers: Readonly<Record<string, HeaderValue>> | undefined, name: string): string | undefined {
  const raw = headers?.[name];
  const first = Array.isArray(raw) ? raw[0] : raw;
  if (first === undefined) return undefined;
  return typeof first === 'string' ? first : first.toString('utf8');
}
