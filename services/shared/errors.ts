/**
 * One error base for the whole project. `retriable` decides what a worker does:
 * retriable -> do not commit the offset, try again; not retriable -> dead-letter with `code`.
 * Every code is documented in docs/errors.md (a test checks that).
 */
export const ERROR_CODES = {
  CONFIG_INVALID: 'Configuration failed validation; the service refuses to start.',
  POLICY_INVALID: 'The policy file failed validation; the service refuses to start.',
  AUTH_TOKEN_MISSING: 'The record carries no access token header.',
  AUTH_TOKEN_MALFORMED: 'The access token is not a well-formed JWT.',
  AUTH_TOKEN_EXPIRED: 'The token had expired at the record timestamp (beyond allowed skew).',
  AUTH_TOKEN_NOT_YET_VALID: 'The token was not yet valid at the record timestamp (beyond allowed skew).',
  AUTH_ISSUER_MISMATCH: 'The token was issued by an issuer other than the configured one.',
  AUTH_AUDIENCE_MISMATCH: 'The token is not meant for this broker (audience).',
  AUTH_ALGORITHM_REFUSED: 'The token is signed with an algorithm outside the allow-list (e.g. none, HS256).',
  AUTH_SIGNATURE_INVALID: 'The token signature does not verify against the issuer keys.',
  AUTH_UNKNOWN_KEY: 'The token names a key id the issuer does not publish.',
  AUTH_CLAIMS_MISSING: 'The token lacks the tenant or agent claim.',
  AUTH_ISSUER_UNREACHABLE: 'The issuer JWKS could not be fetched (retriable).',
  IDENTITY_MISMATCH: 'The payload claims a tenant or agent other than the verified token.',
  RECORD_TOO_LARGE: 'The record exceeds the configured size limit.',
  RECORD_MALFORMED: 'The record could not be decoded with its writer schema.',
  SCHEMA_UNKNOWN: 'The record names a writer schema this reader does not know.',
  POLICY_TENANT_UNKNOWN: 'The verified tenant has no entry in the policy file.',
  POLICY_REGION_REFUSED: 'Policy refuses the requested region for this tenant.',
  BUCKET_LOCATION_MISMATCH: 'A bucket reports a location outside its region allow-list; writes are stopped.',
  STORAGE_UNAVAILABLE: 'The object store could not be reached (retriable).',
  KAFKA_UNAVAILABLE: 'Kafka could not be reached or refused an operation (retriable).',
  SCAN_INPUT_INVALID: 'A scan input line is not a JSON object with string id and text.',
  INTERNAL: 'An unexpected internal fault.',
  PROCESSING_THREAD_FAILED: 'A record-processing thread of the policy worker stopped or could not start; the records it held are not committed and are processed again (retriable).',
  AUTH_TOKEN_TYPE_MISMATCH: 'The token\'s typ header is not the required one (e.g. an ID token sent as an access token).',
  OTLP_REQUEST_INVALID: 'An OTLP export request could not be decoded or holds no acceptable span (HTTP 400; do not retry).',
  OTLP_MEDIA_TYPE_UNSUPPORTED: 'An OTLP export request has a content type or encoding other than protobuf/JSON and gzip/identity (HTTP 415).',
  INGEST_BACKPRESSURE: 'The ingest producer buffer is full; the sender should retry later (retriable, HTTP 429).',
  BUCKET_LOCATION_UNKNOWN: 'A sink could not read a bucket location, replication or encryption setting; writes are stopped (fail closed).',
  BUCKET_ENCRYPTION_MISSING: 'A bucket lacks the default encryption its region policy requires; writes are stopped.',
  AUDIT_CHAIN_BROKEN: 'The last stored audit object of a region chain does not verify; the audit sink will not extend the chain (retriable, see docs/audit.md).',
  REVIEW_UNAUTHENTICATED: 'A reviewer request has no valid access token or session (HTTP 401).',
  REVIEW_FORBIDDEN: 'The access token lacks the review scope, or the reviewer\'s groups do not cover the hold\'s region and tenant (HTTP 403).',
  REVIEW_SELF_APPROVAL: 'A reviewer tried to approve a trace their own identity sent (HTTP 403).',
  REVIEW_NOT_FOUND: 'No hold with this record id (HTTP 404).',
  REVIEW_ALREADY_DECIDED: 'The hold is already approved, rejected or expired (HTTP 409).',
  REVIEW_DUPLICATE_APPROVAL: 'This reviewer already approved the hold; approvals must come from distinct reviewers (HTTP 409).',
  REVIEW_REQUEST_INVALID: 'A reviewer request is malformed: body, justification, region or filter (HTTP 400).',
  REVIEW_CSRF_INVALID: 'A reviewer form post lacks a valid CSRF token or comes from another origin (HTTP 403).',
  QUEUE_UNAVAILABLE: 'Redis (the approval queue) could not be reached or a hold stayed locked (retriable, HTTP 503).',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface TracefenceErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  /** Path of the field at fault (config key, record field), when there is one. */
  path?: string;
}

export class TracefenceError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly path: string | undefined;

  constructor(code: ErrorCode, message: string, options: TracefenceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TracefenceError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.path = options.path;
  }
}

/** One validation problem, with the dotted path of the field at fault. */
export interface ValidationIssue {
  path: string;
  message: string;
}

export class ValidationError extends TracefenceError {
  readonly issues: readonly ValidationIssue[];
  constructor(code: 'CONFIG_INVALID' | 'POLICY_INVALID', source: string, issues: readonly ValidationIssue[]) {
    const lines = issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n');
    super(code, `${source} is invalid:\n${lines}`, { path: issues[0]?.path });
    this.name = 'ValidationError';
    this.issues = issues;
  }
}

export function isTracefenceError(err: unknown): err is TracefenceError {
  return err instanceof TracefenceError;
}

/** Message safe to show a user: never a stack trace. */
export function describeError(err: unknown): string {
  if (err instanceof TracefenceError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
