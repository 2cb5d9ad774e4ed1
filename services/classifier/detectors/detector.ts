import type { EntityType } from '../types.js';

/** A raw match before overlap resolution; higher `priority` wins an overlap (then the longer span). */
export interface Candidate {
  type: EntityType;
  start: number;
  end: number;
  subtype?: string;
  priority: number;
}

/** Overlap priorities: credentials first, then checksum-validated types, then format-only types. */
export const PRIORITY = { secret: 4, validated: 3, structured: 2, format: 1 } as const;

/**
 * Characters a detector cannot match without (a bit set of TRIGGER_* flags). The classifier checks
 * them once per text and skips every detector whose trigger is absent.
 */
export const TRIGGER_DIGIT = 1;

/** One detector: a single pass over the text that appends candidates. */
export interface Detector {
  readonly name: string;
  readonly types: readonly EntityType[];
  /** TRIGGER_* flags that must all be present in the text for `scan` to find anything. */
  readonly needs?: number;
  scan(text: string, out: Candidate[]): void;
}

export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** Letters, digits and underscore: characters that continue an identifier. */
export function isWordChar(c: number): boolean {
  return isAlnum(c) || c === 95;
}

/**
 * True when a token may start at `p`: not in the middle of a word, nor right after
 * `x-`, `x.` or `x/` where x is a word character (UUID parts, versions, paths).
 */
export function leftBoundary(text: string, p: number): boolean {
  if (p === 0) return true;
  const c = text.charCodeAt(p - 1);
  if (isWordChar(c)) return false;
  if ((c === 45 || c === 46 || c === 47) && p >= 2 && isWordChar(text.charCodeAt(p - 2))) return false;
  if (c === 58 && p >= 2 && isDigit(text.charCodeAt(p - 2))) return false;
  return true;
}

/** True when a token may end at `e`: no word character follows, nor `-x`, `.x`, `/x`, `:x` with x alphanumeric. */
export function rightBoundary(text: string, e: number): boolean {
  if (e >= text.length) return true;
  const c = text.charCodeAt(e);
  if (isWordChar(c)) return false;
  if ((c === 45 || c === 46 || c === 47 || c === 58) && e + 1 < text.length && isAlnum(text.charCodeAt(e + 1))) return false;
  return true;
}

/** Lower-cased window of up to `width` characters before `p`, for context keywords. */
export function contextBefore(text: string, p: number, width: number): string {
  return text.slice(Math.max(0, p - width), p).toLowerCase();
}
