import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '../../services/shared/avro/types.js';
import { appendToChain, canonicalJson, ChainVerifier, EMPTY_HEAD, entryHash, type ChainEntry } from '../../services/audit/audit-chain.js';
import { decodeAuditObject, encodeAuditObject, seqOfEventsKey, sha256Hex } from '../../services/audit/audit-layout.js';

function event(i: number): AuditEvent {
  return {
    eventId: randomUUID(),
    recordId: randomUUID(),
    traceId: 'a'.repeat(32),
    tenant: 'acme',
    subject: 'agent-1',
    agent: 'agent-1',
    decision: 'ROUTED',
    region: 'eu',
    reasonCode: null,
    findingCounts: { EMAIL_ADDRESS: i },
    maskingApplied: { EMAIL_ADDRESS: 'pseudonymize' },
    policyVersion: 'p'.repeat(64),
    contentHash: 'c'.repeat(64),
    bucket: null,
    objectKey: null,
    bucketLocation: null,
    occurredAtMs: 1_700_000_000_000 + i,
    prevHash: null,
    actor: null,
  };
}

/** Three objects of three events each: seq 1-3, 4-6, 7-9. */
function chainObjects(): ChainEntry[][] {
  const items = Array.from({ length: 9 }, (_, i) => ({ event: event(i), source: { topic: 't', partition: 0, offset: String(i) } }));
  const { entries } = appendToChain('eu', EMPTY_HEAD, items);
  return [entries.slice(0, 3), entries.slice(3, 6), entries.slice(6, 9)];
}

function verify(objects: ChainEntry[][]) {
  const v = new ChainVerifier('eu');
  for (const [i, entries] of objects.entries()) {
    const key = `audit/eu/events/${String(i * 3 + 1).padStart(20, '0')}.jsonl.gz`;
    v.addObject({ key, keySeq: seqOfEventsKey(key), recordedSha256: undefined, actualSha256: sha256Hex(JSON.stringify(entries)), entries });
  }
  return v.finish();
}

test('canonical JSON sorts keys at every level and skips undefined', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null }, u: undefined }), '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
});

test('each entry links to the hash of the one before; hashes depend on every field', () => {
  const [a] = chainObjects();
  assert.ok(a !== undefined);
  assert.equal(a[0]?.event.prevHash, null);
  assert.equal(a[1]?.event.prevHash, a[0]?.hash);
  assert.equal(a[2]?.event.prevHash, a[1]?.hash);
  const e = a[1];
  assert.ok(e !== undefined);
  const { hash, ...rest } = e;
  assert.equal(entryHash(rest), hash);
  assert.notEqual(entryHash({ ...rest, event: { ...rest.event, decision: 'HELD' } }), hash);
  assert.notEqual(entryHash({ ...rest, seq: 3 }), hash);
  assert.notEqual(entryHash({ ...rest, source: { ...rest.source, offset: '99' } }), hash);
});

test('an intact chain verifies and reports its head', () => {
  const objects = chainObjects();
  const r = verify(objects);
  assert.equal(r.ok, true, JSON.stringify(r.breaks));
  assert.equal(r.events, 9);
  assert.equal(r.head.seq, 9);
  assert.equal(r.head.hash, objects[2]?.[2]?.hash);
});

test('an altered event is reported as altered at its seq', () => {
  const objects = chainObjects();
  const victim = objects[1]?.[1];
  assert.ok(victim !== undefined);
  victim.event = { ...victim.event, region: 'us' };
  const r = verify(objects);
  assert.equal(r.ok, false);
  assert.equal(r.breaks[0]?.kind, 'altered');
  assert.equal(r.breaks[0]?.foundSeq, 5);
});

test('an altered event whose hash was recomputed breaks the next link', () => {
  const objects = chainObjects();
  const victim = objects[1]?.[1];
  assert.ok(victim !== undefined);
  victim.event = { ...victim.event, decision: 'HELD' };
  const { hash: _old, ...rest } = victim;
  victim.hash = entryHash(rest);
  const r = verify(objects);
  assert.equal(r.breaks[0]?.kind, 'altered');
  assert.equal(r.breaks[0]?.foundSeq, 6);
});

test('a deleted event or object is reported as missing', () => {
  const objects = chainObjects();
  objects[1]?.splice(1, 1);
  let r = verify(objects);
  assert.equal(r.breaks[0]?.kind, 'missing');
  assert.equal(r.breaks[0]?.expectedSeq, 5);
  r = verify([chainObjects()[0] ?? [], chainObjects()[2] ?? []]);
  assert.equal(r.breaks[0]?.kind, 'missing');
  assert.match(r.breaks[0]?.detail ?? '', /seq 4\.\.6 missing/);
});

test('swapped events or objects are reported as reordered', () => {
  const objects = chainObjects();
  const o = objects[1];
  assert.ok(o !== undefined && o[0] !== undefined && o[1] !== undefined);
  [o[0], o[1]] = [o[1], o[0]];
  let r = verify(objects);
  assert.equal(r.breaks[0]?.kind, 'reordered');
  const [a, b, c] = chainObjects();
  r = verify([b ?? [], a ?? [], c ?? []]);
  assert.equal(r.breaks[0]?.kind, 'reordered');
});

test('a checkpoint naming a deleted tail object reveals the truncation', () => {
  const objects = chainObjects();
  const v = new ChainVerifier('eu');
  const encoded = objects.map((entries) => encodeAuditObject(entries, 0));
  for (const e of encoded.slice(0, 2)) v.addObject({ key: e.key, keySeq: seqOfEventsKey(e.key), recordedSha256: e.sha256, actualSha256: e.sha256, entries: decodeAuditObject(e.body) });
  for (const e of encoded) v.addCheckpoint(e.checkpoint.key, e.checkpoint.value);
  const r = v.finish();
  assert.equal(r.ok, false);
  assert.equal(r.breaks[0]?.kind, 'missing');
  assert.match(r.breaks[0]?.detail ?? '', /not in the bucket/);
});

test('a body changed without touching the entries is caught by the recorded sha256', () => {
  const [entries] = chainObjects();
  assert.ok(entries !== undefined);
  const e = encodeAuditObject(entries, 0);
  const v = new ChainVerifier('eu');
  v.addObject({ key: e.key, keySeq: 1, recordedSha256: e.sha256, actualSha256: 'f'.repeat(64), entries });
  assert.equal(v.finish().breaks[0]?.kind, 'altered');
});
