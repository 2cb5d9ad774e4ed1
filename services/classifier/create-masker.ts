import { createHmac } from 'node:crypto';
import { TracefenceError, ValidationError, type ValidationIssue } from '../shared/errors.js';
import { createClassifier } from './create-classifier.js';
import { isPlaceholderValue } from './key-name-rules.js';
import type { Classifier, Finding, MaskAction, Masker, MaskingProfile, PathFinding } from './types.js';

export interface MaskerOptions {
  /** Per-tenant HMAC key for `pseudonymize`; at least 16 bytes. */
  tenantKey?: Uint8Array;
  /** Classifier used by maskValue (default: createClassifier()). */
  classifier?: Classifier;
}

/** Longest tail `partial` may keep: enough to recognise a card, not to identify anyone. */
export const MAX_KEEP_LAST = 4;
const MIN_KEY_BYTES = 16;
const PSEUDONYM_HEX = 16;

function validateAction(a: unknown, path: string, issues: ValidationIssue[]): void {
  if (typeof a !== 'object' || a === null) {
    issues.push({ path, message: 'must be an object with op' });
    return;
  }
  const op = (a as { op?: unknown }).op;
  if (op === 'partial') {
    const k = (a as { keepLast?: unknown }).keepLast;
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k > MAX_KEEP_LAST) {
      issues.push({ path: `${path}.keepLast`, message: `must be an integer from 0 to ${MAX_KEEP_LAST}` });
    }
  } else if (op !== 'redact' && op !== 'pseudonymize' && op !== 'drop') {
    issues.push({ path: `${path}.op`, message: 'must be redact, partial, pseudonymize or drop' });
  }
}

/**
 * Canonical form for pseudonyms, so that spellings of one value join: `4111-1111-...` and
 * `4111 1111 ...`, `(415) 555-2671` and `+1 415-555-2671`, `2001:db8::1` and `2001:0db8:0:...:1`.
 */
function canonical(type: string, value: string): string {
  if (type === 'EMAIL_ADDRESS') return value.toLowerCase();
  if (type === 'PHONE_NUMBER') return canonicalPhone(value);
  if (type === 'CREDIT_CARD' || type === 'US_SSN' || type === 'IBAN_CODE') return value.replace(/[\s\-.()/]/g, '').toUpperCase();
  if (type === 'IP_ADDRESS') return value.includes(':') ? canonicalIpv6(value) : value;
  if (type === 'CRYPTO' && /^(?:bc|tb)1/i.test(value)) return value.toLowerCase(); // bech32 is case-insensitive
  return value;
}

/**
 * E.164 digits for international numbers (without a `(0)` trunk hint) and North American ones
 * written nationally; other national numbers keep their digits (their country is not known).
 */
function canonicalPhone(value: string): string {
  const v = value.trim().replace(/\(0\)/g, '');
  const plus = /^\(?\+/.test(v);
  let d = v.replace(/\D/g, '');
  if (!plus && d.startsWith('00')) return `+${d.slice(2)}`;
  if (plus) return `+${d}`;
  if (d.length === 11 && d[0] === '1') d = d.slice(1);
  return d.length === 10 && /^[2-9]\d\d[2-9]/.test(d) ? `+1${d}` : d;
}

function canonicalIpv6(value: string): string {
  try {
    return new URL(`http://[${value}]/`).hostname.slice(1, -1);
  } catch {
    return value.toLowerCase();
  }
}

/**
 * Builds a masker for a profile. Throws ValidationError (CONFIG_INVALID) for a malformed profile,
 * a partial mask keeping more than 4 characters, or a pseudonymizing profile without a key.
 */
export function createMasker(profile: MaskingProfile, opts: MaskerOptions = {}): Masker {
  const issues: ValidationIssue[] = [];
  validateAction(profile?.default, 'profile.default', issues);
  for (const [type, action] of Object.entries(profile?.byType ?? {})) validateAction(action, `profile.byType.${type}`, issues);
  const actions = [profile?.default, ...Object.values(profile?.byType ?? {})];
  const needsKey = actions.some((a) => a?.op === 'pseudonymize');
  const key = opts.tenantKey;
  if (needsKey && (key === undefined || key.byteLength < MIN_KEY_BYTES)) {
    issues.push({ path: 'tenantKey', message: `pseudonymize needs a tenant key of at least ${MIN_KEY_BYTES} bytes` });
  }
  if (issues.length > 0) throw new ValidationError('CONFIG_INVALID', 'masking profile', issues);

  let classifier = opts.classifier;
  const getClassifier = (): Classifier => (classifier ??= createClassifier());

  function actionFor(type: string): MaskAction {
    return profile.byType?.[type] ?? profile.default;
  }

  /** The replacement for one detected value; never contains more than MAX_KEEP_LAST of it. */
  function replacement(type: string, value: string): string {
    const action = actionFor(type);
    switch (action.op) {
      case 'drop':
        return '';
      case 'pseudonymize': {
        const mac = createHmac('sha256', key!).update(`${type}\u0000${canonical(type, value)}`).digest('hex');
        return `[${type}:${mac.slice(0, PSEUDONYM_HEX)}]`;
      }
      case 'partial': {
        if (type === 'SECRET') return `[${type}]`;
        // At most 4 characters and at most 40% of the value stay visible.
        const keep = Math.min(action.keepLast, MAX_KEEP_LAST, Math.floor(value.length * 0.4));
        return '*'.repeat(value.length - keep) + (keep > 0 ? value.slice(value.length - keep) : '');
      }
      case 'redact':
        return `[${type}]`;
    }
  }

  function maskText(text: string, findings: readonly Finding[]): string {
    if (findings.length === 0) return text;
    const sorted = [...findings].sort((a, b) => a.start - b.start || b.end - a.end);
    let out = '';
    let pos = 0;
    for (const f of sorted) {
      if (f.start < pos) {
        // Overlapping input: extend the masked region rather than leave a fragment.
        if (f.end <= pos) continue;
      }
      const start = Math.max(f.start, pos);
      if (start < 0 || f.end > text.length || f.end <= start) continue;
      out += text.slice(pos, start) + replacement(f.type, text.slice(start, f.end));
      pos = f.end;
    }
    return out + text.slice(pos);
  }

  function walk(value: unknown, path: string[], depth: number, out: PathFinding[]): unknown {
    const c = getClassifier();
    if (typeof value === 'string') {
      const findings = c.scanText(value);
      for (const f of findings) out.push({ ...f, path });
      return maskText(value, findings);
    }
    if (typeof value !== 'object' || value === null) return value;
    if (depth >= c.maxDepth) {
      throw new TracefenceError('SCAN_INPUT_INVALID', `value nested deeper than ${c.maxDepth} levels`, { path: path.join('.') });
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, String(i)], depth + 1, out));
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
    const result: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const at = [...path, k];
      const rule = c.matchKeyName(k);
      const sensitive = rule !== undefined && v !== null && v !== undefined && typeof v !== 'boolean' && !(typeof v === 'string' && isPlaceholderValue(v));
      if (sensitive) {
        const base = rule.subtype === undefined ? { type: rule.type } : { type: rule.type, subtype: rule.subtype };
        const text = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
        out.push(typeof v === 'string' ? { ...base, start: 0, end: v.length, path: at } : { ...base, start: 0, end: 0, path: at, wholeValue: true });
        if (actionFor(rule.type).op === 'drop') continue;
        result[k] = replacement(rule.type, text);
        continue;
      }
      result[k] = walk(v, at, depth + 1, out);
    }
    return result;
  }

  return Object.freeze({
    maskText,
    maskValue(value: unknown): { value: unknown; findings: PathFinding[] } {
      const findings: PathFinding[] = [];
      return { value: walk(value, [], 0, findings), findings };
    },
  });
}
