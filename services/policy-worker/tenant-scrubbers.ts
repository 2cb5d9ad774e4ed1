/**
 * One scrubber per tenant: the tenant's masking profile from the policy file and a pseudonym
 * key derived from the deployment's master key, so the same value maps to the same token
 * within a tenant (joins work) and never across tenants.
 */
import { createHmac } from 'node:crypto';
import { BUILTIN_TYPES, MAX_KEEP_LAST, createClassifier, createMasker } from '../classifier/index.js';
import type { MaskAction as ClassifierMaskAction, MaskingProfile as ClassifierProfile } from '../classifier/index.js';
import { getMaskingProfile, getTenant } from '../policy/load-policy.js';
import type { MaskAction, Policy } from '../policy/policy-types.js';
import { TracefenceError } from '../shared/errors.js';
import { createTraceScrubber, type TraceScrubber } from './trace-scrubber.js';

/** Policy actions in the masker's terms. `keep` is realised by not detecting that type. */
function toMaskerAction(action: MaskAction): ClassifierMaskAction | undefined {
  switch (action.op) {
    case 'redact':
      return { op: 'redact' };
    case 'pseudonymize':
      return { op: 'pseudonymize' };
    case 'partial':
      // The masker never keeps more than MAX_KEEP_LAST characters; the first ones never.
      return { op: 'partial', keepLast: Math.min(action.keepLast, MAX_KEEP_LAST) };
    case 'keep':
      return undefined;
  }
}

export interface TenantScrubbers {
  scrubberFor(tenant: string): TraceScrubber;
  maskingOpsFor(tenant: string): (type: string) => string;
}

export function createTenantScrubbers(policy: Policy, pseudonymMasterKey: Uint8Array): TenantScrubbers {
  const cache = new Map<string, TraceScrubber>();

  const profileOf = (tenant: string) => {
    const t = getTenant(policy, tenant);
    if (t === undefined) throw new TracefenceError('POLICY_TENANT_UNKNOWN', 'tenant has no policy entry');
    const profile = getMaskingProfile(policy, t.maskingProfile);
    if (profile === undefined) throw new TracefenceError('POLICY_INVALID', `masking profile ${t.maskingProfile} is missing`);
    return profile;
  };

  const scrubbers: TenantScrubbers = {
    scrubberFor(tenant) {
      const hit = cache.get(tenant);
      if (hit !== undefined) return hit;
      const profile = profileOf(tenant);
      const defaultAction = toMaskerAction(profile.default) ?? { op: 'redact' };
      const byType: Record<string, ClassifierMaskAction> = {};
      const kept: string[] = [];
      for (const [type, action] of Object.entries(profile.byType)) {
        const mapped = toMaskerAction(action);
        if (mapped === undefined) kept.push(type);
        else byType[type] = mapped;
      }
      const classifierOptions = {
        customDetectors: policy.classification.customDetectors.map((d) => ({ type: d.type, pattern: d.pattern, flags: d.flags })),
      };
      const classifier = createClassifier(classifierOptions);
      const allTypes = [...BUILTIN_TYPES, ...classifierOptions.customDetectors.map((d) => d.type)];
      const types = kept.length === 0 ? undefined : allTypes.filter((t) => !kept.includes(t));
      const scanning = types === undefined ? classifier : createClassifier({ ...classifierOptions, types });
      const maskerProfile: ClassifierProfile = { default: defaultAction, byType };
      const tenantKey = createHmac('sha256', pseudonymMasterKey).update(`tenant:${tenant}`).digest();
      const scrubber = createTraceScrubber(scanning, createMasker(maskerProfile, { tenantKey, classifier: scanning }));
      cache.set(tenant, scrubber);
      return scrubber;
    },
    maskingOpsFor(tenant) {
      const profile = profileOf(tenant);
      return (type) => (profile.byType[type] ?? profile.default).op;
    },
  };
  // Build every tenant's scrubber now: a profile the masker refuses stops start-up, not a record.
  for (const tenant of Object.keys(policy.tenants)) scrubbers.scrubberFor(tenant);
  return scrubbers;
}
