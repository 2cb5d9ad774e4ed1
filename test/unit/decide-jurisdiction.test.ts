import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { decideJurisdiction, permittedRegions, type Decision, type JurisdictionInput } from '../../services/policy/decide-jurisdiction.js';
import { getTenant, loadPolicy, parsePolicy } from '../../services/policy/load-policy.js';

const policy = parsePolicy(
  `
version: 1
regions:
  eu:  { jurisdiction: EU, allowedLocations: { s3: [eu-central-1] }, buckets: [{ name: b-eu, backend: s3 }] }
  eu2: { jurisdiction: EU, allowedLocations: { s3: [eu-west-1] },    buckets: [{ name: b-eu2, backend: s3 }] }
  us:  { jurisdiction: US, allowedLocations: { s3: [us-east-1] },    buckets: [{ name: b-us, backend: s3 }] }
  ap:  { jurisdiction: APAC, allowedLocations: { s3: [ap-southeast-1] }, buckets: [{ name: b-ap, backend: s3 }] }
tenants:
  acme:    { homeRegion: eu, allowedRegions: [eu], crossBorder: hold, holdOnFindings: { SECRET: 1, US_SSN: 2 } }
  globex:  { homeRegion: us, allowedRegions: [us, eu], crossBorder: refuse }
  initech: { allowedRegions: [eu, us], crossBorder: hold }
  multi:
    homeRegion: eu
    allowedRegions: [eu, eu2, us]
    crossBorder: hold
    groupRegions: { eu-only: [eu, eu2], us-only: [us], eu-primary: [eu] }
  strict:  { homeRegion: eu, allowedRegions: [eu], crossBorder: refuse }
masking: { profiles: { default: { default: redact } } }
`,
  'decide-jurisdiction.test',
);

interface Case {
  name: string;
  tenant: string;
  groups?: string[];
  declared?: string;
  hint?: string;
  findings?: Record<string, number>;
  want:
    | { kind: 'route'; region: string }
    | { kind: 'hold'; reasonCode: string; candidates: string[] }
    | { kind: 'refuse'; reasonCode: string };
}

const route = (region: string): Case['want'] => ({ kind: 'route', region });
const hold = (reasonCode: string, candidates: string[]): Case['want'] => ({ kind: 'hold', reasonCode, candidates });
const refuse = (reasonCode: string): Case['want'] => ({ kind: 'refuse', reasonCode });

const cases: Case[] = [
  // Tenant
  { name: 'unknown tenant is refused', tenant: 'umbrella', declared: 'eu', want: refuse('POLICY_TENANT_UNKNOWN') },
  { name: 'inherited member name is not a tenant', tenant: 'constructor', want: refuse('POLICY_TENANT_UNKNOWN') },
  { name: '__proto__ is not a tenant', tenant: '__proto__', want: refuse('POLICY_TENANT_UNKNOWN') },
  { name: 'tenant names are case-sensitive', tenant: 'ACME', want: refuse('POLICY_TENANT_UNKNOWN') },

  // Nothing declared
  { name: 'nothing declared: home region', tenant: 'acme', want: route('eu') },
  { name: 'empty strings count as not declared', tenant: 'acme', declared: '', hint: '', want: route('eu') },
  { name: 'nothing declared, no home region: held with every allowed region', tenant: 'initech', want: hold('REGION_UNRESOLVED', ['eu', 'us']) },
  { name: 'nothing declared, home region outside the group: held', tenant: 'multi', groups: ['us-only'], want: hold('REGION_UNRESOLVED', ['us']) },
  { name: 'nothing declared, groups allow no region: refused', tenant: 'multi', groups: ['us-only', 'eu-only'], want: refuse('POLICY_REGION_REFUSED') },

  // Declared region
  { name: 'declared allowed region', tenant: 'globex', declared: 'eu', want: route('eu') },
  { name: 'declared home region', tenant: 'acme', declared: 'eu', want: route('eu') },
  { name: 'declared region beats home region', tenant: 'globex', declared: 'eu', want: route('eu') },
  { name: 'declared unknown region: held', tenant: 'acme', declared: 'mars', want: hold('REGION_UNKNOWN', ['eu']) },
  { name: 'declared region in wrong case is unknown', tenant: 'acme', declared: 'EU', want: hold('REGION_UNKNOWN', ['eu']) },
  { name: 'declared inherited member name is unknown', tenant: 'acme', declared: 'toString', want: hold('REGION_UNKNOWN', ['eu']) },
  { name: 'declared unknown region, refuse tenant: still held', tenant: 'strict', declared: 'mars', want: hold('REGION_UNKNOWN', ['eu']) },
  { name: 'declared outside allowed, crossBorder hold', tenant: 'acme', declared: 'us', want: hold('CROSS_BORDER', ['us', 'eu']) },
  { name: 'declared outside allowed, crossBorder refuse', tenant: 'globex', declared: 'ap', want: refuse('POLICY_REGION_REFUSED') },
  { name: 'declared outside allowed, strict refuse', tenant: 'strict', declared: 'us', want: refuse('POLICY_REGION_REFUSED') },
  { name: 'initech declared eu', tenant: 'initech', declared: 'eu', want: route('eu') },
  { name: 'initech declared us', tenant: 'initech', declared: 'us', want: route('us') },
  { name: 'initech declared ap: cross-border hold', tenant: 'initech', declared: 'ap', want: hold('CROSS_BORDER', ['ap', 'eu', 'us']) },

  // Groups narrow the allowed regions
  { name: 'group narrows: allowed region outside group is cross-border', tenant: 'multi', groups: ['eu-only'], declared: 'us', want: hold('CROSS_BORDER', ['us', 'eu', 'eu2']) },
  { name: 'group narrows: region inside group routes', tenant: 'multi', groups: ['eu-only'], declared: 'eu2', want: route('eu2') },
  { name: 'two groups intersect', tenant: 'multi', groups: ['eu-only', 'eu-primary'], declared: 'eu2', want: hold('CROSS_BORDER', ['eu2', 'eu']) },
  { name: 'groups the policy does not name do not widen or narrow', tenant: 'multi', groups: ['staff', 'constructor'], declared: 'us', want: route('us') },
  { name: 'duplicate groups are harmless', tenant: 'multi', groups: ['us-only', 'us-only'], declared: 'us', want: route('us') },
  { name: 'groups allow nothing, region declared: cross-border hold', tenant: 'multi', groups: ['us-only', 'eu-primary'], declared: 'eu', want: hold('CROSS_BORDER', ['eu']) },

  // Residency hint alone
  { name: 'hint names a region', tenant: 'globex', hint: 'eu', want: route('eu') },
  { name: 'hint names a jurisdiction with one allowed region', tenant: 'globex', hint: 'EU', want: route('eu') },
  { name: 'jurisdiction hint is case-insensitive', tenant: 'globex', hint: 'Us', want: route('us') },
  { name: 'jurisdiction hint, several permitted regions: held', tenant: 'multi', hint: 'EU', want: hold('HINT_AMBIGUOUS', ['eu', 'eu2']) },
  { name: 'jurisdiction hint, group leaves one region', tenant: 'multi', groups: ['eu-primary'], hint: 'eu', want: route('eu') },
  { name: 'jurisdiction hint resolves to the region name first', tenant: 'multi', hint: 'eu', want: route('eu') },
  { name: 'jurisdiction hint outside allowed, hold', tenant: 'acme', hint: 'US', want: hold('CROSS_BORDER', ['us', 'eu']) },
  { name: 'lower-case jurisdiction hint outside allowed, hold', tenant: 'initech', hint: 'apac', want: hold('CROSS_BORDER', ['ap', 'eu', 'us']) },
  { name: 'jurisdiction hint outside allowed, refuse', tenant: 'strict', hint: 'US', want: refuse('POLICY_REGION_REFUSED') },
  { name: 'jurisdiction hint with regions none allowed, refuse', tenant: 'globex', hint: 'APAC', want: refuse('POLICY_REGION_REFUSED') },
  { name: 'unknown hint: held, not home region', tenant: 'acme', hint: 'mars', want: hold('HINT_UNKNOWN', ['eu']) },
  { name: 'unknown hint with odd characters', tenant: 'acme', hint: 'e u\n', want: hold('HINT_UNKNOWN', ['eu']) },
  { name: 'hint for tenant without home region', tenant: 'initech', hint: 'US', want: route('us') },

  // Declared region and hint together
  { name: 'declared and hint agree (region)', tenant: 'globex', declared: 'eu', hint: 'eu', want: route('eu') },
  { name: 'declared and hint agree (jurisdiction)', tenant: 'multi', declared: 'eu2', hint: 'EU', want: route('eu2') },
  { name: 'declared and hint disagree (region)', tenant: 'globex', declared: 'eu', hint: 'us', want: hold('REGION_CONFLICT', ['eu', 'us']) },
  { name: 'declared and hint disagree (jurisdiction)', tenant: 'globex', declared: 'us', hint: 'EU', want: hold('REGION_CONFLICT', ['us', 'eu']) },
  { name: 'disagreement is held even for refuse tenants', tenant: 'strict', declared: 'eu', hint: 'us', want: hold('REGION_CONFLICT', ['eu']) },
  { name: 'disagreement where neither is permitted', tenant: 'acme', declared: 'us', hint: 'ap', want: hold('REGION_CONFLICT', ['eu']) },
  { name: 'same-jurisdiction regions still disagree as names', tenant: 'multi', declared: 'eu', hint: 'eu2', want: hold('REGION_CONFLICT', ['eu', 'eu2']) },
  { name: 'declared with unknown hint', tenant: 'globex', declared: 'eu', hint: 'mars', want: hold('HINT_UNKNOWN', ['us', 'eu']) },
  { name: 'agreeing declared and hint outside allowed: cross-border', tenant: 'acme', declared: 'us', hint: 'US', want: hold('CROSS_BORDER', ['us', 'eu']) },

  // Findings
  { name: 'finding at threshold holds', tenant: 'acme', findings: { SECRET: 1 }, want: hold('FINDINGS_THRESHOLD', ['eu']) },
  { name: 'finding above threshold holds', tenant: 'acme', findings: { US_SSN: 3 }, want: hold('FINDINGS_THRESHOLD', ['eu']) },
  { name: 'finding below threshold routes', tenant: 'acme', findings: { US_SSN: 1, EMAIL_ADDRESS: 40 }, want: route('eu') },
  { name: 'zero count routes', tenant: 'acme', findings: { SECRET: 0 }, want: route('eu') },
  { name: 'findings hold on a declared region too', tenant: 'acme', declared: 'eu', findings: { SECRET: 2 }, want: hold('FINDINGS_THRESHOLD', ['eu']) },
  { name: 'tenant without thresholds routes with findings', tenant: 'globex', findings: { SECRET: 9 }, want: route('us') },
  { name: 'cross-border wins over findings', tenant: 'acme', declared: 'us', findings: { SECRET: 5 }, want: hold('CROSS_BORDER', ['us', 'eu']) },
  { name: 'refusal wins over findings', tenant: 'strict', declared: 'us', findings: { SECRET: 5 }, want: refuse('POLICY_REGION_REFUSED') },
  { name: 'NaN count is held', tenant: 'globex', findings: { SECRET: Number.NaN }, want: hold('FINDINGS_INVALID', ['us']) },
  { name: 'negative count is held', tenant: 'globex', findings: { SECRET: -1 }, want: hold('FINDINGS_INVALID', ['us']) },
  { name: 'fractional count is held', tenant: 'acme', findings: { SECRET: 0.5 }, want: hold('FINDINGS_INVALID', ['eu']) },
];

function run(c: Case): Decision {
  const input: JurisdictionInput = {
    policy,
    tenant: c.tenant,
    groups: c.groups ?? [],
    declaredRegion: c.declared,
    residencyHint: c.hint,
    findingCounts: c.findings ?? {},
  };
  return decideJurisdiction(input);
}

for (const c of cases) {
  test(c.name, () => {
    const d = run(c);
    assert.equal(d.policyVersion, policy.version);
    assert.ok(d.reason.length > 0);
    switch (c.want.kind) {
      case 'route':
        assert.deepEqual({ kind: d.kind, region: d.kind === 'route' ? d.region : undefined }, c.want, d.reason);
        break;
      case 'hold':
        assert.equal(d.kind, 'hold', d.reason);
        if (d.kind !== 'hold') return;
        assert.equal(d.reasonCode, c.want.reasonCode, d.reason);
        assert.deepEqual(d.candidateRegions, c.want.candidates, d.reason);
        break;
      case 'refuse':
        assert.equal(d.kind, 'refuse', d.reason);
        if (d.kind !== 'refuse') return;
        assert.equal(d.reasonCode, c.want.reasonCode, d.reason);
        break;
    }
  });
}

test('reasons never echo agent strings that are not name-shaped', () => {
  const odd = 'eu@example.com 4111111111111111';
  for (const d of [
    run({ name: '', tenant: 'acme', declared: odd, want: route('eu') }),
    run({ name: '', tenant: 'acme', hint: odd, want: route('eu') }),
    run({ name: '', tenant: 'acme', declared: 'eu', hint: odd, want: route('eu') }),
    run({ name: '', tenant: odd, want: route('eu') }),
  ]) {
    assert.doesNotMatch(d.reason, /example|4111/);
  }
});

test('permittedRegions keeps the allowedRegions order and only narrows', () => {
  const multi = getTenant(policy, 'multi');
  assert.ok(multi);
  assert.deepEqual(permittedRegions(multi, []), ['eu', 'eu2', 'us']);
  assert.deepEqual(permittedRegions(multi, ['eu-only']), ['eu', 'eu2']);
  assert.deepEqual(permittedRegions(multi, ['eu-only', 'eu-primary']), ['eu']);
  assert.deepEqual(permittedRegions(multi, ['toString', '__proto__']), ['eu', 'eu2', 'us']);
});

// Exhaustive sweep over tenants x groups x declared x hint x findings: the invariant-1 properties.
test('fail closed over every combination: a route is always permitted, resolved and consistent', () => {
  const regionNames = Object.keys(policy.regions);
  const values = [undefined, '', ...regionNames, 'EU', 'mars', 'constructor'];
  const hints = [undefined, '', ...regionNames, 'EU', 'us', 'APAC', 'Us', 'mars', 'hasOwnProperty'];
  const groupSets = [[], ['eu-only'], ['us-only'], ['eu-primary'], ['eu-only', 'us-only'], ['other']];
  const findingSets: Record<string, number>[] = [{}, { SECRET: 1 }, { US_SSN: 1 }];
  let routes = 0;
  for (const tenant of [...Object.keys(policy.tenants), 'nobody']) {
    const t = getTenant(policy, tenant);
    for (const groups of groupSets) {
      const permitted = t === undefined ? [] : permittedRegions(t, groups);
      for (const declared of values) {
        for (const hint of hints) {
          for (const findingCounts of findingSets) {
            const d = decideJurisdiction({ policy, tenant, groups, declaredRegion: declared, residencyHint: hint, findingCounts });
            const label = JSON.stringify({ tenant, groups, declared, hint, findingCounts, d });
            if (d.kind === 'route') {
              routes++;
              assert.ok(t !== undefined, label);
              assert.ok(permitted.includes(d.region), `routed outside permitted regions: ${label}`);
              const declaredOrHint = (declared ?? '') !== '' || (hint ?? '') !== '';
              if (!declaredOrHint) assert.equal(d.region, t.homeRegion, `routed without a declaration to a non-home region: ${label}`);
              if ((declared ?? '') !== '') assert.equal(d.region, declared, label);
              if ((hint ?? '') !== '') {
                const region = policy.regions[d.region];
                assert.ok(hint === d.region || hint?.toUpperCase() === region?.jurisdiction, `route disagrees with hint: ${label}`);
              }
              for (const [type, threshold] of Object.entries(t.holdOnFindings)) {
                assert.ok((findingCounts[type] ?? 0) < threshold, `routed despite findings: ${label}`);
              }
            } else if (d.kind === 'hold') {
              assert.ok(d.candidateRegions.length > 0, label);
              for (const r of d.candidateRegions) assert.ok(Object.hasOwn(policy.regions, r), label);
              assert.equal(new Set(d.candidateRegions).size, d.candidateRegions.length, label);
            }
          }
        }
      }
    }
  }
  assert.ok(routes > 0);
});

test('the dev policy: acme, globex and initech behave as documented', async () => {
  const dev = await loadPolicy(join(import.meta.dirname, '../../infra/policy.dev.yaml'));
  const decide = (tenant: string, declaredRegion?: string, findingCounts: Record<string, number> = {}) =>
    decideJurisdiction({ policy: dev, tenant, groups: [], declaredRegion, findingCounts });
  assert.deepEqual(decide('acme'), { kind: 'route', region: 'eu', reason: 'home region of tenant acme', policyVersion: dev.version });
  assert.equal(decide('acme', 'us').kind, 'hold');
  assert.equal(decide('acme', undefined, { SECRET: 1 }).kind, 'hold');
  assert.equal(decide('globex').kind === 'route' && decide('globex').kind, 'route');
  assert.deepEqual(decide('globex', 'eu').kind === 'route' ? decide('globex', 'eu') : undefined, {
    kind: 'route',
    region: 'eu',
    reason: 'declared region eu',
    policyVersion: dev.version,
  });
  const undeclared = decide('initech');
  assert.equal(undeclared.kind, 'hold');
  assert.deepEqual(undeclared.kind === 'hold' ? undeclared.candidateRegions : [], ['eu', 'us']);
});
