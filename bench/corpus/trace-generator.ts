/**
 * Seeded generator of trace-like text (agent reasoning, JSON tool calls, logs, config snippets)
 * with labelled sensitive values and unlabelled look-alikes. Used by the accuracy report and the
 * throughput benchmark; the same seed always gives the same corpus.
 */
import { createHash } from 'node:crypto';
import { ssnValid } from '../../services/classifier/checksums.js';

export interface Label {
  type: string;
  start: number;
  end: number;
  subtype?: string;
  /** Which generator made it, to find the cases a detector misses. */
  kind: string;
}

export interface LabelledRecord {
  id: string;
  text: string;
  labels: Label[];
}

export type Rng = () => number;

/** mulberry32: small, fast, good enough for test data. */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DIGITS = '0123456789';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const HEX = '0123456789abcdef';
const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** Draws from a seeded `Rng`: integers, picks, coin flips, strings. */
export class Gen {
  constructor(readonly rng: Rng) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rng() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rng() * xs.length)]!;
  }
  chance(p: number): boolean {
    return this.rng() < p;
  }
  str(alphabet: string, n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(this.rng() * alphabet.length)];
    return s;
  }
}

// ---------- valid values ----------

/** The Luhn check digit of a digit string (credit cards). */
export function luhnCheckDigit(partial: string): string {
  let sum = 0;
  let double = true;
  for (let i = partial.length - 1; i >= 0; i--) {
    let v = partial.charCodeAt(i) - 48;
    if (double) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
    double = !double;
  }
  return String((10 - (sum % 10)) % 10);
}

function cardNumber(g: Gen): { digits: string; amex: boolean } {
  const scheme = g.pick(['visa', 'visa', 'mc', 'mc2', 'amex', 'discover', 'jcb', 'diners'] as const);
  let prefix: string;
  let len = 16;
  switch (scheme) {
    case 'visa': prefix = '4'; break;
    case 'mc': prefix = String(g.int(51, 55)); break;
    case 'mc2': prefix = String(g.int(2221, 2720)); break;
    case 'amex': prefix = g.pick(['34', '37']); len = 15; break;
    case 'discover': prefix = '6011'; break;
    case 'jcb': prefix = String(g.int(3528, 3589)); break;
    case 'diners': prefix = g.pick(['36', '38']); len = 14; break;
  }
  const body = prefix + g.str(DIGITS, len - 1 - prefix.length);
  return { digits: body + luhnCheckDigit(body), amex: scheme === 'amex' };
}

function formatCard(g: Gen, digits: string, amex: boolean): string {
  const style = g.int(0, 3);
  if (style === 0) return digits;
  const sep = style === 1 ? ' ' : '-';
  if (amex) return `${digits.slice(0, 4)}${sep}${digits.slice(4, 10)}${sep}${digits.slice(10)}`;
  if (digits.length === 14) return `${digits.slice(0, 4)}${sep}${digits.slice(4, 10)}${sep}${digits.slice(10)}`;
  return digits.match(/.{1,4}/g)!.join(sep);
}

/** ISO 7064 MOD 97-10 remainder of an alphanumeric string, letters as 10..35 (IBAN check). */
export function mod97(s: string): number {
  let r = 0;
  for (const ch of s) {
    const v = /\d/.test(ch) ? ch : String(ch.charCodeAt(0) - 55);
    for (const d of v) r = (r * 10 + Number(d)) % 97;
  }
  return r;
}

const IBAN_FORMATS: Record<string, (g: Gen) => string> = {
  DE: (g) => g.str(DIGITS, 18),
  GB: (g) => g.str(UPPER, 4) + g.str(DIGITS, 14),
  FR: (g) => g.str(DIGITS, 10) + g.str(UPPER + DIGITS, 11) + g.str(DIGITS, 2),
  NL: (g) => g.str(UPPER, 4) + g.str(DIGITS, 10),
  ES: (g) => g.str(DIGITS, 20),
  IT: (g) => g.str(UPPER, 1) + g.str(DIGITS, 10) + g.str(UPPER + DIGITS, 12),
  CH: (g) => g.str(DIGITS, 5) + g.str(UPPER + DIGITS, 12),
  BE: (g) => g.str(DIGITS, 12),
  NO: (g) => g.str(DIGITS, 11),
  PL: (g) => g.str(DIGITS, 24),
  IE: (g) => g.str(UPPER, 4) + g.str(DIGITS, 14),
  SE: (g) => g.str(DIGITS, 20),
};

function iban(g: Gen): string {
  const cc = g.pick(Object.keys(IBAN_FORMATS));
  const bban = IBAN_FORMATS[cc]!(g);
  const check = 98 - mod97(bban + cc + '00');
  return cc + String(check).padStart(2, '0') + bban;
}

function formatIban(g: Gen, compact: string): string {
  const r = g.int(0, 9);
  if (r < 4) return compact;
  if (r < 9) return compact.match(/.{1,4}/g)!.join(' ');
  return compact.toLowerCase();
}

function ssn(g: Gen): string {
  let area = g.int(1, 899);
  if (area === 666) area = 667;
  return `${String(area).padStart(3, '0')}${String(g.int(1, 99)).padStart(2, '0')}${String(g.int(1, 9999)).padStart(4, '0')}`;
}

function nanp(g: Gen): string {
  return `${g.int(2, 9)}${g.str(DIGITS, 2)}${g.int(2, 9)}${g.str(DIGITS, 2)}${g.str(DIGITS, 4)}`;
}

function phone(g: Gen): { value: string; kind: string } {
  const d = nanp(g);
  const a = d.slice(0, 3);
  const b = d.slice(3, 6);
  const c = d.slice(6);
  const uk = `7${g.str(DIGITS, 9)}`;
  const ukLand = `20${g.int(3, 8)}${g.str(DIGITS, 7)}`;
  const de = `30${g.int(1, 9)}${g.str(DIGITS, 6)}`;
  const deMob = `15${g.int(1, 9)}${g.str(DIGITS, 8)}`;
  const fr = `${g.int(1, 7)}${g.str(DIGITS, 8)}`;
  const inMob = `${g.int(6, 9)}${g.str(DIGITS, 9)}`;
  const pairs = (s: string, sep: string): string => s.match(/.{1,2}/g)!.join(sep);
  const options: Array<[string, string]> = [
    [`(${a}) ${b}-${c}`, 'nanp-paren'],
    [`${a}-${b}-${c}`, 'nanp-dash'],
    [`${a}.${b}.${c}`, 'nanp-dot'],
    [`${a} ${b} ${c}`, 'nanp-space'],
    [`+1 ${a} ${b} ${c}`, 'nanp-intl'],
    [`+1-${a}-${b}-${c}`, 'nanp-intl-dash'],
    [`1-${a}-${b}-${c}`, 'nanp-1'],
    [`+1${d}`, 'e164-us'],
    [`+44 ${uk.slice(0, 4)} ${uk.slice(4)}`, 'uk-mobile-intl'],
    [`0${uk.slice(0, 4)} ${uk.slice(4)}`, 'uk-mobile'],
    [`+44 (0)${ukLand.slice(0, 2)} ${ukLand.slice(2, 6)} ${ukLand.slice(6)}`, 'uk-land-intl'],
    [`0${ukLand.slice(0, 2)} ${ukLand.slice(2, 6)} ${ukLand.slice(6)}`, 'uk-land'],
    [`+44${uk}`, 'e164-uk'],
    [`+49 ${de.slice(0, 2)} ${de.slice(2)}`, 'de-intl'],
    [`+49 ${deMob.slice(0, 3)} ${deMob.slice(3)}`, 'de-mobile-intl'],
    [`0${de.slice(0, 2)} ${de.slice(2)}`, 'de-land'],
    [`0${de.slice(0, 2)}/${de.slice(2)}`, 'de-slash'],
    [`(0${de.slice(0, 2)}) ${de.slice(2)}`, 'de-paren'],
    [`0${deMob.slice(0, 3)} ${deMob.slice(3)}`, 'de-mobile'],
    [`+33 ${fr[0]} ${pairs(fr.slice(1), ' ')}`, 'fr-intl'],
    [`0${fr[0]} ${pairs(fr.slice(1), ' ')}`, 'fr-space'],
    [`0${fr[0]}.${pairs(fr.slice(1), '.')}`, 'fr-dot'],
    [`+91 ${inMob.slice(0, 5)} ${inMob.slice(5)}`, 'in-intl'],
    [`+91-${inMob}`, 'in-intl-dash'],
    [`0${inMob.slice(0, 5)} ${inMob.slice(5)}`, 'in-trunk'],
    [`${inMob.slice(0, 5)} ${inMob.slice(5)}`, 'in-national'],
    [`+61 4${g.str(DIGITS, 2)} ${g.str(DIGITS, 3)} ${g.str(DIGITS, 3)}`, 'au-intl'],
    [`+81${g.int(70, 90)}${g.str(DIGITS, 8)}`, 'e164-jp'],
  ];
  const [value, kind] = g.pick(options);
  return { value, kind };
}

const FIRST = ['james', 'maria', 'wei', 'fatima', 'olga', 'juan', 'priya', 'tom', 'anne-marie', 'li', "o'brien", 'sven', 'noor', 'kofi'];
const LAST = ['smith', 'garcia', 'chen', 'khan', 'ivanova', 'mueller', 'patel', 'dubois', 'nguyen', 'okafor', 'rossi', 'tanaka'];
const DOMAINS = ['example.com', 'mail.example.org', 'corp.acme.io', 'gmail.com', 'outlook.de', 'univ.ac.uk', 'startup.ai', 'shop.co.jp', 'xn--bcher-kva.example', 'sub.dept.bigco.com'];

function email(g: Gen): string {
  const f = g.pick(FIRST).replace("'", '');
  const l = g.pick(LAST);
  const local = g.pick([`${f}.${l}`, `${f}${l[0]}`, `${f}_${l}${g.int(1, 99)}`, `${f}+${g.pick(['news', 'billing', 'test'])}`, `${f[0]}${l}`, `${f.toUpperCase()}.${l}`]);
  return `${local}@${g.pick(DOMAINS)}`;
}

function ipv4(g: Gen): string {
  return g.pick([
    () => `10.${g.int(0, 255)}.${g.int(0, 255)}.${g.int(1, 254)}`,
    () => `192.168.${g.int(0, 255)}.${g.int(1, 254)}`,
    () => `${g.int(1, 223)}.${g.int(0, 255)}.${g.int(0, 255)}.${g.int(1, 254)}`,
  ])();
}

function ipv6(g: Gen): string {
  const grp = (): string => g.str(HEX, g.int(1, 4)).replace(/^0+(?=.)/, '');
  return g.pick([
    () => Array.from({ length: 8 }, grp).join(':'),
    () => `2001:db8:${grp()}:${grp()}::${g.int(1, 9)}${g.str(HEX, g.int(0, 3))}`,
    () => `fe80::${grp()}:${grp()}:${g.int(1, 9)}${g.str(HEX, 3)}:${grp()}`,
    () => `::ffff:${ipv4(g)}`,
  ])();
}

function sha256(b: Uint8Array): Buffer {
  return createHash('sha256').update(b).digest();
}

function base58(bytes: Uint8Array): string {
  let n = BigInt('0x' + (Buffer.from(bytes).toString('hex') || '0'));
  let s = '';
  while (n > 0n) {
    s = B58[Number(n % 58n)] + s;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    s = '1' + s;
  }
  return s;
}

const BECH = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
function polymod(values: number[]): number {
  const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GEN[i]!;
  }
  return chk >>> 0;
}

function segwit(version: number, program: Uint8Array): string {
  const data = [version];
  let acc = 0;
  let bits = 0;
  for (const b of program) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      data.push((acc >>> bits) & 31);
    }
  }
  if (bits > 0) data.push((acc << (5 - bits)) & 31);
  const hrp = [3, 3, 0, 2, 3]; // "bc" expanded
  const constant = version === 0 ? 1 : 0x2bc830a3;
  const pm = polymod([...hrp, ...data, 0, 0, 0, 0, 0, 0]) ^ constant;
  for (let i = 0; i < 6; i++) data.push((pm >>> (5 * (5 - i))) & 31);
  return 'bc1' + data.map((d) => BECH[d]).join('');
}

function bitcoin(g: Gen): string {
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => g.int(0, 255));
  const kind = g.int(0, 3);
  if (kind <= 1) {
    const payload = Uint8Array.from([kind === 0 ? 0 : 5, ...bytes(20)]);
    const check = sha256(sha256(payload)).subarray(0, 4);
    return base58(Uint8Array.from([...payload, ...check]));
  }
  return kind === 2 ? segwit(0, bytes(20)) : segwit(1, bytes(32));
}

function b64url(s: string): string {
  return Buffer.from(s).toString('base64url');
}

function secret(g: Gen): { value: string; subtype: string } {
  const r = g.int(0, 12);
  switch (r) {
    case 0: return { value: `AKIA${g.str('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`, subtype: 'aws_access_key_id' };
    case 1: return { value: `ghp_${g.str(ALNUM, 36)}`, subtype: 'github_token' };
    case 2: return { value: `github_pat_${g.str(ALNUM, 22)}_${g.str(ALNUM, 59)}`, subtype: 'github_token' };
    case 3: return { value: `glpat-${g.str(ALNUM + '-_', 20)}`, subtype: 'gitlab_token' };
    case 4: return { value: `xoxb-${g.str(DIGITS, 12)}-${g.str(DIGITS, 13)}-${g.str(ALNUM, 24)}`, subtype: 'slack_token' };
    case 5: return { value: `sk-proj-${g.str(ALNUM + '_-', 60)}${g.int(0, 9)}aZ`, subtype: 'openai_api_key' };
    case 6: return { value: `sk-ant-api03-${g.str(ALNUM + '_-', 93)}AA`, subtype: 'anthropic_api_key' };
    case 7: return { value: `AIza${g.str(ALNUM + '_-', 35)}`, subtype: 'google_api_key' };
    case 8: return { value: `sk_live_${g.str(ALNUM, 24)}`, subtype: 'stripe_key' };
    case 9: {
      const h = b64url(JSON.stringify({ alg: g.pick(['RS256', 'HS256', 'ES256']), typ: 'JWT', kid: g.str(HEX, 8) }));
      const p = b64url(JSON.stringify({ sub: `user-${g.int(1, 99999)}`, iat: 1700000000 + g.int(0, 1e6), scope: 'read write' }));
      return { value: `${h}.${p}.${g.str(ALNUM + '-_', 43)}`, subtype: 'jwt' };
    }
    case 10: return { value: `rk_test_${g.str(ALNUM, 30)}`, subtype: 'stripe_key' };
    case 11: return { value: `ya29.${g.str(ALNUM + '_-', 80)}`, subtype: 'google_oauth_token' };
    default: return { value: `ghs_${g.str(ALNUM, 36)}`, subtype: 'github_token' };
  }
}

function password(g: Gen): string {
  return g.pick([
    () => `${g.pick(['Summer', 'hunter', 'Passw0rd', 'correct-horse', 'Tr0ub4dor'])}${g.int(1, 9999)}${g.pick(['!', '#', '', '$'])}`,
    () => g.str(ALNUM, g.int(12, 24)),
    () => `${g.str(ALNUM, 6)}%${g.str(ALNUM, 4)}`,
  ])();
}

// ---------- look-alikes (never labelled) ----------

function uuid(g: Gen): string {
  return `${g.str(HEX, 8)}-${g.str(HEX, 4)}-4${g.str(HEX, 3)}-${g.pick(['8', '9', 'a', 'b'])}${g.str(HEX, 3)}-${g.str(HEX, 12)}`;
}

function failingCard(g: Gen): string {
  const { digits } = cardNumber(g);
  const last = Number(digits[digits.length - 1]);
  return digits.slice(0, -1) + String((last + g.int(1, 9)) % 10);
}

function isbn13(g: Gen): string {
  const body = `978${g.int(0, 1)}${g.str(DIGITS, 8)}`;
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(body[i]) * (i % 2 === 0 ? 1 : 3);
  const c = (10 - (sum % 10)) % 10;
  return `${body.slice(0, 3)}-${body[3]}-${body.slice(4, 6)}-${body.slice(6, 12)}-${c}`;
}

function trap(g: Gen): string {
  const ts = new Date(Date.UTC(2023, 0, 1) + g.int(0, 3e10)).toISOString();
  const options: Array<() => string> = [
    () => uuid(g),
    () => g.str(HEX, 40),
    () => g.str(HEX, 7),
    () => `order #${g.str(DIGITS, 8)}`,
    () => `ORD-${g.int(2019, 2025)}-${g.str(DIGITS, 6)}`,
    () => `order ${g.int(1, 9)}${g.str(DIGITS, 11)}`,
    () => failingCard(g),
    () => ts,
    () => ts.replace('T', ' ').slice(0, 19),
    () => String(Math.floor(Date.parse(ts) / (g.chance(0.5) ? 1 : 1000))),
    () => `$${g.int(1, 9)},${g.str(DIGITS, 3)}.${g.str(DIGITS, 2)}`,
    () => `${g.int(1, 999)}.${g.str(DIGITS, 2)} EUR`,
    () => `ISBN ${isbn13(g)}`,
    () => `v${g.int(0, 9)}.${g.int(0, 30)}.${g.int(0, 99)}`,
    () => `version ${g.int(1, 9)}.${g.int(0, 9)}.${g.int(0, 9)}.${g.int(0, 999)}`,
    () => `#${g.str(HEX, 6)}`,
    () => `1Z${g.str('0123456789ABCDEFGHJKLMNPRSTUVWXYZ', 6)}${g.str(DIGITS, 10)}`,
    () => `${g.str(DIGITS, 4)} ${g.str(DIGITS, 4)} ${g.str(DIGITS, 4)}`,
    () => `9400 1${g.str(DIGITS, 3)} ${g.str(DIGITS, 4)} ${g.str(DIGITS, 4)} ${g.str(DIGITS, 4)} ${g.str(DIGITS, 2)}`,
    () => `${g.int(0, 23)}:${String(g.int(0, 59)).padStart(2, '0')}:${String(g.int(0, 59)).padStart(2, '0')}`,
    () => Array.from({ length: 6 }, () => g.str(HEX, 2)).join(':'),
    () => `icon@${g.int(2, 3)}x.png`,
    () => `npm i left-pad@${g.int(1, 9)}.${g.int(0, 9)}.${g.int(0, 9)}`,
    () => `@${g.pick(FIRST).replace("'", '')}_${g.int(1, 99)}`,
    () => `std::vector<int>`,
    () => `1.3.6.1.4.1.${g.int(1, 60000)}.${g.int(1, 9)}`,
    () => `${g.int(256, 999)}.${g.int(0, 255)}.${g.int(0, 255)}.${g.int(0, 255)}`,
    () => `${g.int(0, 3)}${g.str(DIGITS, 2)}-00-${g.str(DIGITS, 4)}`,
    () => `666-${g.str(DIGITS, 2)}-${g.str(DIGITS, 4)}`,
    () => `1${g.str(B58, 33)}`,
    () => `0x${g.str(HEX, 40)}`,
    () => `"customer_id": ${nanp(g)}`,
    () => `${String(g.int(1, 28)).padStart(2, '0')}.${String(g.int(1, 12)).padStart(2, '0')}.${g.int(1990, 2025)}`,
    () => `req_${g.str(ALNUM, 24)}`,
    () => Buffer.from(g.str(ALNUM, 48)).toString('base64'),
    () => `"max_tokens": ${g.int(100, 8000)}, "token_count": ${g.int(1, 9999)}`,
    () => `sk-learn==${g.int(0, 1)}.${g.int(0, 9)}`,
    () => `task-${g.str(ALNUM, 20)}`,
    () => `"next_cursor": "${g.str(ALNUM, 16)}"`,
    () => `tel. ${g.int(1, 9)} items`,
    () => `${g.int(1000, 9999)}-${g.int(10, 99)}-${g.int(10, 99)}`,
    () => `PT${g.int(1, 59)}M${g.int(1, 59)}S`,
    () => `${g.int(10, 99)}${g.str(DIGITS, 3)}.${g.str(DIGITS, 4)}`,
  ];
  return g.pick(options)();
}

// ---------- record builder ----------

class Builder {
  text = '';
  labels: Label[] = [];
  add(s: string): this {
    this.text += s;
    return this;
  }
  pii(type: string, value: string, kind: string, subtype?: string): this {
    const start = this.text.length;
    this.text += value;
    this.labels.push({ type, start, end: this.text.length, kind, ...(subtype === undefined ? {} : { subtype }) });
    return this;
  }
  /** A JSON string literal whose content is a labelled value (escaping kept out of the label). */
  jsonString(type: string | undefined, value: string, kind: string, subtype?: string): this {
    const lit = JSON.stringify(value);
    if (type === undefined || lit.length !== value.length + 2) return this.add(lit);
    this.add('"');
    this.pii(type, value, kind, subtype);
    return this.add('"');
  }
}

type Piece = (b: Builder, g: Gen) => void;

function piiValue(g: Gen): { type: string; value: string; kind: string; subtype?: string } {
  const r = g.int(0, 15);
  if (r <= 2) return { type: 'EMAIL_ADDRESS', value: email(g), kind: 'email' };
  if (r <= 5) {
    const p = phone(g);
    return { type: 'PHONE_NUMBER', value: p.value, kind: p.kind };
  }
  if (r <= 7) {
    const c = cardNumber(g);
    return { type: 'CREDIT_CARD', value: formatCard(g, c.digits, c.amex), kind: 'card' };
  }
  if (r === 8) return { type: 'IBAN_CODE', value: formatIban(g, iban(g)), kind: 'iban' };
  if (r === 9) {
    const s = ssn(g);
    return { type: 'US_SSN', value: g.chance(0.8) ? `${s.slice(0, 3)}-${s.slice(3, 5)}-${s.slice(5)}` : `${s.slice(0, 3)} ${s.slice(3, 5)} ${s.slice(5)}`, kind: 'ssn' };
  }
  if (r === 10) return { type: 'IP_ADDRESS', value: ipv4(g), kind: 'ipv4' };
  if (r === 11) return { type: 'IP_ADDRESS', value: ipv6(g), kind: 'ipv6' };
  if (r === 12) return { type: 'CRYPTO', value: bitcoin(g), kind: 'bitcoin' };
  const s = secret(g);
  return { type: 'SECRET', value: s.value, kind: s.subtype, subtype: s.subtype };
}

const INTROS = [
  'Let me check the account. ', 'The user asked me to update their details. ', 'Thinking: I should verify this before calling the tool. ',
  'Found a matching record. ', 'Step 3: cross-reference with the billing system. ', 'Okay, the previous call failed with a 429, retrying. ',
  'Summary of the conversation so far: ', 'I will not store this anywhere. ', 'Observation: ',
];
const FILLER = [
  'The latency was fine and the cache hit ratio stayed above 90%. ', 'No further action is needed on the ticket. ',
  'I compared three options and picked the cheapest one. ', 'The tool returned 12 results; showing the top 3. ',
  'Retrying in 2 seconds (attempt 2 of 5). ', 'The document has 4 sections and 2 tables. ', 'Memory usage is 512 MB. ',
  'Deploy finished at build 4821 on node-7. ', 'Cost so far: 0.0123 USD for 5,812 tokens. ',
];

const CONTEXT_FOR: Record<string, string[]> = {
  EMAIL_ADDRESS: ['Send the invoice to ', 'Their email is ', 'cc: ', 'Reply-To: '],
  PHONE_NUMBER: ['Call them at ', 'phone: ', 'Their number is ', 'Reached the customer on ', 'mobile '],
  CREDIT_CARD: ['Card on file: ', 'They paid with ', 'card number ', 'charged to '],
  IBAN_CODE: ['Refund to IBAN ', 'account ', 'Bank details: '],
  US_SSN: ['SSN: ', 'social security number ', 'Their SSN is ', 'tax id '],
  IP_ADDRESS: ['Request came from ', 'client_ip=', 'Connecting to ', 'host '],
  CRYPTO: ['Send BTC to ', 'wallet ', 'Payout address: '],
  SECRET: ['Using key ', 'token=', 'export API_TOKEN=', 'Found in the logs: ', 'Authorization: Bearer '],
};

const pieces: Piece[] = [
  // Agent prose with one value.
  (b, g) => {
    const v = piiValue(g);
    b.add(g.pick(INTROS)).add(g.pick(CONTEXT_FOR[v.type] ?? ['value: ']));
    b.pii(v.type, v.value, v.kind, v.subtype);
    b.add(g.pick(['. ', ', then continue. ', ' ', '\n', '; ']));
  },
  // Prose with a look-alike.
  (b, g) => {
    b.add(g.pick(INTROS)).add(g.pick(['Reference ', 'See ', 'Noted ', 'Value ', 'ID ', ''])).add(trap(g)).add(g.pick(['. ', ' ', '\n', ', ']));
  },
  (b, g) => {
    b.add(g.pick(FILLER));
  },
  // JSON tool call with several fields.
  (b, g) => {
    b.add(`{"tool": "${g.pick(['crm.lookup', 'billing.charge', 'email.send', 'http.request', 'db.query'])}", "call_id": "${uuid(g)}", "arguments": {`);
    const n = g.int(1, 4);
    for (let i = 0; i < n; i++) {
      if (i > 0) b.add(', ');
      const v = piiValue(g);
      const key = { EMAIL_ADDRESS: 'email', PHONE_NUMBER: 'phone', CREDIT_CARD: 'card_number', IBAN_CODE: 'iban', US_SSN: 'tax_ref', IP_ADDRESS: 'ip', CRYPTO: 'wallet', SECRET: 'credential_ref' }[v.type] ?? 'value';
      b.add(`"${key}": `).jsonString(v.type, v.value, v.kind, v.subtype);
      if (g.chance(0.5)) b.add(`, "ref": "${trap(g).replace(/["\\]/g, '')}"`);
    }
    b.add(`}, "ts": "${new Date(Date.UTC(2024, 0, 1) + g.int(0, 3e10)).toISOString()}"}\n`);
  },
  // Key-name rules: any shape under a sensitive key.
  (b, g) => {
    const key = g.pick(['password', 'db_password', 'clientSecret', 'api_key', 'X-Api-Key', 'auth_token', 'passphrase', 'ssn']);
    let value = key === 'ssn' ? g.pick([ssn(g), `${g.str(DIGITS, 3)}-${g.str(DIGITS, 2)}-${g.str(DIGITS, 4)}`]) : password(g);
    const type = key === 'ssn' ? 'US_SSN' : 'SECRET';
    const sub = key === 'ssn' ? undefined : key.toLowerCase().includes('pass') ? 'password' : undefined;
    const style = g.int(0, 4);
    // Under a bare key (SSN=, ssn:) an SSN-shaped value must be a valid SSN; under a quoted key any shape.
    if (key === 'ssn' && (style === 1 || style === 2) && !ssnValid(value.replaceAll('-', ''))) value = ssn(g);
    if (style === 0) b.add(`{"user": "${g.pick(FIRST)}", "${key}": `).jsonString(type, value, `key-json`, sub).add('}\n');
    else if (style === 1) b.add(`${key.toUpperCase().replace(/-/g, '_')}=`).pii(type, value, 'key-env', sub).add('\n');
    else if (style === 2) b.add(`\n  ${key}: `).pii(type, value, 'key-yaml', sub).add('\n');
    else if (style === 3) b.add(`"arguments": "{\\"${key}\\": \\"`).pii(type, value, 'key-escaped-json', sub).add('\\"}"\n');
    else b.add(`{'${key}': '`).pii(type, value, 'key-python', sub).add("'}\n");
  },
  // Connection strings and URLs with passwords.
  (b, g) => {
    const pw = password(g);
    const style = g.int(0, 2);
    if (style === 0) b.add(`DATABASE_URL=${g.pick(['postgres', 'mysql', 'mongodb+srv', 'redis', 'amqp'])}://${g.pick(['app', 'admin', 'svc_user'])}:`).pii('SECRET', pw, 'url-password', 'url_password').add(`@db-${g.int(1, 9)}.internal:5432/prod\n`);
    else if (style === 1) b.add(`Server=sql${g.int(1, 9)}.corp.local;Database=crm;User Id=sa;Password=`).pii('SECRET', pw, 'conn-string', 'password').add(';Encrypt=true\n');
    else b.add(`curl -s https://deploy:`).pii('SECRET', pw, 'url-password', 'url_password').add(`@ci.example.net/api/v1/hooks`).add('\n');
  },
  // Log lines.
  (b, g) => {
    b.add(`${new Date(Date.UTC(2024, 0, 1) + g.int(0, 3e10)).toISOString()} INFO request_id=${uuid(g)} `);
    if (g.chance(0.6)) b.add('client_ip=').pii('IP_ADDRESS', ipv4(g), 'ipv4-log');
    else b.add(`path=/v2/items/${g.str(DIGITS, 6)}`);
    b.add(` latency_ms=${g.int(1, 900)} status=${g.pick([200, 201, 404, 500])} commit=${g.str(HEX, 40)}\n`);
  },
  // A PEM key inside JSON (escaped newlines) or raw.
  (b, g) => {
    if (!g.chance(0.15)) return;
    const lines = Array.from({ length: g.int(3, 8) }, () => Buffer.from(g.str(ALNUM, 48)).toString('base64').slice(0, 64));
    const kind = g.pick(['RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY', 'OPENSSH PRIVATE KEY']);
    const nl = g.chance(0.5) ? '\\n' : '\n';
    b.add(nl === '\\n' ? '{"private_key_pem": "' : 'key file contents:\n');
    b.pii('SECRET', `-----BEGIN ${kind}-----${nl}${lines.join(nl)}${nl}-----END ${kind}-----`, 'pem', 'private_key');
    b.add(nl === '\\n' ? '"}\n' : '\n');
  },
  // Hard prose cases: value at the very start/end, in brackets, after a colon, upper case.
  (b, g) => {
    const v = piiValue(g);
    const brackets: Array<readonly [string, string]> = [['(', ')'], ['<', '>'], ['"', '"'], ["'", "'"], ['[', ']'], ['', '.'], ['', '\n'], ['', ',']];
    if (v.type === 'EMAIL_ADDRESS') brackets.push(['mailto:', ' '], ['<', '>']);
    const [l, r] = g.pick(brackets);
    b.add(l);
    b.pii(v.type, v.type === 'EMAIL_ADDRESS' && g.chance(0.3) ? v.value.toUpperCase() : v.value, `${v.kind}-bracketed`, v.subtype);
    b.add(r).add(g.pick([' ', ' ', '\n']));
  },
  // Hard cases seen in real traces.
  (b, g) => {
    const r = g.int(0, 6);
    if (r === 0) b.add('upstream connect to ').pii('IP_ADDRESS', ipv4(g), 'ipv4-port').add(`:${g.int(80, 9999)} failed\n`);
    else if (r === 1) b.add('GET http://').pii('IP_ADDRESS', ipv4(g), 'ipv4-url').add(`/health returned 503\n`);
    else if (r === 2) b.add(g.pick(['The password is ', 'their password was ', 'Password is '])).pii('SECRET', password(g), 'prose-password', 'password').add(g.pick(['. ', ' and ', '\n']));
    else if (r === 3) b.add(`From: ${g.pick(FIRST)} ${g.pick(LAST)} <`).pii('EMAIL_ADDRESS', email(g), 'email-angle').add('>\n');
    else if (r === 4) {
      const d = nanp(g);
      b.add('Reach me on ').pii('PHONE_NUMBER', `+1 (${d.slice(0, 3)}) ${d.slice(3, 6)}-${d.slice(6)}`, 'nanp-intl-paren').add(` ext. ${g.int(10, 999)}\n`);
    } else if (r === 5) {
      const c = cardNumber(g);
      b.add('card: ').pii('CREDIT_CARD', formatCard(g, c.digits, c.amex), 'card-exp').add(` exp ${g.int(1, 12)}/${g.int(25, 31)} cvv ${g.str(DIGITS, 3)}\n`);
    } else b.add('[').pii('IP_ADDRESS', `2001:db8::${g.int(1, 9)}${g.str(HEX, 3)}`, 'ipv6-port').add(`]:${g.int(80, 9999)}\n`);
  },
  // Unformatted numbers that need a context word.
  (b, g) => {
    const d = nanp(g);
    b.add(g.pick(['Please call ', 'phone ', 'tel: ', 'Mobile: '])).pii('PHONE_NUMBER', d, 'nanp-context').add('. ');
  },
];

const REASONING = [
  'I need to figure out why the deployment failed. The logs show a timeout while pulling the image, so the registry may be rate limiting us. ',
  'Plan: 1) list the open incidents, 2) group them by service, 3) draft a summary for the on-call engineer. ',
  'The user wants a comparison of the two approaches. The first one is simpler but does not handle retries; the second adds a queue. ',
  'Let me re-read the function. It iterates over the items, filters out the archived ones and returns the first match, or undefined. ',
  'The test failed because the fixture uses a fixed clock and the code under test reads the system time directly. ',
  'I searched the knowledge base for "refund policy" and found three articles; the most recent one was updated last quarter. ',
  'Given the constraints (budget under 5k, delivery in 3 weeks), option B looks better. I will explain the trade-offs. ',
];
const CODE = [
  'function retry(fn, attempts = 3) {\n  for (let i = 0; i < attempts; i++) {\n    try { return fn(); } catch (e) { if (i === attempts - 1) throw e; }\n  }\n}\n',
  'SELECT id, status, created_at FROM orders WHERE status = \'pending\' AND created_at > now() - interval \'7 days\' LIMIT 100;\n',
  'def summarize(items):\n    return {k: len(v) for k, v in groupby(sorted(items, key=kind), key=kind)}\n',
  '```diff\n- const timeout = 1000;\n+ const timeout = 5000;\n```\n',
];
const plainPieces: Piece[] = [
  (b, g) => {
    b.add(g.pick(REASONING));
  },
  (b, g) => {
    b.add(g.pick(CODE));
  },
  (b, g) => {
    b.add(g.pick(FILLER));
  },
  (b, g) => {
    b.add(`{"tool": "${g.pick(['search', 'read_file', 'run_tests', 'http.get'])}", "call_id": "${uuid(g)}", "arguments": {"query": "${g.pick(['refund policy', 'open incidents', 'latency p99'])}", "limit": ${g.int(1, 50)}}}\n`);
  },
  (b, g) => {
    b.add(`${new Date(Date.UTC(2024, 0, 1) + g.int(0, 3e10)).toISOString()} INFO request_id=${uuid(g)} path=/v2/items/${g.str(DIGITS, 6)} latency_ms=${g.int(1, 900)} status=200\n`);
  },
  (b, g) => {
    b.add(g.pick(INTROS)).add('Reference ').add(trap(g)).add('. ');
  },
];

/** One record of roughly `targetChars` characters; `sensitiveRate` is the share of pieces that may carry values. */
export function generateRecord(g: Gen, id: string, targetChars: number, sensitiveRate = 1): LabelledRecord {
  const b = new Builder();
  while (b.text.length < targetChars) (g.chance(sensitiveRate) ? g.pick(pieces) : g.pick(plainPieces))(b, g);
  return { id, text: b.text, labels: b.labels };
}

export function generateCorpus(seed: number, records: number, targetChars = 1500): LabelledRecord[] {
  const g = new Gen(createRng(seed));
  return Array.from({ length: records }, (_, i) => generateRecord(g, `rec-${seed}-${i}`, targetChars));
}

/**
 * Trace-like text without labels, for throughput measurement: `sensitiveRate` 1 is the dense
 * labelled mix (a value every ~100 characters), 0.15 is closer to real agent traces.
 */
export function generateTraceText(seed: number, chars: number, sensitiveRate = 1, recordChars = 4000): string[] {
  const g = new Gen(createRng(seed));
  const out: string[] = [];
  let total = 0;
  let i = 0;
  while (total < chars) {
    const r = generateRecord(g, String(i++), recordChars, sensitiveRate);
    out.push(r.text);
    total += r.text.length;
  }
  return out;
}
