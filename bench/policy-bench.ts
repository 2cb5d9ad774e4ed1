/**
 * Policy worker throughput on the local broker (`npm run bench:policy`).
 *
 * Two runs over the same pre-produced ~2 KB traces, in one process, with the same Kafka loop
 * (createPolicyWorker: same kafkajs client, producer and consumer settings, same records per
 * transaction, same partitions in work at once):
 *   passthrough  a processor that copies each record to one output topic (Kafka cost only);
 *   worker       the real record processor (verify token, decode, bind identity, classify and
 *                mask, decide, encode; one decision record and one audit event per record), in
 *                BENCH_THREADS processing threads as the policy worker runs it (0: in the Kafka
 *                thread).
 * Reports records/s of each, their ratio (goal >= 0.8), p50/p99 per-record processing time of
 * the real processor and peak RSS. Bounded: each run stops after BENCH_RUN_TIMEOUT_MS.
 *
 * Method: the clock of a run starts once its consumer group is joined. Before either timed run,
 * both sides run untimed over a separate warm-up topic (BENCH_WARMUP_RECORDS), the worker with
 * the same processing threads it is then timed with, so neither side pays for JIT compilation
 * or first-use set-up inside its timed run (without it the worker's run alone carried it, and
 * the passthrough, run first, warmed the shared Kafka code for the worker). Then BENCH_ROUNDS
 * rounds (default 3) alternate the order of the two timed runs, each over its whole topic with a
 * fresh consumer group; each side reports its median run, so load that drifts on a shared host
 * (the broker and other work share the same cores) does not favour whichever side ran first.
 *
 * Environment: BENCH_RECORDS (default 10000), BENCH_RECORDS_PER_TX (default 500),
 * BENCH_PARTITIONS (default 3), BENCH_PARTITIONS_CONCURRENTLY (default 2, as the policy worker),
 * BENCH_THREADS (default 1, as the policy worker), BENCH_WARMUP_RECORDS (default 1000), BENCH_ROUNDS (default 3),
 * BENCH_RUN_TIMEOUT_MS (default 35000),
 * BENCH_CPU_PROFILE_DIR (unset: no profile; set: a V8 CPU profile of each side's first timed run,
 * main thread, written there as <run>.cpuprofile, e.g. worker-0.cpuprofile; read it with bench/policy/cpuprofile-summary.ts). Needs the local stack.
 */
import { randomBytes } from 'node:crypto';
import { Session } from 'node:inspector/promises';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseDocument } from 'yaml';
import { DEMO_AGENTS, DEV_BROKER_AUDIENCE } from '../infra/oidc/demo-identities.js';
import { devServiceEnv, readStackEnv } from '../infra/stack-env.js';
import { createTokenSource } from '../services/agent-sdk/token-source.js';
import { createPolicyWorker } from '../services/policy-worker/policy-worker.js';
import { createPolicyWorkerMetrics } from '../services/policy-worker/policy-worker-metrics.js';
import { createProcessorPool, inProcessChunks, type ChunkProcessor, type ProcessedRecord } from '../services/policy-worker/processor-pool.js';
import { buildRecordProcessor, type ProcessorSetup } from '../services/policy-worker/processor-setup.js';
import type { IngestRecord, RecordProcessor } from '../services/policy-worker/record-processor.js';
import { createCodec } from '../services/shared/avro/index.js';
import { createKafka, ensureTopics, type Admin } from '../services/shared/kafka/kafka-client.js';
import { projectTopicSpecs } from '../services/shared/kafka/project-topics.js';
import { createLogger } from '../services/shared/logger.js';
import { HEADERS } from '../services/shared/record-headers.js';
import { Registry } from 'prom-client';
import { makeBenchTrace } from './policy/bench-traces.js';

const repoRoot = join(import.meta.dirname, '..');
const env = devServiceEnv(readStackEnv(), repoRoot);
const brokers = (env['TRACEFENCE_KAFKA_BROKERS'] ?? '').split(',');
const issuer = env['TRACEFENCE_OIDC_ISSUER'] ?? '';
const RECORDS = Number(process.env['BENCH_RECORDS'] ?? 10_000);
const PER_TX = Number(process.env['BENCH_RECORDS_PER_TX'] ?? 500);
const PARTITIONS = Number(process.env['BENCH_PARTITIONS'] ?? 3);
const RUN_TIMEOUT_MS = Number(process.env['BENCH_RUN_TIMEOUT_MS'] ?? 35_000);
const PROFILE_DIR = process.env['BENCH_CPU_PROFILE_DIR'];
const CONCURRENT = Number(process.env['BENCH_PARTITIONS_CONCURRENTLY'] ?? 2);
const THREADS = Number(process.env['BENCH_THREADS'] ?? 1);
const WARMUP = Number(process.env['BENCH_WARMUP_RECORDS'] ?? 1000);
const ROUNDS = Math.max(1, Number(process.env['BENCH_ROUNDS'] ?? 3));

const logger = createLogger('policy-bench', 'warn', process.stderr);
const kafka = createKafka({ brokers, clientId: 'policy-bench' }, logger);
const id = `bench-${randomBytes(4).toString('hex')}`;
const groups: string[] = [];
let peakRss = 0;
const rssTimer = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 100);

async function produceAll(topics: string[], count: number): Promise<number> {
  const agent = DEMO_AGENTS.find((a) => a.tenant === 'acme');
  if (agent === undefined) throw new Error('no acme demo agent');
  const token = await createTokenSource({ issuer, clientId: agent.clientId, clientSecret: agent.clientSecret, resource: DEV_BROKER_AUDIENCE }).getToken();
  const codec = createCodec('reasoning-trace');
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5, allowAutoTopicCreation: false, retry: { retries: Number.MAX_SAFE_INTEGER } });
  await producer.connect();
  let bytes = 0;
  try {
    const batch: { key: string; value: Buffer; headers: Record<string, string> }[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      await producer.sendBatch({ acks: -1, topicMessages: topics.map((topic) => ({ topic, messages: batch })) });
      batch.length = 0;
    };
    for (let i = 0; i < count; i++) {
      const trace = makeBenchTrace(i, agent.tenant, agent.agent);
      const { payload, fingerprint } = codec.encode(trace);
      bytes += payload.length;
      batch.push({ key: trace.traceId, value: payload, headers: { [HEADERS.schema]: fingerprint, [HEADERS.accessToken]: token } });
      if (batch.length >= 500) await flush();
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
  return bytes / count;
}

interface RunResult {
  name: string;
  records: number;
  seconds: number;
  /** Process CPU time (user + system) during the run, in seconds. */
  cpuSeconds: number;
  perSecond: number;
  latenciesMs: number[];
}

async function committed(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [group] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return (group?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
}

async function run(name: string, admin: Admin, ingestTopic: string, processor: ChunkProcessor, records: number, profile: boolean): Promise<RunResult> {
  const groupId = `${id}-${name}`;
  groups.push(groupId);
  const latenciesMs: number[] = [];
  const timed: ChunkProcessor = {
    async processChunk(chunk: readonly IngestRecord[]): Promise<ProcessedRecord[]> {
      const results = await processor.processChunk(chunk);
      for (const r of results) latenciesMs.push(r.seconds * 1000);
      return results;
    },
    close: async () => undefined,
  };
  const worker = createPolicyWorker(
    {
      brokers,
      ingestTopic,
      groupId,
      transactionalId: `${groupId}-tx`,
      maxRecordsPerTransaction: PER_TX,
      transactionTimeoutMs: 30_000,
      sessionTimeoutMs: 30_000,
      partitionsConsumedConcurrently: CONCURRENT,
    },
    { processor: timed, metrics: createPolicyWorkerMetrics(new Registry()), logger },
  );
  await worker.start();
  // The clock starts when the group is joined: from then on the worker only consumes.
  while (!worker.isReady()) await new Promise((r) => setTimeout(r, 2));
  const profiler = PROFILE_DIR === undefined || !profile ? undefined : new Session();
  if (profiler !== undefined) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  let done = 0;
  while (done < records && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    done = await committed(admin, groupId, ingestTopic);
  }
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  if (profiler !== undefined && PROFILE_DIR !== undefined) {
    const { profile } = await profiler.post('Profiler.stop');
    mkdirSync(PROFILE_DIR, { recursive: true });
    writeFileSync(join(PROFILE_DIR, `${name}.cpuprofile`), JSON.stringify(profile));
    profiler.disconnect();
  }
  await worker.close();
  return { name, records: done, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, perSecond: done / seconds, latenciesMs };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const dir = mkdtempSync(join(tmpdir(), 'tf-policy-bench-'));
  const topics = {
    ingestWorker: `${id}.ingest-worker`,
    ingestPass: `${id}.ingest-pass`,
    warmWorker: `${id}.warm-worker`,
    warmPass: `${id}.warm-pass`,
    passOut: `${id}.passthrough-out`,
    held: `${id}.held`,
    deadLetter: `${id}.deadletter`,
    audit: `${id}.audit`,
    eu: `${id}.region.eu`,
    us: `${id}.region.us`,
  };
  const all = Object.values(topics);
  try {
    await ensureTopics(admin, [
      ...projectTopicSpecs({ ingest: topics.ingestWorker, held: topics.held, deadLetter: topics.deadLetter, audit: topics.audit, regionTopics: [topics.eu, topics.us] }, PARTITIONS),
      ...projectTopicSpecs({ ingest: topics.ingestPass, held: `${id}.unused-h`, deadLetter: `${id}.unused-d`, audit: `${id}.unused-a`, regionTopics: [topics.passOut] }, PARTITIONS),
      ...[topics.warmWorker, topics.warmPass].map((topic) => ({ topic, numPartitions: PARTITIONS, configEntries: { 'message.timestamp.type': 'LogAppendTime' } })),
    ]);
    all.push(`${id}.unused-h`, `${id}.unused-d`, `${id}.unused-a`);

    const producedAt = performance.now();
    const avgBytes = await produceAll([topics.ingestWorker, topics.ingestPass], RECORDS);
    if (WARMUP > 0) await produceAll([topics.warmWorker, topics.warmPass], WARMUP);
    process.stderr.write(`produced ${RECORDS} records (avg ${Math.round(avgBytes)} B) to two ingest topics in ${((performance.now() - producedAt) / 1000).toFixed(1)} s\n`);

    const passthrough: RecordProcessor = {
      async process(record) {
        return {
          kind: 'routed',
          region: 'passthrough',
          reasonCode: null,
          findingCounts: {},
          records: [{ topic: topics.passOut, key: record.offset, value: record.value ?? Buffer.alloc(0), headers: {} }],
        };
      },
    };

    const doc = parseDocument(readFileSync(join(repoRoot, 'infra', 'policy.dev.yaml'), 'utf8'));
    doc.setIn(['regions', 'eu', 'topic'], topics.eu);
    doc.setIn(['regions', 'us', 'topic'], topics.us);
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, doc.toString());
    // The policy worker's own set-up (services/policy-worker/main.ts), with the bench's topics.
    const maxRecordBytes = 1_000_000;
    const setup: ProcessorSetup = {
      policyBytes: readFileSync(policyFile),
      policySource: policyFile,
      issuer,
      audience: env['TRACEFENCE_OIDC_AUDIENCE'] ?? DEV_BROKER_AUDIENCE,
      algorithms: ['RS256', 'ES256', 'PS256', 'EdDSA'],
      clockSkewSec: 30,
      requiredTyp: 'at+jwt',
      pseudonymKey: randomBytes(32),
      topics: { held: topics.held, deadLetter: topics.deadLetter, audit: topics.audit },
      maxRecordBytes,
    };
    const local = THREADS > 0 ? undefined : await buildRecordProcessor(setup);
    const real: ChunkProcessor =
      local === undefined
        ? await createProcessorPool({ size: THREADS, factory: new URL('../services/policy-worker/processor-setup.ts', import.meta.url), config: setup, logger })
        : inProcessChunks(local.processor);
    const pass = inProcessChunks(passthrough);

    if (WARMUP > 0) {
      await run('warmup-passthrough', admin, topics.warmPass, pass, WARMUP, false);
      await run('warmup-worker', admin, topics.warmWorker, real, WARMUP, false);
    }
    // Rounds alternate the order (passthrough first, then worker first, ...): a host whose load
    // drifts during the bench then biases neither side. Each run reads its topic from the start
    // with a fresh group. The reported run of each side is its median by rate.
    const passRuns: RunResult[] = [];
    const workRuns: RunResult[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const runPass = async (): Promise<void> => {
        passRuns.push(await run(`passthrough-${round}`, admin, topics.ingestPass, pass, RECORDS, round === 0));
      };
      const runWork = async (): Promise<void> => {
        workRuns.push(await run(`worker-${round}`, admin, topics.ingestWorker, real, RECORDS, round === 0));
      };
      if (round % 2 === 0) {
        await runPass();
        await runWork();
      } else {
        await runWork();
        await runPass();
      }
    }
    const median = (runs: RunResult[], name: string): RunResult => {
      const m = [...runs].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(runs.length / 2)];
      if (m === undefined) throw new Error('no run');
      return { ...m, name };
    };
    const passRun = median(passRuns, 'passthrough');
    const work = median(workRuns, 'worker');
    await real.close();
    local?.close();

    const sorted = [...work.latenciesMs].sort((a, b) => a - b);
    const ratio = work.perSecond / passRun.perSecond;
    const line = (r: RunResult): string => `${r.name.padEnd(12)} ${String(r.records).padStart(6)} records in ${r.seconds.toFixed(2).padStart(6)} s = ${Math.round(r.perSecond).toString().padStart(6)} records/s (process CPU ${r.cpuSeconds.toFixed(2)} s)`;
    const load = loadavg()[0] ?? 0;
    const report = [
      `policy worker benchmark: ${RECORDS} traces of ~${Math.round(avgBytes)} B, ${PARTITIONS} partitions (${CONCURRENT} in work at once), ${PER_TX} records per transaction, ${THREADS} processing thread(s), ${WARMUP} warm-up records per side, broker ${brokers.join(',')}`,
      line(passRun),
      line(work),
      `all rounds (records/s): passthrough ${passRuns.map((r) => Math.round(r.perSecond)).join(', ')}; worker ${workRuns.map((r) => Math.round(r.perSecond)).join(', ')} (median of each reported)`,
      `ratio worker/passthrough: ${ratio.toFixed(2)} (goal >= 0.80)${ratio >= 0.8 ? '' : '  BELOW GOAL'}`,
      `worker processing per record: p50 ${percentile(sorted, 50).toFixed(3)} ms, p99 ${percentile(sorted, 99).toFixed(3)} ms, max ${(sorted.at(-1) ?? 0).toFixed(1)} ms (${sorted.length} samples)`,
      `time in the processor: worker ${(sum(work.latenciesMs) / 1000).toFixed(2)} s of ${work.seconds.toFixed(2)} s; passthrough ${(sum(passRun.latenciesMs) / 1000).toFixed(2)} s of ${passRun.seconds.toFixed(2)} s`,
      `peak RSS: ${(peakRss / 1024 / 1024).toFixed(0)} MiB; host: ${cpus().length} CPUs, load average ${load.toFixed(1)} (figures are noisy on a loaded host)`,
    ];
    if (passRun.records < RECORDS || work.records < RECORDS) report.push(`note: a run hit the ${RUN_TIMEOUT_MS} ms bound before finishing; its rate is over the records it did`);
    process.stdout.write(`${report.join('\n')}\n`);
  } finally {
    clearInterval(rssTimer);
    await admin.deleteTopics({ topics: all, timeout: 10_000 }).catch(() => undefined);
    await admin.deleteGroups(groups).catch(() => undefined);
    await admin.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
