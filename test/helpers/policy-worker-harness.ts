/**
 * Test harness for the policy worker against the local stack: fresh topics and a policy copy
 * per test, the worker as a child process (started, killed -9 or stopped with SIGTERM), raw
 * records produced to the ingest topic, and read_committed readers that read topics to their end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWTPayload } from 'jose';
import { parseDocument } from 'yaml';
import { createCodec, type Codec } from '../../services/shared/avro/index.js';
import type { RecordKind, RecordKinds } from '../../services/shared/avro/types.js';
import { createKafka, ensureTopics, type Admin, type IHeaders, type Kafka } from '../../services/shared/kafka/kafka-client.js';
import { projectTopicSpecs } from '../../services/shared/kafka/project-topics.js';
import { HEADERS } from '../../services/shared/record-headers.js';
import { issuerUrl, kafkaBrokers, repoRoot, serviceEnv, uniqueName } from './stack.js';
import { agentClaims as devAgentClaims, createAgentTokens, type Tenant } from './dev-tokens.js';
import { readToEnd } from './topic-reader.js';

export { issuerUrl, kafkaBrokers, repoRoot, uniqueName };
export { demoAgent, issuerSigningKey, signToken } from './dev-tokens.js';

let kafka: Kafka | undefined;
let admin: Admin | undefined;

export function harnessKafka(): Kafka {
  kafka ??= createKafka({ brokers: kafkaBrokers, clientId: 'policy-worker-test' });
  return kafka;
}

export async function harnessAdmin(): Promise<Admin> {
  if (admin === undefined) {
    const a = harnessKafka().admin();
    await a.connect();
    admin = a;
  }
  return admin;
}

/** Closes the shared admin client; call from `after`. */
export async function closeHarness(): Promise<void> {
  const a = admin;
  admin = undefined;
  await a?.disconnect().catch(() => undefined);
}

// --- Topics and policy -------------------------------------------------------------------------

export interface WorkerTopics {
  ingest: string;
  held: string;
  deadLetter: string;
  audit: string;
  /** Region name -> region topic: the dev policy's eu and us, renamed, and an extra apac. */
  regions: { eu: string; us: string; apac: string };
}

export interface TestTopology {
  topics: WorkerTopics;
  /** A temporary copy of infra/policy.dev.yaml pointing at the unique region topics. */
  policyFile: string;
  groupId: string;
  instanceId: string;
  /** Every output topic: regions, held, dead-letter. */
  decisionTopics(): string[];
  /** Deletes the topics, the consumer group and the policy copy (best effort). */
  destroy(): Promise<void>;
}

/** Unique ingest/held/dead-letter/audit/region topics, created, and a policy copy that uses them. */
export async function createTopology(options: { partitions?: number; prefix?: string } = {}): Promise<TestTopology> {
  const prefix = options.prefix ?? 'tfpw';
  const id = uniqueName(prefix);
  const topics: WorkerTopics = {
    ingest: `${id}.ingest`,
    held: `${id}.held`,
    deadLetter: `${id}.deadletter`,
    audit: `${id}.audit`,
    regions: { eu: `${id}.region.eu`, us: `${id}.region.us`, apac: `${id}.region.apac` },
  };
  // The dev policy, its region topics renamed, plus a region `apac` that no tenant may use
  // (so a `crossBorder: refuse` tenant has somewhere it is refused to go).
  const doc = parseDocument(readFileSync(join(repoRoot, 'infra', 'policy.dev.yaml'), 'utf8'));
  for (const [region, topic] of Object.entries(topics.regions)) {
    if (region === 'apac') continue;
    if (!doc.hasIn(['regions', region, 'topic'])) throw new Error(`infra/policy.dev.yaml has no region ${region}`);
    doc.setIn(['regions', region, 'topic'], topic);
  }
  doc.setIn(
    ['regions', 'apac'],
    doc.createNode({
      jurisdiction: 'SG',
      topic: topics.regions['apac'],
      allowedLocations: { s3: ['ap-southeast-1'], gcs: ['ASIA-SOUTHEAST1'] },
      encryption: { s3: { mode: 'sse-s3' } },
      buckets: [{ name: `${id}-apac`, backend: 's3' }],
    }),
  );
  const policyText = doc.toString();
  const dir = mkdtempSync(join(tmpdir(), 'tf-policy-worker-'));
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, policyText);

  const a = await harnessAdmin();
  await ensureTopics(
    a,
    projectTopicSpecs({ ingest: topics.ingest, held: topics.held, deadLetter: topics.deadLetter, audit: topics.audit, regionTopics: Object.values(topics.regions) }, options.partitions ?? 3),
  );
  const groupId = `${id}-group`;
  return {
    topics,
    policyFile,
    groupId,
    instanceId: `${id}-instance`,
    decisionTopics: () => [...Object.values(topics.regions), topics.held, topics.deadLetter],
    async destroy() {
      const all = [topics.ingest, topics.held, topics.deadLetter, topics.audit, ...Object.values(topics.regions)];
      await a.deleteTopics({ topics: all, timeout: 10_000 }).catch(() => undefined);
      await a.deleteGroups([groupId]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// --- The worker as a child process -------------------------------------------------------------

export interface WorkerLogLine {
  level?: string;
  msg?: string;
  [field: string]: unknown;
}

export interface WorkerProcess {
  readonly pid: number;
  /** The ops (metrics/health) port once the worker logged that it runs. */
  readonly httpPort: number;
  /** Every stdout and stderr byte so far, as text (to check that nothing sensitive was logged). */
  output(): string;
  logs(): WorkerLogLine[];
  metrics(): Promise<string>;
  /** Sends the signal and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartWorkerOptions {
  topology: TestTopology;
  /** Same id across restarts: the new instance fences the old one's open transaction. */
  instanceId?: string;
  env?: Record<string, string>;
  /** Wait for /healthz 200 (group joined); default true. */
  waitReady?: boolean;
  timeoutMs?: number;
}

/** Base64 of 32 random bytes, fixed for the whole test process. */
export const pseudonymKey = randomBytes(32).toString('base64');

export async function startWorker(options: StartWorkerOptions): Promise<WorkerProcess> {
  const { topology } = options;
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...serviceEnv,
    TRACEFENCE_PSEUDONYM_KEY: pseudonymKey,
    TRACEFENCE_HTTP_PORT: '0',
    TRACEFENCE_POLICY_FILE: topology.policyFile,
    TRACEFENCE_TOPIC_INGEST: topology.topics.ingest,
    TRACEFENCE_TOPIC_HELD: topology.topics.held,
    TRACEFENCE_TOPIC_DEADLETTER: topology.topics.deadLetter,
    TRACEFENCE_TOPIC_AUDIT: topology.topics.audit,
    TRACEFENCE_GROUP_ID: topology.groupId,
    TRACEFENCE_INSTANCE_ID: options.instanceId ?? topology.instanceId,
    TRACEFENCE_SESSION_TIMEOUT_MS: '10000',
    LOG_LEVEL: 'info',
    ...options.env,
  };
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join('services', 'policy-worker', 'main.ts')], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: string[] = [];
  const lines: WorkerLogLine[] = [];
  let partial = '';
  let onLine: ((line: WorkerLogLine) => void) | undefined;
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    chunks.push(text);
    partial += text;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const raw = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      try {
        const line = JSON.parse(raw) as WorkerLogLine;
        lines.push(line);
        onLine?.(line);
      } catch {
        // not JSON: kept in output() only
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => chunks.push(text));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });

  const timeoutMs = options.timeoutMs ?? 45_000;
  const started = await new Promise<WorkerLogLine>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`policy worker did not start within ${timeoutMs} ms:\n${chunks.join('').slice(-4000)}`)), timeoutMs);
    const check = (line: WorkerLogLine): void => {
      if (line.msg === 'policy worker running') {
        clearTimeout(timer);
        resolve(line);
      }
    };
    for (const l of lines) check(l);
    onLine = check;
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`policy worker exited (code ${code}, signal ${signal}) before it ran:\n${chunks.join('').slice(-4000)}`));
    });
  });
  onLine = undefined;
  const httpPort = Number(started['httpPort']);
  const worker: WorkerProcess = {
    pid: child.pid ?? -1,
    httpPort,
    output: () => chunks.join(''),
    logs: () => [...lines],
    metrics: async () => (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text(),
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    exited,
  };
  if (options.waitReady ?? true) {
    await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`).catch(() => undefined);
        return res?.status === 200;
      },
      { timeoutMs, what: 'policy worker /healthz 200' },
    );
  }
  return worker;
}

// --- Producing and reading ---------------------------------------------------------------------

export interface RawRecord {
  key?: string;
  value: Buffer | null;
  headers?: Record<string, string | Buffer>;
}

/** Produces records as they are (no encoding, no token added) to a topic. */
export async function produceRaw(topic: string, records: readonly RawRecord[], batchSize = 500): Promise<void> {
  const producer = harnessKafka().producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += batchSize) {
      await producer.send({
        topic,
        acks: -1,
        messages: records.slice(i, i + batchSize).map((r) => ({ key: r.key ?? null, value: r.value, headers: (r.headers ?? {}) as IHeaders })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

export interface ReadRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * Reads topics from the beginning to their current end with a read_committed consumer. The end
 * is the high watermark at call time; transaction markers count as read, so a topic whose last
 * record is a commit marker is complete once the marker has been passed.
 */
export async function readTopics(topics: readonly string[], options: { timeoutMs?: number } = {}): Promise<Map<string, ReadRecord[]>> {
  const out = new Map<string, ReadRecord[]>(topics.map((t) => [t, []]));
  await readToEnd(
    topics,
    (r) => out.get(r.topic)?.push({ topic: r.topic, partition: r.partition, offset: r.offset, key: r.key?.toString('utf8') ?? null, value: r.value, headers: r.headers }),
    {
      kafka: harnessKafka(),
      admin: await harnessAdmin(),
      groupPrefix: 'tfpw-reader',
      timeoutMs: options.timeoutMs ?? 30_000,
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1000,
      pollIntervalMs: 50,
    },
  );
  for (const list of out.values()) list.sort((x, y) => x.partition - y.partition || Number(BigInt(x.offset) - BigInt(y.offset)));
  return out;
}

const codecs = new Map<RecordKind, Codec<unknown>>();

/** Decodes a record read from a topic with the codec of `kind`, by its tf-schema header. */
export function decode<K extends RecordKind>(kind: K, record: ReadRecord): RecordKinds[K] {
  let codec = codecs.get(kind) as Codec<RecordKinds[K]> | undefined;
  if (codec === undefined) {
    codec = createCodec(kind, { maxBytes: 16 * 1024 * 1024 });
    codecs.set(kind, codec as Codec<unknown>);
  }
  if (record.value === null) throw new Error(`${record.topic}/${record.partition}/${record.offset} has no value`);
  return codec.decode(record.value, record.headers[HEADERS.schema]);
}

/** Waits until the worker's group has committed offsets up to the ingest topic's end. */
export async function waitForCaughtUp(topology: TestTopology, timeoutMs = 60_000): Promise<void> {
  const a = await harnessAdmin();
  const ends = new Map((await a.fetchTopicOffsets(topology.topics.ingest)).map((p) => [p.partition, BigInt(p.high)] as const));
  await waitFor(
    async () => {
      const [group] = await a.fetchOffsets({ groupId: topology.groupId, topics: [topology.topics.ingest] });
      const committed = new Map((group?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)] as const));
      return [...ends].every(([p, high]) => high === 0n || (committed.get(p) ?? -1n) >= high);
    },
    { timeoutMs, what: 'the worker to commit offsets up to the ingest end', intervalMs: 200 },
  );
}

/** Polls `condition` until it is true; throws after `timeoutMs`. */
export async function waitFor(condition: () => Promise<boolean>, options: { timeoutMs: number; what: string; intervalMs?: number }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
  }
}

// --- Tokens ------------------------------------------------------------------------------------

const agentTokens = createAgentTokens();

/** A real access token of a demo agent from the running issuer. */
export function agentToken(tenant: Tenant): Promise<string> {
  return agentTokens.get(tenant);
}

/** Claims like the issuer's own agent tokens, for `tenant`, valid now (for ten minutes). */
export function agentClaims(tenant: Tenant, nowSec = Math.floor(Date.now() / 1000)): JWTPayload {
  return devAgentClaims(tenant, { nowSec, ttlSec: 600 });
}

// --- Load ------------------------------------------------------------------------------------------

/** Sum of the worker group's committed offsets on the ingest topic (records done so far). */
export async function committedCount(topology: TestTopology): Promise<bigint> {
  const a = await harnessAdmin();
  const [group] = await a.fetchOffsets({ groupId: topology.groupId, topics: [topology.topics.ingest] });
  return (group?.partitions ?? []).reduce((n, p) => n + (BigInt(p.offset) > 0n ? BigInt(p.offset) : 0n), 0n);
}
