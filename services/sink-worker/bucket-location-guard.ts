/**
 * Verifies that a bucket really lives (and replicates) where its region allows, before the
 * first write, after every rebalance and periodically. Fails closed: a location that cannot be
 * read counts as a mismatch. The guard only reports; the sink stops writing on a blocked verdict.
 */
import {
  GetBucketEncryptionCommand,
  GetBucketLocationCommand,
  GetBucketReplicationCommand,
  HeadBucketCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Storage } from '@google-cloud/storage';
import type { Gauge } from 'prom-client';
import type { BucketPolicy, RegionPolicy } from '../policy/policy-types.js';
import type { Logger } from '../shared/logger.js';

export type GuardReasonCode = 'BUCKET_LOCATION_MISMATCH' | 'BUCKET_LOCATION_UNKNOWN' | 'BUCKET_ENCRYPTION_MISSING';

/** One location a bucket reported, and where we read it. */
export interface ReportedLocation {
  /** e.g. 'HeadBucket', 'GetBucketLocation', 'replication:arn:aws:s3:::x', 'gcs:location', 'gcs:dataLocations'. */
  source: string;
  location: string;
}

export interface BucketFacts {
  locations: ReportedLocation[];
  /** Default encryption algorithm of the bucket ('aws:kms', 'AES256', ...), when read. */
  defaultEncryption?: { algorithm: string | undefined; kmsKeyId: string | undefined };
}

export interface BucketInspector {
  readonly backend: 's3' | 'gcs';
  readonly bucket: string;
  /** Throws when a fact cannot be read; the guard then fails closed. */
  inspect(): Promise<BucketFacts>;
}

export interface GuardVerdict {
  ok: boolean;
  region: string;
  bucket: string;
  backend: 's3' | 'gcs';
  reasonCode: GuardReasonCode | undefined;
  reported: ReportedLocation[];
  allowed: readonly string[];
  /** One line for people: what was found and why it is refused. */
  detail: string;
  checkedAtMs: number;
}

function s3Region(constraint: string | undefined | null): string {
  // GetBucketLocation's legacy answers: empty means us-east-1, EU means eu-west-1.
  if (constraint === undefined || constraint === null || constraint === '') return 'us-east-1';
  if (constraint === 'EU') return 'eu-west-1';
  return constraint.toLowerCase();
}

/** Pure comparison of what a bucket reported against the region's policy. */
export function evaluateBucketFacts(facts: BucketFacts, region: RegionPolicy, bucket: BucketPolicy, nowMs = Date.now()): GuardVerdict {
  const allowed = bucket.backend === 's3' ? region.allowedLocations.s3 : region.allowedLocations.gcs;
  const allowedSet = new Set(allowed.map((a) => a.toLowerCase()));
  const base = { region: region.name, bucket: bucket.name, backend: bucket.backend, reported: facts.locations, allowed, checkedAtMs: nowMs };
  if (facts.locations.length === 0) {
    return { ...base, ok: false, reasonCode: 'BUCKET_LOCATION_UNKNOWN', detail: 'the bucket reported no location' };
  }
  const outside = facts.locations.filter((l) => !allowedSet.has(l.location.toLowerCase()));
  if (outside.length > 0) {
    const what = outside.map((l) => `${l.source}=${l.location}`).join(', ');
    return { ...base, ok: false, reasonCode: 'BUCKET_LOCATION_MISMATCH', detail: `reported ${what}; allowed ${allowed.join(', ')}` };
  }
  if (bucket.backend === 's3' && region.encryption.s3.requireBucketDefault && region.encryption.s3.mode !== 'none') {
    const want = region.encryption.s3.mode === 'sse-kms' ? 'aws:kms' : 'AES256';
    const got = facts.defaultEncryption;
    const keyOk =
      region.encryption.s3.mode !== 'sse-kms' ||
      region.encryption.s3.kmsKeyId === undefined ||
      (got?.kmsKeyId !== undefined && (got.kmsKeyId === region.encryption.s3.kmsKeyId || got.kmsKeyId.endsWith(`/${region.encryption.s3.kmsKeyId}`)));
    // aws:kms:dsse also satisfies a KMS requirement.
    const algoOk = got?.algorithm !== undefined && (got.algorithm === want || (want === 'aws:kms' && got.algorithm.startsWith('aws:kms')));
    if (!algoOk || !keyOk) {
      return {
        ...base,
        ok: false,
        reasonCode: 'BUCKET_ENCRYPTION_MISSING',
        detail: `default encryption is ${got?.algorithm ?? 'absent'}${got?.kmsKeyId === undefined ? '' : ` (${got.kmsKeyId})`}; policy requires ${want}`,
      };
    }
  }
  return { ...base, ok: true, reasonCode: undefined, detail: `reported ${facts.locations.map((l) => `${l.source}=${l.location}`).join(', ')}` };
}

interface S3ErrorShape {
  name?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

/**
 * Region of one bucket: HeadBucket's BucketRegion and GetBucketLocation. S3 names the real
 * region in x-amz-bucket-region even when it refuses the request (301/403); we never follow it.
 */
async function s3BucketLocations(client: S3Client, bucket: string, owner: string | undefined, label: string): Promise<ReportedLocation[]> {
  const out: ReportedLocation[] = [];
  const ownerParam = owner === undefined ? {} : { ExpectedBucketOwner: owner };
  try {
    const head = await client.send(new HeadBucketCommand({ Bucket: bucket, ...ownerParam }));
    if (head.BucketRegion !== undefined && head.BucketRegion !== '') out.push({ source: `${label}HeadBucket`, location: head.BucketRegion.toLowerCase() });
  } catch (err) {
    const e = err as S3ErrorShape;
    const hinted = e.$response?.headers?.['x-amz-bucket-region'];
    if (hinted === undefined || hinted === '') throw err;
    out.push({ source: `${label}HeadBucket`, location: hinted.toLowerCase() });
    return out;
  }
  const loc = await client.send(new GetBucketLocationCommand({ Bucket: bucket, ...ownerParam }));
  out.push({ source: `${label}GetBucketLocation`, location: s3Region(loc.LocationConstraint) });
  return out;
}

function bucketFromArn(arn: string): string | undefined {
  const m = /^arn:aws[a-z-]*:s3:::([^/]+)$/.exec(arn);
  return m?.[1] ?? (arn.includes(':') ? undefined : arn);
}

export interface S3InspectorOptions {
  client: S3Client;
  bucket: string;
  expectedBucketOwner: string | undefined;
  /** Read GetBucketEncryption (only when the policy requires a bucket default). */
  readEncryption: boolean;
}

export function createS3BucketInspector(o: S3InspectorOptions): BucketInspector {
  return {
    backend: 's3',
    bucket: o.bucket,
    async inspect() {
      const ownerParam = o.expectedBucketOwner === undefined ? {} : { ExpectedBucketOwner: o.expectedBucketOwner };
      const locations = await s3BucketLocations(o.client, o.bucket, o.expectedBucketOwner, '');
      let rules: { Destination?: { Bucket?: string; Account?: string } }[] = [];
      try {
        const repl = await o.client.send(new GetBucketReplicationCommand({ Bucket: o.bucket, ...ownerParam }));
        rules = repl.ReplicationConfiguration?.Rules ?? [];
      } catch (err) {
        if ((err as S3ErrorShape).name !== 'ReplicationConfigurationNotFoundError') throw err;
      }
      // Every rule counts, enabled or not: a disabled rule is one switch away from copying data out.
      for (const rule of rules) {
        const arn = rule.Destination?.Bucket ?? '';
        const dest = bucketFromArn(arn);
        if (dest === undefined) throw new Error(`replication destination '${arn}' is not an S3 bucket ARN`);
        locations.push(...(await s3BucketLocations(o.client, dest, rule.Destination?.Account, `replication:${dest}:`)));
      }
      const facts: BucketFacts = { locations };
      if (o.readEncryption) {
        try {
          const enc = await o.client.send(new GetBucketEncryptionCommand({ Bucket: o.bucket, ...ownerParam }));
          const rule = enc.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault;
          facts.defaultEncryption = { algorithm: rule?.SSEAlgorithm, kmsKeyId: rule?.KMSMasterKeyID };
        } catch (err) {
          if ((err as S3ErrorShape).name !== 'ServerSideEncryptionConfigurationNotFoundError') throw err;
          facts.defaultEncryption = { algorithm: undefined, kmsKeyId: undefined };
        }
      }
      return facts;
    },
  };
}

export function createGcsBucketInspector(storage: Storage, bucket: string): BucketInspector {
  return {
    backend: 'gcs',
    bucket,
    async inspect() {
      const [meta] = await storage.bucket(bucket).getMetadata();
      const locations: ReportedLocation[] = [];
      if (typeof meta.location === 'string' && meta.location !== '') locations.push({ source: 'gcs:location', location: meta.location.toUpperCase() });
      const type = (meta.locationType ?? '').toLowerCase();
      const placement = (meta as { customPlacementConfig?: { dataLocations?: string[] } }).customPlacementConfig?.dataLocations ?? [];
      // A configurable dual region names its two regions here; both must be allowed.
      for (const l of placement) locations.push({ source: 'gcs:dataLocations', location: l.toUpperCase() });
      if (type === 'dual-region' && placement.length === 0 && locations.length === 0) throw new Error('dual-region bucket without data locations');
      return { locations };
    },
  };
}

export interface BucketLocationGuardDeps {
  region: RegionPolicy;
  bucket: BucketPolicy;
  inspector: BucketInspector;
  logger: Logger;
  guardGauge: Gauge<'region' | 'bucket'>;
  /** Called on every verdict (the sink pauses/resumes and audits transitions). */
  onVerdict: (verdict: GuardVerdict, previous: GuardVerdict | undefined) => Promise<void> | void;
  now?: () => number;
}

export interface BucketLocationGuard {
  /** Runs a check now (joins one already running). */
  check(): Promise<GuardVerdict>;
  /** The last verdict, waiting for a check in progress; runs one if none was made yet. */
  verdict(): Promise<GuardVerdict>;
  /** Marks the last verdict stale (after a rebalance) so writes wait for a fresh check. */
  invalidate(): void;
  current(): GuardVerdict | undefined;
}

export function createBucketLocationGuard(deps: BucketLocationGuardDeps): BucketLocationGuard {
  const now = deps.now ?? Date.now;
  const labels = { region: deps.region.name, bucket: deps.bucket.name };
  let last: GuardVerdict | undefined;
  let stale = true;
  let running: Promise<GuardVerdict> | undefined;
  deps.guardGauge.set(labels, 0);

  async function runCheck(): Promise<GuardVerdict> {
    let verdict: GuardVerdict;
    try {
      verdict = evaluateBucketFacts(await deps.inspector.inspect(), deps.region, deps.bucket, now());
    } catch (err) {
      verdict = {
        ok: false,
        region: deps.region.name,
        bucket: deps.bucket.name,
        backend: deps.bucket.backend,
        reasonCode: 'BUCKET_LOCATION_UNKNOWN',
        reported: [],
        allowed: deps.bucket.backend === 's3' ? deps.region.allowedLocations.s3 : deps.region.allowedLocations.gcs,
        detail: `location could not be read: ${err instanceof Error ? err.message : String(err)}`,
        checkedAtMs: now(),
      };
    }
    const previous = last;
    last = verdict;
    stale = false;
    deps.guardGauge.set(labels, verdict.ok ? 1 : 0);
    const fields = { reasonCode: verdict.reasonCode, detail: verdict.detail };
    const same = previous !== undefined && !previous.ok && previous.reasonCode === verdict.reasonCode && previous.detail === verdict.detail;
    if (!verdict.ok && !same) deps.logger.error(fields, 'bucket guard: writes to this bucket are stopped');
    else if (!verdict.ok) deps.logger.warn(fields, 'bucket guard: writes to this bucket are still stopped');
    else if (previous === undefined || !previous.ok) deps.logger.info(fields, 'bucket guard: bucket verified, writes allowed');
    await deps.onVerdict(verdict, previous);
    return verdict;
  }

  const guard: BucketLocationGuard = {
    check() {
      running ??= runCheck().finally(() => {
        running = undefined;
      });
      return running;
    },
    async verdict() {
      if (running !== undefined) return running;
      if (last === undefined || stale) return guard.check();
      return last;
    },
    invalidate() {
      stale = true;
    },
    current: () => last,
  };
  return guard;
}
