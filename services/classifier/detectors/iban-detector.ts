import { IBAN_LENGTHS, ibanValid } from '../checksums.js';
import { type Candidate, type Detector, PRIORITY, TRIGGER_DIGIT, isAlnum, leftBoundary } from './detector.js';

/** Registered IBAN length by country, indexed by countryIndex of the two letters; 0 = none. */
const LENGTH_BY_COUNTRY = new Uint8Array(26 * 26 + 1);
for (const [country, length] of Object.entries(IBAN_LENGTHS)) LENGTH_BY_COUNTRY[countryIndex(country.charCodeAt(0), country.charCodeAt(1))] = length;

/** 0-675 for two ASCII letters of either case, 676 (no country) otherwise. */
function countryIndex(a: number, b: number): number {
  const x = (a | 32) - 97;
  const y = (b | 32) - 97;
  return x >= 0 && x < 26 && y >= 0 && y < 26 ? x * 26 + y : 26 * 26;
}

/** Two letters and two check digits: the only way an IBAN can start. */
const START = /\b[A-Za-z]{2}\d{2}/g;

/** The IBAN detector, with the hook the single pass (single-pass.ts) calls where START matches. */
export interface IbanDetector extends Detector {
  /** Handles a START match at `s` (the caller has checked its shape); returns where the search resumes. */
  at(text: string, s: number, out: Candidate[]): number;
}

/**
 * IBAN_CODE: country code, registered length for that country, check digits, mod 97 == 1.
 * Accepts the compact form and groups of four separated by single spaces or hyphens.
 */
export function createIbanDetector(): IbanDetector {
  function handle(text: string, s: number, out: Candidate[]): number {
    const resume = s + 4; // the length of a START match
    const len = LENGTH_BY_COUNTRY[countryIndex(text.charCodeAt(s), text.charCodeAt(s + 1))]!;
    if (len === 0 || !leftBoundary(text, s)) return resume;
    // Exactly `len` alphanumerics, allowing one separator (a space, or '-' throughout) after each
    // group of four: counted first, so the many hex strings that start like an IBAN (de89ab...)
    // cost no string building.
    let i = s;
    let count = 0;
    let sep = 0;
    let since = 0; // alphanumerics since the last separator
    while (i < text.length && count < len) {
      const c = text.charCodeAt(i);
      if (isAlnum(c)) {
        count++;
        since++;
        i++;
      } else if ((c === 32 || c === 45) && (sep === 0 || sep === c) && count % 4 === 0 && i + 1 < text.length && isAlnum(text.charCodeAt(i + 1))) {
        // Hyphens only between every group of four: a UUID (ba66a608-e0b7-...) is no IBAN.
        if (c === 45 && since !== 4) break;
        sep = c;
        since = 0;
        i++;
      } else {
        break;
      }
    }
    if (count !== len || (sep === 45 && since > 4)) return resume;
    if (i < text.length && isAlnum(text.charCodeAt(i))) return resume;
    if (sep === 45 && text.charCodeAt(i) === 45 && isAlnum(text.charCodeAt(i + 1))) return resume;
    const compact = sep === 0 ? text.slice(s, i) : text.slice(s, i).replaceAll(String.fromCharCode(sep), '');
    if (!ibanValid(compact)) return resume;
    out.push({ type: 'IBAN_CODE', start: s, end: i, priority: PRIORITY.validated });
    return i;
  }

  return {
    name: 'iban',
    needs: TRIGGER_DIGIT,
    types: ['IBAN_CODE'],
    scan(text: string, out: Candidate[]): void {
      START.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = START.exec(text)) !== null) START.lastIndex = handle(text, m.index, out);
    },
    at: handle,
  };
}
