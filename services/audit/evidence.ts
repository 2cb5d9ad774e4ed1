/**
 * Residency evidence per record: who sent it (verified subject), what was found and masked,
 * which policy version decided, where it went (region, bucket, object key, bucket location) or
 * why it was held or refused, and every review step, in order, each with its place in the chain.
 * Pure: the command reads the audit events and the data buckets and hands them here.
 */
import type { AuditEvent } from '../shared/avro/types.js';
import type { StoredAuditEvent } from './audit-reader.js';
import { isPolicyDecision, isReviewStep } from './audit-reader.js';
import type { DataObjectRef } from './data-objects.js';

export interface StoryStep {
  at: string;
  decision: AuditEvent['decision'];
  region: string | null;
  reasonCode: string | null;
  actor: string | null;
  /** Where this event sits in the audit log: chain#seq, its hash and object. */
  chain: string;
  seq: number;
  hash: string;
  auditObject: string;
  /** False when the entry no longer matches its chain hash: do not rely on this step. */
  verified: boolean;
}

export interface StorageEvidence {
  bucket: string;
  objectKey: string;
  /**
   * Location as verified: by the sink at write time (a STORED event) or read from the store now.
   * For a bucket with replicas, every distinct location, comma-separated (as the sink writes it).
   */
  bucketLocation: string;
  locationSource: 'sink-at-write' | 'store-at-lookup';
  /** Each of those locations on its own, checked against the region's allow-list. */
  locations: Array<{ location: string; allowed: boolean | undefined }>;
  /** Whether every location is in the region's allow-list (undefined when unknown). */
  locationAllowed: boolean | undefined;
}

export type RecordStatus = 'stored' | 'not-found-in-bucket' | 'held-pending' | 'rejected' | 'expired' | 'dead-lettered' | 'unknown';

export interface RecordEvidence {
  traceId: string;
  recordId: string;
  tenant: string;
  status: RecordStatus;
  sender: { subject: string; agent: string } | undefined;
  decision: { decision: AuditEvent['decision']; reasonCode: string | null; policyVersion: string; at: string } | undefined;
  findingCounts: Record<string, number>;
  maskingApplied: Record<string, string>;
  region: string | null;
  contentHash: string | undefined;
  storage: StorageEvidence[];
  reviews: Array<{ decision: AuditEvent['decision']; actor: string | null; region: string | null; reasonCode: string | null; at: string }>;
  story: StoryStep[];
}

export interface LocationCheck {
  /** What to show: the distinct locations comma-separated, or why they could not be read. */
  location: string;
  /** The store's verdict (the sink's location guard over what the bucket reports now). */
  allowed: boolean;
  /** The distinct locations reported (bucket and replicas); empty when unreadable. */
  locations?: readonly string[];
}

export interface EvidenceInputs {
  events: readonly StoredAuditEvent[];
  /** record id -> objects holding it (region data buckets). */
  locations: ReadonlyMap<string, readonly DataObjectRef[]>;
  /** backend://bucket -> its location as the store reports it now. */
  bucketLocations: ReadonlyMap<string, LocationCheck>;
  /** Whether one location is in the region's allow-list (undefined: cannot tell). */
  isAllowed?: (region: string, bucket: string, location: string) => boolean | undefined;
}

/** The locations in a bucketLocation value: `eu-central-1` or `eu-central-1, eu-west-1`. */
export function splitLocations(value: string): string[] {
  return value
    .split(',')
    .map((l) => l.trim())
    .filter((l, i, all) => l !== '' && all.indexOf(l) === i);
}

/** isAllowed for a policy: the location is in the region's S3 or GCS allow-list (case-insensitive). */
export function allowListCheck(regions: Readonly<Record<string, { allowedLocations: { s3: readonly string[]; gcs: readonly string[] } }>>): NonNullable<EvidenceInputs['isAllowed']> {
  return (regionName, bucket, location) => {
    const region = regions[regionName];
    if (region === undefined) return undefined;
    const allowed = bucket.startsWith('s3://') ? region.allowedLocations.s3 : bucket.startsWith('gcs://') ? region.allowedLocations.gcs : undefined;
    if (allowed === undefined) return undefined;
    return allowed.some((a) => a.toLowerCase() === location.toLowerCase());
  };
}

/** Every listed location checked on its own; allowed only when all are (false as soon as one is not). */
function checkLocations(list: readonly string[], region: string | null, bucket: string, isAllowed: EvidenceInputs['isAllowed']): Pick<StorageEvidence, 'locations' | 'locationAllowed'> {
  const locations = list.map((location) => ({ location, allowed: region === null || isAllowed === undefined ? undefined : isAllowed(region, bucket, location) }));
  if (locations.length === 0) return { locations, locationAllowed: undefined };
  if (locations.some((l) => l.allowed === false)) return { locations, locationAllowed: false };
  return { locations, locationAllowed: locations.every((l) => l.allowed === true) ? true : undefined };
}

/** One line for people: the locations, where they were read, and the policy's verdict. */
export function describeLocation(s: StorageEvidence): string {
  const source = s.locationSource === 'sink-at-write' ? 'verified by the sink at write time' : 'reported by the store at lookup';
  const refused = s.locations.filter((l) => l.allowed === false).map((l) => l.location);
  const verdict =
    s.locationAllowed === undefined
      ? ''
      : s.locationAllowed
        ? ', allowed by policy'
        : refused.length > 0 && refused.length < s.locations.length
          ? `, NOT ALLOWED by policy: ${refused.join(', ')}`
          : ', NOT ALLOWED by policy';
  return `${s.bucketLocation} (${source}${verdict})`;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Evidence for every record the given events are about, ordered by first event time. */
export function buildEvidence(inputs: EvidenceInputs): RecordEvidence[] {
  const byRecord = new Map<string, StoredAuditEvent[]>();
  for (const e of inputs.events) {
    if (e.event.recordId === '') continue; // bucket guard events are not about one record
    const list = byRecord.get(e.event.recordId) ?? [];
    list.push(e);
    byRecord.set(e.event.recordId, list);
  }
  const out: RecordEvidence[] = [];
  for (const [recordId, list] of byRecord) {
    list.sort((a, b) => a.event.occurredAtMs - b.event.occurredAtMs || (a.chain === b.chain ? a.seq - b.seq : 0));
    const policy = list.find((e) => isPolicyDecision(e.event))?.event;
    const approved = list.find((e) => e.event.decision === 'APPROVED')?.event;
    const final = list.findLast((e) => ['APPROVED', 'REJECTED', 'EXPIRED'].includes(e.event.decision))?.event;
    const storedEvents = list.filter((e) => e.event.decision === 'STORED' && e.event.objectKey !== null);
    const region = approved?.region ?? (policy?.decision === 'ROUTED' ? policy.region : null);
    const storage: StorageEvidence[] = [];
    const has = (bucket: string, key: string) => storage.some((s) => s.bucket === bucket && s.objectKey === key);
    for (const s of storedEvents) {
      const bucket = s.event.bucket ?? '';
      const objectKey = s.event.objectKey ?? '';
      if (has(bucket, objectKey)) continue;
      storage.push({
        bucket,
        objectKey,
        bucketLocation: s.event.bucketLocation ?? 'unknown',
        locationSource: 'sink-at-write',
        ...checkLocations(s.event.bucketLocation === null ? [] : splitLocations(s.event.bucketLocation), s.event.region, bucket, inputs.isAllowed),
      });
    }
    // Objects no STORED event names (written before sinks emitted them, or not chained yet).
    for (const ref of inputs.locations.get(recordId) ?? []) {
      if (has(ref.bucket, ref.key)) continue;
      const loc = inputs.bucketLocations.get(ref.bucket);
      const checked = checkLocations(loc?.locations ?? [], ref.region, ref.bucket, inputs.isAllowed);
      // The store's verdict (the sink's guard on what it reports now) wins over the per-location check.
      storage.push({ bucket: ref.bucket, objectKey: ref.key, bucketLocation: loc?.location ?? 'unknown', locationSource: 'store-at-lookup', locations: checked.locations, locationAllowed: loc?.allowed });
    }
    let status: RecordStatus = 'unknown';
    if (storage.length > 0) status = 'stored';
    else if (final?.decision === 'REJECTED') status = 'rejected';
    else if (final?.decision === 'EXPIRED') status = 'expired';
    else if (region !== null) status = 'not-found-in-bucket';
    else if (policy?.decision === 'HELD') status = 'held-pending';
    else if (policy?.decision === 'DEAD_LETTERED') status = 'dead-lettered';
    const first = list[0]?.event;
    out.push({
      traceId: policy?.traceId ?? first?.traceId ?? '',
      recordId,
      tenant: policy?.tenant ?? first?.tenant ?? '',
      status,
      sender: policy === undefined ? undefined : { subject: policy.subject, agent: policy.agent },
      decision: policy === undefined ? undefined : { decision: policy.decision, reasonCode: policy.reasonCode, policyVersion: policy.policyVersion, at: iso(policy.occurredAtMs) },
      findingCounts: { ...(policy?.findingCounts ?? first?.findingCounts ?? {}) },
      maskingApplied: { ...(policy?.maskingApplied ?? {}) },
      region,
      contentHash: policy?.contentHash ?? first?.contentHash,
      storage,
      reviews: list
        .filter((e) => isReviewStep(e.event))
        .map((e) => ({ decision: e.event.decision, actor: e.event.actor, region: e.event.region, reasonCode: e.event.reasonCode, at: iso(e.event.occurredAtMs) })),
      story: list.map((e) => ({
        at: iso(e.event.occurredAtMs),
        decision: e.event.decision,
        region: e.event.region,
        reasonCode: e.event.reasonCode,
        actor: e.event.actor,
        chain: e.chain,
        seq: e.seq,
        hash: e.hash,
        auditObject: e.object,
        verified: e.verified,
      })),
    });
  }
  return out.sort((a, b) => (a.story[0]?.at ?? '').localeCompare(b.story[0]?.at ?? ''));
}
