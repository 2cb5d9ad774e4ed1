import type { MaskingProfile } from './types.js';

export type BuiltinProfileName = 'redact' | 'partial' | 'pseudonymize' | 'drop';

const PROFILES: Record<BuiltinProfileName, MaskingProfile> = {
  redact: { default: { op: 'redact' } },
  partial: { default: { op: 'partial', keepLast: 4 }, byType: { SECRET: { op: 'redact' } } },
  pseudonymize: { default: { op: 'pseudonymize' }, byType: { SECRET: { op: 'redact' } } },
  drop: { default: { op: 'drop' } },
};
for (const p of Object.values(PROFILES)) Object.freeze(p);

/**
 * The built-in masking profiles. Secrets are redacted in every profile but `drop`: a partial
 * secret is still a secret, and a pseudonym of a weak password could be brute-forced by anyone
 * holding the tenant key.
 */
export const BUILTIN_PROFILES: Readonly<Record<BuiltinProfileName, MaskingProfile>> = Object.freeze(PROFILES);

export function isBuiltinProfileName(name: string): name is BuiltinProfileName {
  return Object.hasOwn(BUILTIN_PROFILES, name);
}
