/**
 * Reads audit entries back from every chain's bucket for the evidence and reconcile commands.
 * Objects written before `fromMs` are skipped without being read: an object is always written
 * after the events it holds occurred, so it cannot hold a later event.
 */
import type { AuditEvent } from '../shared/avro/types.js';
import { entryHash } from './audit-chain.js';
import { decodeAuditObject, eventsPrefix } from './audit-layout.js';
import type { BucketAccess } from './bucket-access.js';

export interface StoredAuditEvent {
  event: AuditEvent;
  chain: string;
  seq: number;
  hash: string;
  /** backend://bucket/key of the audit object holding it. */
  object: string;
  /** False when the entry no longer matches its chain hash (altered after it was stored). */
  verified: boolean;
}

export interface ReadAuditOptions {
  fromMs?: number;
  /** Called once the object count is known, then after each object. */
  progress?: (done: number, total: number) => void;
}

export async function readAuditEvents(chains: ReadonlyMap<string, { access: BucketAccess }>, o: ReadAuditOptions = {}): Promise<StoredAuditEvent[]> {
  const work: Array<{ chain: string; access: BucketAccess; key: string }> = [];
  for (const [chain, { access }] of chains) {
    for await (const obj of access.list(eventsPrefix(chain))) {
      if (o.fromMs !== undefined && obj.lastModifiedMs !== undefined && obj.lastModifiedMs < o.fromMs) continue;
      work.push({ chain, access, key: obj.key });
    }
  }
  const out: StoredAuditEvent[] = [];
  const seen = new Set<string>();
  let done = 0;
  o.progress?.(0, work.length);
  for (const w of work) {
    const got = await w.access.get(w.key);
    done += 1;
    o.progress?.(done, work.length);
    if (got === undefined) continue;
    let entries;
    try {
      entries = decodeAuditObject(got.body);
    } catch {
      continue; // `tracefence audit verify` reports unreadable objects
    }
    for (const e of entries) {
      // The approval service may emit a step twice (deterministic event ids); the first one counts.
      if (seen.has(e.event.eventId)) continue;
      seen.add(e.event.eventId);
      const { hash: _stored, ...rest } = e;
      let verified: boolean;
      try {
        verified = entryHash(rest) === e.hash;
      } catch {
        verified = false;
      }
      out.push({ event: e.event, chain: e.chain, seq: e.seq, hash: e.hash, object: `${w.access.backend}://${w.access.bucket}/${w.key}`, verified });
    }
  }
  return out.sort((a, b) => a.event.occurredAtMs - b.event.occurredAtMs || (a.chain === b.chain ? a.seq - b.seq : a.chain < b.chain ? -1 : 1));
}

/** The policy worker's decision about an ingested record (not a reviewer's step, not a sink's). */
export function isPolicyDecision(e: AuditEvent): boolean {
  return e.actor === null && e.recordId !== '' && (e.decision === 'ROUTED' || e.decision === 'HELD' || e.decision === 'DEAD_LETTERED');
}

/** A reviewer's (or the hold time-to-live's) step on a held record. */
export function isReviewStep(e: AuditEvent): boolean {
  return e.decision === 'APPROVED' || e.decision === 'REJECTED' || e.decision === 'EXPIRED' || (e.decision === 'HELD' && e.actor !== null);
}
