/**
 * Finds planted values in stored data without printing them. Candidates are extracted in one
 * linear pass per shape (e-mail around each '@', digit runs, IBAN-like runs, secret prefixes),
 * normalised, and looked up in the set of planted values; access tokens are found by their
 * signature part. Counts are kept per store ("objects", "held topic", "logs", ...).
 */
export interface LeakCounts {
  planted: Map<string, number>;
  tokens: Map<string, number>;
}

const isLocalChar = (c: number): boolean =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45 || c === 39;
const isDomainChar = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 46 || c === 45;

const DIGIT_RUN = /[0-9](?:[ -]?[0-9]){12,22}/g;
const IBAN_RUN = /[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,32}/g;
const SECRET = /ghp_[A-Za-z0-9]{36}|AKIA[A-Z2-7]{16}/g;

export class LeakScanner {
  private readonly values = new Set<string>();
  private readonly tokenSignatures = new Set<string>();
  readonly counts: LeakCounts = { planted: new Map(), tokens: new Map() };

  addPlanted(normalized: string): void {
    this.values.add(normalized);
  }

  /** An access token that must never be stored: matched by its signature (third part). */
  addToken(token: string): void {
    const sig = token.split('.')[2];
    if (sig !== undefined && sig.length >= 16) this.tokenSignatures.add(sig);
  }

  get plantedCount(): number {
    return this.values.size;
  }

  private hit(map: Map<string, number>, store: string, n = 1): void {
    map.set(store, (map.get(store) ?? 0) + n);
  }

  /** Planted values of one record, checked directly (exact text), for stores that name the record. */
  scanRecord(text: string, planted: readonly { text: string; normalized: string }[], store: string): number {
    let found = 0;
    for (const p of planted) if (text.includes(p.text) || (p.normalized !== p.text && text.includes(p.normalized))) found++;
    if (found > 0) this.hit(this.counts.planted, store, found);
    return found;
  }

  /** Every planted value and token anywhere in `text`. Returns the number of planted values found. */
  scan(text: string, store: string): number {
    let found = 0;
    const seen = new Set<string>();
    const check = (candidate: string): void => {
      if (this.values.has(candidate) && !seen.has(candidate)) {
        seen.add(candidate);
        found++;
      }
    };
    // E-mail addresses: around each '@', every suffix of the local part.
    for (let at = text.indexOf('@'); at >= 0; at = text.indexOf('@', at + 1)) {
      let end = at + 1;
      while (end < text.length && end - at <= 253 && isDomainChar(text.charCodeAt(end))) end++;
      let start = at;
      while (start > 0 && at - start < 64 && isLocalChar(text.charCodeAt(start - 1))) start--;
      if (end === at + 1 || start === at) continue;
      let domain = text.slice(at + 1, end);
      while (domain.endsWith('.') || domain.endsWith('-')) domain = domain.slice(0, -1);
      for (let s = start; s < at; s++) check(`${text.slice(s, at)}@${domain}`);
    }
    // Card numbers: every 16-digit window of a digit run (separators removed).
    for (const m of text.matchAll(DIGIT_RUN)) {
      const digits = m[0].replace(/[ -]/g, '');
      for (let i = 0; i + 16 <= digits.length; i++) check(digits.slice(i, i + 16));
    }
    // IBANs: every 22-character window starting with two letters.
    for (const m of text.matchAll(IBAN_RUN)) {
      const compact = m[0].replace(/ /g, '');
      for (let i = 0; i + 22 <= compact.length; i++) check(compact.slice(i, i + 22));
    }
    for (const m of text.matchAll(SECRET)) check(m[0]);
    if (found > 0) this.hit(this.counts.planted, store, found);
    for (const sig of this.tokenSignatures) if (text.includes(sig)) this.hit(this.counts.tokens, store);
    return found;
  }

  totalPlanted(): number {
    let n = 0;
    for (const v of this.counts.planted.values()) n += v;
    return n;
  }

  totalTokens(): number {
    let n = 0;
    for (const v of this.counts.tokens.values()) n += v;
    return n;
  }
}
