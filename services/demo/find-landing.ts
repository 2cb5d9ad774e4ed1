/**
 * Finds the objects that hold given record ids in a set of buckets and reports each bucket's
 * location as the store itself reports it. Used by the demo and the end-to-end test.
 */
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Storage } from '@google-cloud/storage';

export interface BucketRef {
  name: string;
  backend: 's3' | 'gcs';
  /** S3 endpoint or GCS apiEndpoint; undefined = the provider's default. */
  endpoint?: string;
}

export interface Landing {
  recordId: string;
  /** s3://bucket/key or gs://bucket/key */
  url: string;
  bucket: string;
  key: string;
  /** As reported by the store at lookup time (S3 HeadBucket region, GCS bucket location). */
  bucketLocation: string;
}

function recordIdsInObject(body: Buffer, key: string): string[] {
  if (!key.endsWith('.jsonl.gz')) return [];
  return gunzipSync(body)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .flatMap((l) => {
      const line = JSON.parse(l) as { headers?: Record<string, string> };
      const id = line.headers?.['tf-record-id'];
      return id === undefined ? [] : [id];
    });
}

async function scanS3(bucket: BucketRef, credentials: { accessKeyId: string; secretAccessKey: string } | undefined): Promise<Landing[]> {
  const s3 = new S3Client({
    region: 'us-east-1',
    ...(bucket.endpoint === undefined ? {} : { endpoint: bucket.endpoint, forcePathStyle: true }),
    ...(credentials === undefined ? {} : { credentials }),
    followRegionRedirects: false,
  });
  try {
    const head = await s3.send(new HeadBucketCommand({ Bucket: bucket.name }));
    const location = head.BucketRegion ?? 'unknown';
    const out: Landing[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket.name, ContinuationToken: token }));
      for (const obj of page.Contents ?? []) {
        if (obj.Key === undefined) continue;
        const res = await s3.send(new GetObjectCommand({ Bucket: bucket.name, Key: obj.Key }));
        const body = Buffer.from(await (res.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array())));
        for (const recordId of recordIdsInObject(body, obj.Key)) out.push({ recordId, url: `s3://${bucket.name}/${obj.Key}`, bucket: bucket.name, key: obj.Key, bucketLocation: location });
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out;
  } finally {
    s3.destroy();
  }
}

async function scanGcs(bucket: BucketRef): Promise<Landing[]> {
  const storage = new Storage({ ...(bucket.endpoint === undefined ? {} : { apiEndpoint: bucket.endpoint }), projectId: 'tracefence' });
  const b = storage.bucket(bucket.name);
  const [meta] = await b.getMetadata();
  const [files] = await b.getFiles();
  const out: Landing[] = [];
  for (const f of files) {
    const [body] = await f.download();
    for (const recordId of recordIdsInObject(body, f.name)) out.push({ recordId, url: `gs://${bucket.name}/${f.name}`, bucket: bucket.name, key: f.name, bucketLocation: meta.location ?? 'unknown' });
  }
  return out;
}

export async function findLandings(
  buckets: readonly BucketRef[],
  recordIds: ReadonlySet<string>,
  credentials?: { accessKeyId: string; secretAccessKey: string },
): Promise<Landing[]> {
  const all = await Promise.all(buckets.map((b) => (b.backend === 's3' ? scanS3(b, credentials) : scanGcs(b))));
  return all.flat().filter((l) => recordIds.has(l.recordId));
}
