import { type Candidate, type Detector, PRIORITY } from './detector.js';
import { SECRET_RULES, type SecretRule } from './secret-rules.js';

const PEM_BEGIN = /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/y;
const PEM_END = /-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/y;
const PEM_MAX = 64 * 1024;
const PEM_KEYWORD = '-----BEGIN ';
const DEFAULT_BOUNDARY = /[A-Za-z0-9]/;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * One alternation for all keywords, factored by common prefix (`A(?:KIA|SIA|Iza)|gh(?:p_|o_)`):
 * V8 scans a factored alternation several times faster than a flat list of literals.
 * Longer keywords come first at each branch so `sk-ant-` wins over `sk-`.
 */
export function trieRegexSource(keywords: readonly string[]): string {
  interface Node {
    children: Map<string, Node>;
    end: boolean;
  }
  const root: Node = { children: new Map(), end: false };
  for (const k of keywords) {
    let n = root;
    for (const ch of k) {
      let next = n.children.get(ch);
      if (next === undefined) n.children.set(ch, (next = { children: new Map(), end: false }));
      n = next;
    }
    n.end = true;
  }
  const emit = (n: Node): string => {
    const branches = [...n.children.entries()].map(([ch, child]) => escapeRegExp(ch) + emit(child));
    if (branches.length === 0) return '';
    const body = branches.length === 1 ? branches[0]! : `(?:${branches.join('|')})`;
    if (!n.end) return body;
    return branches.length === 1 && branches[0]!.length === 1 ? `${body}?` : `(?:${body})?`;
  };
  return emit(root);
}

interface CompiledRule {
  rule: SecretRule;
  re: RegExp;
  boundary: RegExp;
}

/** Body characters of a PEM block, including JSON-escaped newlines (`\n`). */
function isPemBodyChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 43 || c === 47 || c === 61 || c === 92 || c === 32 || c === 10 || c === 13 || c === 9 || c === 45 || c === 58 || c === 44;
}

/** Private key from BEGIN to END; a truncated block is covered to the end of its body. */
function matchPem(text: string, h: number): number {
  PEM_BEGIN.lastIndex = h;
  const begin = PEM_BEGIN.exec(text);
  if (begin === null) return -1;
  const bodyStart = h + begin[0].length;
  const limit = Math.min(text.length, bodyStart + PEM_MAX);
  const endAt = text.indexOf('-----END ', bodyStart);
  if (endAt !== -1 && endAt < limit) {
    PEM_END.lastIndex = endAt;
    const end = PEM_END.exec(text);
    if (end !== null) return endAt + end[0].length;
  }
  let e = bodyStart;
  while (e < limit && isPemBodyChar(text.charCodeAt(e))) e++;
  return e;
}

/** The secret detector, with the hook the single pass (single-pass.ts) calls where a keyword may start. */
export interface SecretDetector extends Detector {
  /** Every literal the trigger regex matches; a match starts with one of them. */
  readonly keywords: readonly string[];
  /**
   * Handles a keyword match at `h`, if there is one: returns where the keyword search resumes
   * (as `lastIndex` of the global trigger regex would), or -1 when no keyword starts at `h`.
   */
  at(text: string, h: number, out: Candidate[]): number;
}

/**
 * SECRET: one keyword regex finds every literal prefix (AKIA, ghp_, xox, sk-, eyJ, ://, ...);
 * only the rules of the keyword found are tried, anchored there. The cost stays flat as rules grow.
 */
export function createSecretDetector(rules: readonly SecretRule[] = SECRET_RULES): SecretDetector {
  const byKeyword = new Map<string, CompiledRule[]>();
  for (const rule of rules) {
    const compiled: CompiledRule = {
      rule,
      // Match indices ('d') cost an allocation per exec: only for rules that capture the secret.
      re: new RegExp(rule.pattern.source, (/\((?!\?)/.test(rule.pattern.source) ? 'yd' : 'y') + (rule.pattern.flags.includes('i') ? 'i' : '')),
      boundary: rule.boundary ?? DEFAULT_BOUNDARY,
    };
    for (const k of rule.keywords) {
      const list = byKeyword.get(k) ?? [];
      list.push(compiled);
      byKeyword.set(k, list);
    }
  }
  const keywords = [...byKeyword.keys(), PEM_KEYWORD];
  const source = trieRegexSource(keywords);
  const trigger = new RegExp(source, 'g');
  const stickyTrigger = new RegExp(source, 'y');

  /** The keyword `kw` matched at `h`: tries its rules; returns where the keyword search resumes. */
  function handle(text: string, h: number, kw: string, out: Candidate[]): number {
    const resume = h + kw.length;
    if (kw === PEM_KEYWORD) {
      const e = matchPem(text, h);
      if (e <= h) return resume;
      out.push({ type: 'SECRET', subtype: 'private_key', start: h, end: e, priority: PRIORITY.secret });
      return e;
    }
    for (const c of byKeyword.get(kw) ?? []) {
      if (h > 0 && c.boundary.test(text[h - 1]!)) continue; // task-, risk-: not a key prefix
      c.re.lastIndex = h;
      const hit = c.re.exec(text);
      if (hit === null) continue;
      const end = h + hit[0].length;
      if (end < text.length && c.boundary.test(text[end]!)) continue;
      const span = hit.indices?.[1] ?? [h, end];
      const secret = text.slice(span[0], span[1]);
      if (c.rule.validate !== undefined && !c.rule.validate(secret)) continue;
      out.push({
        type: 'SECRET',
        subtype: c.rule.subtype,
        start: span[0],
        end: span[1],
        priority: c.rule.generic === true ? PRIORITY.secret - 0.5 : PRIORITY.secret,
      });
      // A generic match (Bearer ...) may still hold a specific one (a JWT) to find, and so may the
      // part of a match before the secret (the user name of https://ghp_...:x-oauth-basic@...).
      return c.rule.generic !== true && span[0] === h && span[1] > resume ? span[1] : resume;
    }
    return resume;
  }

  return {
    name: 'secret',
    types: ['SECRET'],
    keywords,
    scan(text: string, out: Candidate[]): void {
      trigger.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = trigger.exec(text)) !== null) trigger.lastIndex = handle(text, m.index, m[0], out);
    },
    at(text: string, h: number, out: Candidate[]): number {
      stickyTrigger.lastIndex = h;
      const m = stickyTrigger.exec(text);
      return m === null ? -1 : handle(text, h, m[0], out);
    },
  };
}
