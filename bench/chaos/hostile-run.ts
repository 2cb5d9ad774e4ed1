/**
 * Sends the hostile corpus through the real ingest path (a policy worker child process on fresh
 * topics) together with good traces, and reports each case's outcome, whether the worker is
 * still alive and healthy, whether the good traces still arrived as planned, and the good
 * traces' throughput with and without hostile records in the stream.
 */
import { HEADERS } from '../../services/shared/record-headers.js';
import { createCodec } from '../../services/shared/avro/index.js';
import { createChaosTopology, createPipeline } from './chaos-pipeline.js';
import { createAgentTokens } from './chaos-tokens.js';
import { caughtUpWithHighWatermark, pollUntil } from './drain.js';
import { buildHostileCorpus, HOSTILE_PLANTED, type HostileCase, type RawIngestRecord } from './hostile-corpus.js';
import { createIngestProducer } from './ingest-producer.js';
import { LeakScanner } from './leak-scan.js';
import { createTracePlan } from './planted-traces.js';
import { reconcile, type ExpectedRecord, type ObservedOutcome, type Reconciliation } from './reconcile.js';

export interface HostileRunOptions {
  goodRecords: number;
  /** Times the corpus is sent (each time with fresh record ids). */
  cycles: number;
  seed: number;
  backtrackingChars?: number;
  /** Also time the good records alone first, for the throughput drop. */
  measureBaseline: boolean;
  baseDir: string;
  log: (msg: string) => void;
  keep?: boolean;
  timeoutMs?: number;
}

export interface CaseResult {
  name: string;
  category: HostileCase['category'];
  expected: string;
  outcomes: ObservedOutcome[];
  ok: boolean;
}

export interface Throughput {
  goodRecords: number;
  hostileRecords: number;
  seconds: number;
  goodPerSecond: number;
}

export interface HostileRunResult {
  cases: CaseResult[];
  reconciliation: Reconciliation;
  goodAsPlanned: number;
  goodSent: number;
  workerAlive: boolean;
  workerHealthy: boolean;
  workerUnexpectedExits: number;
  workerExitCode: number | null;
  baseline?: Throughput;
  mixed: Throughput;
  /** Percent drop of good-record throughput when hostile records are mixed in. */
  throughputDropPercent?: number;
}

const traceCodec = createCodec('reasoning-trace', { maxBytes: 64 * 1024 * 1024 });

function normalizedCard(text: string): string {
  return text.replace(/[ -]/g, '');
}

export async function runHostile(o: HostileRunOptions): Promise<HostileRunResult> {
  const t = await createChaosTopology({ prefix: 'tfhost', partitions: 3, baseDir: o.baseDir });
  const pipeline = createPipeline(t, { policyWorkers: 1, withApproval: false, log: o.log });
  const worker = pipeline.policyWorkers[0];
  if (worker === undefined) throw new Error('no policy worker');
  const tokens = createAgentTokens();
  const scanner = new LeakScanner();
  const expected = new Map<string, ExpectedRecord>();
  const hostilePlanted = [
    { text: HOSTILE_PLANTED.email, normalized: HOSTILE_PLANTED.email },
    { text: HOSTILE_PLANTED.card, normalized: normalizedCard(HOSTILE_PLANTED.card) },
    { text: HOSTILE_PLANTED.secret, normalized: HOSTILE_PLANTED.secret },
  ];
  for (const p of hostilePlanted) scanner.addPlanted(p.normalized);
  const plan = createTracePlan({ seed: o.seed });
  const producer = await createIngestProducer(t.topics.ingest, o.log);
  let exitCode: number | null = null;
  let stopped = false;
  try {
    await worker.start();

    const goodRecord = async (i: number): Promise<RawIngestRecord> => {
      const p = plan(i);
      for (const v of p.planted) scanner.addPlanted(v.normalized);
      const expect = p.expect.kind === 'dead-lettered' ? { kind: 'dead-lettered' as const, reasons: [p.expect.reason] } : p.expect;
      expected.set(p.trace.recordId, { expect, planted: p.planted, label: 'good' });
      const { payload, fingerprint } = traceCodec.encode(p.trace);
      const token = await tokens.get(p.tokenTenant);
      scanner.addToken(token);
      return { key: p.trace.recordId, value: payload, headers: { [HEADERS.schema]: fingerprint, [HEADERS.accessToken]: token } };
    };

    const timed = async (records: RawIngestRecord[], good: number, hostile: number): Promise<Throughput> => {
      const started = Date.now();
      await producer.send(records);
      await pollUntil('the policy worker to commit the ingest topic to its end', o.timeoutMs ?? 300_000, () => caughtUpWithHighWatermark(t.groups.policy, t.topics.ingest), 200);
      const seconds = (Date.now() - started) / 1000;
      return { goodRecords: good, hostileRecords: hostile, seconds, goodPerSecond: good / seconds };
    };

    let baseline: Throughput | undefined;
    if (o.measureBaseline) {
      // Warm the worker up (JIT, connections, token cache) so the two timed phases compare.
      const warm: RawIngestRecord[] = [];
      for (let i = 0; i < Math.min(1000, o.goodRecords); i++) warm.push(await goodRecord(10_000_000 + i));
      await timed(warm, warm.length, 0);
      const records: RawIngestRecord[] = [];
      for (let i = 0; i < o.goodRecords; i++) records.push(await goodRecord(i));
      o.log(`baseline: ${records.length} good records`);
      baseline = await timed(records, records.length, 0);
    }

    const cases: Array<HostileCase & { cycle: number }> = [];
    for (let c = 0; c < o.cycles; c++) {
      const corpus = await buildHostileCorpus({ token: (tenant) => tokens.get(tenant), ...(o.backtrackingChars === undefined ? {} : { backtrackingChars: o.backtrackingChars }) });
      for (const h of corpus) {
        const key = h.recordId ?? `${h.record.key}:c${c}`;
        const record = { ...h.record, key };
        const token = record.headers[HEADERS.accessToken];
        if (token !== undefined) scanner.addToken(token);
        expected.set(key, { expect: h.expect, planted: hostilePlanted, label: h.name });
        cases.push({ ...h, record, cycle: c });
      }
    }
    const good: RawIngestRecord[] = [];
    const offset = o.measureBaseline ? o.goodRecords : 0;
    for (let i = 0; i < o.goodRecords; i++) good.push(await goodRecord(offset + i));
    // Interleave: hostile records spread evenly among the good ones.
    const mixed: RawIngestRecord[] = [];
    const every = Math.max(1, Math.floor(good.length / Math.max(1, cases.length)));
    let h = 0;
    good.forEach((g, i) => {
      mixed.push(g);
      if (i % every === 0 && h < cases.length) mixed.push((cases[h++] as HostileCase).record);
    });
    while (h < cases.length) mixed.push((cases[h++] as HostileCase).record);
    o.log(`mixed: ${good.length} good records and ${cases.length} hostile records`);
    const mixedThroughput = await timed(mixed, good.length, cases.length);

    const workerAlive = worker.isAlive();
    const workerHealthy = await worker.healthy();
    const workerUnexpectedExits = worker.unexpectedExits;
    exitCode = await worker.stop();
    stopped = true;

    const rec = await reconcile(t, expected, scanner, { buckets: false, approvalQueue: false, logFiles: [worker.logFile] });
    const caseResults: CaseResult[] = cases.map((c) => {
      const outcomes = rec.outcomes.get(c.record.key) ?? [];
      const only = outcomes[0];
      const ok =
        outcomes.length === 1 &&
        only !== undefined &&
        (c.expect.kind === 'any-one-outcome' || (only.kind === 'dead-lettered' && c.expect.reasons.includes(only.reason ?? '')));
      return {
        name: c.name,
        category: c.category,
        expected: c.expect.kind === 'any-one-outcome' ? 'exactly one outcome' : `dead-lettered ${c.expect.reasons.join('|')}`,
        outcomes,
        ok,
      };
    });
    let goodAsPlanned = 0;
    for (const [id, e] of expected) {
      if (e.label !== 'good') continue;
      const got = rec.outcomes.get(id) ?? [];
      const g = got[0];
      if (got.length !== 1 || g === undefined) continue;
      const want = e.expect;
      if (want.kind === g.kind && (want.kind !== 'routed' || want.region === g.region) && (want.kind !== 'dead-lettered' || want.reasons.includes(g.reason ?? ''))) goodAsPlanned++;
    }
    const goodSent = [...expected.values()].filter((e) => e.label === 'good').length;
    return {
      cases: caseResults,
      reconciliation: rec,
      goodAsPlanned,
      goodSent,
      workerAlive,
      workerHealthy,
      workerUnexpectedExits,
      workerExitCode: exitCode,
      ...(baseline === undefined ? {} : { baseline, throughputDropPercent: 100 * (1 - mixedThroughput.goodPerSecond / baseline.goodPerSecond) }),
      mixed: mixedThroughput,
    };
  } finally {
    await producer.close();
    if (!stopped) await worker.stop().catch(() => undefined);
    if (o.keep !== true) await t.destroy();
  }
}

/** Human-readable summary lines (no planted values, no tokens). */
export function describeHostileRun(r: HostileRunResult): string[] {
  const lines: string[] = [];
  const byName = new Map<string, CaseResult[]>();
  for (const c of r.cases) byName.set(c.name, [...(byName.get(c.name) ?? []), c]);
  lines.push('hostile case                          expected                                   got');
  for (const [name, list] of byName) {
    const got = [...new Set(list.map((c) => c.outcomes.map((x) => (x.kind === 'dead-lettered' ? `dead-lettered ${x.reason ?? ''}` : x.kind === 'routed' ? `routed ${x.region ?? ''}` : x.kind)).join('+') || 'NOTHING'))].join(', ');
    const ok = list.every((c) => c.ok);
    lines.push(`${ok ? 'ok  ' : 'FAIL'} ${name.padEnd(34)} ${(list[0]?.expected ?? '').padEnd(42)} ${got}`);
  }
  lines.push(`good traces: ${r.goodAsPlanned}/${r.goodSent} arrived as planned; worker alive=${r.workerAlive} healthy=${r.workerHealthy} unexpected exits=${r.workerUnexpectedExits} exit code on SIGTERM=${r.workerExitCode}`);
  if (r.baseline !== undefined) lines.push(`good traces alone: ${r.baseline.goodRecords} in ${r.baseline.seconds.toFixed(1)} s = ${r.baseline.goodPerSecond.toFixed(0)}/s`);
  lines.push(`good traces with ${r.mixed.hostileRecords} hostile records mixed in: ${r.mixed.goodRecords} in ${r.mixed.seconds.toFixed(1)} s = ${r.mixed.goodPerSecond.toFixed(0)}/s`);
  if (r.throughputDropPercent !== undefined) lines.push(`throughput drop of good traces: ${r.throughputDropPercent.toFixed(1)} %`);
  const f = r.reconciliation.figures;
  lines.push(`figures: ${Object.entries(f).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  lines.push(`planted values by store: ${JSON.stringify(r.reconciliation.plantedByStore)}; tokens by store: ${JSON.stringify(r.reconciliation.tokensByStore)}`);
  return lines;
}
