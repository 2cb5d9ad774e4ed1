/**
 * Issue 9: hostile inputs through the real ingest path. A policy worker (child process, fresh
 * topics) gets the hostile corpus (bench/chaos/hostile-corpus.ts) mixed with good traces. Each
 * hostile record is dead-lettered with its reason (backtracking inputs, which are valid traces,
 * get exactly one outcome in bounded time), the worker never crashes, good traces still arrive,
 * and no planted value or token appears in any output or in the worker's log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runHostile, type CaseResult, type HostileRunResult } from '../../bench/chaos/hostile-run.js';
import { failingFigures } from '../../bench/chaos/reconcile.js';

let result: HostileRunResult;
const baseDir = mkdtempSync(join(tmpdir(), 'tf-hostile-'));

const describeOutcome = (c: CaseResult): string =>
  c.outcomes.map((x) => (x.kind === 'dead-lettered' ? `dead-lettered ${x.reason ?? ''}` : x.kind === 'routed' ? `routed ${x.region ?? ''}` : x.kind)).join(' + ') || 'no outcome';

before(async () => {
  result = await runHostile({ goodRecords: 150, cycles: 1, seed: 9, measureBaseline: false, baseDir, log: () => undefined, timeoutMs: 180_000 });
});

after(() => {
  rmSync(baseDir, { recursive: true, force: true });
});

describe('hostile inputs on the real ingest path', () => {
  test('every malformed, oversized, nested, forged or spoofed record is dead-lettered with its reason', () => {
    const checked = result.cases.filter((c) => c.category !== 'backtracking' && c.category !== 'utf8');
    assert.ok(checked.length >= 40, `corpus too small: ${checked.length}`);
    const wrong = checked.filter((c) => !c.ok).map((c) => `${c.name}: expected ${c.expected}, got ${describeOutcome(c)}`);
    assert.deepEqual(wrong, []);
  });

  test('invalid UTF-8 inside an Avro string is dead-lettered as RECORD_MALFORMED', () => {
    const wrong = result.cases.filter((c) => c.category === 'utf8' && !c.ok).map((c) => `${c.name}: got ${describeOutcome(c)}`);
    assert.deepEqual(wrong, []);
  });

  test('invalid UTF-8 still yields exactly one outcome and leaks nothing', () => {
    for (const c of result.cases.filter((x) => x.category === 'utf8')) assert.equal(c.outcomes.length, 1, `${c.name}: ${describeOutcome(c)}`);
  });

  test('inputs built to make patterns backtrack get exactly one outcome, in bounded time', () => {
    const bt = result.cases.filter((c) => c.category === 'backtracking');
    assert.ok(bt.length >= 10);
    for (const c of bt) assert.equal(c.outcomes.length, 1, `${c.name}: ${describeOutcome(c)}`);
    // 14 records of 256 KiB of digits, dots, at-signs, base64, spaces... plus the rest.
    assert.ok(result.mixed.seconds < 120, `took ${result.mixed.seconds} s`);
  });

  test('the policy worker is still alive and healthy, never restarted, and stops cleanly', () => {
    assert.equal(result.workerAlive, true);
    assert.equal(result.workerHealthy, true);
    assert.equal(result.workerUnexpectedExits, 0);
    assert.equal(result.workerExitCode, 0);
  });

  test('good traces sent alongside still arrive, each exactly once, as planned', () => {
    assert.equal(result.goodAsPlanned, result.goodSent);
  });

  test('nothing lost or duplicated; no planted value or token in any output or log', () => {
    assert.deepEqual(failingFigures(result.reconciliation.figures), []);
    assert.deepEqual(result.reconciliation.plantedByStore, {});
    assert.deepEqual(result.reconciliation.tokensByStore, {});
  });
});
