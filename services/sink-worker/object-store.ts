/**
 * Create-only object writes on S3 and GCS. A write never replaces an existing object: the
 * store answers 'exists' instead, and the caller reads that object's metadata to skip ahead.
 */
import { HeadObjectCommand, PutObjectCommand, type S3Client, type ServerSideEncryption } from '@aws-sdk/client-s3';
import type { Storage } from '@google-cloud/storage';
import { TracefenceError } from '../shared/errors.js';
import type { S3Encryption } from '../policy/policy-types.js';

export type ObjectMetadata = Readonly<Record<string, string>>;

export interface PutRequest {
  key: string;
  body: Buffer;
  contentType: string;
  metadata: ObjectMetadata;
}

export interface ObjectStore {
  readonly backend: 's3' | 'gcs';
  readonly bucket: string;
  /** 'created', or 'exists' when an object with that key is already there (nothing written). */
  putIfAbsent(req: PutRequest): Promise<'created' | 'exists'>;
  /** User metadata of an object, undefined when it does not exist. */
  readMetadata(key: string): Promise<ObjectMetadata | undefined>;
}

interface HttpishError {
  name?: string;
  code?: number | string;
  $metadata?: { httpStatusCode?: number };
}

function statusOf(err: unknown): number | undefined {
  const e = err as HttpishError;
  if (typeof e?.$metadata?.httpStatusCode === 'number') return e.$metadata.httpStatusCode;
  if (typeof e?.code === 'number') return e.code;
  return undefined;
}

/** Network errors, throttling and 5xx are worth retrying; other 4xx are not. */
export function isRetriableStorageError(err: unknown): boolean {
  if (err instanceof TracefenceError) return err.retriable;
  const status = statusOf(err);
  if (status === undefined) return true;
  return status >= 500 || status === 408 || status === 429 || status === 409;
}

function storageError(what: string, bucket: string, err: unknown): TracefenceError {
  return new TracefenceError('STORAGE_UNAVAILABLE', `${what} on bucket ${bucket} failed: ${err instanceof Error ? err.message : String(err)}`, {
    retriable: isRetriableStorageError(err),
    cause: err,
  });
}

export interface S3StoreOptions {
  client: S3Client;
  bucket: string;
  encryption: S3Encryption;
  expectedBucketOwner: string | undefined;
}

export function s3EncryptionParams(enc: S3Encryption): { ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string } {
  if (enc.mode === 'sse-kms') return { ServerSideEncryption: 'aws:kms', ...(enc.kmsKeyId === undefined ? {} : { SSEKMSKeyId: enc.kmsKeyId }) };
  if (enc.mode === 'sse-s3') return { ServerSideEncryption: 'AES256' };
  return {};
}

export function createS3ObjectStore(o: S3StoreOptions): ObjectStore {
  const owner = o.expectedBucketOwner === undefined ? {} : { ExpectedBucketOwner: o.expectedBucketOwner };
  return {
    backend: 's3',
    bucket: o.bucket,
    async putIfAbsent(req) {
      try {
        await o.client.send(
          new PutObjectCommand({
            Bucket: o.bucket,
            Key: req.key,
            Body: req.body,
            ContentType: req.contentType,
            Metadata: { ...req.metadata },
            IfNoneMatch: '*',
            ...s3EncryptionParams(o.encryption),
            ...owner,
          }),
        );
        return 'created';
      } catch (err) {
        const e = err as HttpishError;
        if (statusOf(err) === 412 || e.name === 'PreconditionFailed') return 'exists';
        throw storageError('PutObject', o.bucket, err);
      }
    },
    async readMetadata(key) {
      try {
        const head = await o.client.send(new HeadObjectCommand({ Bucket: o.bucket, Key: key, ...owner }));
        return head.Metadata ?? {};
      } catch (err) {
        if (statusOf(err) === 404 || (err as HttpishError).name === 'NotFound') return undefined;
        throw storageError('HeadObject', o.bucket, err);
      }
    },
  };
}

export interface GcsStoreOptions {
  storage: Storage;
  bucket: string;
  kmsKeyName: string | undefined;
}

export function createGcsObjectStore(o: GcsStoreOptions): ObjectStore {
  const bucket = o.storage.bucket(o.bucket);
  const file = (key: string) => bucket.file(key, o.kmsKeyName === undefined ? {} : { kmsKeyName: o.kmsKeyName });
  return {
    backend: 'gcs',
    bucket: o.bucket,
    async putIfAbsent(req) {
      try {
        await file(req.key).save(req.body, {
          resumable: false,
          // Create-only: generation 0 means "no live object with this name".
          preconditionOpts: { ifGenerationMatch: 0 },
          validation: false,
          metadata: { contentType: req.contentType, metadata: { ...req.metadata } },
        });
        return 'created';
      } catch (err) {
        if (statusOf(err) === 412) return 'exists';
        throw storageError('object insert', o.bucket, err);
      }
    },
    async readMetadata(key) {
      try {
        const [meta] = await bucket.file(key).getMetadata();
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(meta.metadata ?? {})) if (v !== null && v !== undefined) out[k] = String(v);
        return out;
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw storageError('object metadata read', o.bucket, err);
      }
    },
  };
}
