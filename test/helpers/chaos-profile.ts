/** The short chaos profile used by the normal test suite: kill -9 of each worker and a paused object store, no broker or Redis restart. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ChaosOptions } from '../../bench/chaos/chaos-run.js';
import { repoRoot } from './stack.js';

export function shortChaosOptions(log: (m: string) => void): ChaosOptions {
  const baseDir = join(repoRoot, '.stack', 'chaos');
  mkdirSync(baseDir, { recursive: true });
  return {
    traces: 3000,
    seed: 20_250,
    partitions: 4,
    policyWorkers: 2,
    withApproval: true,
    faults: { 'kill-policy-worker': 1, 'kill-sink-eu': 1, 'kill-sink-us': 1, 'kill-approval-service': 1, 'pause-object-store': 1 },
    faultGapSec: [2, 5],
    pauseObjectStoreSec: 8,
    hostileEvery: 500,
    minBytes: 200,
    maxBytes: 64 * 1024,
    maxInFlight: 3000,
    drainTimeoutSec: 150,
    // Guard against a run that would not fit the suite's budget.
    durationSec: 150,
    baseDir,
    keep: false,
    log,
  };
}
