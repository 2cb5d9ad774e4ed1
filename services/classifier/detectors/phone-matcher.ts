import { contextBefore, isDigit, rightBoundary } from './detector.js';

interface Group {
  start: number;
  end: number;
  digits: string;
  paren: boolean;
  sep: string;
}

const MAX_GROUPS = 7;
const MAX_GROUP_DIGITS = 12;
// Whole words only: "calling the tool" is not phone context; '_' counts as a boundary (phone_number).
const PHONE_CONTEXT = /(?:^|[^a-z])(?:phone|telephone|tel|call|mobile|cell|fax|whatsapp|sms|contact|dial|ph|hotline)(?![a-z])/;

function isSep(c: number): boolean {
  return c === 32 || c === 45 || c === 46 || c === 47; // space - . /
}

/** Reads up to MAX_GROUPS digit groups separated by single separators (parentheses allowed), ending by `limit`. */
function readGroups(text: string, p: number, limit: number): { plus: boolean; groups: Group[] } {
  let i = p;
  const plus = text.charCodeAt(i) === 43;
  if (plus) i++;
  const groups: Group[] = [];
  while (groups.length < MAX_GROUPS && i < text.length) {
    let j = i;
    let sep = '';
    if (groups.length > 0) {
      const c = text.charCodeAt(j);
      if (isSep(c)) {
        sep = text[j]!;
        j++;
      } else if (!(c === 40 || (groups[groups.length - 1]!.paren && isDigit(c)))) {
        break;
      }
    }
    const paren = text.charCodeAt(j) === 40;
    if (paren) j++;
    const ds = j;
    while (j < text.length && j - ds < MAX_GROUP_DIGITS && isDigit(text.charCodeAt(j))) j++;
    if (j === ds || (j < text.length && isDigit(text.charCodeAt(j)))) break;
    if (paren) {
      // One digit in parentheses is only the trunk hint of +44 (0)20 ...
      if (text.charCodeAt(j) !== 41 || (j - ds === 1 && !(plus && groups.length === 1))) break;
      j++;
    }
    if (j > limit) break;
    groups.push({ start: groups.length === 0 ? p : i, end: j, digits: text.slice(ds, paren ? j - 1 : j), paren, sep });
    i = j;
  }
  return { plus, groups };
}

function nanpValid(d: string): boolean {
  // NXX-NXX-XXXX: area code and exchange start with 2-9.
  return d.length === 10 && d.charCodeAt(0) >= 50 && d.charCodeAt(3) >= 50;
}

/** ITU country calling codes: the one-digit (1, 7) and two-digit codes; other prefixes start a three-digit code. */
const CC2 = new Set([20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98]);
const CC3_PREFIX = new Set([21, 22, 23, 24, 25, 26, 29, 35, 37, 38, 42, 50, 59, 67, 68, 69, 85, 87, 88, 96, 97, 99]);

function countryCodeLength(intl: string): number {
  if (intl[0] === '1' || intl[0] === '7') return 1;
  const two = Number(intl.slice(0, 2));
  if (CC2.has(two)) return 2;
  return CC3_PREFIX.has(two) ? 3 : 0;
}

function internationalValid(intl: string, groups: readonly Group[], prefixLength: number): boolean {
  const n = intl.length;
  if (n < 8 || n > 15 || intl.charCodeAt(0) === 48) return false;
  const cc = countryCodeLength(intl);
  if (cc === 0) return false;
  // Written with groups, the first group is the country code (+44 20 ..., 0044 20 ...).
  if (groups.length > 1 && groups[0]!.digits.length - prefixLength !== cc) return false;
  if (intl.startsWith('1')) return nanpValid(intl.slice(1));
  if (intl.startsWith('44')) return (n === 12 || n === 11) && '1235789'.includes(intl[2]!);
  if (intl.startsWith('49')) return n >= 9 && n <= 14 && intl[2] !== '0';
  if (intl.startsWith('33')) return n === 11 && intl[2] !== '0';
  if (intl.startsWith('91')) return n === 12 && intl[2] !== '0';
  // Other countries (E.164): a single unbroken run or groups of 2+ digits after the country code.
  return groups.slice(1).every((g) => g.digits.length >= 2 || g.paren);
}

function nationalValid(groups: readonly Group[], hasContext: boolean): boolean {
  const d = groups.map((g) => g.digits).join('');
  const n = d.length;
  const sizes = groups.map((g) => g.digits.length);
  const seps = groups.slice(1).map((g) => g.sep);
  const single = groups.length === 1;
  if (d.startsWith('0')) {
    if (d[1] === '0') return false;
    if (single) return hasContext && n >= 10 && n <= 12;
    // French: 0X XX XX XX XX with one separator kind.
    if (groups.length === 5) return n === 10 && sizes.every((s) => s === 2) && seps.every((s) => s === seps[0]);
    if (groups.length > 3) return false;
    // UK, German, Indian trunk formats: area code (0 + 1-5 digits) then subscriber groups of 3+;
    // three groups only for 10-11 digits (0XX XXXX XXXX, 0XXX XXX XXXX), so 4-4-4 codes do not fire.
    if (n < 9 || n > 12 || (groups.length === 3 && n > 11)) return false;
    if (sizes[0]! < 2 || sizes[0]! > 6) return false;
    return sizes.slice(1).every((s) => s >= 3);
  }
  if (single) return hasContext && (nanpValid(d) || (n === 10 && d.charCodeAt(0) >= 54) || (n === 11 && d[0] === '1' && nanpValid(d.slice(1))));
  if (seps.includes('/')) return false;
  // North American: (NXX) NXX-XXXX, NXX-NXX-XXXX, 1-NXX-NXX-XXXX.
  if (sizes.length === 3 && sizes[0] === 3 && sizes[1] === 3 && sizes[2] === 4) return nanpValid(d);
  if (sizes.length === 4 && d[0] === '1' && sizes[0] === 1 && sizes[1] === 3 && sizes[2] === 3 && sizes[3] === 4) return nanpValid(d.slice(1));
  // Indian mobile without trunk prefix: 98765 43210.
  if (sizes.length === 2 && sizes[0] === 5 && sizes[1] === 5) return d.charCodeAt(0) >= 54;
  return false;
}

/**
 * Cheap test on the first digit group, before any allocation: without '+' or a trunk 0, a number
 * starts with 1, 3 or 5 digits (1-NXX, NXX, Indian mobile) or is one run of 10-11 digits.
 */
function quickReject(text: string, p: number): boolean {
  let i = p;
  const c0 = text.charCodeAt(i);
  if (c0 === 43) return false;
  if (c0 === 40) i++;
  const ds = i;
  while (i < text.length && isDigit(text.charCodeAt(i))) i++;
  const len = i - ds;
  if (len === 0) return true;
  if (text.charCodeAt(ds) === 48) return false;
  return !(len === 1 || len === 3 || len === 5 || len === 10 || len === 11);
}

/**
 * PHONE_NUMBER at `p`: international numbers (leading + or 00, country rules for +1, +44, +49,
 * +33, +91, E.164 length otherwise) and national formats of North America, the UK, Germany,
 * France and India. Unformatted national digit runs need a context word (phone, call, ...).
 * The number ends by `limit`. Returns the end offset or -1.
 */
export function matchPhone(text: string, p: number, limit: number = text.length): number {
  if (quickReject(text, p)) return -1;
  const { plus, groups } = readGroups(text, p, limit);
  let total = 0;
  for (const g of groups) total += g.digits.length;
  if (total < 7) return -1; // shortest accepted number; most runs stop here without allocating
  // National numbers without a trunk 0 start with a group of 1 (1-NXX), 3 (NXX) or 5 (India)
  // digits, or are one unbroken run: dates like 2024-03-05 stop here.
  const first = groups[0]!;
  if (!plus && first.digits[0] !== '0' && groups.length > 1 && first.digits.length !== 1 && first.digits.length !== 3 && first.digits.length !== 5) return -1;
  let context: boolean | undefined;
  for (let k = groups.length; k >= 1; k--) {
    const gs = groups.slice(0, k);
    const last = gs[k - 1]!;
    if (!rightBoundary(text, last.end)) continue;
    const digits = gs.map((g) => g.digits).join('');
    if (digits.length < 7) return -1;
    let ok: boolean;
    if (plus || digits.startsWith('00')) {
      // Skip the "(0)" trunk hint of "+44 (0)20 ..." and the 00 international prefix.
      const intl = gs
        .filter((g, i) => !(i > 0 && g.paren && g.digits === '0'))
        .map((g) => g.digits)
        .join('');
      ok = internationalValid(plus ? intl : intl.slice(2), gs, plus ? 0 : 2);
    } else {
      if (gs.length === 1 && context === undefined) context = PHONE_CONTEXT.test(contextBefore(text, p, 32));
      ok = nationalValid(gs, context === true);
    }
    if (ok) return last.end;
  }
  return -1;
}
