/**
 * Throughput of the classifier on one core with the full default detector set, with the npm
 * package redact-pii (SyncRedactor, default config) measured in the same run as the reference.
 *
 *   npm run bench:scan [-- --mb 8 --ref-mb 0.5 --seed 7 --rounds 5]
 *
 * Two mixes of generated trace-like text (bench/corpus/trace-generator.ts): "typical" (15% of the
 * pieces carry sensitive values: prose, code, tool calls, logs) and "dense" (every piece may).
 * MB/s = 10^6 UTF-8 bytes per CPU second of this (single-threaded) process, median of the rounds;
 * CPU time rather than wall time keeps the figure meaningful on a busy machine.
 *
 * Both sides do the same work: detect and redact (tracefence scanText + maskText with the redact
 * profile; redact-pii's redact() returns the redacted text). The summary figures and the ratio use
 * that detect + redact figure, on the same records for both libraries. scanText alone is shown too.
 */
import { parseArgs } from 'node:util';
import { BUILTIN_PROFILES, createClassifier, createMasker } from '../services/classifier/index.js';
import { generateTraceText } from './corpus/trace-generator.js';

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '8' },
    'ref-mb': { type: 'string', default: '0.5' },
    seed: { type: 'string', default: '7' },
    rounds: { type: 'string', default: '5' },
  },
});
const mb = Number(values.mb);
const refMb = Number(values['ref-mb']);
const rounds = Number(values.rounds);
const seed = Number(values.seed);

const classifier = createClassifier();
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

function measure(label: string, inputs: readonly string[], fn: (t: string) => number, n: number): number {
  const bytes = inputs.reduce((s, r) => s + Buffer.byteLength(r), 0);
  const run = (): number => inputs.reduce((s, r) => s + fn(r), 0);
  run(); // warm-up: JIT and regex compilation
  const rates: number[] = [];
  for (let i = 0; i < n; i++) rates.push(bytes / 1e6 / cpuSeconds(run).secs);
  rates.sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)]!;
  console.log(`  ${label.padEnd(40)} ${median.toFixed(1).padStart(8)} MB/s  (min ${rates[0]!.toFixed(1)}, max ${rates[rates.length - 1]!.toFixed(1)})`);
  return median;
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

console.log(`node ${process.version}, ${process.arch}; median of ${rounds} rounds, MB/s per CPU second`);
const summary: string[] = [];
for (const [mix, rate] of [['typical', 0.15], ['dense', 1]] as const) {
  const records = generateTraceText(seed, mb * 1e6, rate);
  const bytes = records.reduce((s, r) => s + Buffer.byteLength(r), 0);
  console.log(`${mix}: ${(bytes / 1e6).toFixed(1)} MB in ${records.length} records of ~4 KB`);
  const redactText = (t: string): number => masker.maskText(t, classifier.scanText(t)).length;
  measure('tracefence scanText', records, (t) => classifier.scanText(t).length, rounds);
  const full = measure('tracefence scanText + maskText (redact)', records, redactText, rounds);
  if (reference !== undefined) {
    const ref = prefix(records, refMb);
    const refBytes = ref.reduce((s, r) => s + Buffer.byteLength(r), 0);
    const redact = reference;
    const refRate = measure(`redact-pii SyncRedactor (${(refBytes / 1e6).toFixed(2)} MB)`, ref, (t) => redact(t).length, Math.min(rounds, 3));
    const ours = measure(`tracefence scan + redact, same ${(refBytes / 1e6).toFixed(2)} MB`, ref, redactText, rounds);
    summary.push(`${mix}: ${full.toFixed(1)} MB/s detect + redact, ${(ours / refRate).toFixed(1)}x redact-pii (${ours.toFixed(1)} vs ${refRate.toFixed(2)} MB/s on the same records)`);
  } else {
    summary.push(`${mix}: ${full.toFixed(1)} MB/s detect + redact`);
  }
}
console.log(`\nsummary (goal: >= 50 MB/s and >= 10x redact-pii):\n  ${summary.join('\n  ')}`);
