import { isIPv6 } from 'node:net';
import { type Candidate, type Detector, PRIORITY, TRIGGER_DIGIT, isWordChar } from './detector.js';

const MAX_LEN = 45; // longest textual IPv6 address, IPv4 tail included

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function isAddrChar(c: number): boolean {
  return isHex(c) || c === 58 || c === 46;
}

/**
 * IP_ADDRESS (v6): anchored on ':' with a hex digit or ':' on both sides, expanded over at most 45
 * address characters, then validated by node:net. Needs a digit and two groups, so `a::b` and
 * `std::vector` do not fire; MAC addresses and clock times fail validation, EUI-64 ids are refused.
 */
export function createIpv6Detector(colonCheck = true): Detector {
  const plausible = colonCheck ? plausibleShape : hasDigitAndGroups;
  return {
    name: 'ipv6',
    needs: TRIGGER_DIGIT,
    types: ['IP_ADDRESS'],
    scan(text: string, out: Candidate[]): void {
      let c = text.indexOf(':');
      while (c !== -1) {
        let next = c + 1;
        const before = c > 0 ? text.charCodeAt(c - 1) : 0;
        const after = c + 1 < text.length ? text.charCodeAt(c + 1) : 0;
        if ((isHex(before) || before === 58) && (isHex(after) || after === 58)) {
          let s = c;
          while (s > 0 && c - s < MAX_LEN && isAddrChar(text.charCodeAt(s - 1))) s--;
          let e = c + 1;
          while (e < text.length && e - s < MAX_LEN && isAddrChar(text.charCodeAt(e))) e++;
          next = e;
          // A run of address characters longer than any address: skip all of it (keeps the scan linear).
          if ((s > 0 && isAddrChar(text.charCodeAt(s - 1))) || (e < text.length && isAddrChar(text.charCodeAt(e)))) {
            while (next < text.length && isAddrChar(text.charCodeAt(next))) next++;
            c = text.indexOf(':', next);
            continue;
          }
          const leftOk = s === 0 || !(isWordChar(text.charCodeAt(s - 1)) || isAddrChar(text.charCodeAt(s - 1)));
          const rightOk = e >= text.length || !isWordChar(text.charCodeAt(e));
          if (leftOk && rightOk) {
            // Trailing '.' or ':' may be punctuation.
            for (let k = 0; k < 3 && e > s; k++) {
              const cand = text.slice(s, e);
              if (plausible(cand) && !eui64Shape(cand) && isIPv6(cand)) {
                out.push({ type: 'IP_ADDRESS', start: s, end: e, priority: PRIORITY.validated });
                break;
              }
              const last = text.charCodeAt(e - 1);
              if (last !== 46 && last !== 58) break;
              e--;
            }
          }
        }
        c = text.indexOf(':', next);
      }
    },
  };
}

/**
 * Cheap necessary conditions before node:net: a digit, two groups, and without '::' exactly eight
 * groups (seven colons) or six and a dotted IPv4 tail (six colons). Clock times such as
 * `13:28:19.093` stop here.
 */
function plausibleShape(cand: string): boolean {
  let digit = false;
  let groups = 0;
  let colons = 0;
  let inGroup = false;
  let dot = false;
  let doubleColon = false;
  for (let i = 0; i < cand.length; i++) {
    const c = cand.charCodeAt(i);
    if (c === 58) {
      colons++;
      if (i > 0 && cand.charCodeAt(i - 1) === 58) doubleColon = true;
      inGroup = false;
      continue;
    }
    if (c >= 48 && c <= 57) digit = true;
    else if (c === 46) dot = true;
    if (!inGroup) {
      groups++;
      inGroup = true;
    }
  }
  if (!digit || groups < 2) return false;
  if (doubleColon) return true;
  return dot ? colons === 6 : colons === 7;
}

/** Eight groups of two hex digits (00:1a:2b:ff:fe:3c:4d:5e) is an EUI-64 hardware id, not an address. */
function eui64Shape(cand: string): boolean {
  if (cand.length !== 23) return false;
  for (let i = 2; i < 23; i += 3) if (cand.charCodeAt(i) !== 58) return false;
  return true;
}

/** The check without the colon count (the reference the equivalence test compares with). */
function hasDigitAndGroups(cand: string): boolean {
  if (!/\d/.test(cand)) return false;
  let groups = 0;
  for (const g of cand.split(':')) if (g.length > 0) groups++;
  return groups >= 2;
}
