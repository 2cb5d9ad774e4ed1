import type { EntityType, KeyNameRuleConfig } from './types.js';

export interface KeyNameMatch {
  type: EntityType;
  subtype?: string;
}

interface Rule {
  suffix: string;
  type: EntityType;
  subtype?: string;
}

/** Built-in rules: a value under such a key is sensitive whatever it looks like. */
const BUILTIN_RULES: readonly Rule[] = [
  { suffix: 'password', type: 'SECRET', subtype: 'password' },
  { suffix: 'passwords', type: 'SECRET', subtype: 'password' },
  { suffix: 'pass', type: 'SECRET', subtype: 'password' }, // db_pass, RABBITMQ_DEFAULT_PASS
  { suffix: 'passwd', type: 'SECRET', subtype: 'password' },
  { suffix: 'passphrase', type: 'SECRET', subtype: 'password' },
  { suffix: 'pwd', type: 'SECRET', subtype: 'password' },
  { suffix: 'secret', type: 'SECRET', subtype: 'secret' },
  { suffix: 'secretkey', type: 'SECRET', subtype: 'secret' },
  { suffix: 'secretkeybase', type: 'SECRET', subtype: 'secret' },
  { suffix: 'encryptionkey', type: 'SECRET', subtype: 'secret' },
  { suffix: 'masterkey', type: 'SECRET', subtype: 'secret' },
  { suffix: 'signingkey', type: 'SECRET', subtype: 'secret' },
  { suffix: 'token', type: 'SECRET', subtype: 'token' },
  { suffix: 'apikey', type: 'SECRET', subtype: 'api_key' },
  { suffix: 'apikeys', type: 'SECRET', subtype: 'api_key' },
  { suffix: 'subscriptionkey', type: 'SECRET', subtype: 'api_key' }, // Ocp-Apim-Subscription-Key
  { suffix: 'accesskey', type: 'SECRET', subtype: 'api_key' },
  { suffix: 'accountkey', type: 'SECRET', subtype: 'api_key' }, // Azure storage connection strings
  { suffix: 'privatekey', type: 'SECRET', subtype: 'private_key' },
  { suffix: 'authorization', type: 'SECRET', subtype: 'authorization' },
  { suffix: 'auth', type: 'SECRET', subtype: 'authorization' },
  { suffix: 'authkey', type: 'SECRET', subtype: 'secret' }, // WordPress AUTH_KEY, SECURE_AUTH_KEY
  { suffix: 'credential', type: 'SECRET', subtype: 'credential' },
  { suffix: 'credentials', type: 'SECRET', subtype: 'credential' },
  { suffix: 'cookie', type: 'SECRET', subtype: 'cookie' },
  { suffix: 'sessionid', type: 'SECRET', subtype: 'session' },
  { suffix: 'pin', type: 'SECRET', subtype: 'pin' },
  { suffix: 'otp', type: 'SECRET', subtype: 'pin' },
  { suffix: 'cvv', type: 'SECRET', subtype: 'pin' },
  { suffix: 'cvc', type: 'SECRET', subtype: 'pin' },
  { suffix: 'ssn', type: 'US_SSN' },
  { suffix: 'socialsecurity', type: 'US_SSN' },
  { suffix: 'socialsecuritynumber', type: 'US_SSN' },
  { suffix: 'socialsecurityno', type: 'US_SSN' },
];

/** Suffixes this short must start a word of the key (`user_ssn`, `userSsn`), not end one (`classn`). */
const WORD_ALIGNED_MAX = 4;

/** Lower-cased alphanumerics of the key, and where each word starts in that string. */
function normalise(key: string): { norm: string; starts: Set<number> } {
  let norm = '';
  const starts = new Set<number>([0]);
  let prevLower = false;
  let pendingBreak = false;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    const upper = c >= 65 && c <= 90;
    const lower = c >= 97 && c <= 122;
    const digit = c >= 48 && c <= 57;
    if (!(upper || lower || digit)) {
      pendingBreak = true;
      prevLower = false;
      continue;
    }
    if (pendingBreak || (upper && prevLower)) starts.add(norm.length);
    pendingBreak = false;
    norm += upper ? String.fromCharCode(c + 32) : key[i];
    prevLower = lower || digit;
  }
  return { norm, starts };
}

export type KeyNameMatcher = (key: string) => KeyNameMatch | undefined;

/** Matches a property name against the built-in and configured key-name rules (longest suffix wins). */
export function createKeyNameMatcher(extra: readonly KeyNameRuleConfig[] = []): KeyNameMatcher {
  const rules: Rule[] = [...extra.map((r) => ({ suffix: r.suffix, type: r.type, ...(r.subtype === undefined ? {} : { subtype: r.subtype }) })), ...BUILTIN_RULES];
  rules.sort((a, b) => b.suffix.length - a.suffix.length);
  const cache = new Map<string, KeyNameMatch | null>();
  return (key: string) => {
    if (key.length === 0 || key.length > 128) return undefined;
    const hit = cache.get(key);
    if (hit !== undefined) return hit ?? undefined;
    const { norm, starts } = normalise(key);
    let found: KeyNameMatch | null = null;
    for (const r of rules) {
      if (!norm.endsWith(r.suffix)) continue;
      const at = norm.length - r.suffix.length;
      if (r.suffix.length <= WORD_ALIGNED_MAX && !starts.has(at)) continue;
      found = r.subtype === undefined ? { type: r.type } : { type: r.type, subtype: r.subtype };
      break;
    }
    if (cache.size > 10_000) cache.clear();
    cache.set(key, found);
    return found ?? undefined;
  };
}

/**
 * Values under a sensitive key that are placeholders, not secrets: empty, null-ish, stars,
 * template variables (${VAR}, {{ var }}, ${{ secrets.X }}, %VAR%), documentation stand-ins
 * (YOUR_API_KEY_HERE, changeme), references to where the secret lives, and labels this masker
 * already wrote.
 */
export function isPlaceholderValue(v: string): boolean {
  return PLACEHOLDER.test(v) || REFERENCE.test(v);
}

const PLACEHOLDER =
  /^(?:|\*+|x{3,}|null|none|nil|undefined|true|false|redacted|change_?me|changeit|your[_-][a-z0-9_-]{0,64}here|\[[A-Z_]+(?::[A-Za-z0-9_-]*)?\]|<[^<>]*>|\$\{\{[^}]*\}\}|\$\{[^}]*\}|\{\{[^}]*\}\}|\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_][A-Za-z0-9_]*%|%s)$/i;

/**
 * Code that reads the secret from somewhere else: a method call (os.getenv(...)) or a known
 * reading function (jsondecode(...)), a setting (settings.STRIPE_KEY, process.env.X) or a secret
 * store path (vault:secret/...). Narrow on purpose: a password such as `Pa(ss)word1` or
 * `app.secret99` is a value, not a reference.
 */
const REFERENCE =
  /^(?:(?:[A-Za-z_]\w{0,31}\.){1,4}[A-Za-z_]\w{0,63}\(|(?:getenv|jsondecode|yamldecode|file|lookup|env)\(|(?:os|process|settings|config|env|secrets|vars|params)\.[A-Za-z_][\w.]{0,64}$|vault:)/;
