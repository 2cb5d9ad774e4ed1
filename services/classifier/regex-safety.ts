import { RE2JS } from 're2js';

/**
 * Configured patterns run in linear time. A pattern whose backtracking is bounded (no unbounded
 * quantifier, no alternation or variable quantifier inside a repeated group, and few choices per
 * start position) runs on V8's engine, which is fast for it; any other pattern runs on RE2JS, a
 * linear-time RE2 engine (slower, 10-20 MB/s, but `(a|a)*b` and `a+b` on long input cannot hang).
 */

/** Most backtracking choices per start position a pattern may have to run on V8's engine. */
export const NATIVE_CHOICE_BUDGET = 256;

/** A compiled configured pattern: calls `onMatch(start, end)` for each match, left to right. */
export interface PatternScanner {
  readonly engine: 'native' | 're2';
  forEachMatch(text: string, onMatch: (start: number, end: number) => void): void;
}

/** Why `pattern` cannot be used, or undefined. `flags` among i, m, s, u. */
export function patternProblem(pattern: string, flags: string): string | undefined {
  // JavaScript reads `[]` as an empty class and `[^]` as any character; RE2 reads a ']' there as a
  // literal. Refused, so that both engines see the same pattern.
  if (/(?:^|[^\\])\[\^?\]/.test(pattern)) return '[] and [^] are not supported';
  try {
    new RegExp(pattern, flags);
  } catch (err) {
    return `is not a valid regular expression (${(err as Error).message})`;
  }
  let re2: RE2JS;
  try {
    re2 = RE2JS.compile(pattern, re2Flags(flags));
  } catch (err) {
    return `is not supported by the linear-time engine (${(err as Error).message.replace(/^error parsing regexp: /, '')}); lookarounds and back-references are not allowed`;
  }
  if (re2.matches('')) return 'matches the empty string (a finding at every position)';
  return undefined;
}

/** Compiles a pattern `patternProblem` accepted. */
export function compilePattern(pattern: string, flags: string): PatternScanner {
  if (backtrackChoices(pattern) !== undefined) {
    const re = new RegExp(pattern, `g${flags}`);
    return {
      engine: 'native',
      forEachMatch(text, onMatch) {
        re.lastIndex = 0;
        let m: RegExpExecArray | null;
        while ((m = re.exec(text)) !== null) onMatch(m.index, m.index + m[0].length);
      },
    };
  }
  const re2 = RE2JS.compile(pattern, re2Flags(flags));
  return {
    engine: 're2',
    forEachMatch(text, onMatch) {
      const m = re2.matcher(text);
      while (m.find()) onMatch(m.start(), m.end());
    },
  };
}

function re2Flags(flags: string): number {
  let f = 0;
  if (flags.includes('i')) f |= RE2JS.CASE_INSENSITIVE;
  if (flags.includes('m')) f |= RE2JS.MULTILINE;
  if (flags.includes('s')) f |= RE2JS.DOTALL;
  return f;
}

/** An item of a parsed sequence: how many ways it can match, and whether that count varies. */
interface Parsed {
  choices: number;
  variable: boolean;
}

/**
 * Upper bound of the ways V8's backtracking engine can try to match `pattern` at one position,
 * or undefined when it is unbounded, over NATIVE_CHOICE_BUDGET, or the pattern uses anything this
 * reader does not follow (it then runs on RE2JS: a wrong "undefined" only costs speed).
 */
export function backtrackChoices(pattern: string): number | undefined {
  let i = 0;
  const over = (n: number): boolean => n > NATIVE_CHOICE_BUDGET;

  // alternation := sequence ('|' sequence)*; the ways are the sum over branches.
  function alternation(): Parsed | undefined {
    let total = 0;
    let branches = 0;
    let variable = false;
    for (;;) {
      const s = sequence();
      if (s === undefined) return undefined;
      total += s.choices;
      branches++;
      variable ||= s.variable;
      if (over(total)) return undefined;
      if (pattern[i] !== '|') break;
      i++;
    }
    return { choices: total, variable: variable || branches > 1 };
  }

  // sequence := (atom quantifier?)*; the ways multiply.
  function sequence(): Parsed | undefined {
    let product = 1;
    let variable = false;
    while (i < pattern.length && pattern[i] !== '|' && pattern[i] !== ')') {
      const a = atom();
      if (a === undefined) return undefined;
      const q = quantifier();
      if (q === null) return undefined;
      let item = a;
      if (q !== undefined) {
        if (!Number.isFinite(q.max) || q.max > 1000) return undefined;
        // A repeated group that can itself match in several ways splits its input many ways.
        if (a.variable && q.max > 1) return undefined;
        item = { choices: a.choices * (q.max - q.min + 1), variable: a.variable || q.max !== q.min };
      }
      product *= item.choices;
      variable ||= item.variable;
      if (over(product)) return undefined;
    }
    return { choices: product, variable };
  }

  function atom(): Parsed | undefined {
    const ch = pattern[i]!;
    const one: Parsed = { choices: 1, variable: false };
    if (ch === '\\') {
      const next = pattern[i + 1];
      if (next === undefined || /[1-9k]/.test(next)) return undefined;
      if ((next === 'u' || next === 'p' || next === 'P') && pattern[i + 2] === '{') {
        const close = pattern.indexOf('}', i);
        if (close === -1) return undefined;
        i = close + 1;
      } else if (next === 'u') {
        i += 6;
      } else if (next === 'x') {
        i += 4;
      } else if (next === 'c') {
        i += 3;
      } else {
        i += 2;
      }
      return one;
    }
    if (ch === '[') {
      i++;
      if (pattern[i] === '^') i++;
      if (pattern[i] === ']') return undefined; // [] and [^]: refused by patternProblem
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
      if (i >= pattern.length) return undefined;
      i++;
      return one;
    }
    if (ch === '(') {
      i++;
      if (pattern[i] === '?') {
        if (pattern[i + 1] === ':') i += 2;
        else if (pattern[i + 1] === '<' && /[A-Za-z_$]/.test(pattern[i + 2] ?? '')) {
          const close = pattern.indexOf('>', i);
          if (close === -1) return undefined;
          i = close + 1;
        } else return undefined; // lookarounds and inline flags
      }
      const inner = alternation();
      if (inner === undefined || pattern[i] !== ')') return undefined;
      i++;
      return inner;
    }
    if (ch === ')' || ch === '*' || ch === '+' || ch === '?' || ch === '{' || ch === '}' || ch === ']') return undefined;
    i++;
    return one;
  }

  // undefined: no quantifier; null: one this reader does not follow.
  function quantifier(): { min: number; max: number } | undefined | null {
    const ch = pattern[i];
    let q: { min: number; max: number } | undefined;
    if (ch === '*') q = { min: 0, max: Infinity };
    else if (ch === '+') q = { min: 1, max: Infinity };
    else if (ch === '?') q = { min: 0, max: 1 };
    else if (ch === '{') {
      const m = /^\{(\d{1,5})(,(\d{0,5}))?\}/.exec(pattern.slice(i, i + 16));
      if (m === null) return null;
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      if (max < min) return null;
      i += m[0].length - 1;
      q = { min, max };
    }
    if (q === undefined) return undefined;
    i++;
    if (pattern[i] === '?') i++; // lazy: the same choices in another order
    return q;
  }

  const top = alternation();
  return top === undefined || i !== pattern.length ? undefined : top.choices;
}
