import type { Candidate } from './detectors/detector.js';
import type { Finding } from './types.js';

function better(a: Candidate, b: Candidate): boolean {
  // Same type: the longer span (a key-name value cut at a space loses to the whole SSN).
  if (a.type === b.type && a.end - a.start !== b.end - b.start) return a.end - a.start > b.end - b.start;
  if (a.priority !== b.priority) return a.priority > b.priority;
  return a.end - a.start > b.end - b.start;
}

/**
 * Sorted, non-overlapping findings: of two overlapping candidates of the same type the longer
 * wins; otherwise the higher priority (secret, then validated, then format-only), then the longer.
 */
export function resolveOverlaps(candidates: Candidate[]): Finding[] {
  candidates.sort((a, b) => a.start - b.start || b.priority - a.priority || b.end - a.end);
  const kept: Candidate[] = [];
  for (const c of candidates) {
    let replace = false;
    let drop = false;
    // c may overlap several kept spans at the end of the list; it wins only if it beats all of them.
    let k = kept.length - 1;
    while (k >= 0 && kept[k]!.end > c.start) {
      if (better(c, kept[k]!)) replace = true;
      else drop = true;
      k--;
    }
    if (drop) continue;
    if (replace) kept.length = k + 1;
    kept.push(c);
  }
  return kept.map((c) => (c.subtype === undefined ? { type: c.type, start: c.start, end: c.end } : { type: c.type, start: c.start, end: c.end, subtype: c.subtype }));
}
