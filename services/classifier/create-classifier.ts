import { TracefenceError } from '../shared/errors.js';
import { BUILTIN_TYPES, resolveClassifierOptions } from './classifier-options.js';
import { createCustomDetector } from './custom-detector.js';
import { createCryptoDetector } from './detectors/crypto-detector.js';
import { type Candidate, type Detector, TRIGGER_DIGIT } from './detectors/detector.js';
import { createEmailDetector } from './detectors/email-detector.js';
import { createIbanDetector } from './detectors/iban-detector.js';
import { createIpv6Detector } from './detectors/ipv6-detector.js';
import { configuredKeyWords, createKeyValueDetector } from './detectors/key-value-detector.js';
import { createNumberDetector } from './detectors/number-detector.js';
import { createSecretDetector } from './detectors/secret-detector.js';
import { createSinglePass } from './detectors/single-pass.js';
import { createKeyNameMatcher, isPlaceholderValue } from './key-name-rules.js';
import { resolveOverlaps } from './resolve-overlaps.js';
import type { Classifier, ClassifierOptions, Finding, PathFinding } from './types.js';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

const DIGIT = /[0-9]/;

/** Internal switches, not part of the public API (index.ts exports createClassifier only). */
export interface ScanInternals {
  /**
   * false: run every detector over every text, without the trigger checks and the detectors' own
   * shortcuts. Kept as the reference the equivalence test compares the gated path with.
   */
  gating?: boolean;
  /** false: gated, but each detector scans on its own (the layout before the single pass; for benchmarks). */
  singlePass?: boolean;
}

/**
 * Builds a classifier: the built-in detectors for the enabled types plus configured ones.
 * Throws a ValidationError (CONFIG_INVALID) listing every problem in `options`.
 */
export function createClassifier(options: ClassifierOptions = {}): Classifier {
  return createClassifierWith(options, {});
}

/** createClassifier with internal switches (tests and benchmarks). */
export function createClassifierWith(options: ClassifierOptions, internals: ScanInternals): Classifier {
  const opts = resolveClassifierOptions(options);
  const gating = internals.gating !== false;
  const enabled = opts.types;
  const matchKey = createKeyNameMatcher(opts.keyNameRules);

  const secret = createSecretDetector();
  const keyValue = createKeyValueDetector(matchKey);
  const number = createNumberDetector(enabled);
  const iban = createIbanDetector();
  const crypto = createCryptoDetector();
  // Configured key-name rules have key words of their own in text (employeeId: E12345).
  const configuredKeys = opts.keyNameRules.length === 0 ? [] : [createKeyValueDetector(matchKey, configuredKeyWords(opts.keyNameRules.map((r) => r.suffix)), [...new Set(opts.keyNameRules.map((r) => r.type))])];
  const all: Detector[] = [secret, keyValue, ...configuredKeys, createEmailDetector(), number, iban, createIpv6Detector(gating), crypto, ...opts.customDetectors.map(createCustomDetector)];
  const detectors = all.filter((d) => d.types.some((t) => enabled.has(t)));
  const fuse = gating && internals.singlePass !== false;
  const on = <D extends Detector>(d: D): D | undefined => (fuse && detectors.includes(d) ? d : undefined);
  // Gated: the keyword-, word- and region-anchored detectors share one pass over the text.
  const single = createSinglePass({ secret: on(secret), keyValue: on(keyValue), number: on(number), iban: on(iban), crypto: on(crypto) });
  // A detector with trigger characters (d.needs) only runs on a text that has them; the order of the
  // detectors, and so of equal candidates, stays the same.
  const needs = detectors.map((d) => (gating ? (d.needs ?? 0) : 0));
  // Key-name rules may name any type; with every type enabled there is nothing to filter.
  const everyTypeEnabled = [...BUILTIN_TYPES, ...opts.customDetectors.map((d) => d.type), ...opts.keyNameRules.map((r) => r.type)].every((t) => enabled.has(t));
  const anyNeeds = detectors.some((d, i) => needs[i] !== 0 && !single.detectors.has(d));

  // Per detector, its list in the single pass (filled by each scan), or undefined when it scans itself.
  const passLists = detectors.map((d) => single.found.get(d));
  const passRuns = single.detectors.size > 0;

  function scanText(text: string): Finding[] {
    if (typeof text !== 'string' || text.length < 3) return [];
    if (passRuns) single.scan(text);
    // The digit trigger is read off the single pass when it ran, and only looked for when needed.
    const present = anyNeeds && (passRuns ? single.lastTextHadDigit() : DIGIT.test(text)) ? TRIGGER_DIGIT : 0;
    const candidates: Candidate[] = [];
    for (let i = 0; i < detectors.length; i++) {
      const passed = passLists[i];
      if (passed !== undefined) {
        for (const c of passed) candidates.push(c);
      } else if ((needs[i]! & present) === needs[i]) {
        detectors[i]!.scan(text, candidates);
      }
    }
    if (candidates.length === 0) return [];
    return resolveOverlaps(everyTypeEnabled ? candidates : candidates.filter((c) => enabled.has(c.type)));
  }

  function keyRule(key: string): { type: string; subtype?: string } | undefined {
    const rule = matchKey(key);
    return rule !== undefined && enabled.has(rule.type) ? rule : undefined;
  }

  function walk(value: unknown, path: string[], depth: number, out: PathFinding[]): void {
    if (typeof value === 'string') {
      for (const f of scanText(value)) out.push({ ...f, path });
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    if (depth >= opts.maxDepth) {
      throw new TracefenceError('SCAN_INPUT_INVALID', `value nested deeper than ${opts.maxDepth} levels`, { path: path.join('.') });
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) walk(value[i], [...path, String(i)], depth + 1, out);
      return;
    }
    if (!isPlainObject(value)) return;
    for (const [key, v] of Object.entries(value)) {
      const at = [...path, key];
      const rule = keyRule(key);
      const sensitive = rule !== undefined && v !== null && v !== undefined && typeof v !== 'boolean';
      if (sensitive && !(typeof v === 'string' && isPlaceholderValue(v))) {
        const base = rule.subtype === undefined ? { type: rule.type } : { type: rule.type, subtype: rule.subtype };
        out.push(typeof v === 'string' ? { ...base, start: 0, end: v.length, path: at } : { ...base, start: 0, end: 0, path: at, wholeValue: true });
        continue;
      }
      walk(v, at, depth + 1, out);
    }
  }

  return Object.freeze({
    maxDepth: opts.maxDepth,
    scanText,
    scanValue(value: unknown, path: string[] = []): PathFinding[] {
      const out: PathFinding[] = [];
      walk(value, path, 0, out);
      return out;
    },
    matchKeyName: keyRule,
  });
}
