import { base58CheckAddressValid, segwitAddressValid } from '../checksums.js';
import { type Candidate, type Detector, PRIORITY, TRIGGER_DIGIT, isAlnum } from './detector.js';

/** Legacy (base58, version 1 or 3) and segwit (bech32/bech32m, bc1 or tb1) Bitcoin address shapes. */
const ADDRESS = /\b(?:[13][1-9A-HJ-NP-Za-km-z]{25,34}|(?:bc|tb)1[02-9ac-hj-np-z]{11,71}|(?:BC|TB)1[02-9AC-HJ-NP-Z]{11,71})\b/g;
const STICKY_ADDRESS = new RegExp(ADDRESS.source, 'y');

/** The Bitcoin detector, with the hook the single pass (single-pass.ts) calls where an address may start. */
export interface CryptoDetector extends Detector {
  /** Handles an ADDRESS match at `s`, if there is one: returns where the search resumes, or -1. */
  at(text: string, s: number, out: Candidate[]): number;
}

/** CRYPTO: Bitcoin addresses, accepted only when the base58check or bech32(m) checksum holds. */
export function createCryptoDetector(): CryptoDetector {
  function handle(text: string, s: number, address: string, out: Candidate[]): number {
    const e = s + address.length;
    if (s > 0 && isAlnum(text.charCodeAt(s - 1))) return e;
    if (e < text.length && isAlnum(text.charCodeAt(e))) return e;
    const ok = address.charCodeAt(0) === 49 || address.charCodeAt(0) === 51 ? base58CheckAddressValid(address) : segwitAddressValid(address);
    if (ok) out.push({ type: 'CRYPTO', start: s, end: e, priority: PRIORITY.validated });
    return e;
  }

  return {
    name: 'crypto',
    needs: TRIGGER_DIGIT,
    types: ['CRYPTO'],
    scan(text: string, out: Candidate[]): void {
      ADDRESS.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = ADDRESS.exec(text)) !== null) ADDRESS.lastIndex = handle(text, m.index, m[0], out);
    },
    at(text: string, s: number, out: Candidate[]): number {
      STICKY_ADDRESS.lastIndex = s;
      const m = STICKY_ADDRESS.exec(text);
      return m === null ? -1 : handle(text, s, m[0], out);
    },
  };
}
