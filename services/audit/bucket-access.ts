/**
 * Read and create-only access to one bucket, for the audit sink and the evidence commands.
 * Writes go through the sink's create-only object store (services/sink-worker/object-store.ts);
 * this adds listing and reading, and builds the S3/GCS clients from the same settings the sink reads.
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Storage } from '@google-cloud/storage';
import type { Policy, RegionPolicy, BucketPolicy, StorageBackend } from '../policy/policy-types.js';
import { TracefenceError } from '../shared/errors.js';
import { createGcsObjectStore, createS3ObjectStore, isRetriableStorageError, type ObjectStore } from '../sink-worker/object-store.js';
import { createGcsBucketInspector, createS3BucketInspector, type BucketInspector } from '../sink-worker/bucket-location-guard.js';
import { NO_REGION_CHAIN } from './audit-chain.js';
import { s3ClientRegion, type StorageSettings } from '../sink-worker/storage-settings.js';

export { readStorageSettings, type StorageSettings } from '../sink-worker/storage-settings.js';

export interface ListedObject {
  key: string;
  /** Write time as the store reports it; an object's events all occurred before it. */
  lastModifiedMs: number | undefined;
}

export interface FetchedObject {
  body: Buffer;
  metadata: Readonly<Record<string, string>>;
}

export interface BucketAccess {
  readonly backend: StorageBackend;
  readonly bucket: string;
  /** Create-only writes and metadata reads (the sink's object store). */
  readonly store: ObjectStore;
  readonly inspector: BucketInspector;
  /** Keys under a prefix in lexicographic order. */
  list(prefix: string): AsyncGenerator<ListedObject>;
  /** Body and user metadata, undefined when absent. */
  get(key: string): Promise<FetchedObject | undefined>;
  close(): void;
}

interface HttpishError {
  name?: string;
  code?: number | string;
  $metadata?: { httpStatusCode?: number };
}

function notFound(err: unknown): boolean {
  const e = err as HttpishError;
  return e?.$metadata?.httpStatusCode === 404 || e?.code === 404 || e?.name === 'NoSuchKey' || e?.name === 'NotFound';
}

function storageError(what: string, bucket: string, err: unknown): TracefenceError {
  return new TracefenceError('STORAGE_UNAVAILABLE', `${what} on bucket ${bucket} failed: ${err instanceof Error ? err.message : String(err)}`, {
    retriable: isRetriableStorageError(err),
    cause: err,
  });
}

export interface BucketAccessOptions {
  settings: StorageSettings;
  region: RegionPolicy;
  bucket: BucketPolicy;
  /** Requests time out after this (ms). */
  requestTimeoutMs?: number;
}

export function createBucketAccess(o: BucketAccessOptions): BucketAccess {
  const { settings, region, bucket } = o;
  if (bucket.backend === 's3') {
    const client = new S3Client({
      region: s3ClientRegion(settings, region),
      ...(settings.s3.endpoint === undefined ? {} : { endpoint: settings.s3.endpoint }),
      forcePathStyle: settings.s3.forcePathStyle,
      ...(settings.s3.credentials === undefined ? {} : { credentials: { ...settings.s3.credentials } }),
      // A redirect names another region: the guard must see it, never follow it.
      followRegionRedirects: false,
      maxAttempts: 3,
      requestHandler: { requestTimeout: o.requestTimeoutMs ?? 10_000, connectionTimeout: 3_000 },
    });
    const owner = settings.s3.expectedBucketOwner === undefined ? {} : { ExpectedBucketOwner: settings.s3.expectedBucketOwner };
    return {
      backend: 's3',
      bucket: bucket.name,
      store: createS3ObjectStore({ client, bucket: bucket.name, encryption: region.encryption.s3, expectedBucketOwner: settings.s3.expectedBucketOwner }),
      inspector: createS3BucketInspector({ client, bucket: bucket.name, expectedBucketOwner: settings.s3.expectedBucketOwner, readEncryption: region.encryption.s3.requireBucketDefault }),
      async *list(prefix) {
        let token: string | undefined;
        do {
          let page;
          try {
            page = await client.send(new ListObjectsV2Command({ Bucket: bucket.name, Prefix: prefix, ContinuationToken: token, ...owner }));
          } catch (err) {
            throw storageError('ListObjectsV2', bucket.name, err);
          }
          const keys = (page.Contents ?? []).flatMap((c) => (c.Key === undefined ? [] : [{ key: c.Key, lastModifiedMs: c.LastModified?.getTime() }]));
          keys.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
          yield* keys;
          token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
        } while (token !== undefined);
      },
      async get(key) {
        try {
          const res = await client.send(new GetObjectCommand({ Bucket: bucket.name, Key: key, ...owner }));
          const body = Buffer.from(await (res.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array())));
          return { body, metadata: res.Metadata ?? {} };
        } catch (err) {
          if (notFound(err)) return undefined;
          throw storageError('GetObject', bucket.name, err);
        }
      },
      close: () => client.destroy(),
    };
  }
  const apiEndpoint = settings.gcs.endpoints[bucket.name];
  const storage = new Storage({
    ...(apiEndpoint === undefined ? {} : { apiEndpoint }),
    ...(settings.gcs.projectId === undefined ? {} : { projectId: settings.gcs.projectId }),
    retryOptions: { autoRetry: false },
  });
  const gcsBucket = storage.bucket(bucket.name);
  return {
    backend: 'gcs',
    bucket: bucket.name,
    store: createGcsObjectStore({ storage, bucket: bucket.name, kmsKeyName: region.encryption.gcs.kmsKeyName }),
    inspector: createGcsBucketInspector(storage, bucket.name),
    async *list(prefix) {
      let pageToken: string | undefined;
      do {
        let files;
        let next: { pageToken?: string } | null | undefined;
        try {
          [files, next] = await gcsBucket.getFiles({ prefix, autoPaginate: false, maxResults: 1000, ...(pageToken === undefined ? {} : { pageToken }) });
        } catch (err) {
          throw storageError('object list', bucket.name, err);
        }
        const keys = files.map((f) => ({ key: f.name, lastModifiedMs: f.metadata.updated === undefined ? undefined : Date.parse(String(f.metadata.updated)) }));
        keys.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
        yield* keys;
        pageToken = next?.pageToken;
      } while (pageToken !== undefined);
    },
    async get(key) {
      try {
        const file = gcsBucket.file(key);
        const [[body], [meta]] = await Promise.all([file.download(), file.getMetadata()]);
        const metadata: Record<string, string> = {};
        for (const [k, v] of Object.entries(meta.metadata ?? {})) if (v !== null && v !== undefined) metadata[k] = String(v);
        return { body, metadata };
      } catch (err) {
        if (notFound(err)) return undefined;
        throw storageError('object read', bucket.name, err);
      }
    },
    close: () => undefined,
  };
}

// --- Which bucket holds which chain.

export interface AuditTarget {
  /** Chain name (region name or NO_REGION_CHAIN). */
  chain: string;
  /** Region whose jurisdiction stores the chain. */
  region: RegionPolicy;
  bucket: BucketPolicy;
}

/**
 * The audit bucket of each region: TRACEFENCE_AUDIT_BUCKETS (region=bucket, the bucket must be
 * one of that region's buckets in the policy) or the region's first bucket. Events without a
 * region go to the home region's audit bucket, in their own chain.
 */
export function resolveAuditTargets(
  policy: Policy,
  auditBuckets: Readonly<Record<string, string>>,
  homeRegion: string | undefined,
  problem: (path: string, message: string) => void,
): Map<string, AuditTarget> {
  const out = new Map<string, AuditTarget>();
  if (Object.hasOwn(policy.regions, NO_REGION_CHAIN)) problem('TRACEFENCE_POLICY_FILE', `a region may not be named '${NO_REGION_CHAIN}' (the audit chain of events without a region)`);
  for (const [name, bucket] of Object.entries(auditBuckets)) {
    if (!Object.hasOwn(policy.regions, name)) problem('TRACEFENCE_AUDIT_BUCKETS', `region '${name}' is not in the policy`);
    else if (!(policy.regions[name]?.buckets ?? []).some((b) => b.name === bucket)) problem('TRACEFENCE_AUDIT_BUCKETS', `bucket '${bucket}' is not a bucket of region '${name}' in the policy`);
  }
  for (const region of Object.values(policy.regions)) {
    const wanted = auditBuckets[region.name];
    const bucket = wanted === undefined ? region.buckets[0] : region.buckets.find((b) => b.name === wanted);
    if (bucket === undefined) continue;
    out.set(region.name, { chain: region.name, region, bucket });
  }
  const regions = Object.keys(policy.regions);
  const home = homeRegion ?? (regions.length === 1 ? regions[0] : undefined);
  const homeTarget = home === undefined ? undefined : out.get(home);
  if (homeTarget === undefined) {
    problem('TRACEFENCE_AUDIT_HOME_REGION', home === undefined ? 'is required when the policy has several regions (it stores audit events that have no region)' : `region '${home}' is not in the policy`);
  } else {
    out.set(NO_REGION_CHAIN, { ...homeTarget, chain: NO_REGION_CHAIN });
  }
  return out;
}
