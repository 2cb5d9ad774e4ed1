import { base58CheckAddressValid, segwitAddressValid } from '../checksums.js';
import { type Candidate, type Detector, PRIORITY, TRIGGER_DIGIT, isAlnum } from './detector.js';

/** Legacy (base58, version 1 or 3) and segwit (bech32/bech32m, bc1 or tb1) Bitcoin address shapes. */
const ADDRESS = /\b(?:[13][1-9A-HJ-NP-Za-km-z]{25,34}|(?:bc|tb)1[02-9ac-hj-np-z]{11,71}|(?:BC|TB)1[02-9AC-HJ-NP-Z]{11,71})\b/g;

/** CRYPTO: Bitcoin addresses, accepted only when the base58check or bech32(m) checksum holds. */
export function createCryptoDetector(): Detector {
  return {
    name: 'crypto',
    needs: TRIGGER_DIGIT,
    types: ['CRYPTO'],
    scan(text: string, out: Candidate[]): void {
      ADDRESS.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = ADDRESS.exec(text)) !== null) {
        const s = m.index;
        const e = s + m[0].length;
        if (s > 0 && isAlnum(text.charCodeAt(s - 1))) continue;
        if (e < text.length && isAlnum(text.charCodeAt(e))) continue;
        const ok = m[0].charCodeAt(0) === 49 || m[0].charCodeAt(0) === 51 ? base58CheckAddressValid(m[0]) : segwitAddressValid(m[0]);
        if (ok) out.push({ type: 'CRYPTO', start: s, end: e, priority: PRIORITY.validated });
      }
    },
  };
}
