/**
 * Where may this trace go? A pure function of the policy, the verified identity and the
 * trace's declared residency. It fails closed (invariant 1): whenever policy does not
 * resolve exactly one permitted region, the trace is held for a reviewer or refused;
 * there is no default region.
 *
 * Reasons are safe to store in audit events: agent-supplied strings are echoed only when
 * they have the shape of a region or jurisdiction name.
 */
import type { ErrorCode } from '../shared/errors.js';
import { getRegion, getTenant } from './load-policy.js';
import type { Policy, TenantPolicy } from './policy-types.js';

export type HoldReasonCode =
  /** Nothing declared and the tenant has no usable home region. */
  | 'REGION_UNRESOLVED'
  /** The declared region is not a region of this policy. */
  | 'REGION_UNKNOWN'
  /** The residency hint names neither a region nor a jurisdiction of this policy. */
  | 'HINT_UNKNOWN'
  /** The residency hint names a jurisdiction with several permitted regions. */
  | 'HINT_AMBIGUOUS'
  /** Declared region and residency hint disagree. */
  | 'REGION_CONFLICT'
  /** The requested region is outside the tenant's (group-narrowed) regions and crossBorder is hold. */
  | 'CROSS_BORDER'
  /** A finding count reached the tenant's holdOnFindings threshold. */
  | 'FINDINGS_THRESHOLD'
  /** findingCounts holds a value that is not a non-negative integer. */
  | 'FINDINGS_INVALID';

export type RefuseReasonCode = Extract<ErrorCode, 'POLICY_TENANT_UNKNOWN' | 'POLICY_REGION_REFUSED'>;

export type Decision =
  | { readonly kind: 'route'; readonly region: string; readonly reason: string; readonly policyVersion: string }
  | {
      readonly kind: 'hold';
      readonly reasonCode: HoldReasonCode;
      readonly reason: string;
      /** Regions a reviewer may approve the trace into; never empty. */
      readonly candidateRegions: readonly string[];
      readonly policyVersion: string;
    }
  | { readonly kind: 'refuse'; readonly reasonCode: RefuseReasonCode; readonly reason: string; readonly policyVersion: string };

export interface JurisdictionInput {
  readonly policy: Policy;
  /** Verified tenant, from the access token. */
  readonly tenant: string;
  /** Verified groups, from the access token. */
  readonly groups: readonly string[];
  /** Region the trace declares for its data subject; a region name. Empty string = not declared. */
  readonly declaredRegion?: string | undefined;
  /** A region name or a jurisdiction name (case-insensitive). Empty string = not given. */
  readonly residencyHint?: string | undefined;
  /** Finding type -> count, from the classifier. */
  readonly findingCounts: Readonly<Record<string, number>>;
}

const SAFE_REGION = /^[a-z][a-z0-9-]{0,31}$/;
const SAFE_HINT = /^[A-Za-z][A-Za-z0-9-]{0,31}$/;
const SAFE_TENANT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** How a residency hint resolved against the whole policy, before the tenant's limits. */
type HintMatch =
  | { kind: 'region'; region: string }
  | { kind: 'jurisdiction'; jurisdiction: string; regions: string[] }
  | { kind: 'unknown' };

export function decideJurisdiction(input: JurisdictionInput): Decision {
  const { policy } = input;
  const v = policy.version;
  const hold = (reasonCode: HoldReasonCode, reason: string, candidates: readonly string[]): Decision =>
    // A hold a reviewer could never approve anywhere is a refusal.
    candidates.length === 0
      ? { kind: 'refuse', reasonCode: 'POLICY_REGION_REFUSED', reason: `${reason}; no region is permitted for this agent`, policyVersion: v }
      : { kind: 'hold', reasonCode, reason, candidateRegions: [...new Set(candidates)], policyVersion: v };
  const refuse = (reasonCode: RefuseReasonCode, reason: string): Decision => ({ kind: 'refuse', reasonCode, reason, policyVersion: v });

  const tenant = getTenant(policy, input.tenant);
  if (tenant === undefined) return refuse('POLICY_TENANT_UNKNOWN', `tenant ${show(input.tenant, SAFE_TENANT)} has no entry in the policy`);

  const permitted = permittedRegions(tenant, input.groups);
  const declared = present(input.declaredRegion);
  const hint = present(input.residencyHint);
  const hintMatch = hint === undefined ? undefined : matchHint(policy, hint);

  let requested: string[] | undefined;
  let source: string;

  if (declared !== undefined) {
    const region = getRegion(policy, declared);
    if (region === undefined) {
      return hold('REGION_UNKNOWN', `declared region ${show(declared, SAFE_REGION)} is not a region of the policy`, permitted);
    }
    if (hintMatch !== undefined) {
      if (hintMatch.kind === 'unknown') {
        return hold('HINT_UNKNOWN', `residency hint ${show(hint, SAFE_HINT)} names no region or jurisdiction of the policy`, permitted);
      }
      const agrees = hintMatch.kind === 'region' ? hintMatch.region === declared : hintMatch.jurisdiction === region.jurisdiction;
      if (!agrees) {
        // The reviewer picks between the two, as far as the agent may use them.
        const both = [declared, ...(hintMatch.kind === 'region' ? [hintMatch.region] : hintMatch.regions)].filter((r) => permitted.includes(r));
        return hold(
          'REGION_CONFLICT',
          `declared region ${declared} and residency hint ${show(hint, SAFE_HINT)} disagree`,
          both.length > 0 ? both : permitted,
        );
      }
    }
    requested = [declared];
    source = `declared region ${declared}`;
  } else if (hintMatch !== undefined) {
    if (hintMatch.kind === 'unknown') {
      return hold('HINT_UNKNOWN', `residency hint ${show(hint, SAFE_HINT)} names no region or jurisdiction of the policy`, permitted);
    }
    if (hintMatch.kind === 'region') {
      requested = [hintMatch.region];
      source = `residency hint ${hintMatch.region}`;
    } else {
      const inside = hintMatch.regions.filter((r) => permitted.includes(r));
      if (inside.length > 1) {
        return hold('HINT_AMBIGUOUS', `jurisdiction ${hintMatch.jurisdiction} maps to several permitted regions (${inside.join(', ')})`, inside);
      }
      // One permitted region, or none (then every region of that jurisdiction is cross-border).
      requested = inside.length === 1 ? inside : hintMatch.regions;
      source = `residency hint jurisdiction ${hintMatch.jurisdiction}`;
    }
  } else {
    const home = tenant.homeRegion;
    if (home === undefined) {
      return hold('REGION_UNRESOLVED', `trace declares no region and tenant ${tenant.name} has no home region`, permitted);
    }
    if (!permitted.includes(home)) {
      return hold('REGION_UNRESOLVED', `trace declares no region and home region ${home} is not permitted for this agent's groups`, permitted);
    }
    requested = [home];
    source = `home region of tenant ${tenant.name}`;
  }

  const [first] = requested;
  if (first === undefined || requested.length !== 1 || !permitted.includes(first)) {
    const names = requested.join(', ');
    if (tenant.crossBorder === 'refuse') {
      return refuse('POLICY_REGION_REFUSED', `${source} asks for ${names}, outside the regions permitted for tenant ${tenant.name}`);
    }
    // A reviewer may approve the crossing, or place the trace in a permitted region instead.
    return hold('CROSS_BORDER', `${source} asks for ${names}, outside the regions permitted for tenant ${tenant.name}`, [...requested, ...permitted]);
  }

  const findings = checkFindings(tenant, input.findingCounts);
  if (findings !== undefined) return hold(findings.code, `${findings.reason}; resolved region was ${first}`, [first]);

  return { kind: 'route', region: first, reason: source, policyVersion: v };
}

/** The tenant's allowed regions, narrowed by every group of the agent that policy names. */
export function permittedRegions(tenant: TenantPolicy, groups: readonly string[]): string[] {
  let permitted = [...tenant.allowedRegions];
  for (const group of new Set(groups)) {
    if (!Object.hasOwn(tenant.groupRegions, group)) continue;
    const narrowed = tenant.groupRegions[group] ?? [];
    permitted = permitted.filter((r) => narrowed.includes(r));
  }
  return permitted;
}

function matchHint(policy: Policy, hint: string): HintMatch {
  // Region names are lower case by policy rule, so an exact match is unambiguous.
  if (getRegion(policy, hint) !== undefined) return { kind: 'region', region: hint };
  const jurisdiction = hint.toUpperCase();
  const regions = Object.values(policy.regions)
    .filter((r) => r.jurisdiction === jurisdiction)
    .map((r) => r.name);
  return regions.length > 0 ? { kind: 'jurisdiction', jurisdiction, regions } : { kind: 'unknown' };
}

function checkFindings(tenant: TenantPolicy, counts: Readonly<Record<string, number>>): { code: HoldReasonCode; reason: string } | undefined {
  const hits: string[] = [];
  // A count we cannot read could hide a threshold crossing.
  if (!Object.values(counts).every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0)) {
    return { code: 'FINDINGS_INVALID', reason: 'finding counts are not all non-negative integers' };
  }
  for (const [type, threshold] of Object.entries(tenant.holdOnFindings)) {
    const count = Object.hasOwn(counts, type) ? (counts[type] ?? 0) : 0;
    if (count >= threshold) hits.push(`${type} ${count} >= ${threshold}`);
  }
  return hits.length === 0 ? undefined : { code: 'FINDINGS_THRESHOLD', reason: `findings at hold threshold (${hits.join(', ')})` };
}

function present(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function show(value: string | undefined, safe: RegExp): string {
  return value !== undefined && safe.test(value) ? JSON.stringify(value) : '(not shown: unexpected characters)';
}
