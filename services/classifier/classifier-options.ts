import { ValidationError, type ValidationIssue } from '../shared/errors.js';
import { CHECKSUMS } from './custom-detector.js';
import { patternProblem } from './regex-safety.js';
import type { BuiltinEntityType, ClassifierOptions, CustomDetectorConfig, KeyNameRuleConfig } from './types.js';

export const BUILTIN_TYPES: readonly BuiltinEntityType[] = [
  'EMAIL_ADDRESS',
  'PHONE_NUMBER',
  'CREDIT_CARD',
  'IBAN_CODE',
  'US_SSN',
  'IP_ADDRESS',
  'CRYPTO',
  'SECRET',
];

export const DEFAULT_MAX_DEPTH = 64;
const TYPE_NAME = /^[A-Z][A-Z0-9_]{1,63}$/;
const MAX_PATTERN = 1000;

/** Options with every default filled in, checked once and frozen. */
export interface ResolvedClassifierOptions {
  readonly types: ReadonlySet<string>;
  readonly customDetectors: readonly CustomDetectorConfig[];
  readonly keyNameRules: readonly KeyNameRuleConfig[];
  readonly maxDepth: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A misspelt field would silently drop a detector or its checks: every field must be known. */
function unknownFields(obj: Record<string, unknown>, known: readonly string[], at: string, issues: ValidationIssue[]): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) issues.push({ path: at === '' ? key : `${at}.${key}`, message: `unknown field (expected ${known.join(', ')})` });
  }
}

/**
 * Validates classifier options in one pass and reports every problem with its path
 * (ValidationError, code CONFIG_INVALID).
 */
export function resolveClassifierOptions(options: ClassifierOptions = {}): ResolvedClassifierOptions {
  const issues: ValidationIssue[] = [];
  const raw: unknown = options;
  if (!isRecord(raw)) throw new ValidationError('CONFIG_INVALID', 'classifier options', [{ path: '', message: 'must be an object' }]);

  unknownFields(raw, ['customDetectors', 'keyNameRules', 'types', 'maxDepth'], '', issues);
  const custom: CustomDetectorConfig[] = [];
  const customRaw = raw['customDetectors'];
  if (customRaw !== undefined && !Array.isArray(customRaw)) issues.push({ path: 'customDetectors', message: 'must be an array' });
  (Array.isArray(customRaw) ? (customRaw as unknown[]) : []).forEach((d, i) => {
    const at = `customDetectors[${i}]`;
    if (!isRecord(d)) {
      issues.push({ path: at, message: 'must be an object' });
      return;
    }
    const before = issues.length;
    unknownFields(d, ['type', 'pattern', 'flags', 'validate', 'keywords', 'subtype'], at, issues);
    const { type, pattern, flags, validate, keywords, subtype } = d;
    if (typeof type !== 'string' || !TYPE_NAME.test(type)) issues.push({ path: `${at}.type`, message: 'must match /^[A-Z][A-Z0-9_]{1,63}$/' });
    if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > MAX_PATTERN) {
      issues.push({ path: `${at}.pattern`, message: `must be a non-empty string of at most ${MAX_PATTERN} characters` });
    }
    if (flags !== undefined && (typeof flags !== 'string' || !/^[imsu]*$/.test(flags) || new Set(flags).size !== flags.length)) {
      issues.push({ path: `${at}.flags`, message: 'may only contain i, m, s, u (once each)' });
    }
    if (validate !== undefined && (typeof validate !== 'string' || !(validate in CHECKSUMS))) {
      issues.push({ path: `${at}.validate`, message: `must be one of ${Object.keys(CHECKSUMS).join(', ')}` });
    }
    if (keywords !== undefined && (!Array.isArray(keywords) || keywords.some((k) => typeof k !== 'string' || k.length === 0))) {
      issues.push({ path: `${at}.keywords`, message: 'must be an array of non-empty strings' });
    }
    if (subtype !== undefined && typeof subtype !== 'string') issues.push({ path: `${at}.subtype`, message: 'must be a string' });
    if (typeof pattern === 'string' && pattern.length > 0 && pattern.length <= MAX_PATTERN) {
      const problem = patternProblem(pattern, typeof flags === 'string' && /^[imsu]*$/.test(flags) ? flags : '');
      if (problem !== undefined) issues.push({ path: `${at}.pattern`, message: problem });
    }
    if (issues.length === before) custom.push(Object.freeze({ ...(d as unknown as CustomDetectorConfig), keywords: [...((keywords as string[] | undefined) ?? [])] }));
  });

  const keyRules: KeyNameRuleConfig[] = [];
  const keyRaw = raw['keyNameRules'];
  if (keyRaw !== undefined && !Array.isArray(keyRaw)) issues.push({ path: 'keyNameRules', message: 'must be an array' });
  (Array.isArray(keyRaw) ? (keyRaw as unknown[]) : []).forEach((r, i) => {
    const at = `keyNameRules[${i}]`;
    if (!isRecord(r)) {
      issues.push({ path: at, message: 'must be an object' });
      return;
    }
    const before = issues.length;
    unknownFields(r, ['suffix', 'type', 'subtype'], at, issues);
    if (typeof r['suffix'] !== 'string' || !/^[a-z0-9]{2,64}$/.test(r['suffix'])) issues.push({ path: `${at}.suffix`, message: 'must be 2-64 lower-case letters or digits' });
    if (typeof r['type'] !== 'string' || !TYPE_NAME.test(r['type'])) issues.push({ path: `${at}.type`, message: 'must match /^[A-Z][A-Z0-9_]{1,63}$/' });
    if (r['subtype'] !== undefined && typeof r['subtype'] !== 'string') issues.push({ path: `${at}.subtype`, message: 'must be a string' });
    if (issues.length === before) keyRules.push(Object.freeze({ ...(r as unknown as KeyNameRuleConfig) }));
  });

  const known = new Set<string>([...BUILTIN_TYPES, ...custom.map((c) => c.type), ...keyRules.map((r) => r.type)]);
  let types = known;
  const typesRaw = raw['types'];
  if (typesRaw !== undefined) {
    if (!Array.isArray(typesRaw)) issues.push({ path: 'types', message: 'must be an array' });
    else {
      typesRaw.forEach((t, i) => {
        if (typeof t !== 'string' || !known.has(t)) issues.push({ path: `types[${i}]`, message: `unknown type ${JSON.stringify(t)}` });
      });
      types = new Set(typesRaw.filter((t): t is string => typeof t === 'string'));
    }
  }

  const depthRaw = raw['maxDepth'];
  if (depthRaw !== undefined && (typeof depthRaw !== 'number' || !Number.isInteger(depthRaw) || depthRaw < 1 || depthRaw > 1000)) {
    issues.push({ path: 'maxDepth', message: 'must be an integer between 1 and 1000' });
  }

  if (issues.length > 0) throw new ValidationError('CONFIG_INVALID', 'classifier options', issues);
  return Object.freeze({
    types,
    customDetectors: Object.freeze(custom),
    keyNameRules: Object.freeze(keyRules),
    maxDepth: typeof depthRaw === 'number' ? depthRaw : DEFAULT_MAX_DEPTH,
  });
}
