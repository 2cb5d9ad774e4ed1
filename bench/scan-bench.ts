/**
 * Throughput of the classifier on one core with the full default detector set, with the npm
 * package redact-pii (SyncRedactor, default config) measured in the same run as the reference.
 *
 *   npm run bench:scan [-- --mb 8 --ref-mb 0.5 --seed 7 --rounds 7 --warm-up 2 --full-scan]
 *
 * --full-scan measures the ungated path (every detector on every text, the reference of the
 * equivalence test), to compare with the default in back-to-back runs.
 *
 * Two mixes of generated trace-like text (bench/corpus/trace-generator.ts): "typical" (15% of the
 * pieces carry sensitive values: prose, code, tool calls, logs) and "dense" (every piece may).
 * MB/s = 10^6 UTF-8 bytes per CPU second of this (single-threaded) process, median of the rounds
 * (the summary also gives the best round: on a shared host, noise only ever slows a round down);
 * CPU time rather than wall time keeps the figure meaningful on a busy machine. Each figure comes
 * after --warm-up CPU seconds of the same work (V8 tiers the code up for seconds; the policy worker
 * and the scan command run long after that). The texts are JSON-decoded before the run, as the
 * scan command and the policy worker receive them: flat strings, not the concatenation trees the
 * generator builds (reading those character by character costs about twice as much).
 *
 * Two more mixes of short strings (20-200 characters), as the policy worker scans message parts and
 * JSON values one by one: "short" (typical trace text cut at spaces) and "words" (the words of that
 * text without digits or punctuation-heavy tokens: strings where most detectors have no trigger).
 *
 * Both sides do the same work: detect and redact (tracefence scanText + maskText with the redact
 * profile; redact-pii's redact() returns the redacted text). The summary figures and the ratio use
 * that detect + redact figure, on the same records for both libraries. scanText alone is shown too.
 */
import { parseArgs } from 'node:util';
import { createClassifierWith } from '../services/classifier/create-classifier.js';
import { BUILTIN_PROFILES, createMasker } from '../services/classifier/index.js';
import { createRng, generateTraceText } from './corpus/trace-generator.js';

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '8' },
    'ref-mb': { type: 'string', default: '0.5' },
    seed: { type: 'string', default: '7' },
    rounds: { type: 'string', default: '7' },
    'full-scan': { type: 'boolean', default: false },
    'warm-up': { type: 'string', default: '2' },
  },
});
const mb = Number(values.mb);
const refMb = Number(values['ref-mb']);
const rounds = Number(values.rounds);
const seed = Number(values.seed);

const classifier = createClassifierWith({}, { gating: !values['full-scan'] });
const masker = createMasker(BUILTIN_PROFILES.redact, { classifier });
type Redact = (text: string) => string;
let reference: Redact | undefined;
try {
  const { SyncRedactor } = await import('redact-pii');
  const redactor = new SyncRedactor();
  reference = (t) => redactor.redact(t);
} catch (err) {
  console.log(`redact-pii cannot be loaded, no reference figure: ${(err as Error).message}`);
}

function cpuSeconds(run: () => number): { secs: number; sink: number } {
  const t0 = process.cpuUsage();
  const sink = run();
  const u = process.cpuUsage(t0);
  return { secs: (u.user + u.system) / 1e6, sink };
}

/** CPU seconds of warm-up before the measured rounds of each figure. */
const WARM_UP_SECONDS = Number(values['warm-up']);

/** Median and best of the rounds, MB/s. */
interface Rate {
  median: number;
  best: number;
}

function measure(label: string, inputs: readonly string[], fn: (t: string) => number, n: number): Rate {
  const bytes = inputs.reduce((s, r) => s + Buffer.byteLength(r), 0);
  const run = (): number => inputs.reduce((s, r) => s + fn(r), 0);
  // Warm-up: V8 keeps re-optimising the detectors (and compiling regexes to native code) for a few
  // seconds; a long-running worker is measured after that, not during it.
  let warm = 0;
  do warm += cpuSeconds(run).secs;
  while (warm < WARM_UP_SECONDS);
  const rates: number[] = [];
  for (let i = 0; i < n; i++) rates.push(bytes / 1e6 / cpuSeconds(run).secs);
  rates.sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)]!;
  const best = rates[rates.length - 1]!;
  console.log(`  ${label.padEnd(40)} ${median.toFixed(1).padStart(8)} MB/s  (min ${rates[0]!.toFixed(1)}, max ${best.toFixed(1)})`);
  return { median, best };
}

function prefix(records: readonly string[], limitMb: number): string[] {
  const out: string[] = [];
  let bytes = 0;
  for (const r of records) {
    if (bytes >= limitMb * 1e6) break;
    out.push(r);
    bytes += Buffer.byteLength(r);
  }
  return out;
}

/** Typical trace text cut at spaces into strings of 20-200 characters. */
function shortStrings(seed: number, chars: number): string[] {
  const rng = createRng(seed);
  const out: string[] = [];
  for (const r of generateTraceText(seed, chars, 0.15)) {
    let i = 0;
    while (i < r.length) {
      let e = r.indexOf(' ', i + 20 + Math.floor(rng() * 181));
      if (e === -1) e = r.length;
      out.push(r.slice(i, e));
      i = e + 1;
    }
  }
  return out;
}

/** Strings of 20-200 characters made of the plain words (letters and light punctuation) of trace text. */
function wordStrings(seed: number, chars: number): string[] {
  const rng = createRng(seed);
  const words = generateTraceText(seed, 1e6, 0.15)
    .join(' ')
    .split(/\s+/)
    .filter((w) => /^[A-Za-z][A-Za-z,.'()!?-]*$/.test(w));
  const out: string[] = [];
  let total = 0;
  while (total < chars) {
    const len = 20 + Math.floor(rng() * 181);
    let s = words[Math.floor(rng() * words.length)]!;
    while (s.length < len) s += ` ${words[Math.floor(rng() * words.length)]!}`;
    out.push(s);
    total += s.length;
  }
  return out;
}

console.log(`node ${process.version}, ${process.arch}; median of ${rounds} rounds, MB/s per CPU second`);
const summary: string[] = [];
const mixes: Array<[string, () => string[]]> = [
  ['typical', () => generateTraceText(seed, mb * 1e6, 0.15)],
  ['dense', () => generateTraceText(seed, mb * 1e6, 1)],
  ['short', () => shortStrings(seed, (mb / 4) * 1e6)],
  ['words', () => wordStrings(seed, (mb / 4) * 1e6)],
];
for (const [mix, make] of mixes) {
  const records = JSON.parse(JSON.stringify(make())) as string[];
  const bytes = records.reduce((s, r) => s + Buffer.byteLength(r), 0);
  const avg = Math.round(bytes / records.length);
  console.log(`${mix}: ${(bytes / 1e6).toFixed(1)} MB in ${records.length} records of ~${avg < 1000 ? `${avg} B` : `${Math.round(avg / 1000)} KB`}`);
  const redactText = (t: string): number => masker.maskText(t, classifier.scanText(t)).length;
  measure('tracefence scanText', records, (t) => classifier.scanText(t).length, rounds);
  const full = measure('tracefence scanText + maskText (redact)', records, redactText, rounds);
  if (reference !== undefined) {
    const ref = prefix(records, refMb);
    const refBytes = ref.reduce((s, r) => s + Buffer.byteLength(r), 0);
    const redact = reference;
    const refRate = measure(`redact-pii SyncRedactor (${(refBytes / 1e6).toFixed(2)} MB)`, ref, (t) => redact(t).length, Math.min(rounds, 3));
    const ours = measure(`tracefence scan + redact, same ${(refBytes / 1e6).toFixed(2)} MB`, ref, redactText, rounds);
    summary.push(`${mix}: ${full.median.toFixed(1)} MB/s detect + redact (best round ${full.best.toFixed(1)}), ${(ours.median / refRate.median).toFixed(1)}x redact-pii (${ours.median.toFixed(1)} vs ${refRate.median.toFixed(2)} MB/s on the same records)`);
  } else {
    summary.push(`${mix}: ${full.median.toFixed(1)} MB/s detect + redact (best round ${full.best.toFixed(1)})`);
  }
}
console.log(`\nsummary (goal: >= 50 MB/s and >= 10x redact-pii):\n  ${summary.join('\n  ')}`);
