import { ssnValid } from '../checksums.js';
import { type KeyNameMatcher, isPlaceholderValue } from '../key-name-rules.js';
import type { EntityType } from '../types.js';
import { type Candidate, type Detector, PRIORITY } from './detector.js';

/** Words that end sensitive key names; the detector only looks where one occurs. */
const KEY_WORD = /pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|acc(?:ess|ount)[_-]?key|private[_-]?key|(?:encryption|master|signing|subscription)[_-]?key|auth(?:orization)?|credentials?|cookie|session[_-]?id|ssn|social[_-]?security|pin|otp|cv[vc]/gi;
/** The first three letters of every KEY_WORD alternative (case-insensitive): where a key word can start. */
export const KEY_WORD_PREFIXES: readonly string[] = ['pas', 'pwd', 'sec', 'tok', 'api', 'acc', 'pri', 'enc', 'mas', 'sig', 'sub', 'aut', 'cre', 'coo', 'ses', 'ssn', 'soc', 'pin', 'otp', 'cvv', 'cvc'];

const MAX_KEY = 64;
// After the key: closing quote (same as the opening one), separator, then the value (group 1).
// ':' in JSON, '=>' in Ruby and PHP hashes.
const JSON_VALUE = /\s{0,64}(?::|=>)\s{0,64}"((?:[^"\\\n]|\\.){1,2048})"/dy;
const JSON_NUMBER = /\s{0,64}:\s{0,64}(-?\d[\d.eE+-]{0,40})/dy;
// JSON inside a JSON string: \" ends the value; an inner escape is \\ followed by \\, \" or a character.
const ESCAPED_JSON_VALUE = /\s{0,64}:\s{0,64}\\"((?:\\\\(?:\\\\|\\"|[^\\])|\\[^"\\]|[^"\\]){1,2048})\\"/dy;
const DEEP_ESCAPED_VALUE = /\\{1,7}"\s{0,8}:\s{0,8}\\{1,7}"([^"\\\n]{1,2048})\\/dy;
const SINGLE_QUOTED_VALUE = /\s{0,64}(?:[:=]|=>)\s{0,64}'([^'\\\n]{1,2048})'/dy;
// Name/value lists (Kubernetes env): `name: API_KEY`, then `value: ...` on the next line.
const NAME_LABEL = /name\s{0,4}[:=]\s{0,4}["']?$/i;
const NEXT_LINE_VALUE = /["']?[ \t]{0,8}\r?\n[ \t-]{0,64}value[ \t]{0,4}:[ \t]{0,8}["']?([^\s"']{1,2048})/dy;
const AUTH_SCHEME = /^(?:Bearer|Basic|Token|Digest) +/i;
// define('DB_PASSWORD', '...') and os.Setenv("DB_PASSWORD", "..."): a quoted key as the first argument of a setter.
const SETTER_CALL = /(?:define|set\w{0,16}|put\w{0,16})\s{0,8}\(\s{0,8}$/i;
const ARGUMENT_VALUE = /\s{0,64},\s{0,64}["']([^"'\\\n]{1,2048})["']/dy;
// A command-line flag takes the next word (--password s3cret, --token=...).
const FLAG_VALUE = /(?:[ \t]{1,8}|=)["']?([^\s"']{1,2048})/dy;
// Typographic quotes (« », “ ”, ‘ ’, „, ‹ ›) around a value are not part of it.
const BARE_VALUE = /[ \t]{0,64}(:=|[:=])[ \t]{0,64}\\{0,7}["'«“‘„‹]?(?:(?:Bearer|Basic|Token|Digest) +)?((?:[^\s"',;&<>)}\]«»“”‘’„‹›\\]|\\(?![ntr])){1,2048})/diy;

const PROSE_VALUE = /[ \t]{1,4}(?:is|was)[ \t]{1,4}["'`«“‘„‹]?([^\s"'`,;«»“”‘’„‹›]{4,256})/dy;

const SSN_SHAPE = /^\d{3}([- ]?)\d{2}\1\d{4}$/;

/** `"ssn": ...`, `'ssn': ...`, `\"ssn\": ...`: the key is a quoted property name. */
function quotedKey(text: string, ks: number, ke: number): boolean {
  const open = text.charCodeAt(ks - 1);
  return ((open === 34 || open === 39) && text.charCodeAt(ke) === open) || (open === 34 && text.charCodeAt(ke) === 92);
}

/** Opening quote -> the characters that may close it. */
const CLOSING: Readonly<Record<string, string>> = { '"': '"', "'": "'", '“': '”“', '«': '»', '‘': '’', '„': '“”', '‹': '›' };

/** Where the quoted value starting at `vs` ends, when the character before it opens a quote. */
function closingQuote(text: string, vs: number): number | undefined {
  const close = CLOSING[text[vs - 1] ?? ''];
  if (close === undefined) return undefined;
  const limit = Math.min(text.length, vs + 2048);
  for (let i = vs; i < limit; i++) {
    const c = text[i]!;
    if (c === '\n' || c === '\r') return undefined;
    // An escaped quote (password=\"...\" inside a string) ends at its backslash.
    if (close.includes(c)) {
      let end = i;
      while (end > vs && text[end - 1] === '\\') end--;
      return end > vs ? end : undefined;
    }
  }
  return undefined;
}

/**
 * `${VAR}`, `{{ var }}`, `${{ secrets.X }}`, `[REDACTED]`: the value regexes stop at a space, '}' or
 * ']', which still belong to the placeholder; it runs to its closing brackets on the same line.
 */
function withClosingBraces(text: string, span: [number, number]): [number, number] {
  const v = text.slice(span[0], span[0] + 3);
  const close = v.startsWith('${{') || v.startsWith('{{') ? '}}' : v.startsWith('${') ? '}' : v.startsWith('[') ? ']' : undefined;
  if (close === undefined) return span;
  const limit = Math.min(text.length, span[0] + 256);
  for (let i = span[1] - 1; i < limit; i++) {
    if (text[i] === '\n') break;
    if (text.startsWith(close, i)) return [span[0], i + close.length];
  }
  return span;
}

function isKeyChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45 || c === 46;
}

function group1(re: RegExp, text: string, p: number): [number, number] | undefined {
  re.lastIndex = p;
  return re.exec(text)?.indices?.[1];
}

function group2(re: RegExp, text: string, p: number): { sep: string; span: [number, number] } | undefined {
  re.lastIndex = p;
  const m = re.exec(text);
  const span = m?.indices?.[2];
  return m === null || span === undefined ? undefined : { sep: m[1]!, span };
}

/** Where the value of the key at [ks, ke) is, if the text has a key-value shape there. */
function valueSpan(text: string, ks: number, ke: number): [number, number] | undefined {
  // Kubernetes env and name/value lists: `- name: API_KEY` then `value: "..."` on the next line.
  if (NAME_LABEL.test(text.slice(Math.max(0, ks - 16), ks))) {
    const next = group1(NEXT_LINE_VALUE, text, ke);
    if (next !== undefined) return next;
  }
  const open = ks > 0 ? text[ks - 1] : '';
  if (open === '"' && ks > 1 && text[ks - 2] === '\\' && text[ke] === '\\' && text[ke + 1] === '"') {
    return group1(ESCAPED_JSON_VALUE, text, ke + 2); // JSON inside a JSON string
  }
  // JSON escaped more than once (\\\"password\\\":\\\"...\\\"): a value without quotes or backslashes.
  if (open === '"' && text[ks - 2] === '\\' && text[ke] === '\\') return group1(DEEP_ESCAPED_VALUE, text, ke);
  if ((open === '"' || open === "'") && text[ke] === open) {
    const value = open === '"' ? (group1(JSON_VALUE, text, ke + 1) ?? group1(JSON_NUMBER, text, ke + 1)) : group1(SINGLE_QUOTED_VALUE, text, ke + 1);
    if (value !== undefined || !SETTER_CALL.test(text.slice(Math.max(0, ks - 24), ks - 1))) return value;
    return group1(ARGUMENT_VALUE, text, ke + 1);
  }
  if (text[ks] === '-' && text[ks + 1] === '-') return group1(FLAG_VALUE, text, ke);
  // Bare keys stand after a space, quote, '?', '&', ';', '(' or ':' (shell, URL query, connection
  // string, .npmrc's //host/:_authToken=), or after an escaped line break (\n inside JSON).
  const escapedBreak = ks >= 2 && text[ks - 2] === '\\' && /[ntr]/.test(open ?? '');
  if (!(ks === 0 || escapedBreak || /[\s;&?"'`(]/.test(open ?? '') || (open === ':' && text[ke] === '='))) return undefined;
  const bare = group2(BARE_VALUE, text, ke);
  if (bare === undefined) {
    // Prose: "the password is Summer2024!" — a plain lower-case word ("is correct") is not a secret.
    const prose = group1(PROSE_VALUE, text, ke);
    if (prose === undefined) return undefined;
    // A final '.' ends the sentence, not the password.
    const end = text.charCodeAt(prose[1] - 1) === 46 ? prose[1] - 1 : prose[1];
    if (end - prose[0] < 4 || /^[a-z]+$/.test(text.slice(prose[0], end))) return undefined;
    return [prose[0], end];
  }
  // A quoted value runs to its closing quote on the same line (PASSWORD="open sesame 42").
  const quoted = closingQuote(text, bare.span[0]);
  if (quoted !== undefined) return [bare.span[0], quoted];
  // `key: value` is also prose ("Token: the one above"): accept it at the start of a line (YAML,
  // HTTP headers), after an identifier-like key (api_key, clientSecret), or for a value that is
  // not a plain word.
  if (bare.sep === ':') {
    const key = text.slice(ks, ke);
    const lineStart = /(?:^|\n)[ \t-]*$/.test(text.slice(Math.max(0, ks - 80), ks));
    const identifier = /[_-]|[a-z][A-Z]/.test(key);
    const value = text.slice(bare.span[0], bare.span[1]);
    if (!lineStart && !identifier && /^[A-Za-z]+$/.test(value)) return undefined;
    // A YAML or header value runs to the end of the line (passphrases have spaces).
    if (lineStart) {
      let e = bare.span[1];
      const limit = Math.min(text.length, bare.span[0] + 2048);
      while (e < limit && text.charCodeAt(e) !== 10 && text.charCodeAt(e) !== 13) e++;
      while (e > bare.span[1] && /[\s"',»”’›]/.test(text[e - 1]!)) e--;
      return [bare.span[0], e];
    }
  }
  return bare.span;
}

/**
 * Where the key words of configured key-name rules can occur in text: each suffix as written in a
 * key (`employeeid` in `employeeId`, `employee_id`, `EMPLOYEE-ID`).
 */
export function configuredKeyWords(suffixes: readonly string[]): RegExp {
  const words = suffixes.map((s) => [...s].join('[_.-]?'));
  return new RegExp(words.join('|'), 'gi');
}

/** The key-value detector, with the hook the single pass (single-pass.ts) calls where a key word may start. */
export interface KeyValueDetector extends Detector {
  /**
   * Handles a key-word match at `p`, if there is one: returns where the key-word search resumes
   * (as `lastIndex` of the global key-word regex would), or -1 when no key word starts at `p`.
   */
  at(text: string, p: number, out: Candidate[]): number;
}

/**
 * Key-name rules inside text: `"password": "..."` (also escaped JSON inside JSON strings and
 * Python-style quotes), `API_KEY=...`, `Password=...;` in connection strings, and
 * `password: ...` at the start of a line (YAML, HTTP headers).
 */
export function createKeyValueDetector(matchKey: KeyNameMatcher, keyWords: RegExp = KEY_WORD, types: readonly EntityType[] = ['SECRET', 'US_SSN']): KeyValueDetector {
  const stickyKeyWords = new RegExp(keyWords.source, 'iy');
  /** The key word `word` matched at `p`: reads the key around it and its value; returns where the search resumes. */
  function handle(text: string, p: number, word: string, out: Candidate[]): number {
    let ke = p + word.length;
    while (ke < text.length && ke - p < MAX_KEY && isKeyChar(text.charCodeAt(ke))) ke++;
    let ks = p;
    while (ks > 0 && p - ks < MAX_KEY && isKeyChar(text.charCodeAt(ks - 1))) ks--;
    // \nDB_PASSWORD=... in escaped text: the 'n' belongs to the line break, not the key.
    if (ks < p && text[ks - 1] === '\\' && /[ntr]/.test(text[ks]!)) ks++;
    const key = text.slice(ks, ke);
    const rule = matchKey(key);
    if (rule === undefined) return ke;
    const found = valueSpan(text, ks, ke);
    if (found === undefined) return ke;
    const span = withClosingBraces(text, found);
    const value = text.slice(span[0], span[1]);
    if (isPlaceholderValue(value.replace(AUTH_SCHEME, ''))) return ke;
    // Under a bare key in text ("SSN: 000-12-3456", ssn=...) a value written like an SSN must pass
    // the SSN's validation; under a quoted (JSON) key any shape counts, as in structured data.
    if (rule.type === 'US_SSN' && !quotedKey(text, ks, ke) && SSN_SHAPE.test(value) && !ssnValid(value.replace(/[- ]/g, ''))) return ke;
    if (rule.subtype === 'password' && /pwd$/i.test(key) && /^[/~]/.test(value)) return ke;
    out.push({
      type: rule.type,
      ...(rule.subtype === undefined ? {} : { subtype: rule.subtype }),
      start: span[0],
      end: span[1],
      priority: PRIORITY.secret - 0.5,
    });
    // Key words inside a value are part of the value.
    return span[1] > ke ? span[1] : ke;
  }

  return {
    name: keyWords === KEY_WORD ? 'key-value' : 'key-value:configured',
    types,
    scan(text: string, out: Candidate[]): void {
      keyWords.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = keyWords.exec(text)) !== null) keyWords.lastIndex = handle(text, m.index, m[0], out);
    },
    at(text: string, p: number, out: Candidate[]): number {
      stickyKeyWords.lastIndex = p;
      const m = stickyKeyWords.exec(text);
      return m === null ? -1 : handle(text, p, m[0], out);
    },
  };
}
