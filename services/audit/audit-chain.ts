/**
 * The per-region audit hash chain: how an audit event becomes a chain entry, how its hash is
 * computed, and how a sequence of stored entries is checked. Pure (no I/O), so the rules are
 * unit-tested and shared by the audit sink and the `tracefence audit verify` command.
 *
 * Entry hash = sha256 hex of CHAIN_HASH_PREFIX + canonical JSON of { v, chain, seq, source, event },
 * where event.prevHash is the hash of the entry before it (null for seq 1). docs/audit.md.
 */
import { createHash } from 'node:crypto';
import type { AuditEvent } from '../shared/avro/types.js';

export const CHAIN_FORMAT_VERSION = 1;
export const CHAIN_HASH_PREFIX = 'tracefence-audit-chain-v1\n';

/** Chain of events with no region (dead letters, holds with several candidate regions). */
export const NO_REGION_CHAIN = 'none';

/** Where the event was read from: the audit topic position (evidence that nothing was skipped). */
export interface EntrySource {
  topic: string;
  partition: number;
  /** Kafka offset, decimal string. */
  offset: string;
}

/** One line of an audit object. */
export interface ChainEntry {
  v: number;
  /** Chain name: a region name, or NO_REGION_CHAIN. */
  chain: string;
  /** Position in the chain, from 1, no gaps. */
  seq: number;
  source: EntrySource;
  /** The event as received, with prevHash set to the hash of entry seq-1. */
  event: AuditEvent;
  hash: string;
}

export interface ChainHead {
  /** Last sequence number in the chain (0 when empty). */
  seq: number;
  /** Hash of the last entry (null when empty). */
  hash: string | null;
}

export const EMPTY_HEAD: ChainHead = Object.freeze({ seq: 0, hash: null });

/** JSON with object keys sorted at every level; the one serialisation hashes are computed over. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
    if (typeof value === 'bigint') return value.toString();
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export function entryHash(e: Omit<ChainEntry, 'hash'>): string {
  const body = canonicalJson({ v: e.v, chain: e.chain, seq: e.seq, source: e.source, event: e.event });
  return createHash('sha256').update(CHAIN_HASH_PREFIX).update(body).digest('hex');
}

/** Appends events to a chain whose head is `head`; returns the entries and the new head. */
export function appendToChain(chain: string, head: ChainHead, items: ReadonlyArray<{ event: AuditEvent; source: EntrySource }>): { entries: ChainEntry[]; head: ChainHead } {
  const entries: ChainEntry[] = [];
  let seq = head.seq;
  let prev = head.hash;
  for (const item of items) {
    seq += 1;
    const base = { v: CHAIN_FORMAT_VERSION, chain, seq, source: item.source, event: { ...item.event, prevHash: prev } };
    const hash = entryHash(base);
    entries.push({ ...base, hash });
    prev = hash;
  }
  return { entries, head: { seq, hash: prev } };
}

// --- Verification.

export type BreakKind = 'altered' | 'missing' | 'reordered';

export interface ChainBreak {
  kind: BreakKind;
  chain: string;
  /** Object the break was found in (or the checkpoint naming a missing object). */
  object: string;
  /** Sequence number expected at this point, and the one found (undefined when none). */
  expectedSeq: number;
  foundSeq: number | undefined;
  eventId: string | undefined;
  detail: string;
}

/** One stored audit object as verify sees it. */
export interface StoredAuditObject {
  key: string;
  /** First sequence number named by the key, when the key has the standard form. */
  keySeq: number | undefined;
  /** sha256 hex of the body recorded at write time (object metadata), if any. */
  recordedSha256: string | undefined;
  /** sha256 hex of the body as read now. */
  actualSha256: string;
  /** Parsed lines, or an error message when the body cannot be read. */
  entries: ChainEntry[] | string;
}

/** Checkpoint written after each audit object (see audit-layout.ts). */
export interface Checkpoint {
  v: number;
  chain: string;
  object: string;
  objectSha256: string;
  firstSeq: number;
  lastSeq: number;
  /** Events in the chain up to and including lastSeq (= lastSeq). */
  count: number;
  firstEventId: string;
  lastEventId: string;
  prevHash: string | null;
  lastHash: string;
  writtenAtMs: number;
}

export interface VerifyReport {
  chain: string;
  ok: boolean;
  objects: number;
  events: number;
  checkpoints: number;
  head: ChainHead;
  /** Breaks in chain order; the first is the one to investigate. */
  breaks: ChainBreak[];
  /** Non-fatal findings (an object without checkpoint: a crash between the two writes). */
  warnings: string[];
}

interface Gap {
  from: number;
  to: number;
  brk: ChainBreak;
}

/**
 * Streaming chain checker: feed objects in key order, then checkpoints, then call finish().
 * Memory holds the seen sequence numbers' ranges, not the events.
 */
export class ChainVerifier {
  private expected = 1;
  private prevHash: string | null = null;
  private readonly seenHash = new Map<number, string>();
  private readonly gaps: Gap[] = [];
  private readonly breaks: ChainBreak[] = [];
  private readonly warnings: string[] = [];
  private readonly objectKeys = new Set<string>();
  private readonly objectSha = new Map<string, string>();
  private readonly checkpointed = new Set<string>();
  private objects = 0;
  private events = 0;
  private checkpoints = 0;
  private lastHash: string | null = null;
  private lastSeq = 0;

  constructor(readonly chain: string) {}

  private add(kind: BreakKind, object: string, foundSeq: number | undefined, eventId: string | undefined, detail: string): ChainBreak {
    const brk: ChainBreak = { kind, chain: this.chain, object, expectedSeq: this.expected, foundSeq, eventId, detail };
    this.breaks.push(brk);
    return brk;
  }

  addObject(o: StoredAuditObject): void {
    this.objects += 1;
    this.objectKeys.add(o.key);
    this.objectSha.set(o.key, o.actualSha256);
    if (typeof o.entries === 'string') {
      this.add('altered', o.key, undefined, undefined, `object cannot be read: ${o.entries}`);
      return;
    }
    const before = this.breaks.length;
    const first = o.entries[0];
    if (first === undefined) {
      this.add('altered', o.key, undefined, undefined, 'object holds no events');
      return;
    }
    if (o.keySeq !== undefined && first.seq !== o.keySeq) {
      // Not a break on its own: the entries below say what happened (moved, missing).
      this.warnings.push(`${o.key}: key names seq ${o.keySeq} but the first event has seq ${first.seq}`);
    }
    for (const e of o.entries) this.addEntry(o.key, e);
    if (this.breaks.length === before && o.recordedSha256 !== undefined && o.recordedSha256 !== o.actualSha256) {
      this.add('altered', o.key, undefined, undefined, `object body sha256 ${o.actualSha256} differs from the ${o.recordedSha256} recorded at write time`);
    }
  }

  private addEntry(key: string, e: ChainEntry): void {
    this.events += 1;
    const eventId = typeof e.event?.eventId === 'string' ? e.event.eventId : undefined;
    if (typeof e.seq !== 'number' || !Number.isInteger(e.seq) || e.seq < 1 || e.chain !== this.chain) {
      this.add('altered', key, undefined, eventId, `entry has an invalid seq or belongs to chain '${String(e.chain)}'`);
      return;
    }
    // A gap reported earlier is reclassified when its events turn up later: they were moved.
    for (const g of this.gaps) {
      if (e.seq >= g.from && e.seq <= g.to && g.brk.kind === 'missing') {
        g.brk.kind = 'reordered';
        g.brk.detail = `events from seq ${g.from} are stored out of order (seq ${e.seq} found later in ${key})`;
      }
    }
    let recomputed: string;
    try {
      const { hash: _stored, ...rest } = e;
      recomputed = entryHash(rest);
    } catch {
      recomputed = '';
    }
    if (recomputed !== e.hash) {
      this.add('altered', key, e.seq, eventId, `entry seq ${e.seq} does not match its hash (content changed after it was chained)`);
    } else if (e.seq === this.expected && e.event.prevHash !== this.prevHash) {
      this.add('altered', key, e.seq, eventId, `entry seq ${e.seq} links to ${e.event.prevHash ?? 'null'}, but entry seq ${e.seq - 1} hashes to ${this.prevHash ?? 'null'} (an entry was replaced)`);
    } else if (e.seq > this.expected) {
      const brk = this.add('missing', key, e.seq, eventId, `seq ${this.expected}..${e.seq - 1} missing before seq ${e.seq}`);
      this.gaps.push({ from: this.expected, to: e.seq - 1, brk });
    } else if (e.seq < this.expected) {
      const dup = this.seenHash.get(e.seq);
      this.add(
        'reordered',
        key,
        e.seq,
        eventId,
        dup === undefined ? `seq ${e.seq} found after seq ${this.expected - 1}` : dup === e.hash ? `seq ${e.seq} stored twice` : `a second, different seq ${e.seq}`,
      );
    }
    if (e.seq >= this.expected) {
      // Resynchronise after a break so later breaks are reported too.
      this.expected = e.seq + 1;
      this.prevHash = e.hash;
    }
    if (!this.seenHash.has(e.seq)) this.seenHash.set(e.seq, e.hash);
    if (e.seq > this.lastSeq) {
      this.lastSeq = e.seq;
      this.lastHash = e.hash;
    }
  }

  addCheckpoint(key: string, cp: Checkpoint | string): void {
    this.checkpoints += 1;
    if (typeof cp === 'string') {
      this.warnings.push(`${key}: checkpoint cannot be read: ${cp}`);
      return;
    }
    this.checkpointed.add(cp.object);
    const at = this.seenHash.get(cp.lastSeq);
    if (!this.objectKeys.has(cp.object)) {
      this.breaks.push({
        kind: at === undefined ? 'missing' : 'reordered',
        chain: this.chain,
        object: cp.object,
        expectedSeq: cp.firstSeq,
        foundSeq: undefined,
        eventId: cp.firstEventId,
        detail: `checkpoint ${key} names object ${cp.object} (seq ${cp.firstSeq}..${cp.lastSeq}), which is not in the bucket`,
      });
      return;
    }
    if (at === undefined) {
      this.breaks.push({ kind: 'missing', chain: this.chain, object: cp.object, expectedSeq: cp.lastSeq, foundSeq: undefined, eventId: cp.lastEventId, detail: `checkpoint ${key}: seq ${cp.lastSeq} is not in the chain` });
    } else if (at !== cp.lastHash) {
      this.breaks.push({ kind: 'altered', chain: this.chain, object: cp.object, expectedSeq: cp.lastSeq, foundSeq: cp.lastSeq, eventId: cp.lastEventId, detail: `checkpoint ${key}: seq ${cp.lastSeq} hashes to ${at}, the checkpoint recorded ${cp.lastHash}` });
    } else if (this.objectSha.get(cp.object) !== cp.objectSha256) {
      this.breaks.push({ kind: 'altered', chain: this.chain, object: cp.object, expectedSeq: cp.firstSeq, foundSeq: undefined, eventId: cp.firstEventId, detail: `checkpoint ${key}: object body sha256 differs from the one recorded` });
    }
  }

  finish(): VerifyReport {
    for (const key of this.objectKeys) if (!this.checkpointed.has(key)) this.warnings.push(`${key}: no checkpoint (written by a sink that stopped between the object and its checkpoint?)`);
    // Walk order (storage order), then what the checkpoints revealed.
    return {
      chain: this.chain,
      ok: this.breaks.length === 0,
      objects: this.objects,
      events: this.events,
      checkpoints: this.checkpoints,
      head: { seq: this.lastSeq, hash: this.lastHash },
      breaks: [...this.breaks],
      warnings: this.warnings,
    };
  }
}
