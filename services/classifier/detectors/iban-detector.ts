import { IBAN_LENGTHS, ibanValid } from '../checksums.js';
import { type Candidate, type Detector, PRIORITY, TRIGGER_DIGIT, isAlnum, leftBoundary } from './detector.js';

/** Two letters and two check digits: the only way an IBAN can start. */
const START = /\b[A-Za-z]{2}\d{2}/g;

/** The IBAN detector, with the hook the single pass (single-pass.ts) calls where START matches. */
export interface IbanDetector extends Detector {
  /** Handles a START match at `s` (the caller has checked its shape); returns where the search resumes. */
  at(text: string, s: number, out: Candidate[]): number;
}

/**
 * IBAN_CODE: country code, registered length for that country, check digits, mod 97 == 1.
 * Accepts the compact form and groups of four separated by single spaces.
 */
export function createIbanDetector(): IbanDetector {
  function handle(text: string, s: number, out: Candidate[]): number {
    const resume = s + 4; // the length of a START match
    const len = IBAN_LENGTHS[text.slice(s, s + 2).toUpperCase()];
    if (len === undefined || !leftBoundary(text, s)) return resume;
    // Collect exactly `len` alphanumerics, allowing one space after each group of four.
    let i = s;
    let compact = '';
    while (i < text.length && compact.length < len) {
      const c = text.charCodeAt(i);
      if (isAlnum(c)) {
        compact += text[i];
        i++;
      } else if (c === 32 && compact.length % 4 === 0 && i + 1 < text.length && isAlnum(text.charCodeAt(i + 1))) {
        i++;
      } else {
        break;
      }
    }
    if (compact.length !== len) return resume;
    if (i < text.length && isAlnum(text.charCodeAt(i))) return resume;
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
