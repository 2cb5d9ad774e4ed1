import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClassifier } from '../../../services/classifier/index.js';
import { generateCorpus } from '../../../bench/corpus/trace-generator.js';

/** A small slice of the accuracy corpus as a regression guard (bench/scan-accuracy.ts has the report). */
test('recall, precision and leaks on a seeded corpus slice', () => {
  const classifier = createClassifier();
  const corpus = generateCorpus(42, 300);
  const per = new Map<string, { labels: number; hit: number; pred: number; tp: number; leaks: number }>();
  const s = (t: string) => per.get(t) ?? (per.set(t, { labels: 0, hit: 0, pred: 0, tp: 0, leaks: 0 }), per.get(t)!);
  for (const rec of corpus) {
    const found = classifier.scanText(rec.text);
    for (const p of found) {
      s(p.type).pred++;
      if (rec.labels.some((l) => l.type === p.type && l.start < p.end && p.start < l.end)) s(p.type).tp++;
    }
    for (const l of rec.labels) {
      s(l.type).labels++;
      if (found.some((p) => p.type === l.type && l.start < p.end && p.start < l.end)) s(l.type).hit++;
      let pos = l.start;
      for (const p of found) if (p.start <= pos && p.end > pos) pos = p.end;
      if (pos < l.end) s(l.type).leaks++;
    }
  }
  for (const [type, v] of per) {
    assert.ok(v.hit / v.labels >= 0.99, `${type} recall ${v.hit}/${v.labels}`);
    assert.ok(v.tp / v.pred >= 0.98, `${type} precision ${v.tp}/${v.pred}`);
    assert.equal(v.leaks, 0, `${type} leaks`);
  }
});
