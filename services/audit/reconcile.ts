/**
 * Reconciliation over a time window (invariant 4): every ingested record has exactly one policy
 * decision (ingested = routed + held + dead-lettered), and every record routed or approved is in
 * exactly one object of each active bucket of its region, and nowhere else.
 *
 * Where a record is stored comes from the sinks' STORED events (one per record and bucket, deduped
 * by event id), and each claim is checked against the object it names: the object must still hold
 * the record (a record cut out of an object after the event is `stored-event-mismatch` and
 * `not-stored`). Records without a STORED event for a bucket are looked for in that bucket's objects.
 * Pure: the command reads the audit events and the data objects and hands them here.
 */
import type { StoredAuditEvent } from './audit-reader.js';
import { isPolicyDecision } from './audit-reader.js';
import type { DataObjectProblem, DataScan } from './data-objects.js';

export type ViolationKind = 'audit-altered' | 'decided-twice' | 'not-stored' | 'stored-twice' | 'wrong-region' | 'object-damaged' | 'stored-event-mismatch';

export interface Violation {
  kind: ViolationKind;
  recordId: string;
  detail: string;
}

export interface ReconcileReport {
  fromMs: number;
  toMs: number;
  ok: boolean;
  counts: {
    ingested: number;
    routed: number;
    held: number;
    deadLettered: number;
    approved: number;
    rejected: number;
    expired: number;
    /** Held in the window with no final review step yet. */
    pendingHolds: number;
    /** Records that should be in a region bucket (routed + approved). */
    expectedStored: number;
    /** Of those, found in their region's buckets. */
    stored: number;
    /** Of the stored, those with a STORED event for every bucket, confirmed by the object. */
    storedByEvents: number;
    /** Of the stored, those found by reading the objects where no STORED event names them. */
    storedFromObjectsOnly: number;
    /** Record lines in the data objects read. */
    recordsInObjects: number;
    objectsRead: number;
  };
  /** ingested === routed + held + deadLettered */
  decisionsBalance: boolean;
  /** expectedStored === stored */
  storageBalance: boolean;
  violations: Violation[];
  /** Ids routed or approved in the window and not found in their region's buckets. */
  missingRecordIds: string[];
  /** Records found in objects whose decision is not in the window (informational). */
  storedOutsideWindow: number;
}

export function reconcile(events: readonly StoredAuditEvent[], data: DataScan, fromMs: number, toMs: number): ReconcileReport {
  const inWindow = events.filter((e) => e.event.occurredAtMs >= fromMs && e.event.occurredAtMs < toMs);
  const violations: Violation[] = [];
  // Counts built on altered evidence prove nothing: say so first.
  for (const e of inWindow) {
    if (!e.verified) violations.push({ kind: 'audit-altered', recordId: e.event.recordId, detail: `audit entry ${e.chain}#${e.seq} in ${e.object} does not match its hash; run 'tracefence audit verify --region ${e.chain}'` });
  }
  const decisions = new Map<string, StoredAuditEvent[]>();
  for (const e of inWindow) {
    if (!isPolicyDecision(e.event)) continue;
    const list = decisions.get(e.event.recordId) ?? [];
    list.push(e);
    decisions.set(e.event.recordId, list);
  }
  let routed = 0;
  let held = 0;
  let deadLettered = 0;
  /** record id -> region it must be stored in */
  const expected = new Map<string, string>();
  const heldIds = new Set<string>();
  for (const [id, list] of decisions) {
    if (list.length > 1) {
      violations.push({ kind: 'decided-twice', recordId: id, detail: `${list.length} policy decisions: ${list.map((d) => `${d.event.decision}@${d.chain}#${d.seq}`).join(', ')}` });
    }
    for (const d of list) {
      if (d.event.decision === 'ROUTED') {
        routed += 1;
        if (d.event.region !== null) expected.set(id, d.event.region);
      } else if (d.event.decision === 'HELD') {
        held += 1;
        heldIds.add(id);
      } else {
        deadLettered += 1;
      }
    }
  }
  let approved = 0;
  let rejected = 0;
  let expired = 0;
  const finished = new Set<string>();
  for (const e of inWindow) {
    const d = e.event.decision;
    if (d === 'APPROVED') {
      approved += 1;
      finished.add(e.event.recordId);
      if (e.event.region !== null) expected.set(e.event.recordId, e.event.region);
    } else if (d === 'REJECTED' || d === 'EXPIRED') {
      if (d === 'REJECTED') rejected += 1;
      else expired += 1;
      finished.add(e.event.recordId);
    }
  }
  // Holds decided later than the window still count as finished when their outcome is known.
  for (const e of events) if (e.event.decision === 'APPROVED' || e.event.decision === 'REJECTED' || e.event.decision === 'EXPIRED') finished.add(e.event.recordId);
  const pendingHolds = [...heldIds].filter((id) => !finished.has(id)).length;

  // STORED events (the sinks' own account of every record they wrote), one per event id, for
  // any record: a record routed at the end of the window may be stored just after it.
  const claims = storedClaims(events);
  for (const [id, list] of claims) {
    if (!expected.has(id)) continue;
    for (const c of list) {
      if (!c.verified && (c.occurredAtMs < fromMs || c.occurredAtMs >= toMs)) {
        violations.push({ kind: 'audit-altered', recordId: c.recordId, detail: `audit entry ${c.entry} does not match its hash; run 'tracefence audit verify --region ${c.entry.split('#')[0] ?? ''}'` });
      }
    }
  }

  // The buckets a region's sinks write: those holding any object, and those named by STORED events.
  // Each must hold every record of the region once.
  const activeBuckets = new Map<string, Set<string>>();
  const activate = (region: string, bucket: string) => activeBuckets.set(region, (activeBuckets.get(region) ?? new Set()).add(bucket));
  for (const refs of data.locations.values()) for (const r of refs) activate(r.region, r.bucket);
  for (const [id, list] of claims) if (expected.has(id)) for (const c of list) activate(c.region, c.bucket);

  const missing: string[] = [];
  let stored = 0;
  let storedByEvents = 0;
  for (const [id, region] of expected) {
    const refs = data.locations.get(id) ?? [];
    const recordClaims = claims.get(id) ?? [];
    const elsewhere = [
      ...refs.filter((r) => r.region !== region).map((r) => `${r.bucket}/${r.key}`),
      ...recordClaims.filter((c) => c.region !== region).map((c) => `${c.bucket}/${c.objectKey} (STORED event ${c.entry})`),
    ];
    if (elsewhere.length > 0) violations.push({ kind: 'wrong-region', recordId: id, detail: `decided for ${region}, found in ${[...new Set(elsewhere)].join(', ')}` });
    const inRegion = refs.filter((r) => r.region === region);
    const buckets = activeBuckets.get(region) ?? new Set<string>();
    const absentFrom: string[] = buckets.size === 0 ? [`(no object in any ${region} bucket)`] : [];
    let everyBucketByEvent = buckets.size > 0;
    for (const b of buckets) {
      const found = inRegion.filter((r) => r.bucket === b);
      const named = [...new Set(recordClaims.filter((c) => c.region === region && c.bucket === b).map((c) => c.objectKey))];
      // What a STORED event claims is checked against the object: it must still hold the record.
      const confirmed: string[] = [];
      for (const key of named) {
        const object = `${b}/${key}`;
        if (found.some((r) => r.key === key)) confirmed.push(key);
        else if (data.present.has(object) && !data.idsRead.has(object)) confirmed.push(key); // ids unreadable: reported as object-damaged
        else {
          const why = !data.buckets.has(b) ? 'a bucket that was not read (not in the policy)' : data.present.has(object) ? 'an object that does not hold it' : 'an object that does not exist';
          violations.push({ kind: 'stored-event-mismatch', recordId: id, detail: `its STORED event names ${object}, ${why}` });
        }
      }
      if (named.length === 0) everyBucketByEvent = false;
      else if (confirmed.length === 0) everyBucketByEvent = false;
      const copies = [...found.map((r) => r.key), ...confirmed.filter((k) => !found.some((r) => r.key === k))];
      if (copies.length === 0) absentFrom.push(b);
      if (copies.length > 1) violations.push({ kind: 'stored-twice', recordId: id, detail: `${copies.length} copies in ${copies.map((k) => `${b}/${k}`).join(', ')}` });
    }
    if (absentFrom.length > 0) {
      missing.push(id);
      violations.push({ kind: 'not-stored', recordId: id, detail: `routed to ${region}, not in ${absentFrom.join(', ')}` });
    } else {
      stored += 1;
      if (everyBucketByEvent) storedByEvents += 1;
    }
  }
  for (const p of data.problems) violations.push({ kind: 'object-damaged', recordId: '', detail: problemText(p) });
  let outside = 0;
  for (const id of data.locations.keys()) if (!expected.has(id)) outside += 1;

  const ingested = decisions.size;
  const decisionsBalance = ingested === routed + held + deadLettered;
  const storageBalance = stored === expected.size;
  return {
    fromMs,
    toMs,
    ok: violations.length === 0 && decisionsBalance && storageBalance,
    counts: {
      ingested,
      routed,
      held,
      deadLettered,
      approved,
      rejected,
      expired,
      pendingHolds,
      expectedStored: expected.size,
      stored,
      storedByEvents,
      storedFromObjectsOnly: stored - storedByEvents,
      recordsInObjects: data.records,
      objectsRead: data.objects,
    },
    decisionsBalance,
    storageBalance,
    violations,
    missingRecordIds: missing.sort(),
    storedOutsideWindow: outside,
  };
}

/** What one STORED event claims: this record is in this object of this bucket. */
interface StoredClaim {
  recordId: string;
  region: string;
  bucket: string;
  objectKey: string;
  occurredAtMs: number;
  verified: boolean;
  /** chain#seq of the audit entry. */
  entry: string;
}

/** record id -> its STORED claims, one per event id (a sink that retried emits the same ids again). */
function storedClaims(events: readonly StoredAuditEvent[]): Map<string, StoredClaim[]> {
  const seen = new Set<string>();
  const out = new Map<string, StoredClaim[]>();
  for (const e of events) {
    const ev = e.event;
    if (ev.decision !== 'STORED' || ev.recordId === '' || ev.bucket === null || ev.objectKey === null || ev.region === null) continue;
    if (seen.has(ev.eventId)) continue;
    seen.add(ev.eventId);
    const list = out.get(ev.recordId) ?? [];
    list.push({ recordId: ev.recordId, region: ev.region, bucket: ev.bucket, objectKey: ev.objectKey, occurredAtMs: ev.occurredAtMs, verified: e.verified, entry: `${e.chain}#${e.seq}` });
    out.set(ev.recordId, list);
  }
  return out;
}

/**
 * backend://bucket -> object keys named by STORED events of records routed or approved in the
 * window: the command reads these objects too, even when their date is outside the scanned days.
 */
export function objectsNamedByStoredEvents(events: readonly StoredAuditEvent[], fromMs: number, toMs: number): Map<string, Set<string>> {
  const decided = new Set<string>();
  for (const e of events) {
    if (e.event.occurredAtMs < fromMs || e.event.occurredAtMs >= toMs) continue;
    if ((isPolicyDecision(e.event) && e.event.decision === 'ROUTED') || e.event.decision === 'APPROVED') decided.add(e.event.recordId);
  }
  const out = new Map<string, Set<string>>();
  for (const [id, list] of storedClaims(events)) {
    if (!decided.has(id)) continue;
    for (const c of list) out.set(c.bucket, (out.get(c.bucket) ?? new Set()).add(c.objectKey));
  }
  return out;
}

function problemText(p: DataObjectProblem): string {
  return `${p.bucket}/${p.key}: ${p.problem}`;
}
