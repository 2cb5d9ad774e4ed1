/**
 * Accuracy of the default classifier on the seeded labelled corpus (bench/corpus/trace-generator.ts):
 * precision, recall and leak rate per type, and the worst misses by generator kind.
 *
 *   npm run bench:accuracy [-- --seed N --records N --show-errors]
 *
 * A prediction is a true positive when it overlaps a label of the same type. A label leaks when
 * any of its characters is left outside every predicted span (so masking would leave a fragment).
 */
import { parseArgs } from 'node:util';
import { createClassifier } from '../services/classifier/index.js';
import { generateCorpus, type Label } from './corpus/trace-generator.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '20240601' },
    records: { type: 'string', default: '3000' },
    'show-errors': { type: 'boolean', default: false },
  },
});
const seed = Number(values.seed);
const records = Number(values.records);
const showErrors = values['show-errors'] === true;

const classifier = createClassifier();
const corpus = generateCorpus(seed, records);

interface Stats {
  labels: number;
  predictions: number;
  tpPred: number;
  tpLabel: number;
  leaks: number;
}
const stats = new Map<string, Stats>();
const stat = (t: string): Stats => {
  let s = stats.get(t);
  if (s === undefined) stats.set(t, (s = { labels: 0, predictions: 0, tpPred: 0, tpLabel: 0, leaks: 0 }));
  return s;
};
const missesByKind = new Map<string, number>();
const examples: string[] = [];

const overlaps = (a: { start: number; end: number }, b: { start: number; end: number }): boolean => a.start < b.end && b.start < a.end;

for (const rec of corpus) {
  const found = classifier.scanText(rec.text);
  for (const p of found) {
    const s = stat(p.type);
    s.predictions++;
    if (rec.labels.some((l) => l.type === p.type && overlaps(l, p))) s.tpPred++;
    else if (showErrors && examples.length < 60) {
      examples.push(`FP ${p.type}${p.subtype ? '/' + p.subtype : ''}: ${JSON.stringify(rec.text.slice(Math.max(0, p.start - 30), p.end + 10))} -> ${JSON.stringify(rec.text.slice(p.start, p.end))}`);
    }
  }
  for (const l of rec.labels) {
    const s = stat(l.type);
    s.labels++;
    const hit = found.some((p) => p.type === l.type && overlaps(l, p));
    if (hit) s.tpLabel++;
    if (!covered(l, found)) {
      s.leaks++;
      missesByKind.set(`${l.type}/${l.kind}`, (missesByKind.get(`${l.type}/${l.kind}`) ?? 0) + 1);
      if (showErrors && examples.length < 60) {
        examples.push(`LEAK ${l.type}/${l.kind}: ${JSON.stringify(rec.text.slice(Math.max(0, l.start - 30), l.end + 10))} -> ${JSON.stringify(rec.text.slice(l.start, l.end))}`);
      }
    } else if (!hit) {
      missesByKind.set(`${l.type}/${l.kind} (other type)`, (missesByKind.get(`${l.type}/${l.kind} (other type)`) ?? 0) + 1);
    }
  }
}

function covered(l: Label, found: ReadonlyArray<{ start: number; end: number }>): boolean {
  let pos = l.start;
  for (const p of found) {
    if (p.end <= pos) continue;
    if (p.start > pos) return false;
    pos = p.end;
    if (pos >= l.end) return true;
  }
  return pos >= l.end;
}

const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : '  n/a ');
const chars = corpus.reduce((n, r) => n + r.text.length, 0);
console.log(`corpus: seed ${seed}, ${records} records, ${(chars / 1e6).toFixed(2)} M chars, ${corpus.reduce((n, r) => n + r.labels.length, 0)} labels`);
console.log('type            labels  predicted  precision  recall  leak-rate  leaks');
let totalLeaks = 0;
for (const [type, s] of [...stats.entries()].sort()) {
  totalLeaks += s.leaks;
  const precision = s.predictions === 0 ? NaN : s.tpPred / s.predictions;
  const recall = s.labels === 0 ? NaN : s.tpLabel / s.labels;
  const leakRate = s.labels === 0 ? NaN : s.leaks / s.labels;
  console.log(`${type.padEnd(15)} ${String(s.labels).padStart(6)}  ${String(s.predictions).padStart(9)}  ${fmt(precision).padStart(9)}  ${fmt(recall).padStart(6)}  ${fmt(leakRate).padStart(9)}  ${String(s.leaks).padStart(5)}`);
}
if (missesByKind.size > 0) {
  console.log('\nmisses by generator kind:');
  for (const [k, n] of [...missesByKind.entries()].sort((a, b) => b[1] - a[1])) console.log(`  ${k}: ${n}`);
}
if (showErrors) for (const e of examples) console.log(e);
console.log(`\ntotal leaks: ${totalLeaks}`);
