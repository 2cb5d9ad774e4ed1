import { luhnValid, ssnValid } from '../checksums.js';
import type { EntityType } from '../types.js';
import { type Candidate, type Detector, PRIORITY, TRIGGER_DIGIT, contextBefore, isDigit, leftBoundary, rightBoundary } from './detector.js';
import { matchPhone } from './phone-matcher.js';

/** Characters numbers are written with: digits, space, - . ( ) / (1), and '+' (2, only starts one). */
const RUN_CHAR = new Uint8Array(128);
for (let c = 48; c <= 57; c++) RUN_CHAR[c] = 1;
for (const c of ' -.()/') RUN_CHAR[c.charCodeAt(0)] = 1;
RUN_CHAR[43] = 2;

function isRunChar(c: number): boolean {
  return c < 128 && RUN_CHAR[c] === 1;
}

/** True for the characters regions of numbers are made of (digits, space, - . ( ) / and +). */
export function isNumberChar(c: number): boolean {
  return c < 128 && RUN_CHAR[c] !== 0;
}

/** Fewest characters a run any type accepts can have (7 digits, or 4 digits and 3 dots). */
const MIN_RUN = 7;
// 4-4-4-4(-3), Amex and Diners 4-6-5/4-6-4, and the 13- and 15-digit numbers written in fours
// (4-4-5, 4-4-4-3).
const CARD_GROUPED = /\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?|\d{4}([ -])\d{6}\2\d{4,5}|\d{4}([ -])\d{4}\3(?:\d{4}\3\d{3}|\d{5})/y;
const SSN = /\d{3}([- .])\d{2}\1\d{4}/y;
const IPV4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/y;
const SSN_CONTEXT = /ssn|social security|soc\.? sec/;
const CARD_CONTEXT = /card|visa|master|amex|credit|debit|payment|\bpan\b|\bcc\b/;
// The last words before a number name a product or business record (Part no. 512-34-7788).
const RECORD_LABEL = /(?:^|[^a-z])(?:part|sku|item|article|model|serial|order|invoice|ticket|case|lot|batch|material|product)(?:[ _-]?(?:(?:no|nr|num)\.?|number|id|#))?[ \t:=#"'([]{0,4}$/;
// Versions and numbered sections (§3.2.6.1, RFC 9110 section 3.2.6.1) are not addresses.
const VERSION_CONTEXT = /version|release|\bver\b|\bv$|build|§|section|clause|\boid\b/;

/** Issuer prefixes and lengths of the major card schemes: a Luhn-valid number outside them is not a card. */
function cardIssuerValid(d: string): boolean {
  const n = d.length;
  const p2 = Number(d.slice(0, 2));
  const p3 = Number(d.slice(0, 3));
  const p4 = Number(d.slice(0, 4));
  if (d[0] === '4') return n === 13 || n === 16 || n === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return n === 15; // Amex
  if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649)) return n >= 16 && n <= 19; // Discover
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19; // JCB
  if ((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) return n >= 14 && n <= 19; // Diners
  if (p2 === 62) return n >= 16 && n <= 19; // UnionPay
  // Maestro allows 12-19 digits, but short ones are rare and collide with order numbers.
  if (p2 === 50 || (p2 >= 56 && p2 <= 69)) return n >= 16 && n <= 19; // Maestro
  return false;
}

function cardValid(digits: string): boolean {
  return cardIssuerValid(digits) && luhnValid(digits) && !/^(\d)\1+$/.test(digits);
}

/**
 * Numbers published as examples (078-05-1120, 123-45-6789, 219-09-9999). Alone they are
 * look-alikes; next to "SSN" they are what a person typed as theirs, so they are masked then
 * (a leak costs more than a false positive).
 */
export function isPublishedSampleSsn(d: string): boolean {
  return d === '078051120' || d === '123456789' || d === '219099999';
}

function octet(s: string | undefined): boolean {
  if (s === undefined || s.length === 0) return false;
  if (s.length > 1 && s[0] === '0') return false; // 01.02.03.04 reads as a version or date, not an address
  return Number(s) <= 255;
}

/** An address may be followed by a port or a path (10.0.0.1:8080, http://10.0.0.1/x), not by more dotted digits. */
function ipv4RightBoundary(text: string, e: number): boolean {
  if (e >= text.length) return true;
  const c = text.charCodeAt(e);
  if (c === 58 || c === 47) return true;
  if (c === 46) return !(e + 1 < text.length && isDigit(text.charCodeAt(e + 1)));
  return rightBoundary(text, e);
}

/**
 * True when `p` continues a sequence of digit groups (`1234 5678 |9012`, `1234-5678-|9012`:
 * tracking and account numbers): a space or '-' before it, and before that a token of digits,
 * '-' and parentheses only. A token with anything else in it (`r875`, `#258807`,
 * `ORD-2020-566597`, a version `9.9.3.925`, a date `26.10.1993`) is another token.
 */
function continuesDigitGroups(text: string, p: number): boolean {
  if (p < 2) return false;
  const sep = text.charCodeAt(p - 1);
  if ((sep !== 32 && sep !== 45) || !isDigit(text.charCodeAt(p - 2))) return false;
  const limit = Math.max(0, p - 64);
  for (let q = p - 2; q >= limit; q--) {
    const c = text.charCodeAt(q);
    if (c === 32 || c === 9 || c === 10 || c === 13) return true;
    if (!(isDigit(c) || c === 45 || c === 40 || c === 41)) return false;
  }
  return true;
}

/** GS1 check digit of a 13-digit barcode (weights 1 and 3). */
function ean13Valid(d: string): boolean {
  let sum = 0;
  for (let i = 0; i < 13; i++) sum += (d.charCodeAt(i) - 48) * (i % 2 === 0 ? 1 : 3);
  return sum % 10 === 0;
}

/** Exactly four digits at [a, a + 4), not part of a longer run. */
function fourDigits(text: string, a: number): boolean {
  if (a < 0 || (a > 0 && isDigit(text.charCodeAt(a - 1))) || isDigit(text.charCodeAt(a + 4))) return false;
  for (let i = a; i < a + 4; i++) if (!isDigit(text.charCodeAt(i))) return false;
  return true;
}

/** End of a card number starting at `p` (a run of `len` digits there), or -1. */
function cardAt(text: string, p: number, len: number): number {
  if (len >= 12 && len <= 19) {
    const e = p + len;
    const d = text.slice(p, e);
    // 13 digits starting with 4 that are also a valid EAN-13 barcode (GS1 prefixes 400-440 are
    // Germany's) are taken for the barcode: 13-digit Visa numbers are long out of use.
    if (!rightBoundary(text, e) || !cardValid(d) || (len === 13 && ean13Valid(d))) return -1;
    // An unbroken number labelled as an order or invoice ("order_id": "4891549782944987") is that
    // record's id, unless a card word is near.
    const before = contextBefore(text, p, 40);
    return RECORD_LABEL.test(before.slice(-24)) && !CARD_CONTEXT.test(before) ? -1 : e;
  }
  if (len !== 4) return -1;
  const m = stick(CARD_GROUPED, text, p);
  if (m === null) return -1;
  let e = p + m[0].length;
  let d = m[0].replace(/[ -]/g, '');
  if (!(rightBoundary(text, e) && cardValid(d)) && d.length === 19) {
    e -= 4;
    d = d.slice(0, 16);
  }
  if (!(rightBoundary(text, e) && cardValid(d))) return -1;
  return windowOfLongerCode(text, p, e, text.charCodeAt(p + 4)) ? -1 : e;
}

function joinsRun(c: number, sep: number): boolean {
  return c === sep || !(c === 45 || c === 46 || c === 47 || c === 58);
}

/**
 * True when the grouped card [p, e) is a window of a longer run of four-digit groups separated by
 * `sep` (a tracking number, a licence key, a hex dump): another plain group of four follows, or
 * groups of four lead up to it from the start of the run, or three or more do. A card after a
 * phone number (020 3448 4891 3564 3254 1186 2397) or before a date stays a card.
 */
function windowOfLongerCode(text: string, p: number, e: number, sep: number): boolean {
  if (text.charCodeAt(e) === sep && fourDigits(text, e + 1) && joinsRun(text.charCodeAt(e + 5), sep)) return true;
  let a = p;
  let before = 0;
  // A group counts when the run holds it: after `sep`, or after a character that joins no number
  // (not 374-00-|0867 or 2287-3192-|8182, which belong to another token).
  while (text.charCodeAt(a - 1) === sep && fourDigits(text, a - 5) && joinsRun(text.charCodeAt(a - 6), sep)) {
    before++;
    a -= 5;
  }
  const runStart = !(text.charCodeAt(a - 1) === sep && isDigit(text.charCodeAt(a - 2)));
  return before >= 3 || (before >= 1 && runStart);
}

/** End of a US SSN starting at `p` (a run of `len` digits there), or -1. */
function ssnAt(text: string, p: number, len: number): number {
  if (len === 3) {
    const m = stick(SSN, text, p);
    if (m === null) return -1;
    const e = p + m[0].length;
    const d = m[0].replace(/[- .]/g, '');
    if (!rightBoundary(text, e) || !ssnValid(d)) return -1;
    // Dotted numbers and published samples need an SSN context word; so does a number labelled as
    // a part or order number (Part no. 512-34-7788).
    const needsContext = m[1] === '.' || isPublishedSampleSsn(d) || RECORD_LABEL.test(contextBefore(text, p, 24));
    return !needsContext || SSN_CONTEXT.test(contextBefore(text, p, 40)) ? e : -1;
  }
  if (len === 9 && rightBoundary(text, p + 9) && ssnValid(text.slice(p, p + 9)) && SSN_CONTEXT.test(contextBefore(text, p, 40))) return p + 9;
  return -1;
}

function digitRun(text: string, p: number): number {
  let j = p;
  while (j < text.length && isDigit(text.charCodeAt(j))) j++;
  return j - p;
}

function stick(re: RegExp, text: string, p: number): RegExpExecArray | null {
  re.lastIndex = p;
  return re.exec(text);
}

/** The number detector, with the hooks the single pass (single-pass.ts) uses: it finds the regions itself. */
export interface NumberDetector extends Detector {
  /** Shortest region worth reading. */
  readonly minRegion: number;
  /** Reads a maximal region [ra, rb) of number characters (digits, space, - . ( ) / and +). */
  region(text: string, ra: number, rb: number, out: Candidate[]): void;
}

/**
 * CREDIT_CARD, US_SSN, IP_ADDRESS (v4) and PHONE_NUMBER in one pass: regions of digits and
 * separators are found (by `scan`, or by the single pass), then each token start inside a region
 * is tried against the typed matchers (validated ones first).
 */
export function createNumberDetector(enabled: ReadonlySet<EntityType>): NumberDetector {
  const card = enabled.has('CREDIT_CARD');
  const ssn = enabled.has('US_SSN');
  const ip = enabled.has('IP_ADDRESS');
  const phone = enabled.has('PHONE_NUMBER');

  /**
   * Start of the first digit group inside (p, e), after a space or '-', that begins a valid card or
   * SSN (of the enabled types), or -1.
   */
  function validatedInside(text: string, p: number, e: number): number {
    if (!card && !ssn) return -1;
    for (let g = p + 1; g < e; g++) {
      const sep = text.charCodeAt(g - 1);
      if ((sep !== 32 && sep !== 45) || !isDigit(text.charCodeAt(g))) continue;
      const len = digitRun(text, g);
      if ((card && cardAt(text, g, len) > g) || (ssn && ssnAt(text, g, len) > g)) return g;
    }
    return -1;
  }

  /**
   * `runDigits`: digits left in the run from `p`; each type needs a minimum, checked first.
   * `afterMatch`: the character before `p` directly follows a number found in this region.
   */
  function tryAt(text: string, p: number, runDigits: number, afterMatch: boolean, out: Candidate[]): number {
    const first = text.charCodeAt(p);
    if (isDigit(first)) {
      const len = digitRun(text, p);
      if (card && runDigits >= 12) {
        const e = cardAt(text, p, len);
        if (e > p) {
          out.push({ type: 'CREDIT_CARD', start: p, end: e, priority: PRIORITY.validated });
          return e;
        }
      }
      if (ssn && runDigits >= 9) {
        const e = ssnAt(text, p, len);
        if (e > p) {
          out.push({ type: 'US_SSN', start: p, end: e, priority: PRIORITY.validated });
          return e;
        }
      }
      if (ip && len <= 3 && text.charCodeAt(p + len) === 46) {
        const m = stick(IPV4, text, p);
        if (m !== null && octet(m[1]) && octet(m[2]) && octet(m[3]) && octet(m[4])) {
          const e = p + m[0].length;
          const dottedBefore = p >= 2 && text.charCodeAt(p - 1) === 46 && isDigit(text.charCodeAt(p - 2));
          if (ipv4RightBoundary(text, e) && !dottedBefore && !VERSION_CONTEXT.test(contextBefore(text, p, 12))) {
            out.push({ type: 'IP_ADDRESS', start: p, end: e, priority: PRIORITY.validated });
            return e;
          }
        }
      }
    }
    // An international 00 number does not start inside a longer sequence of digit groups
    // (tracking numbers: 9400 1538 9079 0064 4729 79). Other numbers may: a phone number right
    // after an id or a count is far more common in traces than a code that holds one.
    const insideDigits = !afterMatch && first === 48 && text.charCodeAt(p + 1) === 48 && continuesDigitGroups(text, p);
    if (phone && !insideDigits && runDigits >= 7) {
      let e = matchPhone(text, p);
      // A card or SSN right after a phone number is not part of it (+61 459 147 252 5517 9941 ...):
      // the phone ends before the first group that starts one, which the scan finds next.
      const validatedStart = e > p ? validatedInside(text, p, e) : -1;
      if (validatedStart > 0) e = matchPhone(text, p, validatedStart - 1);
      if (e > p) {
        out.push({ type: 'PHONE_NUMBER', start: p, end: e, priority: PRIORITY.format });
        return e;
      }
    }
    return -1;
  }

  /** Reads one region [ra, rb) of number characters (at least MIN_RUN of them). */
  function region(text: string, ra: number, rb: number, out: Candidate[]): void {
    // The run starts at the first digit followed by 3 run characters ('+' only starts a number),
    // with a '+' or '(' just before it, and runs to the end of the region.
    let d = ra;
    while (d + 3 < rb && !(isDigit(text.charCodeAt(d)) && isRunChar(text.charCodeAt(d + 1)) && isRunChar(text.charCodeAt(d + 2)) && isRunChar(text.charCodeAt(d + 3)))) d++;
    if (d + 3 >= rb) return;
    let s = d;
    if (s > 0 && (text.charCodeAt(s - 1) === 43 || text.charCodeAt(s - 1) === 40)) s--;
    if (s > 0 && text.charCodeAt(s) === 43 && text.charCodeAt(s - 1) === 40) s--; // (+44) 20 ...
    let e = s + 1;
    let digits = 1;
    let dots = 0;
    for (; e < rb; e++) {
      const c = text.charCodeAt(e);
      if (isDigit(c)) digits++;
      else if (c === 46) dots++;
    }
    if (text.charCodeAt(e - 1) === 43) e--; // a '+' only starts a number
    if (digits < 7 && (digits < 4 || dots < 3)) return;
    let p = s;
    let lastEnd = -1;
    let left = digits; // digits from p to the end of the run
    while (p < e) {
      const c = text.charCodeAt(p);
      const startable = isDigit(c) || c === 43 || c === 40;
      // '+' starts a number even right after a '/' (+1 415-555-2671/+1 415-555-2672).
      const boundary = leftBoundary(text, p) || (c === 43 && text.charCodeAt(p - 1) === 47);
      if (startable && boundary && (p === s || !isDigit(text.charCodeAt(p - 1)))) {
        const end = tryAt(text, p, left, lastEnd === p - 1, out);
        if (end > p) {
          lastEnd = end;
          for (let i = p; i < end; i++) if (isDigit(text.charCodeAt(i))) left--;
          p = end;
          continue;
        }
      }
      if (isDigit(c)) left--;
      if (left < 4) break;
      p++;
    }
  }

  return {
    name: 'number',
    needs: TRIGGER_DIGIT,
    types: ['CREDIT_CARD', 'US_SSN', 'IP_ADDRESS', 'PHONE_NUMBER'],
    minRegion: MIN_RUN,
    region,
    scan(text: string, out: Candidate[]): void {
      const n = text.length;
      // Every type needs 7+ digits, except IPv4 (4+ digits and 3 dots): a run is at least 7 run
      // characters long, so looking at every 7th character finds each region of run characters
      // that can hold one; only those regions are read in full.
      let q = MIN_RUN - 1;
      while (q < n) {
        const cq = text.charCodeAt(q);
        if (cq >= 128 || RUN_CHAR[cq] === 0) {
          q += MIN_RUN;
          continue;
        }
        let ra = q;
        while (ra > 0 && isNumberChar(text.charCodeAt(ra - 1))) ra--;
        let rb = q + 1;
        while (rb < n && isNumberChar(text.charCodeAt(rb))) rb++;
        q = rb + MIN_RUN;
        if (rb - ra >= MIN_RUN) region(text, ra, rb, out);
      }
    },
  };
}
