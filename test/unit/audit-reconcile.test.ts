import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '../../services/shared/avro/types.js';
import type { DataObjectRef, DataScan } from '../../services/audit/data-objects.js';
import { objectsNamedByStoredEvents, reconcile } from '../../services/audit/reconcile.js';
import { storedEventSequence } from '../helpers/audit-events.js';

const T0 = 1_764_000_000_000;
const FROM = T0 - 60_000;
const TO = T0 + 60_000;
const S3 = 's3://tf-eu';
const GCS = 'gcs://tf-eu-gcs';
const KEY_A = 'tenant=acme/date=2025-11-24/traces.region.eu/0/00000000000000000000.jsonl.gz';
const KEY_B = 'tenant=acme/date=2025-11-24/traces.region.eu/0/00000000000000000002.jsonl.gz';
const ev = storedEventSequence({
  startMs: T0,
  defaults: { traceId: 'a'.repeat(32), subject: 'client-1', policyVersion: 'p'.repeat(64) },
  chainOf: (event) => event.region ?? 'none',
});

const storedEv = (recordId: string, bucket: string, objectKey: string, extra: Partial<AuditEvent> = {}) =>
  ev({ recordId, decision: 'STORED', subject: 'tracefence-sink:eu', agent: 'tracefence-sink', bucket, objectKey, bucketLocation: 'eu-central-1', eventId: `${recordId}|${bucket}|${objectKey}`, ...extra });

/** A scan of the given objects: backend://bucket/key -> record ids it holds. */
function scan(objects: Record<string, string[]>, region = 'eu'): DataScan {
  const s: DataScan = { locations: new Map(), objects: 0, records: 0, problems: [], buckets: new Set([S3, GCS]), present: new Set(), idsRead: new Set() };
  for (const [object, ids] of Object.entries(objects)) {
    const [, backend, bucket, key] = /^(\w+):\/\/([^/]+)\/(.+)$/.exec(object) ?? [];
    const ref: DataObjectRef = { region, bucket: `${backend}://${bucket}`, key: key ?? '' };
    s.objects += 1;
    s.present.add(object);
    s.idsRead.add(object);
    for (const id of ids) {
      s.records += 1;
      s.locations.set(id, [...(s.locations.get(id) ?? []), ref]);
    }
  }
  return s;
}

const ids = (n: number) => Array.from({ length: n }, () => randomUUID());

test('records with STORED events confirmed by their objects balance, counted as stored by events', () => {
  const [a, b, c] = ids(3) as [string, string, string];
  const events = [a, b, c].flatMap((id) => [ev({ recordId: id }), storedEv(id, S3, KEY_A)]);
  // The sink retried: the same STORED event again (same id) is one claim.
  events.push(storedEv(a, S3, KEY_A));
  const r = reconcile(events, scan({ [`${S3}/${KEY_A}`]: [a, b, c] }), FROM, TO);
  assert.deepEqual(r.violations, []);
  assert.equal(r.ok, true);
  assert.deepEqual([r.counts.expectedStored, r.counts.stored, r.counts.storedByEvents, r.counts.storedFromObjectsOnly], [3, 3, 3, 0]);
});

test('without a STORED event the record is looked for in the objects', () => {
  const [a, b] = ids(2) as [string, string];
  const events = [ev({ recordId: a }), storedEv(a, S3, KEY_A), ev({ recordId: b })];
  const r = reconcile(events, scan({ [`${S3}/${KEY_A}`]: [a, b] }), FROM, TO);
  assert.equal(r.ok, true, JSON.stringify(r.violations));
  assert.deepEqual([r.counts.stored, r.counts.storedByEvents, r.counts.storedFromObjectsOnly], [2, 1, 1]);
});

test('a record cut out of the object its STORED event names is not stored', () => {
  const [a, victim] = ids(2) as [string, string];
  const events = [a, victim].flatMap((id) => [ev({ recordId: id }), storedEv(id, S3, KEY_A)]);
  const r = reconcile(events, scan({ [`${S3}/${KEY_A}`]: [a] }), FROM, TO);
  assert.equal(r.ok, false);
  assert.equal(r.storageBalance, false);
  assert.deepEqual(r.missingRecordIds, [victim]);
  assert.deepEqual(
    r.violations.map((v) => [v.kind, v.recordId]),
    [
      ['stored-event-mismatch', victim],
      ['not-stored', victim],
    ],
  );
  assert.match(r.violations[0]?.detail ?? '', /an object that does not hold it/);
});

test('an object named by STORED events that was deleted: its records are not stored, even with no other object in the bucket', () => {
  const [a] = ids(1) as [string];
  const r = reconcile([ev({ recordId: a }), storedEv(a, S3, KEY_A)], scan({}), FROM, TO);
  assert.deepEqual(r.missingRecordIds, [a]);
  assert.deepEqual(r.violations.map((v) => v.kind), ['stored-event-mismatch', 'not-stored']);
  assert.match(r.violations[0]?.detail ?? '', /an object that does not exist/);
  assert.match(r.violations[1]?.detail ?? '', new RegExp(`not in ${S3}`));
});

test('a record moved to another object of the same bucket: the claim is wrong, the record is stored once', () => {
  const [a] = ids(1) as [string];
  const r = reconcile([ev({ recordId: a }), storedEv(a, S3, KEY_A)], scan({ [`${S3}/${KEY_A}`]: [], [`${S3}/${KEY_B}`]: [a] }), FROM, TO);
  assert.deepEqual(r.violations.map((v) => v.kind), ['stored-event-mismatch']);
  assert.equal(r.counts.stored, 1);
  assert.equal(r.counts.storedByEvents, 0);
  assert.equal(r.ok, false);
});

test('two objects in one bucket hold the record: stored-twice, whether claimed or found', () => {
  const [a] = ids(1) as [string];
  const r = reconcile([ev({ recordId: a }), storedEv(a, S3, KEY_A), storedEv(a, S3, KEY_B)], scan({ [`${S3}/${KEY_A}`]: [a], [`${S3}/${KEY_B}`]: [a] }), FROM, TO);
  assert.deepEqual(r.violations.map((v) => v.kind), ['stored-twice']);
});

test('every bucket a STORED event names must hold the record: a GCS claim alone makes the bucket active', () => {
  const [a, b] = ids(2) as [string, string];
  const events = [ev({ recordId: a }), storedEv(a, S3, KEY_A), storedEv(a, GCS, KEY_A), ev({ recordId: b }), storedEv(b, S3, KEY_A)];
  const r = reconcile(events, scan({ [`${S3}/${KEY_A}`]: [a, b], [`${GCS}/${KEY_A}`]: [a] }), FROM, TO);
  assert.deepEqual(r.missingRecordIds, [b]);
  assert.match(r.violations.find((v) => v.kind === 'not-stored')?.detail ?? '', new RegExp(`not in ${GCS}$`));
});

test('a STORED event in another region is wrong-region', () => {
  const [a] = ids(1) as [string];
  const events = [ev({ recordId: a }), storedEv(a, S3, KEY_A), storedEv(a, 's3://tf-us', KEY_A, { region: 'us' })];
  const r = reconcile(events, scan({ [`${S3}/${KEY_A}`]: [a] }), FROM, TO);
  assert.deepEqual(r.violations.map((v) => v.kind), ['wrong-region']);
});

test('an object whose ids cannot be read still confirms its STORED claims (the object is reported damaged)', () => {
  const [a] = ids(1) as [string];
  const data = scan({});
  const avro = 'tenant=acme/date=2025-11-24/traces.region.eu/0/00000000000000000000.avro';
  data.present.add(`${S3}/${avro}`);
  data.problems.push({ region: 'eu', bucket: S3, key: avro, problem: 'Avro data objects are not read by this command (record ids unknown)' });
  const r = reconcile([ev({ recordId: a }), storedEv(a, S3, avro)], data, FROM, TO);
  assert.equal(r.counts.stored, 1);
  assert.deepEqual(r.violations.map((v) => v.kind), ['object-damaged']);
});

test('an altered STORED entry after the window is reported when it is used', () => {
  const [a] = ids(1) as [string];
  const claim = { ...storedEv(a, S3, KEY_A, { occurredAtMs: TO + 5_000 }), verified: false };
  const r = reconcile([ev({ recordId: a }), claim], scan({ [`${S3}/${KEY_A}`]: [a] }), FROM, TO);
  assert.deepEqual(r.violations.map((v) => v.kind), ['audit-altered']);
});

test('objectsNamedByStoredEvents: the objects claimed for records decided in the window', () => {
  const [a, later] = ids(2) as [string, string];
  const events = [ev({ recordId: a }), storedEv(a, S3, KEY_A), storedEv(a, GCS, KEY_B), ev({ recordId: later, occurredAtMs: TO + 1 }), storedEv(later, S3, KEY_B)];
  const named = objectsNamedByStoredEvents(events, FROM, TO);
  assert.deepEqual(
    [...named].map(([b, keys]) => [b, [...keys]]),
    [
      [S3, [KEY_A]],
      [GCS, [KEY_B]],
    ],
  );
});
