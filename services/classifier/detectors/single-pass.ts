import { endianness } from 'node:os';
import type { CryptoDetector } from './crypto-detector.js';
import type { Candidate, Detector } from './detector.js';
import type { IbanDetector } from './iban-detector.js';
import { KEY_WORD_PREFIXES, type KeyValueDetector } from './key-value-detector.js';
import { type NumberDetector, isNumberChar } from './number-detector.js';
import type { SecretDetector } from './secret-detector.js';

/** The detectors one pass can drive; absent ones (types not enabled) are skipped. */
export interface SinglePassDetectors {
  secret?: SecretDetector;
  keyValue?: KeyValueDetector;
  number?: NumberDetector;
  iban?: IbanDetector;
  crypto?: CryptoDetector;
}

export interface SinglePass {
  readonly detectors: ReadonlySet<Detector>;
  /** Each detector's candidate list: the same arrays every scan refills. */
  readonly found: ReadonlyMap<Detector, Candidate[]>;
  /**
   * Runs every detector of the pass over `text` and returns each one's candidates, exactly those
   * (and in the order) its own `scan` would append. The arrays are reused by the next call.
   */
  scan(text: string): ReadonlyMap<Detector, Candidate[]>;
  /** Whether the text of the last scan had an ASCII digit (the IPv6 detector's trigger). */
  lastTextHadDigit(): boolean;
}

// Per character (ASCII; any other character is in no class): a 2-bit word code for the word-start
// patterns below, and whether it can be part of a region of numbers.
const NON_WORD = 0;
const LETTER = 1;
const DIGIT_1_3 = 2; // '1' and '3' start legacy Bitcoin addresses
const OTHER_WORD = 3; // other digits and '_'
const NUMBER = 4;
const DIGIT = 8;
// 65536 entries: a lookup without a range check first (only the first 128 are ever non-zero).
const CLASS = new Uint8Array(65536);
for (let c = 0; c < 128; c++) {
  const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  const digit = c >= 48 && c <= 57;
  const word = letter ? LETTER : c === 49 || c === 51 ? DIGIT_1_3 : digit || c === 95 ? OTHER_WORD : NON_WORD;
  CLASS[c] = word | (isNumberChar(c) ? NUMBER : 0) | (digit ? DIGIT : 0);
}

// Flags of the last five word codes (2 bits each, oldest first; before the text counts as
// NON_WORD, which is what \b sees there). Each is a necessary condition of a detector's start
// regex, checked exactly before the detector's hook runs.
const IBAN_START = 4; // \b[A-Za-z]{2}\d{2} ends here: starts 3 back
const LEGACY_START = 8; // \b[13] then a word character: starts 1 back
const SEGWIT_START = 16; // \b(?:bc|tb|BC|TB)1: starts 2 back
const WORD_STARTS = new Uint8Array(1 << 10);
for (let g = 0; g < 1 << 10; g++) {
  const code = (back: number): number => (g >> (2 * back)) & 3;
  const isDigitCode = (k: number): boolean => k === DIGIT_1_3 || k === OTHER_WORD;
  let f = 0;
  if (code(4) === NON_WORD && code(3) === LETTER && code(2) === LETTER && isDigitCode(code(1)) && isDigitCode(code(0))) f |= IBAN_START;
  if (code(2) === NON_WORD && code(1) === DIGIT_1_3 && code(0) !== NON_WORD) f |= LEGACY_START;
  if (code(3) === NON_WORD && code(2) === LETTER && code(1) === LETTER && code(0) === DIGIT_1_3) f |= SEGWIT_START;
  WORD_STARTS[g] = f;
}

/**
 * The text's UTF-16 code units in a reused array: reading a typed array in the loop costs about
 * half of `charCodeAt` on every string, and the copy (Buffer's native UTF-16 writer) is cheap.
 */
const MAX_KEPT_UNITS = 1 << 20;

function createCodeUnitReader(): (text: string, room: number) => Uint16Array {
  let units = new Uint16Array(4096);
  let bytes = Buffer.from(units.buffer);
  const littleEndian = endianness() === 'LE';
  return (text: string, room: number): Uint16Array => {
    let into = units;
    let intoBytes = bytes;
    if (room > units.length) {
      into = new Uint16Array(2 ** Math.ceil(Math.log2(room)));
      intoBytes = Buffer.from(into.buffer);
      // Kept for the next texts up to 2 MB; a rare larger text gets an array of its own.
      if (into.length <= MAX_KEPT_UNITS) {
        units = into;
        bytes = intoBytes;
      }
    }
    // Buffer.write costs about 100 ns before it copies anything: short texts are copied by hand.
    if (littleEndian && text.length > 32) intoBytes.write(text, 0, 'utf16le');
    else for (let i = 0; i < text.length; i++) into[i] = text.charCodeAt(i);
    return into;
  };
}

/** Base58 (Bitcoin legacy addresses): digits 1-9 and letters without 0, O, I, l. */
function isBase58(c: number): boolean {
  return (c >= 49 && c <= 57) || (c >= 65 && c <= 90 && c !== 73 && c !== 79) || (c >= 97 && c <= 122 && c !== 108);
}

// Keyword filter: the last three characters folded to their low 5 bits (so upper and lower case
// letters share an entry, as the case-insensitive key words need), one table entry each. A set bit
// means a keyword may start two characters back; collisions only cost a regex call that fails,
// never a missed keyword.
const SECRET_KEYWORD = 1;
const KEY_WORD = 2;

function trigram(a: number, b: number, c: number): number {
  return ((a & 31) << 10) | ((b & 31) << 5) | (c & 31);
}

function markPrefixes(table: Uint8Array, words: readonly string[], bit: number): void {
  const any = [...Array(32).keys()];
  for (const w of words) {
    // A word shorter than three characters may be followed by anything.
    const a = w.length > 0 ? [w.charCodeAt(0)] : any;
    const b = w.length > 1 ? [w.charCodeAt(1)] : any;
    const c = w.length > 2 ? [w.charCodeAt(2)] : any;
    for (const x of a) for (const y of b) for (const z of c) table[trigram(x, y, z)]! |= bit;
  }
}

/**
 * The keyword-, word- and region-anchored detectors in one pass over the character codes, in
 * place of one regex or loop per detector: where a detector's trigger may start (a trigram of a
 * secret keyword or key word, a word start shaped like an IBAN or a Bitcoin address, the end of a
 * region of number characters) its anchored hook runs there. Each hook returns where its own
 * search resumes, as its regex's lastIndex would, so the findings are the same as the separate
 * scans' (test/unit/classifier/trigger-equivalence.test.ts compares them).
 */
export function createSinglePass(parts: SinglePassDetectors): SinglePass {
  const { secret, keyValue, number, iban, crypto } = parts;
  const table = new Uint8Array(1 << 15);
  if (secret !== undefined) markPrefixes(table, secret.keywords, SECRET_KEYWORD);
  if (keyValue !== undefined) markPrefixes(table, KEY_WORD_PREFIXES, KEY_WORD);
  const found = new Map<Detector, Candidate[]>();
  for (const d of [secret, keyValue, number, iban, crypto]) if (d !== undefined) found.set(d, []);
  const secretOut = secret === undefined ? [] : found.get(secret)!;
  const keyOut = keyValue === undefined ? [] : found.get(keyValue)!;
  const numberOut = number === undefined ? [] : found.get(number)!;
  const ibanOut = iban === undefined ? [] : found.get(iban)!;
  const cryptoOut = crypto === undefined ? [] : found.get(crypto)!;
  // Without the number detector no region is ever long enough.
  const minRegion = number?.minRegion ?? 0x7fffffff;
  const enabledFlags = (secret === undefined ? 0 : SECRET_KEYWORD) | (keyValue === undefined ? 0 : KEY_WORD) | (iban === undefined ? 0 : IBAN_START) | (crypto === undefined ? 0 : LEGACY_START | SEGWIT_START);
  const codeUnits = createCodeUnitReader();

  /** Runs the hooks flagged at position i (f: keyword and word-start flags). */
  function hooks(text: string, u: Uint16Array, i: number, f: number): void {
    const n = text.length;
    // (Resume positions are never negative, so the checks below also keep every start inside the text.)
    if ((f & SECRET_KEYWORD) !== 0 && i - 2 >= secretResume) {
      const r = secret!.at(text, i - 2, secretOut);
      if (r >= 0) secretResume = r;
    }
    if ((f & KEY_WORD) !== 0 && i - 2 >= keyResume) {
      const r = keyValue!.at(text, i - 2, keyOut);
      if (r >= 0) keyResume = r;
    }
    if ((f & IBAN_START) !== 0 && iban !== undefined && i - 3 >= ibanResume && u[i - 1]! <= 57 && u[i]! <= 57) {
      ibanResume = iban.at(text, i - 3, ibanOut); // the digit codes also cover '_'
    }
    if ((f & LEGACY_START) !== 0 && crypto !== undefined && i - 1 >= cryptoResume && n - (i - 1) >= 26 && isBase58(u[i]!)) {
      const r = crypto.at(text, i - 1, cryptoOut);
      if (r >= 0) cryptoResume = r;
    }
    if ((f & SEGWIT_START) !== 0 && crypto !== undefined && i - 2 >= cryptoResume) {
      const a = u[i - 2]!;
      const b = u[i - 1]!;
      if ((a === 98 && b === 99) || (a === 116 && b === 98) || (a === 66 && b === 67) || (a === 84 && b === 66)) {
        const r = crypto.at(text, i - 2, cryptoOut);
        if (r >= 0) cryptoResume = r;
      }
    }
  }

  // Where each detector's own search would resume (its regex's lastIndex); reset by scan.
  let secretResume = 0;
  let keyResume = 0;
  let ibanResume = 0;
  let cryptoResume = 0;

  function scan(text: string): ReadonlyMap<Detector, Candidate[]> {
    // Setting an array's length is a runtime call: only for lists that hold something.
    for (const list of found.values()) if (list.length !== 0) list.length = 0;
    secretResume = 0;
    keyResume = 0;
    ibanResume = 0;
    cryptoResume = 0;
    const n = text.length;
    const u = codeUnits(text, n + 2);
    // Two characters past the end (code 0) let keywords shorter than three characters end there.
    u[n] = 0;
    u[n + 1] = 0;
    // Locals rather than closure variables in the loop: about twice as fast.
    const keywords = table;
    const flagsOn = enabledFlags;
    const shortestRegion = minRegion;
    let tri = 0; // folded last three characters
    let codes = 0; // word codes of the last five characters
    let run = 0; // length of the region of number characters ending here
    let seen = 0; // every class met
    for (let i = 0; i < n + 2; i++) {
      const c = u[i]!;
      const k = CLASS[c]!;
      seen |= k;
      tri = ((tri << 5) | (c & 31)) & 0x7fff;
      codes = ((codes << 2) | (k & 3)) & 0x3ff;
      const f = (keywords[tri]! | WORD_STARTS[codes]!) & flagsOn;
      if (f !== 0) hooks(text, u, i, f);
      // Branch-free region tracking (spaces are number characters: a branch per space would be
      // mispredicted all the time); the padding after the text ends the last region.
      const inRegion = (k >> 2) & 1;
      if (run >= shortestRegion && inRegion === 0) number!.region(text, i - run, i, numberOut);
      run = (run + 1) * inRegion;
    }
    hadDigit = (seen & DIGIT) !== 0;
    return found;
  }
  let hadDigit = false;

  return { detectors: new Set(found.keys()), found, scan, lastTextHadDigit: () => hadDigit };
}
