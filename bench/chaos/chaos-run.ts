/**
 * The chaos run: the whole pipeline (policy workers, one sink per region, the approval service)
 * on the real local stack, fresh topics and buckets, N seeded traces with planted values (and a
 * sprinkle of hostile records), while workers are killed with SIGKILL and restarted, the object
 * store is made unreachable (SIGSTOP/SIGCONT of moto), and optionally the Kafka broker and Redis
 * are restarted. Then everything is reconciled (reconcile.ts) and the figures are returned.
 */
import { Redis } from 'ioredis';
import { HEADERS } from '../../services/shared/record-headers.js';
import { createCodec } from '../../services/shared/avro/index.js';
import { createRng } from '../corpus/trace-generator.js';
import { createChaosTopology, createPipeline, type SupervisedService } from './chaos-pipeline.js';
import { createAgentTokens } from './chaos-tokens.js';
import { caughtUpWithHighWatermark, caughtUpWithRecords, committedTotal, pollUntil } from './drain.js';
import { buildHostileCorpus, HOSTILE_PLANTED, type RawIngestRecord } from './hostile-corpus.js';
import { createIngestProducer } from './ingest-producer.js';
import { LeakScanner } from './leak-scan.js';
import { createTracePlan } from './planted-traces.js';
import { failingFigures, reconcile, type ExpectedRecord, type Reconciliation } from './reconcile.js';
import { pauseObjectStore, redisUrl, resumeAllPaused, stackCommand } from './stack-access.js';

export type FaultKind = 'kill-policy-worker' | 'kill-sink-eu' | 'kill-sink-us' | 'kill-approval-service' | 'pause-object-store' | 'restart-kafka' | 'restart-redis';

export interface ChaosOptions {
  traces: number;
  seed: number;
  /** Stop producing after this many seconds (the report gives the number actually sent). */
  durationSec?: number;
  partitions: number;
  policyWorkers: number;
  withApproval: boolean;
  /** How many times each fault happens. */
  faults: Partial<Record<FaultKind, number>>;
  /** Seconds between faults (random in the range). */
  faultGapSec: [number, number];
  pauseObjectStoreSec: number;
  /** One hostile record after every `hostileEvery` traces (0 = none). */
  hostileEvery: number;
  minBytes: number;
  maxBytes: number;
  /** Produced but not yet committed by the policy workers, at most. */
  maxInFlight: number;
  drainTimeoutSec: number;
  baseDir: string;
  keep: boolean;
  log: (msg: string) => void;
}

export interface FaultRecord {
  kind: FaultKind;
  atSec: number;
  tookSec: number;
  /** Traces produced when it started. */
  produced: number;
  /** Traces the policy workers had committed when it started. */
  committed: number;
  error?: string;
}

export interface ChaosReport {
  options: Omit<ChaosOptions, 'log'>;
  topology: string;
  tracesProduced: number;
  hostileProduced: number;
  bytesProduced: number;
  sizeMin: number;
  sizeMax: number;
  producerRetries: number;
  faults: FaultRecord[];
  services: Array<{ name: string; kills: number; unexpectedExits: number; exitCode: number | null }>;
  timings: { startupSec: number; produceSec: number; drainSec: number; reconcileSec: number; totalSec: number };
  reconciliation: Reconciliation;
  failing: string[];
}

const traceCodec = createCodec('reasoning-trace', { maxBytes: 64 * 1024 * 1024 });

function shuffle<T>(xs: T[], rng: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [xs[i], xs[j]] = [xs[j] as T, xs[i] as T];
  }
  return xs;
}

/** Redis must keep held traces across its restart: the running instance may predate AOF. */
async function ensureRedisPersistence(log: (m: string) => void): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  try {
    const [, value] = ((await redis.config('GET', 'appendonly')) as string[]) ?? [];
    if (value === 'yes') return;
  } finally {
    redis.disconnect();
  }
  log('redis runs without its append-only file: restarting it once (infra/stack.sh restart redis)');
  await stackCommand('restart', 'redis');
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const t0 = Date.now();
  const since = (): number => (Date.now() - t0) / 1000;
  const log = (m: string): void => o.log(`[${since().toFixed(1).padStart(6)} s] ${m}`);
  if ((o.faults['restart-redis'] ?? 0) > 0) await ensureRedisPersistence(log);

  const t = await createChaosTopology({ prefix: 'tfchaos', partitions: o.partitions, baseDir: o.baseDir });
  log(`topology ${t.name}: topics ${t.topics.ingest} ..., buckets ${t.buckets.eu} (eu-central-1), ${t.buckets.us} (us-east-1); logs in ${t.dir}`);
  const pipeline = createPipeline(t, { policyWorkers: o.policyWorkers, withApproval: o.withApproval, log });
  const tokens = createAgentTokens();
  const scanner = new LeakScanner();
  const expected = new Map<string, ExpectedRecord>();
  const hostilePlanted = Object.values(HOSTILE_PLANTED).map((v) => ({ text: v, normalized: /^[0-9 -]+$/.test(v) ? v.replace(/[ -]/g, '') : v }));
  for (const p of hostilePlanted) scanner.addPlanted(p.normalized);
  const plan = createTracePlan({ seed: o.seed, minBytes: o.minBytes, maxBytes: o.maxBytes });
  const rng = createRng(o.seed ^ 0x5eed);
  let produced = 0;
  let hostileProduced = 0;
  let bytesProduced = 0;
  let sizeMin = Number.POSITIVE_INFINITY;
  let sizeMax = 0;
  let committed = 0;
  let producerRetries = 0;
  const faults: FaultRecord[] = [];
  let keep = o.keep;
  const timings = { startupSec: 0, produceSec: 0, drainSec: 0, reconcileSec: 0, totalSec: 0 };

  try {
    await pipeline.start();
    timings.startupSec = since();
    log(`pipeline running: ${pipeline.all().map((s) => s.name).join(', ')}`);

    // Progress: what the policy workers committed (also while Kafka restarts: errors are ignored).
    const progress = setInterval(() => {
      committedTotal(t.groups.policy, t.topics.ingest).then(
        (n) => (committed = n),
        () => undefined,
      );
    }, 1000);

    // --- Faults, one after another at random gaps, while traces flow ---------------------------
    const kinds: FaultKind[] = [];
    for (const [kind, n] of Object.entries(o.faults) as Array<[FaultKind, number]>) for (let i = 0; i < n; i++) kinds.push(kind);
    shuffle(kinds, rng);
    const gap = (): number => (o.faultGapSec[0] + rng() * (o.faultGapSec[1] - o.faultGapSec[0])) * 1000;
    const down = (): number => 300 + rng() * 2700;
    const pickPolicyWorker = (): SupervisedService => pipeline.policyWorkers[Math.floor(rng() * pipeline.policyWorkers.length)] as SupervisedService;
    const runFault = async (kind: FaultKind): Promise<void> => {
      switch (kind) {
        case 'kill-policy-worker':
          return pickPolicyWorker().killAndRestart(down());
        case 'kill-sink-eu':
          return pipeline.sinks.eu.killAndRestart(down());
        case 'kill-sink-us':
          return pipeline.sinks.us.killAndRestart(down());
        case 'kill-approval-service':
          return pipeline.approval?.killAndRestart(down());
        case 'pause-object-store':
          return pauseObjectStore(o.pauseObjectStoreSec * 1000);
        case 'restart-kafka':
          await stackCommand('restart', 'kafka');
          return;
        case 'restart-redis':
          await stackCommand('restart', 'redis');
          return;
      }
    };
    const faultLoop = (async () => {
      for (const kind of kinds) {
        await new Promise((r) => setTimeout(r, gap()));
        const rec: FaultRecord = { kind, atSec: since(), tookSec: 0, produced, committed };
        log(`fault: ${kind} (produced ${produced}, committed ${committed})`);
        try {
          await runFault(kind);
        } catch (err) {
          rec.error = err instanceof Error ? err.message.slice(0, 500) : String(err);
          log(`fault ${kind} failed: ${rec.error}`);
        }
        rec.tookSec = since() - rec.atSec;
        faults.push(rec);
      }
    })();

    // --- Production: seeded traces, paced so the faults fall while traces flow -----------------
    const producer = await createIngestProducer(t.topics.ingest, log);
    // Roughly how long the faults take (a killed worker is back after ~10 s; the approval
    // service's group waits for the dead member's session to expire; the broker takes longer).
    const faultSec: Record<FaultKind, number> = {
      'kill-policy-worker': 10,
      'kill-sink-eu': 10,
      'kill-sink-us': 10,
      'kill-approval-service': 30,
      'pause-object-store': o.pauseObjectStoreSec,
      'restart-kafka': 45,
      'restart-redis': 8,
    };
    const faultWindowSec = kinds.reduce((s, k) => s + (o.faultGapSec[0] + o.faultGapSec[1]) / 2 + faultSec[k], 0);
    const ratePerSec = o.traces / Math.max(1, faultWindowSec);
    const started = Date.now();
    let hostileQueue: RawIngestRecord[] = [];
    const nextHostile = async (): Promise<RawIngestRecord> => {
      if (hostileQueue.length === 0) {
        const corpus = await buildHostileCorpus({ token: (tenant) => tokens.get(tenant), backtrackingChars: 16 * 1024 });
        hostileQueue = corpus.map((h) => {
          const key = h.recordId ?? `${h.record.key}:h${hostileProduced}`;
          expected.set(key, { expect: h.expect, planted: hostilePlanted, label: h.name });
          const token = h.record.headers[HEADERS.accessToken];
          if (token !== undefined) scanner.addToken(token);
          return { ...h.record, key };
        });
        shuffle(hostileQueue, rng);
      }
      return hostileQueue.pop() as RawIngestRecord;
    };
    try {
      let batch: RawIngestRecord[] = [];
      let pendingTraces = 0;
      for (let i = 0; i < o.traces; i++) {
        if (o.durationSec !== undefined && since() > o.durationSec) {
          log(`--duration reached: stopping production at ${produced} traces`);
          break;
        }
        const p = plan(i);
        for (const v of p.planted) scanner.addPlanted(v.normalized);
        expected.set(p.trace.recordId, { expect: p.expect.kind === 'dead-lettered' ? { kind: 'dead-lettered', reasons: [p.expect.reason] } : p.expect, planted: p.planted });
        const { payload, fingerprint } = traceCodec.encode(p.trace);
        sizeMin = Math.min(sizeMin, payload.length);
        sizeMax = Math.max(sizeMax, payload.length);
        bytesProduced += payload.length;
        const token = await tokens.get(p.tokenTenant);
        scanner.addToken(token);
        batch.push({ key: p.trace.recordId, value: payload, headers: { [HEADERS.schema]: fingerprint, [HEADERS.accessToken]: token } });
        pendingTraces++;
        if (o.hostileEvery > 0 && (i + 1) % o.hostileEvery === 0) {
          batch.push(await nextHostile());
          hostileProduced++;
        }
        if (batch.length >= 100 || i === o.traces - 1) {
          await producer.send(batch);
          produced += pendingTraces;
          pendingTraces = 0;
          batch = [];
          // Pace: not faster than the fault window allows, and not too far ahead of the workers.
          const aheadMs = (produced / ratePerSec) * 1000 - (Date.now() - started);
          if (aheadMs > 0) await new Promise((r) => setTimeout(r, aheadMs));
          while (produced + hostileProduced - committed > o.maxInFlight) await new Promise((r) => setTimeout(r, 200));
          if (produced % 5000 < 100) log(`produced ${produced} traces (${(bytesProduced / 1e6).toFixed(0)} MB), committed ${committed}`);
        }
      }
      if (batch.length > 0) {
        await producer.send(batch);
        produced += pendingTraces;
      }
    } finally {
      producerRetries = producer.retries;
      await producer.close();
    }
    timings.produceSec = since() - timings.startupSec;
    log(`production done: ${produced} traces + ${hostileProduced} hostile records; waiting for the remaining faults`);
    await faultLoop;
    resumeAllPaused();

    // --- Drain ------------------------------------------------------------------------------------
    const drainStart = since();
    const deadline = o.drainTimeoutSec * 1000;
    await pollUntil('the policy workers to commit the ingest topic', deadline, () => caughtUpWithHighWatermark(t.groups.policy, t.topics.ingest), 1000);
    clearInterval(progress);
    log('policy workers caught up; reading region and held topics to their ends');
    const { readToEnd } = await import('./topic-reader.js');
    const regionEnds = await readToEnd([t.topics.eu, t.topics.us], () => undefined);
    const heldEnds = await readToEnd([t.topics.held], () => undefined);
    await pollUntil('the eu sink to commit its region topic', deadline, () => caughtUpWithRecords(t.groups.sinkEu, t.topics.eu, regionEnds), 1000);
    await pollUntil('the us sink to commit its region topic', deadline, () => caughtUpWithRecords(t.groups.sinkUs, t.topics.us, regionEnds), 1000);
    if (o.withApproval) await pollUntil('the approval intake to commit the held topic', deadline, () => caughtUpWithRecords(t.groups.approval, t.topics.held, heldEnds), 1000);
    timings.drainSec = since() - drainStart;
    log('sinks and approval intake caught up; stopping the services (SIGTERM)');

    const unhealthy: string[] = [];
    for (const s of pipeline.all()) if (!(await s.healthy())) unhealthy.push(s.name);
    if (unhealthy.length > 0) log(`not healthy at the end: ${unhealthy.join(', ')}`);
    const codes = await pipeline.stop();

    // --- Reconcile --------------------------------------------------------------------------------
    const recStart = since();
    log('reconciling: ingest, region topics, held, dead letters, audit, bucket objects, approval queue, logs');
    const reconciliation = await reconcile(t, expected, scanner, {
      buckets: true,
      approvalQueue: o.withApproval,
      logFiles: pipeline.all().map((s) => s.logFile),
    });
    timings.reconcileSec = since() - recStart;
    timings.totalSec = since();
    const failing = failingFigures(reconciliation.figures);
    const services = pipeline.all().map((s) => ({ name: s.name, kills: s.kills, unexpectedExits: s.unexpectedExits, exitCode: codes.find((c) => c.name === s.name)?.code ?? null }));
    if (failing.length > 0) keep = true;
    const { log: _log, ...optionsOut } = o;
    return {
      options: optionsOut,
      topology: t.name,
      tracesProduced: produced,
      hostileProduced,
      bytesProduced,
      sizeMin: Number.isFinite(sizeMin) ? sizeMin : 0,
      sizeMax,
      producerRetries,
      faults,
      services,
      timings,
      reconciliation,
      failing,
    };
  } catch (err) {
    keep = true;
    throw err;
  } finally {
    resumeAllPaused();
    await pipeline.stop().catch(() => undefined);
    if (!keep) await t.destroy().catch(() => undefined);
    else log(`kept topics, buckets and logs of ${t.name} for inspection (${t.dir})`);
  }
}

/** The report as lines of text (no planted values, no tokens). */
export function describeChaosReport(r: ChaosReport): string[] {
  const f = r.reconciliation.figures;
  const rec = r.reconciliation;
  const lines: string[] = [];
  lines.push('');
  lines.push(`chaos run ${r.topology}: ${r.tracesProduced} traces (${(r.bytesProduced / 1e6).toFixed(1)} MB, ${r.sizeMin} B to ${r.sizeMax} B encoded) + ${r.hostileProduced} hostile records, seed ${r.options.seed}`);
  lines.push(`time: start-up ${r.timings.startupSec.toFixed(0)} s, produce ${r.timings.produceSec.toFixed(0)} s, drain ${r.timings.drainSec.toFixed(0)} s, reconcile ${r.timings.reconcileSec.toFixed(0)} s, total ${r.timings.totalSec.toFixed(0)} s`);
  lines.push('faults:');
  for (const x of r.faults) lines.push(`  ${x.atSec.toFixed(0).padStart(5)} s  ${x.kind.padEnd(22)} took ${x.tookSec.toFixed(1)} s (produced ${x.produced}, committed ${x.committed})${x.error === undefined ? '' : `  ERROR ${x.error}`}`);
  lines.push('services:');
  for (const s of r.services) lines.push(`  ${s.name.padEnd(18)} killed ${s.kills}x, exited on its own ${s.unexpectedExits}x (restarted), exit code on SIGTERM ${s.exitCode}`);
  lines.push(`outcomes: ${Object.entries(rec.byKind).map(([k, v]) => `${k} ${v}`).join(', ')}; ${rec.objects} objects; ${rec.regionTopicRecords} region-topic records`);
  lines.push(`dead-letter reasons: ${Object.entries(rec.deadLetterReasons).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
  lines.push(`outcomes that differ from the seeded plan (informational): ${rec.differsFromPlan}; producer send retries: ${r.producerRetries}`);
  lines.push('');
  lines.push('figure                                   value   (every one must be 0)');
  const row = (name: string, v: number): string => `  ${name.padEnd(40)} ${String(v).padStart(6)}${v === 0 ? '' : '   <-- FAIL'}`;
  lines.push(`  ${'ingested records'.padEnd(40)} ${String(f.ingested).padStart(6)}`);
  lines.push(row('lost', f.lost));
  lines.push(row('duplicated', f.duplicated));
  lines.push(row('outcomes not traceable to an ingest record', f.unexpectedOutcomes));
  lines.push(row('objects outside their jurisdiction', f.objectsOutsideJurisdiction));
  lines.push(row('records outside their tenant\'s regions', f.recordsOutsideTenantRegions));
  lines.push(row('planted values found unmasked', f.plantedUnmasked));
  lines.push(row('access tokens found in stored data/logs', f.tokensStored));
  lines.push(row('dead letters without a reason', f.deadLettersWithoutReason));
  lines.push(row('audit decisions missing', f.auditMissing));
  lines.push(row('audit decisions duplicated', f.auditDuplicated));
  lines.push(row('held traces not in the approval queue', f.heldNotInApprovalQueue));
  if (f.plantedUnmasked > 0) lines.push(`  planted values by store: ${JSON.stringify(rec.plantedByStore)}`);
  if (f.tokensStored > 0) lines.push(`  tokens by store: ${JSON.stringify(rec.tokensByStore)}`);
  for (const n of rec.notes.slice(0, 20)) lines.push(`  note: ${n}`);
  lines.push('');
  lines.push(r.failing.length === 0 ? 'RESULT: all figures are 0' : `RESULT: FAILED (${r.failing.join(', ')})`);
  return lines;
}
