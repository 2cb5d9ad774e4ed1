/**
 * Object-store settings every component reads (the region sink, the audit sink, the audit
 * commands): TRACEFENCE_S3_*, AWS_* and TRACEFENCE_GCS_*, read once here.
 */
import type { RegionPolicy } from '../policy/policy-types.js';
import type { EnvReader } from '../shared/config.js';
import { TracefenceError } from '../shared/errors.js';

export interface StorageSettings {
  s3: {
    endpoint: string | undefined;
    forcePathStyle: boolean;
    /** Signing region of the S3 client; default: the region's first allowed S3 location. */
    clientRegion: string | undefined;
    expectedBucketOwner: string | undefined;
    /** Static credentials when AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are set; else the SDK's default chain. */
    credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  };
  gcs: {
    /** bucket -> API endpoint (emulators, private endpoints). */
    endpoints: Readonly<Record<string, string>>;
    projectId: string | undefined;
  };
}

/** Reads the storage variables into `r` (problems collected by the reader). */
export function readStorageSettings(r: EnvReader): StorageSettings {
  const endpoint = r.optional('TRACEFENCE_S3_ENDPOINT');
  if (endpoint !== undefined) {
    try {
      new URL(endpoint);
    } catch {
      r.problem('TRACEFENCE_S3_ENDPOINT', `must be a URL, got '${endpoint}'`);
    }
  }
  const accessKeyId = r.optional('AWS_ACCESS_KEY_ID');
  const secretAccessKey = r.optional('AWS_SECRET_ACCESS_KEY');
  let credentials: StorageSettings['s3']['credentials'];
  if (accessKeyId !== undefined && secretAccessKey !== undefined) {
    const sessionToken = r.optional('AWS_SESSION_TOKEN');
    credentials = sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken };
  } else if (accessKeyId !== undefined || secretAccessKey !== undefined) {
    r.problem(accessKeyId === undefined ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY', 'must be set together with its pair');
  }
  return {
    s3: {
      endpoint,
      forcePathStyle: r.bool('TRACEFENCE_S3_FORCE_PATH_STYLE', false),
      clientRegion: r.optional('TRACEFENCE_S3_CLIENT_REGION'),
      expectedBucketOwner: r.optional('TRACEFENCE_S3_EXPECTED_BUCKET_OWNER'),
      credentials,
    },
    gcs: { endpoints: r.map('TRACEFENCE_GCS_ENDPOINTS'), projectId: r.optional('TRACEFENCE_GCS_PROJECT') },
  };
}

/**
 * Signing region of an S3 client for `region`'s buckets: the configured one, else the region's
 * first allowed S3 location. Never a built-in default (the policy loader refuses an S3 bucket in a
 * region without allowed S3 locations, so this only throws on a policy built around the loader).
 */
export function s3ClientRegion(settings: StorageSettings, region: RegionPolicy): string {
  const chosen = settings.s3.clientRegion ?? region.allowedLocations.s3[0];
  if (chosen === undefined) throw new TracefenceError('CONFIG_INVALID', `region '${region.name}' has no allowed S3 location to sign requests for`);
  return chosen;
}
