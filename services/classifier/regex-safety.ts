/**
 * A conservative check that a configured regular expression cannot backtrack exponentially:
 * refuses a repeated group that itself contains a variable quantifier (`(a+)+`, `(\d{2,}\s?)*`),
 * back-references, and repetition counts over 10 000. Returns the problem, or undefined.
 */
export function regexSafetyProblem(pattern: string): string | undefined {
  interface Frame {
    quantified: boolean;
  }
  const stack: Frame[] = [{ quantified: false }];
  let i = 0;
  // After an atom, whether that atom was a group containing a quantifier.
  let lastGroupHadQuantifier = false;
  let lastWasAtom = false;
  while (i < pattern.length) {
    const ch = pattern[i]!;
    if (ch === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9]/.test(next) || next === 'k') return 'back-references are not allowed';
      if ((next === 'p' || next === 'P' || next === 'u' || next === 'x') && pattern[i + 2] === '{') {
        const close = pattern.indexOf('}', i);
        i = close === -1 ? pattern.length : close + 1;
      } else {
        i += 2;
      }
      lastWasAtom = true;
      lastGroupHadQuantifier = false;
      continue;
    }
    if (ch === '[') {
      i++;
      if (pattern[i] === '^') i++;
      if (pattern[i] === ']') i++;
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
      i++;
      lastWasAtom = true;
      lastGroupHadQuantifier = false;
      continue;
    }
    if (ch === '(') {
      stack.push({ quantified: false });
      i++;
      if (pattern[i] === '?') {
        // (?: (?= (?! (?<= (?<! (?<name>
        i++;
        if (pattern[i] === '<' && pattern[i + 1] !== '=' && pattern[i + 1] !== '!') {
          const close = pattern.indexOf('>', i);
          i = close === -1 ? pattern.length : close + 1;
        } else {
          i += pattern[i] === '<' ? 2 : 1;
        }
      }
      lastWasAtom = false;
      continue;
    }
    if (ch === ')') {
      const frame = stack.pop();
      if (frame === undefined || stack.length === 0) return 'unbalanced parenthesis';
      lastGroupHadQuantifier = frame.quantified;
      if (frame.quantified) stack[stack.length - 1]!.quantified = true;
      lastWasAtom = true;
      i++;
      continue;
    }
    const q = readQuantifier(pattern, i);
    if (q !== undefined) {
      if (!lastWasAtom) return `quantifier without an atom at offset ${i}`;
      if ((Number.isFinite(q.max) && q.max > 10_000) || q.min > 10_000) return 'repetition count over 10000';
      const repeating = q.max > 1;
      if (repeating && lastGroupHadQuantifier) return `nested quantifier at offset ${i}`;
      // A fixed count ({4}) cannot split its input two ways; only variable ones can nest badly.
      if (q.min !== q.max) stack[stack.length - 1]!.quantified = true;
      i = q.end;
      if (pattern[i] === '?') i++; // lazy
      lastWasAtom = false;
      lastGroupHadQuantifier = false;
      continue;
    }
    lastWasAtom = ch !== '|' && ch !== '^' && ch !== '$';
    lastGroupHadQuantifier = false;
    i++;
  }
  if (stack.length !== 1) return 'unbalanced parenthesis';
  return undefined;
}

function readQuantifier(p: string, i: number): { min: number; max: number; end: number } | undefined {
  const ch = p[i];
  if (ch === '*') return { min: 0, max: Infinity, end: i + 1 };
  if (ch === '+') return { min: 1, max: Infinity, end: i + 1 };
  if (ch === '?') return { min: 0, max: 1, end: i + 1 };
  if (ch === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i, i + 24));
    if (m === null) return undefined;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    return { min, max, end: i + m[0].length };
  }
  return undefined;
}
