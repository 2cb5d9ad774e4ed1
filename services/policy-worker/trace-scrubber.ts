/**
 * Masks every free-text string of a trace before it leaves the ingest topic (invariant 3).
 * Free text is scanned as such: message parts, reasoning, tool arguments and results (as JSON
 * when they parse, so key-name rules apply), attributes, labels, names and status messages.
 * Structural fields (ids, enums, region names) are producer-controlled too, so they are scanned
 * as plain text and masked only when something is found; a clean id is kept as it is, so
 * joins keep working. recordId, traceId, tenant and agent are not touched here: the record
 * processor checks their shape or replaces them with the verified identity.
 */
import type { ReasoningTrace } from '../shared/avro/index.js';
import type { Classifier, Finding, Masker, PathFinding } from '../classifier/types.js';

/** Fields that hold identifiers or enumerations, never user content. */
const STRUCTURAL_KEYS = new Set([
  'recordId',
  'traceId',
  'tenant',
  'agent',
  'stepId',
  'parentStepIds',
  'kind',
  'type',
  'role',
  'toolCallId',
  'callId',
  'dataSubjectRegion',
  'residencyHint',
  'schemaVersion',
  'operation',
  'provider',
  'requestModel',
  'responseModel',
  'responseId',
  'finishReasons',
  'finishReason',
  'code',
]);

/** Checked (recordId, traceId) or replaced (tenant, agent) by the record processor. */
const IDENTITY_KEYS = new Set(['recordId', 'traceId', 'tenant', 'agent']);

/** Map-valued fields whose keys are attribute names and whose values may be JSON text. */
const MAP_KEYS = new Set(['attributes', 'labels']);

export interface ScrubResult {
  trace: ReasoningTrace;
  findingCounts: Record<string, number>;
}

export interface TraceScrubber {
  scrub(trace: ReasoningTrace): ScrubResult;
}

function looksLikeJson(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) return true; // { [
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return false;
}

export function createTraceScrubber(classifier: Classifier, masker: Masker): TraceScrubber {
  const count = (counts: Record<string, number>, findings: readonly Finding[]): void => {
    for (const f of findings) counts[f.type] = (counts[f.type] ?? 0) + 1;
  };

  const maskString = (text: string, counts: Record<string, number>): string => {
    if (looksLikeJson(text)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (parsed !== undefined) {
        const { value, findings } = masker.maskValue(parsed);
        // Nothing found: keep the producer's text as it was (and skip re-serialising it).
        if (findings.length === 0) return text;
        count(counts, findings);
        return JSON.stringify(value);
      }
    }
    const findings = classifier.scanText(text);
    if (findings.length === 0) return text;
    count(counts, findings);
    return masker.maskText(text, findings);
  };

  /**
   * A map of name -> text: key-name rules see the names (a label "password" is masked whatever it
   * holds). The names are producer text too: scanned as plain text and masked when something is
   * found; two names masked alike are told apart by a suffix so neither value is lost.
   */
  const maskMap = (map: Record<string, string>, counts: Record<string, number>): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [key, text] of Object.entries(map)) {
      const maskedKey = maskPlain(key, counts);
      let name = maskedKey;
      for (let n = 2; name !== key && (Object.hasOwn(out, name) || Object.hasOwn(map, name)); n++) name = `${maskedKey} #${n}`;
      const rule = classifier.matchKeyName(key);
      if (rule !== undefined) {
        const finding: PathFinding = { type: rule.type, start: 0, end: text.length, path: [key], ...(rule.subtype === undefined ? {} : { subtype: rule.subtype }) };
        count(counts, [finding]);
        const masked = masker.maskValue({ [key]: text }).value as Record<string, unknown>;
        out[name] = typeof masked[key] === 'string' ? (masked[key] as string) : JSON.stringify(masked[key] ?? null);
      } else {
        out[name] = maskString(text, counts);
      }
    }
    return out;
  };

  /** A structural value: plain text scan only, unchanged unless something is found. */
  const maskPlain = (text: string, counts: Record<string, number>): string => {
    const findings = classifier.scanText(text);
    if (findings.length === 0) return text;
    count(counts, findings);
    return masker.maskText(text, findings);
  };

  const walk = (value: unknown, key: string | undefined, counts: Record<string, number>): unknown => {
    if (key !== undefined && STRUCTURAL_KEYS.has(key)) {
      if (IDENTITY_KEYS.has(key)) return value;
      if (typeof value === 'string') return maskPlain(value, counts);
      if (Array.isArray(value)) return value.map((v: unknown) => (typeof v === 'string' ? maskPlain(v, counts) : v));
      return value;
    }
    if (typeof value === 'string') return maskString(value, counts);
    if (Array.isArray(value)) return value.map((v) => walk(v, undefined, counts));
    if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
      if (key !== undefined && MAP_KEYS.has(key)) return maskMap(value as Record<string, string>, counts);
      // Hot path: clone the record in one step (same shape), then replace only what changed.
      const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
      for (const k in out) {
        const v = out[k];
        if (typeof v !== 'string' && (v === null || typeof v !== 'object')) continue; // numbers, bigints, booleans, null
        const w = walk(v, k, counts);
        if (w !== v) out[k] = w;
      }
      return out;
    }
    return value;
  };

  return {
    scrub(trace) {
      const findingCounts: Record<string, number> = {};
      const masked = walk(trace, undefined, findingCounts) as ReasoningTrace;
      return { trace: masked, findingCounts };
    },
  };
}
