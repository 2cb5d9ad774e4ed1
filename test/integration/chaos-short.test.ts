/**
 * Issue 9, short version of `npm run chaos` for the normal suite: 3,000 seeded traces with
 * planted values through policy workers, region sinks and the approval service on fresh topics
 * and buckets, while each kind of worker is killed with SIGKILL once and the object store is
 * paused (SIGSTOP/SIGCONT). Broker and Redis restarts would disturb the other tests running on
 * the shared stack, so they are left to `npm run chaos`. Every figure must be 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeChaosReport, runChaos } from '../../bench/chaos/chaos-run.js';
import { shortChaosOptions } from '../helpers/chaos-profile.js';

test('under kill -9 of every worker and a paused object store: nothing lost, nothing twice, nothing out of place, nothing unmasked', { timeout: 300_000 }, async () => {
  const started = Date.now();
  const lines: string[] = [];
  const report = await runChaos(shortChaosOptions((m) => lines.push(m)));
  const summary = describeChaosReport(report).join('\n');
  assert.deepEqual(report.failing, [], summary);
  assert.equal(report.tracesProduced, 3000, summary);
  assert.equal(report.reconciliation.figures.ingested, report.tracesProduced + report.hostileProduced, summary);
  // Every fault happened, without error.
  assert.deepEqual(report.faults.filter((f) => f.error !== undefined), [], summary);
  assert.deepEqual(report.faults.map((f) => f.kind).sort(), ['kill-approval-service', 'kill-policy-worker', 'kill-sink-eu', 'kill-sink-us', 'pause-object-store'], summary);
  for (const s of report.services) assert.equal(s.exitCode, 0, `${s.name} did not stop cleanly\n${summary}`);
  assert.ok(Date.now() - started < 240_000, `took ${Math.round((Date.now() - started) / 1000)} s\n${summary}`);
});
