/**
 * Where audit objects live and what they hold. Keys are deterministic: an object is named by
 * the chain position of its first event, so a create-only write is also a compare-and-swap on
 * the chain (two writers can never fork it), and a replay after a crash meets the same key.
 *
 *   audit/<chain>/events/<firstSeq, 20 digits>.jsonl.gz     one chain entry per line
 *   audit/<chain>/checkpoints/<lastSeq, 20 digits>.json     one per events object
 */
import { sha256Hex } from '../shared/sha256.js';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { ChainEntry, Checkpoint } from './audit-chain.js';
import { CHAIN_FORMAT_VERSION } from './audit-chain.js';

export const AUDIT_ROOT = 'audit';

/** Object user metadata keys (lower case: S3 lower-cases them anyway). */
export const AUDIT_META = {
  chain: 'tf-audit-chain',
  firstSeq: 'tf-audit-first-seq',
  lastSeq: 'tf-audit-last-seq',
  count: 'tf-audit-count',
  prevHash: 'tf-audit-prev-hash',
  lastHash: 'tf-audit-last-hash',
  sha256: 'tf-sha256',
  topic: 'tf-topic',
  partition: 'tf-partition',
  firstOffset: 'tf-first-offset',
  lastOffset: 'tf-last-offset',
  firstAtMs: 'tf-audit-first-at-ms',
  lastAtMs: 'tf-audit-last-at-ms',
} as const;

const pad = (n: number): string => String(n).padStart(20, '0');

export function eventsPrefix(chain: string): string {
  return `${AUDIT_ROOT}/${chain}/events/`;
}

export function checkpointsPrefix(chain: string): string {
  return `${AUDIT_ROOT}/${chain}/checkpoints/`;
}

export function eventsKey(chain: string, firstSeq: number): string {
  return `${eventsPrefix(chain)}${pad(firstSeq)}.jsonl.gz`;
}

export function checkpointKey(chain: string, lastSeq: number): string {
  return `${checkpointsPrefix(chain)}${pad(lastSeq)}.json`;
}

/** First sequence number named by an events key, or undefined for a key of another shape. */
export function seqOfEventsKey(key: string): number | undefined {
  const m = /\/events\/(\d{20})\.jsonl\.gz$/.exec(key);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** Chain name of any key under audit/, or undefined. */
export function chainOfKey(key: string): string | undefined {
  const m = /^audit\/([^/]+)\/(?:events|checkpoints)\//.exec(key);
  return m?.[1];
}

export { sha256Hex };

export interface EncodedAuditObject {
  key: string;
  body: Buffer;
  sha256: string;
  metadata: Record<string, string>;
  checkpoint: { key: string; body: Buffer; value: Checkpoint };
}

/** The checkpoint of one events object: what a deleted or altered object is detected by. */
export function checkpointOf(key: string, objectSha256: string, first: ChainEntry, last: ChainEntry, nowMs: number): Checkpoint {
  return {
    v: CHAIN_FORMAT_VERSION,
    chain: first.chain,
    object: key,
    objectSha256,
    firstSeq: first.seq,
    lastSeq: last.seq,
    count: last.seq,
    firstEventId: first.event.eventId,
    lastEventId: last.event.eventId,
    prevHash: first.event.prevHash,
    lastHash: last.hash,
    writtenAtMs: nowMs,
  };
}

/** Builds the events object of a run of consecutive entries, and its checkpoint. */
export function encodeAuditObject(entries: readonly ChainEntry[], nowMs: number): EncodedAuditObject {
  const first = entries[0];
  const last = entries.at(-1);
  if (first === undefined || last === undefined) throw new Error('encodeAuditObject: no entries');
  const body = gzipSync(Buffer.from(entries.map((e) => JSON.stringify(e)).join('\n') + '\n', 'utf8'));
  const sha256 = sha256Hex(body);
  const key = eventsKey(first.chain, first.seq);
  const times = entries.map((e) => e.event.occurredAtMs);
  const metadata: Record<string, string> = {
    [AUDIT_META.chain]: first.chain,
    [AUDIT_META.firstSeq]: String(first.seq),
    [AUDIT_META.lastSeq]: String(last.seq),
    [AUDIT_META.count]: String(entries.length),
    [AUDIT_META.prevHash]: first.event.prevHash ?? 'none',
    [AUDIT_META.lastHash]: last.hash,
    [AUDIT_META.sha256]: sha256,
    [AUDIT_META.topic]: first.source.topic,
    [AUDIT_META.partition]: String(first.source.partition),
    [AUDIT_META.firstOffset]: first.source.offset,
    [AUDIT_META.lastOffset]: last.source.offset,
    [AUDIT_META.firstAtMs]: String(Math.min(...times)),
    [AUDIT_META.lastAtMs]: String(Math.max(...times)),
  };
  const value = checkpointOf(key, sha256, first, last, nowMs);
  return { key, body, sha256, metadata, checkpoint: { key: checkpointKey(first.chain, last.seq), body: Buffer.from(JSON.stringify(value, null, 2) + '\n', 'utf8'), value } };
}

/** Parses an events object body; throws with a short reason when it is not one. */
export function decodeAuditObject(body: Buffer): ChainEntry[] {
  const text = gunzipSync(body).toString('utf8');
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l, i) => {
      let v: unknown;
      try {
        v = JSON.parse(l);
      } catch {
        throw new Error(`line ${i + 1} is not JSON`);
      }
      if (v === null || typeof v !== 'object' || typeof (v as ChainEntry).event !== 'object' || (v as ChainEntry).event === null) {
        throw new Error(`line ${i + 1} is not a chain entry`);
      }
      return v as ChainEntry;
    });
}

export function decodeCheckpoint(body: Buffer): Checkpoint {
  const v = JSON.parse(body.toString('utf8')) as Checkpoint;
  if (typeof v !== 'object' || v === null || typeof v.object !== 'string' || typeof v.lastSeq !== 'number' || typeof v.lastHash !== 'string') {
    throw new Error('not a checkpoint');
  }
  return v;
}
