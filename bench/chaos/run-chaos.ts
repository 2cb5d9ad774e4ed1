/**
 * npm run chaos -- [--traces 100000] [--duration <s>] [--seed 1] [--short] [--no-broker-restart]
 *                  [--no-redis-restart] [--keep] [--hostile-only [--good 3000] [--cycles 5]]
 *
 * Runs the pipeline on the real local stack under faults and proves the three promises; prints
 * the figures and exits 1 if any is not 0 (see docs/chaos.md). `--hostile-only` sends the
 * hostile-input corpus with good traces instead and reports the good traces' throughput drop.
 * The stack must be running (`bash infra/stack.sh start`); it is left running and healthy.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeChaosReport, runChaos, type ChaosOptions } from './chaos-run.js';
import { describeHostileRun, runHostile } from './hostile-run.js';
import { repoRoot, resumeAllPaused, stackCommand, stackPid } from './stack-access.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);
const num = (name: string, fallback: number): number => {
  const v = arg(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} needs a non-negative number`);
  return n;
};

const log = (m: string): void => void process.stdout.write(`${m}\n`);
const baseDir = join(repoRoot, '.stack', 'chaos');
mkdirSync(baseDir, { recursive: true });

/** The stack components the run may restart must be up again at the end. */
async function ensureStackHealthy(): Promise<void> {
  resumeAllPaused();
  const missing = ['kafka', 'redis', 's3', 'gcs-eu', 'gcs-us', 'oidc'].filter((n) => stackPid(n) === undefined);
  if (missing.length > 0) {
    log(`stack components not running at the end: ${missing.join(', ')}; starting them`);
    await stackCommand('start');
  }
}

async function main(): Promise<number> {
  if (flag('hostile-only')) {
    const r = await runHostile({
      goodRecords: num('good', 3000),
      cycles: num('cycles', 5),
      seed: num('seed', 1),
      measureBaseline: true,
      baseDir,
      log,
      keep: flag('keep'),
      timeoutMs: 900_000,
    });
    for (const l of describeHostileRun(r)) log(l);
    const ok = r.cases.every((c) => c.ok || c.category === 'utf8') && r.workerAlive && r.workerHealthy && r.goodAsPlanned === r.goodSent && r.reconciliation.figures.plantedUnmasked === 0;
    return ok ? 0 : 1;
  }
  const short = flag('short');
  const options: ChaosOptions = {
    traces: num('traces', short ? 3000 : 100_000),
    seed: num('seed', 1),
    ...(arg('duration') === undefined ? {} : { durationSec: num('duration', 0) }),
    partitions: num('partitions', 4),
    policyWorkers: num('policy-workers', 2),
    withApproval: !flag('no-approval'),
    faults: short
      ? { 'kill-policy-worker': 1, 'kill-sink-eu': 1, 'kill-sink-us': 1, 'kill-approval-service': 1, 'pause-object-store': 1 }
      : {
          'kill-policy-worker': 4,
          'kill-sink-eu': 2,
          'kill-sink-us': 2,
          'kill-approval-service': 2,
          'pause-object-store': 2,
          'restart-kafka': flag('no-broker-restart') ? 0 : 1,
          'restart-redis': flag('no-redis-restart') ? 0 : 1,
        },
    faultGapSec: short ? [2, 5] : [8, 25],
    pauseObjectStoreSec: short ? 8 : 20,
    hostileEvery: num('hostile-every', 500),
    minBytes: 200,
    maxBytes: 64 * 1024,
    maxInFlight: num('max-in-flight', 3000),
    drainTimeoutSec: num('drain-timeout', 600),
    baseDir,
    keep: flag('keep'),
    log,
  };
  try {
    const report = await runChaos(options);
    for (const l of describeChaosReport(report)) log(l);
    return report.failing.length === 0 ? 0 : 1;
  } finally {
    await ensureStackHealthy();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    resumeAllPaused();
    console.error(err);
    process.exit(2);
  },
);
