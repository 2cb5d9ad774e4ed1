/**
 * Reconciliation over a time window (invariant 4): every ingested record has exactly one policy
 * decision (ingested = routed + held + dead-lettered), and every record routed or approved is in
 * exactly one object of each active bucket of its region, and nowhere else.
 * Pure: the command reads the audit events and the data objects and hands them here.
 */
import type { StoredAuditEvent } from './audit-reader.js';
import { isPolicyDecision } from './audit-reader.js';
import type { DataObjectProblem, DataObjectRef, DataScan } from './data-objects.js';

export type ViolationKind = 'audit-altered' | 'decided-twice' | 'not-stored' | 'stored-twice' | 'wrong-region' | 'object-damaged';

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

  // Buckets that received anything are the ones a sink writes; each must hold the record once.
  const activeBuckets = new Map<string, Set<string>>();
  for (const refs of data.locations.values()) for (const r of refs) activeBuckets.set(r.region, (activeBuckets.get(r.region) ?? new Set()).add(r.bucket));

  const missing: string[] = [];
  let stored = 0;
  for (const [id, region] of expected) {
    const refs = data.locations.get(id) ?? [];
    const elsewhere = refs.filter((r) => r.region !== region);
    if (elsewhere.length > 0) violations.push({ kind: 'wrong-region', recordId: id, detail: `decided for ${region}, found in ${describe(elsewhere)}` });
    const inRegion = refs.filter((r) => r.region === region);
    const buckets = activeBuckets.get(region) ?? new Set<string>();
    const absentFrom = buckets.size === 0 ? [`(no object in any ${region} bucket)`] : [...buckets].filter((b) => !inRegion.some((r) => r.bucket === b));
    if (absentFrom.length > 0) {
      missing.push(id);
      violations.push({ kind: 'not-stored', recordId: id, detail: `routed to ${region}, not in ${absentFrom.join(', ')}` });
    } else {
      stored += 1;
    }
    for (const b of buckets) {
      const copies = inRegion.filter((r) => r.bucket === b);
      if (copies.length > 1) violations.push({ kind: 'stored-twice', recordId: id, detail: `${copies.length} copies in ${describe(copies)}` });
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

function describe(refs: readonly DataObjectRef[]): string {
  return refs.map((r) => `${r.bucket}/${r.key}`).join(', ');
}

function problemText(p: DataObjectProblem): string {
  return `${p.bucket}/${p.key}: ${p.problem}`;
}
