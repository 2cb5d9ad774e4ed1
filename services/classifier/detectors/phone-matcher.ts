import { contextBefore, isDigit, rightBoundary } from './detector.js';

interface Group {
  start: number;
  end: number;
  digits: string;
  paren: boolean;
  sep: string;
}

const MAX_GROUPS = 7;
/** E.164 allows 15 digits; an unbroken +4915123456789 is one group. */
const MAX_GROUP_DIGITS = 15;
// Whole words only: "calling the tool" is not phone context; '_' counts as a boundary (phone_number).
const PHONE_CONTEXT = /(?:^|[^a-z])(?:phone|telephone|tel|call|mobile|cell|fax|whatsapp|sms|contact|dial|ph|hotline)(?![a-z])/;

/** A number may end before a path part or a suffix (`+44 20 7946 0958/ext`), unlike other tokens. */
function phoneRightBoundary(text: string, e: number): boolean {
  if (rightBoundary(text, e)) return true;
  const next = text.charCodeAt(e + 1);
  return text.charCodeAt(e) === 47 && ((next >= 65 && next <= 90) || (next >= 97 && next <= 122));
}

/**
 * Unbroken national numbers with a trunk 0 that need no context word: 11 digits after 06-09 (UK
 * mobile 07xxx xxxxxx and 08/09 service numbers, Indian mobiles 0 + 6-9xxxxxxxxx), French mobiles
 * 06/07 (10 digits, and not a valid ISBN-10 such as 0743273567), German mobiles 015x-017x
 * (11-12 digits).
 */
function trunkMobile(d: string): boolean {
  const n = d.length;
  const c1 = d.charCodeAt(1);
  if (n === 11 && c1 >= 54) return true;
  if (n === 10 && (c1 === 54 || c1 === 55)) return !isbn10Valid(d);
  return (n === 11 || n === 12) && c1 === 49 && d.charCodeAt(2) >= 53 && d.charCodeAt(2) <= 55;
}

/** The last word before a number names it as an id, code or reference (`"material_no":`, `order`). */
const ID_LABEL = /(?:^|[^a-z])(?:ids?|no|nr|num|number|code|ref|sku|serial|ean|gtin|isbn|order|invoice|account|acct|material|part|article|item|batch|lot|ticket|case)[^a-z0-9]{0,4}$/;

function isbn10Valid(d: string): boolean {
  let sum = 0;
  for (let i = 0; i < 10; i++) sum += (d.charCodeAt(i) - 48) * (10 - i);
  return sum % 11 === 0;
}

function allFourDigitGroups(groups: readonly Group[], k: number): boolean {
  for (let i = 0; i < k; i++) if (groups[i]!.digits.length !== 4) return false;
  return true;
}

function mixesDotAndDash(groups: readonly Group[], k: number): boolean {
  let dot = false;
  let dash = false;
  for (let i = 1; i < k; i++) {
    if (groups[i]!.sep === '.') dot = true;
    else if (groups[i]!.sep === '-') dash = true;
  }
  return dot && dash;
}

function isSep(c: number): boolean {
  return c === 32 || c === 45 || c === 46 || c === 47; // space - . /
}

/** Reads up to MAX_GROUPS digit groups separated by single separators (parentheses allowed), ending by `limit`. */
function readGroups(text: string, p: number, limit: number): { plus: boolean; groups: Group[] } {
  let i = p;
  // "(+44) 20 ...": the country code in parentheses.
  const parenPlus = text.charCodeAt(i) === 40 && text.charCodeAt(i + 1) === 43;
  const plus = parenPlus || text.charCodeAt(i) === 43;
  if (plus) i += parenPlus ? 2 : 1;
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
    const paren = (parenPlus && groups.length === 0) || text.charCodeAt(j) === 40;
    if (paren && !(parenPlus && groups.length === 0)) j++;
    const ds = j;
    while (j < text.length && j - ds < MAX_GROUP_DIGITS && isDigit(text.charCodeAt(j))) j++;
    if (j === ds || (j < text.length && isDigit(text.charCodeAt(j)))) break;
    if (paren) {
      // One digit in parentheses is only the trunk hint of +44 (0)20 ...
      if (text.charCodeAt(j) !== 41 || (j - ds === 1 && !(plus && groups.length === 1) && !(parenPlus && groups.length === 0))) break;
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

/** `intl`: the digits after + or 00 of the first `k` groups. */
function internationalValid(intl: string, groups: readonly Group[], k: number, prefixLength: number): boolean {
  const n = intl.length;
  if (n < 8 || n > 15 || intl.charCodeAt(0) === 48) return false;
  const cc = countryCodeLength(intl);
  if (cc === 0) return false;
  // Written with groups, the first group is the country code (+44 20 ..., 0044 20 ...).
  if (k > 1 && groups[0]!.digits.length - prefixLength !== cc) return false;
  if (intl.startsWith('1')) return nanpValid(intl.slice(1));
  if (intl.startsWith('44')) return (n === 12 || n === 11) && '1235789'.includes(intl[2]!);
  if (intl.startsWith('49')) return n >= 9 && n <= 14 && intl[2] !== '0';
  if (intl.startsWith('33')) return n === 11 && intl[2] !== '0';
  if (intl.startsWith('91')) return n === 12 && intl[2] !== '0';
  // Other countries (E.164): a single unbroken run, or after the country code an area code of any
  // length (Tokyo 3, Sydney 2) and then groups of 2+ digits.
  for (let i = 2; i < k; i++) if (groups[i]!.digits.length < 2 && !groups[i]!.paren) return false;
  return true;
}

/** The first `k` groups as a national number; `d` is their digits. */
function nationalValid(groups: readonly Group[], k: number, d: string, hasContext: boolean, idLabel: boolean): boolean {
  const n = d.length;
  const size = (i: number): number => groups[i]!.digits.length;
  if (d.startsWith('0')) {
    if (d[1] === '0') return false;
    if (k === 1) return (hasContext && n >= 10 && n <= 12) || (!idLabel && trunkMobile(d));
    // French: 0X XX XX XX XX with one separator kind.
    if (k === 5) {
      if (n !== 10) return false;
      for (let i = 0; i < 5; i++) if (size(i) !== 2 || (i > 1 && groups[i]!.sep !== groups[1]!.sep)) return false;
      return true;
    }
    if (k > 3) return false;
    // UK, German, Indian trunk formats: area code (0 + 1-5 digits) then subscriber groups of 3+;
    // three groups only for 10-11 digits (0XX XXXX XXXX, 0XXX XXX XXXX), so 4-4-4 codes do not fire.
    if (n < 9 || n > 12 || (k === 3 && n > 11)) return false;
    if (size(0) < 2 || size(0) > 6) return false;
    for (let i = 1; i < k; i++) if (size(i) < 3) return false;
    return true;
  }
  if (k === 1) return hasContext && (nanpValid(d) || (n === 10 && d.charCodeAt(0) >= 54) || (n === 11 && d[0] === '1' && nanpValid(d.slice(1))));
  for (let i = 1; i < k; i++) if (groups[i]!.sep === '/') return false;
  // North American: (NXX) NXX-XXXX, NXX-NXX-XXXX, 1-NXX-NXX-XXXX.
  if (k === 3 && size(0) === 3 && size(1) === 3 && size(2) === 4) return nanpValid(d);
  if (k === 4 && d[0] === '1' && size(0) === 1 && size(1) === 3 && size(2) === 3 && size(3) === 4) return nanpValid(d.slice(1));
  // Indian mobile without trunk prefix: 98765 43210.
  if (k === 2 && size(0) === 5 && size(1) === 5) return d.charCodeAt(0) >= 54;
  return false;
}

/**
 * Cheap test on the first digit group, before any allocation: without '+' or a trunk 0, a number
 * starts with 1, 3 or 5 digits (1-NXX, NXX, Indian mobile) or is one run of 10-11 digits.
 */
function quickReject(text: string, p: number): boolean {
  let i = p;
  const c0 = text.charCodeAt(i);
  if (c0 === 43 || (c0 === 40 && text.charCodeAt(i + 1) === 43)) return false;
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
 * France and India. Unformatted national digit runs need a context word (phone, call, ...),
 * except mobile shapes with a trunk 0 that no id label precedes.
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
  let idLabel: boolean | undefined;
  // The digits of the first k groups, and those without the "(0)" trunk hint of "+44 (0)20 ...",
  // for every k, built once: the loop below tries the longest number first.
  const digitsUpTo: string[] = [''];
  const intlUpTo: string[] = [''];
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    digitsUpTo.push(digitsUpTo[i]! + g.digits);
    intlUpTo.push(i > 0 && g.paren && g.digits === '0' ? intlUpTo[i]! : intlUpTo[i]! + g.digits);
  }
  for (let k = groups.length; k >= 1; k--) {
    const last = groups[k - 1]!;
    if (!phoneRightBoundary(text, last.end)) continue;
    // '.' and '-' in one number: an ISO 6709 coordinate (+40.7128-074.0060), not a phone.
    if (mixesDotAndDash(groups, k)) continue;
    const digits = digitsUpTo[k]!;
    if (digits.length < 7) return -1;
    // Unformatted runs without '+' need a context word before the number (a word after it
    // usually introduces the next value: "id: 9256862327, mobile: ..."); read once.
    if (k === 1 && !plus && context === undefined) context = PHONE_CONTEXT.test(contextBefore(text, p, 32));
    let ok: boolean;
    if (plus || digits.startsWith('00')) {
      // Without the 00 international prefix; an unbroken 00 run may be a zero-padded id.
      const intl = intlUpTo[k]!;
      // With 00 and only groups of four (0034 7515 9044) it reads as an account or tracking code.
      ok = (plus || (k > 1 ? !allFourDigitGroups(groups, k) : context === true)) && internationalValid(plus ? intl : intl.slice(2), groups, k, plus ? 0 : 2);
    } else {
      // An unbroken run right after an id label ("material_no":"07471933300") is that id.
      if (k === 1 && context === false && idLabel === undefined) idLabel = ID_LABEL.test(contextBefore(text, p, 24));
      ok = nationalValid(groups, k, digits, context === true, idLabel === true);
    }
    if (ok) return last.end;
  }
  return -1;
}
