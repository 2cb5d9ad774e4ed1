/**
 * The validated, deeply frozen policy as the workers see it. Produced only by
 * parsePolicy/loadPolicy (services/policy/load-policy.ts); docs/policy.md is the operator reference.
 *
 * Every Record here is a null-prototype object, so a lookup such as
 * `policy.tenants['constructor']` is undefined rather than an inherited member.
 * Prefer getTenant/getRegion, which also check own properties.
 */

export type StorageBackend = 's3' | 'gcs';
export type S3EncryptionMode = 'sse-kms' | 'sse-s3' | 'none';
export type CrossBorderAction = 'hold' | 'refuse';

export interface BucketPolicy {
  readonly name: string;
  readonly backend: StorageBackend;
}

export interface AllowedLocations {
  /** S3 region names (lower case), e.g. eu-central-1. */
  readonly s3: readonly string[];
  /** GCS location names, normalised to upper case, e.g. EUROPE-WEST3, EU. */
  readonly gcs: readonly string[];
}

export interface S3Encryption {
  readonly mode: S3EncryptionMode;
  readonly kmsKeyId: string | undefined;
  /** When true the sink also checks that the bucket's default encryption matches `mode`. */
  readonly requireBucketDefault: boolean;
}

export interface GcsEncryption {
  readonly kmsKeyName: string | undefined;
}

export interface RegionEncryption {
  readonly s3: S3Encryption;
  readonly gcs: GcsEncryption;
}

export interface RegionPolicy {
  readonly name: string;
  /** Upper case, e.g. EU, US. Residency hints may name a jurisdiction. */
  readonly jurisdiction: string;
  readonly topic: string;
  readonly allowedLocations: AllowedLocations;
  readonly encryption: RegionEncryption;
  readonly buckets: readonly BucketPolicy[];
}

export interface TenantPolicy {
  readonly name: string;
  readonly homeRegion: string | undefined;
  readonly allowedRegions: readonly string[];
  readonly crossBorder: CrossBorderAction;
  readonly maskingProfile: string;
  /** Finding type -> count at or above which the trace is held. */
  readonly holdOnFindings: Readonly<Record<string, number>>;
  /** Group claim value -> regions an agent in that group may use (narrows allowedRegions). */
  readonly groupRegions: Readonly<Record<string, readonly string[]>>;
}

export type MaskAction =
  | { readonly op: 'redact' }
  | { readonly op: 'pseudonymize' }
  | { readonly op: 'partial'; readonly keepFirst: number; readonly keepLast: number }
  | { readonly op: 'keep' };

export type MaskOp = MaskAction['op'];

export interface MaskingProfile {
  readonly name: string;
  readonly default: MaskAction;
  readonly byType: Readonly<Record<string, MaskAction>>;
}

export interface CustomDetector {
  /** Finding type reported on a match, UPPER_SNAKE_CASE. */
  readonly type: string;
  /** JavaScript regular expression source; compiled with the `u` flag plus `flags`. */
  readonly pattern: string;
  readonly flags: string;
  readonly description: string | undefined;
}

export interface ApprovalPolicy {
  readonly minApprovals: number;
  readonly ttlHours: number;
}

export interface Policy {
  /** sha256 hex of the policy file bytes; recorded on every decision. */
  readonly version: string;
  /** The `version:` field of the file (format version). */
  readonly formatVersion: 1;
  /** Where the policy was read from (file path or label). */
  readonly source: string;
  readonly regions: Readonly<Record<string, RegionPolicy>>;
  readonly tenants: Readonly<Record<string, TenantPolicy>>;
  readonly masking: { readonly profiles: Readonly<Record<string, MaskingProfile>> };
  readonly classification: { readonly customDetectors: readonly CustomDetector[] };
  readonly approval: ApprovalPolicy;
}
