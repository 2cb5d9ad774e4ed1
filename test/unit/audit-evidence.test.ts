import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { StoredAuditEvent } from '../../services/audit/audit-reader.js';
import { allowListCheck, buildEvidence, describeLocation, splitLocations, type LocationCheck } from '../../services/audit/evidence.js';
import type { DataObjectRef } from '../../services/audit/data-objects.js';
import { storedEventSequence } from '../helpers/audit-events.js';

const regions = { eu: { allowedLocations: { s3: ['eu-central-1', 'eu-west-1'], gcs: ['EUROPE-WEST3'] } } };
const recordId = randomUUID();
const key = 'tenant=acme/date=2026-11-25/traces.region.eu/0/00000000000000000000.jsonl.gz';
const stored = storedEventSequence({
  startMs: 1_764_000_000_000,
  defaults: { recordId, traceId: 'a'.repeat(32), subject: 'client-1', policyVersion: 'p'.repeat(64) },
  chainOf: () => 'eu',
});

const storedEvent = (bucket: string, bucketLocation: string) =>
  stored({ decision: 'STORED', subject: 'tracefence-sink:eu', agent: 'tracefence-sink', bucket, objectKey: key, bucketLocation });

function evidence(events: StoredAuditEvent[], locations = new Map<string, DataObjectRef[]>(), bucketLocations = new Map<string, LocationCheck>()) {
  const [ev, ...rest] = buildEvidence({ events, locations, bucketLocations, isAllowed: allowListCheck(regions) });
  assert.equal(rest.length, 0);
  assert.ok(ev !== undefined);
  return ev;
}

test('splitLocations: one value, several values, duplicates and blanks', () => {
  assert.deepEqual(splitLocations('eu-central-1'), ['eu-central-1']);
  assert.deepEqual(splitLocations('eu-central-1, eu-west-1'), ['eu-central-1', 'eu-west-1']);
  assert.deepEqual(splitLocations(' eu-central-1,,eu-central-1 , '), ['eu-central-1']);
});

test('allowListCheck: per backend, case-insensitive, unknown region or backend cannot tell', () => {
  const check = allowListCheck(regions);
  assert.equal(check('eu', 's3://b', 'EU-CENTRAL-1'), true);
  assert.equal(check('eu', 's3://b', 'EUROPE-WEST3'), false);
  assert.equal(check('eu', 'gcs://b', 'europe-west3'), true);
  assert.equal(check('eu', 'gcs://b', 'eu-central-1'), false);
  assert.equal(check('us', 's3://b', 'us-east-1'), undefined);
  assert.equal(check('eu', 'azure://b', 'eu-central-1'), undefined);
});

test('a STORED event with one location: verified by the sink at write time, allowed', () => {
  const ev = evidence([stored({}), storedEvent('s3://tf-eu', 'eu-central-1')]);
  assert.equal(ev.status, 'stored');
  assert.deepEqual(ev.storage, [
    { bucket: 's3://tf-eu', objectKey: key, bucketLocation: 'eu-central-1', locationSource: 'sink-at-write', locations: [{ location: 'eu-central-1', allowed: true }], locationAllowed: true },
  ]);
  assert.equal(describeLocation(ev.storage[0]!), 'eu-central-1 (verified by the sink at write time, allowed by policy)');
});

test('a bucket with replicas: every location is checked on its own and shown', () => {
  // Before, the whole "a, b" string was compared with the allow-list and never matched.
  const ev = evidence([stored({}), storedEvent('s3://tf-eu', 'eu-central-1, eu-west-1')]);
  const [s] = ev.storage;
  assert.ok(s !== undefined);
  assert.equal(s.bucketLocation, 'eu-central-1, eu-west-1');
  assert.deepEqual(s.locations, [
    { location: 'eu-central-1', allowed: true },
    { location: 'eu-west-1', allowed: true },
  ]);
  assert.equal(s.locationAllowed, true);
  assert.equal(describeLocation(s), 'eu-central-1, eu-west-1 (verified by the sink at write time, allowed by policy)');
});

test('a replica outside the allow-list makes the storage not allowed and is named', () => {
  const ev = evidence([stored({}), storedEvent('s3://tf-eu', 'eu-central-1, us-east-1')]);
  const [s] = ev.storage;
  assert.ok(s !== undefined);
  assert.deepEqual(s.locations, [
    { location: 'eu-central-1', allowed: true },
    { location: 'us-east-1', allowed: false },
  ]);
  assert.equal(s.locationAllowed, false);
  assert.equal(describeLocation(s), 'eu-central-1, us-east-1 (verified by the sink at write time, NOT ALLOWED by policy: us-east-1)');
});

test('a location that cannot be judged leaves the verdict unknown, unless another one is refused', () => {
  const check = allowListCheck(regions);
  const partial = buildEvidence({
    events: [stored({}), storedEvent('s3://tf-eu', 'eu-central-1, somewhere')],
    locations: new Map(),
    bucketLocations: new Map(),
    isAllowed: (r, b, l) => (l === 'somewhere' ? undefined : check(r, b, l)),
  })[0]?.storage[0];
  assert.equal(partial?.locationAllowed, undefined);
  assert.equal(describeLocation(partial!), 'eu-central-1, somewhere (verified by the sink at write time)');
});

test('S3 and GCS objects with the same key are two storages; a STORED event per bucket, lookup only for the other', () => {
  const locations = new Map<string, DataObjectRef[]>([
    [
      recordId,
      [
        { region: 'eu', bucket: 's3://tf-eu', key },
        { region: 'eu', bucket: 'gcs://tf-eu-gcs', key },
      ],
    ],
  ]);
  const bucketLocations = new Map<string, LocationCheck>([['gcs://tf-eu-gcs', { location: 'EUROPE-WEST3', allowed: true, locations: ['EUROPE-WEST3'] }]]);
  const ev = evidence([stored({}), storedEvent('s3://tf-eu', 'eu-central-1'), storedEvent('s3://tf-eu', 'eu-central-1')], locations, bucketLocations);
  assert.deepEqual(
    ev.storage.map((s) => [s.bucket, s.bucketLocation, s.locationSource, s.locationAllowed]),
    [
      ['s3://tf-eu', 'eu-central-1', 'sink-at-write', true],
      ['gcs://tf-eu-gcs', 'EUROPE-WEST3', 'store-at-lookup', true],
    ],
  );
  assert.equal(describeLocation(ev.storage[1]!), 'EUROPE-WEST3 (reported by the store at lookup, allowed by policy)');
});

test('lookup fallback: the store verdict decides, each reported location is listed', () => {
  const locations = new Map<string, DataObjectRef[]>([[recordId, [{ region: 'eu', bucket: 's3://tf-eu', key }]]]);
  const bucketLocations = new Map<string, LocationCheck>([['s3://tf-eu', { location: 'eu-central-1, us-east-1', allowed: false, locations: ['eu-central-1', 'us-east-1'] }]]);
  const [s] = evidence([stored({})], locations, bucketLocations).storage;
  assert.equal(s?.locationSource, 'store-at-lookup');
  assert.equal(s?.locationAllowed, false);
  assert.deepEqual(s?.locations, [
    { location: 'eu-central-1', allowed: true },
    { location: 'us-east-1', allowed: false },
  ]);
  assert.equal(describeLocation(s!), 'eu-central-1, us-east-1 (reported by the store at lookup, NOT ALLOWED by policy: us-east-1)');
});
