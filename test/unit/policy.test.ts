import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../../services/shared/errors.js';
import { getRegion, getTenant, loadPolicy, parsePolicy } from '../../services/policy/load-policy.js';

const root = join(import.meta.dirname, '../..');
const devPolicyPath = join(root, 'infra/policy.dev.yaml');
const fixture = (name: string): string => join(root, 'test/fixtures/policy', name);

function issuesOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected ValidationError, got ${String(err)}`);
    assert.equal(err.code, 'POLICY_INVALID');
    return [...err.issues];
  }
  assert.fail('expected the policy to be rejected');
}

function hasIssue(issues: { path: string; message: string }[], path: string, message: RegExp): boolean {
  return issues.some((i) => i.path === path && message.test(i.message));
}

const base = (extra = ''): string => `
version: 1
regions:
  eu:
    jurisdiction: EU
    allowedLocations: { s3: [eu-central-1] }
    buckets: [{ name: b-eu, backend: s3 }]
  us:
    jurisdiction: US
    allowedLocations: { s3: [us-east-1] }
    buckets: [{ name: b-us, backend: s3 }]
tenants:
  t1:
    homeRegion: eu
    allowedRegions: [eu]
masking:
  profiles:
    default: { default: redact }
${extra}`;

test('the dev policy loads with the regions, buckets and tenants the local stack expects', async () => {
  const policy = await loadPolicy(devPolicyPath);
  assert.equal(policy.formatVersion, 1);
  assert.equal(policy.source, devPolicyPath);
  assert.deepEqual(Object.keys(policy.regions), ['eu', 'us']);
  const eu = getRegion(policy, 'eu');
  assert.ok(eu);
  assert.equal(eu.topic, 'traces.region.eu');
  assert.equal(eu.jurisdiction, 'EU');
  assert.deepEqual(eu.allowedLocations, { s3: ['eu-central-1', 'eu-west-1'], gcs: ['EUROPE-WEST3', 'EU'] });
  assert.deepEqual(eu.buckets, [
    { name: 'tf-eu-traces', backend: 's3' },
    { name: 'tf-eu-traces-gcs', backend: 'gcs' },
  ]);
  const us = getRegion(policy, 'us');
  assert.deepEqual(us?.allowedLocations, { s3: ['us-east-1'], gcs: ['US'] });
  assert.deepEqual(
    us?.buckets.map((b) => b.name),
    ['tf-us-traces', 'tf-us-traces-gcs'],
  );
  assert.equal(us?.topic, 'traces.region.us');

  const acme = getTenant(policy, 'acme');
  assert.equal(acme?.homeRegion, 'eu');
  assert.deepEqual(acme?.allowedRegions, ['eu']);
  assert.equal(acme?.crossBorder, 'hold');
  assert.equal(acme?.holdOnFindings['SECRET'], 1);
  const globex = getTenant(policy, 'globex');
  assert.equal(globex?.homeRegion, 'us');
  assert.deepEqual(globex?.allowedRegions, ['us', 'eu']);
  assert.equal(globex?.crossBorder, 'refuse');
  const initech = getTenant(policy, 'initech');
  assert.equal(initech?.homeRegion, undefined);
  assert.deepEqual(initech?.allowedRegions, ['eu', 'us']);

  assert.deepEqual(policy.masking.profiles['default']?.byType['CREDIT_CARD'], { op: 'partial', keepFirst: 0, keepLast: 4 });
  assert.deepEqual(policy.approval, { minApprovals: 1, ttlHours: 72 });
});

test('the version is the sha256 of the file bytes, and any edit changes it', async () => {
  const bytes = readFileSync(devPolicyPath);
  const policy = await loadPolicy(devPolicyPath);
  assert.equal(policy.version, createHash('sha256').update(bytes).digest('hex'));
  assert.match(policy.version, /^[0-9a-f]{64}$/);
  const text = bytes.toString('utf8');
  assert.equal(parsePolicy(text, 'same').version, policy.version);
  assert.notEqual(parsePolicy(`${text}\n# a comment\n`, 'edited').version, policy.version);
});

test('the result is deeply frozen', async () => {
  const policy = await loadPolicy(devPolicyPath);
  const eu = getRegion(policy, 'eu');
  assert.ok(eu);
  assert.ok(Object.isFrozen(policy));
  assert.ok(Object.isFrozen(policy.regions));
  assert.ok(Object.isFrozen(eu.buckets));
  assert.ok(Object.isFrozen(eu.buckets[0]));
  assert.ok(Object.isFrozen(eu.allowedLocations.s3));
  assert.ok(Object.isFrozen(getTenant(policy, 'acme')?.holdOnFindings));
  assert.throws(() => {
    (eu.allowedLocations.s3 as string[]).push('us-east-1');
  }, TypeError);
  assert.throws(() => {
    (policy.tenants as Record<string, unknown>)['mallory'] = {};
  }, TypeError);
});

test('lookups never return inherited members', () => {
  const policy = parsePolicy(base(), 'inline');
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    assert.equal(getTenant(policy, name), undefined, name);
    assert.equal(getRegion(policy, name), undefined, name);
    assert.equal(policy.tenants[name], undefined, name);
    assert.equal(policy.regions[name], undefined, name);
  }
});

test('defaults are filled in', async () => {
  const policy = await loadPolicy(fixture('minimal.yaml'));
  const eu = getRegion(policy, 'eu');
  assert.equal(eu?.topic, 'traces.region.eu');
  assert.equal(eu?.jurisdiction, 'EU');
  assert.deepEqual(eu?.allowedLocations, { s3: [], gcs: ['EUROPE-WEST3'] });
  assert.deepEqual(eu?.encryption, { s3: { mode: 'sse-s3', kmsKeyId: undefined, requireBucketDefault: false }, gcs: { kmsKeyName: undefined } });
  const solo = getTenant(policy, 'solo');
  assert.equal(solo?.homeRegion, undefined);
  assert.equal(solo?.crossBorder, 'hold');
  assert.equal(solo?.maskingProfile, 'default');
  assert.deepEqual({ ...solo?.holdOnFindings }, {});
  assert.deepEqual({ ...solo?.groupRegions }, {});
  assert.deepEqual(policy.masking.profiles['default']?.default, { op: 'redact' });
  assert.deepEqual(policy.classification.customDetectors, []);
  assert.deepEqual(policy.approval, { minApprovals: 1, ttlHours: 72 });
});

test('every problem is reported at once, each with its path', async () => {
  const issues = await loadPolicy(fixture('many-problems.yaml')).then(
    () => assert.fail('expected rejection'),
    (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      return [...err.issues];
    },
  );
  const expected: [string, RegExp][] = [
    ['regions.eu.encryption.s3.kmsKeyId', /only allowed with mode sse-kms/],
    ['regions.eu.buckets[1].backend', /no allowedLocations\.gcs/],
    ['regions.EU-2', /region name must match/],
    ['regions.us.topic', /already used by region eu/],
    ['regions.us.buckets[0].name', /already listed at regions\.eu\.buckets\[0\]/],
    ['regions.us.buckets[1].backend', /must be one of s3, gcs/],
    ['tenants.acme.homeRegion', /not in allowedRegions/],
    ['tenants.acme.allowedRegion', /unknown key/],
    ['tenants.acme.allowedRegions', /is required/],
    ['tenants.globex.allowedRegions[1]', /unknown region "mars"/],
    ['tenants.globex.crossBorder', /hold, refuse/],
    ['tenants.globex.maskingProfile', /unknown masking profile "strict"/],
    ['tenants.globex.holdOnFindings.SECRET', /integer from 1/],
    ['tenants.globex.holdOnFindings.email', /finding type name/],
    ['tenants.globex.groupRegions.eu-only[0]', /not in allowedRegions/],
    ['masking.profiles.default.byType.CREDIT_CARD', /mapping form/],
    ['masking.profiles.default.byType.EMAIL_ADDRESS.op', /must be one of/],
    ['classification.customDetectors[0].pattern', /not a valid regular expression/],
    ['classification.customDetectors[1].pattern', /matches the empty string/],
    ['approval.minApprovals', /integer from 1 to 10/],
    ['approval.quorum', /unknown key/],
  ];
  const missing = expected.filter(([path, re]) => !hasIssue(issues, path, re));
  assert.deepEqual(missing, [], `issues were:\n${issues.map((i) => `${i.path}: ${i.message}`).join('\n')}`);
  assert.equal(issues.length, expected.length, `issues were:\n${issues.map((i) => `${i.path}: ${i.message}`).join('\n')}`);
});

test('the error message lists every path', () => {
  try {
    parsePolicy(base('approval: { ttlHours: 0, minApprovals: 11 }'), 'policy.yaml');
    assert.fail('expected rejection');
  } catch (err) {
    assert.ok(err instanceof ValidationError);
    assert.match(err.message, /^policy\.yaml is invalid:/);
    assert.match(err.message, /approval\.ttlHours: /);
    assert.match(err.message, /approval\.minApprovals: /);
  }
});

// Table of single mistakes: [description, policy text, path, message].
const cases: [string, string, string, RegExp][] = [
  ['format version 2', base().replace('version: 1', 'version: 2'), 'version', /unsupported format version 2/],
  ['missing version', base().replace('version: 1', ''), 'version', /is required/],
  ['unknown top-level key', base('regoins: {}'), 'regoins', /unknown key/],
  ['root is a list', '- a\n- b\n', '(root)', /must be a mapping/],
  ['no regions', base().replace(/regions:[\s\S]*?tenants:/, 'regions: {}\ntenants:'), 'regions', /at least one region/],
  ['region without buckets', base().replace('buckets: [{ name: b-us, backend: s3 }]', 'buckets: []'), 'regions.us.buckets', /at least one bucket/],
  ['region without jurisdiction', base().replace('jurisdiction: US', ''), 'regions.us.jurisdiction', /is required/],
  ['reserved topic', base().replace('jurisdiction: US', 'jurisdiction: US\n    topic: traces.ingest'), 'regions.us.topic', /pipeline topic/],
  ['illegal topic characters', base().replace('jurisdiction: US', 'jurisdiction: US\n    topic: "traces region"'), 'regions.us.topic', /must match/],
  ['bad S3 bucket name', base().replace('b-us', 'B_US'), 'regions.us.buckets[0].name', /must match/],
  ['bad S3 location', base().replace('[us-east-1]', '[US-EAST-1]'), 'regions.us.allowedLocations.s3[0]', /must match/],
  ['duplicate location', base().replace('[us-east-1]', '[us-east-1, us-east-1]'), 'regions.us.allowedLocations.s3[1]', /duplicate/],
  ['empty location list', base().replace('[us-east-1]', '[]'), 'regions.us.allowedLocations.s3', /must not be empty/],
  ['no locations at all', base().replace('{ s3: [us-east-1] }', '{}'), 'regions.us.allowedLocations', /s3 and\/or gcs/],
  ['unknown location backend', base().replace('{ s3: [us-east-1] }', '{ s3: [us-east-1], azure: [eastus] }'), 'regions.us.allowedLocations.azure', /unknown key/],
  ['bad encryption mode', base().replace('jurisdiction: US', 'jurisdiction: US\n    encryption: { s3: { mode: aes } }'), 'regions.us.encryption.s3.mode', /sse-kms, sse-s3, none/],
  ['bad GCS KMS key name', base().replace('jurisdiction: US', 'jurisdiction: US\n    encryption: { gcs: { kmsKeyName: mykey } }'), 'regions.us.encryption.gcs.kmsKeyName', /must match/],
  ['requireBucketDefault not boolean', base().replace('jurisdiction: US', 'jurisdiction: US\n    encryption: { s3: { mode: sse-s3, requireBucketDefault: "yes" } }'), 'regions.us.encryption.s3.requireBucketDefault', /true or false/],
  ['home region unknown', base().replace('homeRegion: eu', 'homeRegion: ap'), 'tenants.t1.homeRegion', /unknown region "ap"/],
  ['empty allowedRegions', base().replace('allowedRegions: [eu]', 'allowedRegions: []'), 'tenants.t1.allowedRegions', /must not be empty/],
  ['duplicate allowed region', base().replace('allowedRegions: [eu]', 'allowedRegions: [eu, eu]'), 'tenants.t1.allowedRegions[1]', /duplicate/],
  ['group region unknown', base().replace('allowedRegions: [eu]', 'allowedRegions: [eu]\n    groupRegions: { g: [xx] }'), 'tenants.t1.groupRegions.g[0]', /unknown region "xx"/],
  ['group with no regions', base().replace('allowedRegions: [eu]', 'allowedRegions: [eu]\n    groupRegions: { g: [] }'), 'tenants.t1.groupRegions.g', /must not be empty/],
  ['group name needing quotes', base().replace('allowedRegions: [eu]', 'allowedRegions: [eu]\n    groupRegions: { "team.eu": [xx] }'), 'tenants.t1.groupRegions["team.eu"][0]', /unknown region/],
  ['tenant name with a dot', base().replace('  t1:', '  acme.eu:').replace('homeRegion: eu', 'homeRegion: ap'), 'tenants["acme.eu"].homeRegion', /unknown region/],
  ['default masking profile missing', base().replace('default: { default: redact }', 'strict: { default: redact }'), 'tenants.t1.maskingProfile', /unknown masking profile "default" \(the default\)/],
  ['no masking profiles', base().replace('default: { default: redact }', '{}').replace('profiles:\n    {}', 'profiles: {}'), 'masking.profiles', /at least one profile/],
  ['partial keeping nothing', base().replace('{ default: redact }', '{ default: redact, byType: { CREDIT_CARD: { op: partial } } }'), 'masking.profiles.default.byType.CREDIT_CARD', /keep at least one/],
  ['keepLast on redact', base().replace('{ default: redact }', '{ default: { op: redact, keepLast: 4 } }'), 'masking.profiles.default.default.keepLast', /only allowed with op partial/],
  ['unknown detector key', base('classification: { customDetectors: [{ type: EMP, pattern: "E[0-9]+", regex: x }] }'), 'classification.customDetectors[0].regex', /unknown key/],
  ['detector pattern the classifier refuses', base('classification: { customDetectors: [{ type: EMP, pattern: "E(?=1)[0-9]{4}" }] }'), 'classification.customDetectors[0].pattern', /linear-time engine/],
  ['bad detector flags', base('classification: { customDetectors: [{ type: EMP, pattern: "E[0-9]+", flags: g }] }'), 'classification.customDetectors[0].flags', /must match/],
  ['lower-case detector type', base('classification: { customDetectors: [{ type: emp, pattern: "E[0-9]+" }] }'), 'classification.customDetectors[0].type', /must match/],
  ['ttl not a number', base('approval: { ttlHours: forever }'), 'approval.ttlHours', /must be a number/],
  ['boolean written as yes (YAML 1.2 keeps it a string)', base().replace('allowedRegions: [eu]', 'allowedRegions: [eu]\n    crossBorder: yes'), 'tenants.t1.crossBorder', /hold, refuse/],
];

for (const [name, text, path, message] of cases) {
  test(`rejects: ${name}`, () => {
    const issues = issuesOf(() => parsePolicy(text, 'inline'));
    assert.ok(hasIssue(issues, path, message), `wanted ${path} ${message}; got:\n${issues.map((i) => `${i.path}: ${i.message}`).join('\n')}`);
  });
}

test('YAML syntax errors and duplicate keys are reported with a line', () => {
  const syntax = issuesOf(() => parsePolicy('version: 1\nregions: [unclosed\n', 'inline'));
  assert.ok(syntax.length > 0);
  assert.match(syntax[0]?.path ?? '', /^\(yaml line \d+, column \d+\)$/);
  const dup = issuesOf(() => parsePolicy(base().replace('  t1:', '  t1:\n    allowedRegions: [us]\n    allowedRegions: [eu]\n  t2:'), 'inline'));
  assert.ok(dup.some((i) => /unique|duplicate/i.test(i.message)), JSON.stringify(dup));
});

test('a missing file is a POLICY_INVALID error naming the file', async () => {
  await assert.rejects(loadPolicy(join(root, 'test/fixtures/policy/does-not-exist.yaml')), (err: unknown) => {
    assert.ok(err instanceof ValidationError);
    assert.equal(err.code, 'POLICY_INVALID');
    assert.match(err.message, /does-not-exist\.yaml/);
    return true;
  });
});

test('GCS locations compare case-insensitively and are stored upper case', () => {
  const text = base().replace('{ s3: [eu-central-1] }', '{ s3: [eu-central-1], gcs: [europe-west3, Eu] }');
  assert.deepEqual(getRegion(parsePolicy(text, 'inline'), 'eu')?.allowedLocations.gcs, ['EUROPE-WEST3', 'EU']);
  const dup = issuesOf(() => parsePolicy(base().replace('{ s3: [eu-central-1] }', '{ gcs: [EU, eu] }'), 'inline'));
  assert.ok(hasIssue(dup, 'regions.eu.allowedLocations.gcs[1]', /duplicate/));
});

test('an S3 and a GCS bucket may share a name; two S3 buckets may not', () => {
  const ok = base().replace('{ s3: [eu-central-1] }', '{ s3: [eu-central-1], gcs: [EU] }').replace('[{ name: b-eu, backend: s3 }]', '[{ name: b-eu, backend: s3 }, { name: b-eu, backend: gcs }]');
  assert.equal(getRegion(parsePolicy(ok, 'inline'), 'eu')?.buckets.length, 2);
  const bad = base().replace('b-us', 'b-eu');
  assert.ok(hasIssue(issuesOf(() => parsePolicy(bad, 'inline')), 'regions.us.buckets[0].name', /already listed/));
});

test('custom detectors and group regions pass through', () => {
  const text = base('classification: { customDetectors: [{ type: EMPLOYEE_ID, pattern: "EMP-[0-9]{6}", flags: i, description: staff ids }] }').replace(
    'allowedRegions: [eu]',
    'allowedRegions: [eu, us]\n    groupRegions: { eu-only: [eu] }',
  );
  const policy = parsePolicy(text, 'inline');
  assert.deepEqual(policy.classification.customDetectors, [{ type: 'EMPLOYEE_ID', pattern: 'EMP-[0-9]{6}', flags: 'i', description: 'staff ids' }]);
  assert.deepEqual(getTenant(policy, 't1')?.groupRegions['eu-only'], ['eu']);
});
