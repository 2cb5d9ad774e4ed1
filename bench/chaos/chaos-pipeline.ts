/**
 * The pipeline under test, on the real local stack: unique topics, fresh buckets, a policy copy
 * pointed at them (the development policy plus an `apac` region no tenant may use), and the
 * services as supervised child processes (policy workers, one sink per region, the approval
 * service) that can be killed with SIGKILL and restarted. Logs go to one file per service.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client, type BucketLocationConstraint } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { parseDocument } from 'yaml';
import { ensureTopics } from '../../services/shared/kafka/kafka-client.js';
import { projectTopicSpecs } from '../../services/shared/kafka/project-topics.js';
import { startService, type ServiceProcess } from '../../services/demo/service-process.js';
import { devCredentials, redisUrl, repoRoot, s3Endpoint, serviceEnv, uniqueName } from './stack-access.js';
import { withAdmin } from './topic-reader.js';

export type RegionName = 'eu' | 'us';
export const REGION_LOCATIONS: Record<RegionName, string> = { eu: 'eu-central-1', us: 'us-east-1' };

export interface ChaosTopology {
  name: string;
  dir: string;
  topics: { ingest: string; held: string; deadLetter: string; audit: string; eu: string; us: string; apac: string };
  buckets: Record<RegionName, string>;
  policyFile: string;
  groups: { policy: string; sinkEu: string; sinkUs: string; approval: string };
  queuePrefix: string;
  pseudonymKey: string;
  partitions: number;
  destroy(options?: { keepLogs?: boolean }): Promise<void>;
}

export function s3Client(region = 'us-east-1'): S3Client {
  return new S3Client({ region, endpoint: s3Endpoint, forcePathStyle: true, credentials: devCredentials, followRegionRedirects: false, maxAttempts: 5 });
}

export async function createChaosTopology(options: { prefix: string; partitions: number; baseDir: string }): Promise<ChaosTopology> {
  const name = uniqueName(options.prefix);
  const dir = join(options.baseDir, name);
  mkdirSync(dir, { recursive: true });
  const topics = {
    ingest: `${name}.ingest`,
    held: `${name}.held`,
    deadLetter: `${name}.deadletter`,
    audit: `${name}.audit`,
    eu: `${name}.region.eu`,
    us: `${name}.region.us`,
    apac: `${name}.region.apac`,
  };
  const buckets = { eu: `${name}-eu`, us: `${name}-us` };
  const doc = parseDocument(readFileSync(join(repoRoot, 'infra', 'policy.dev.yaml'), 'utf8'));
  for (const region of ['eu', 'us'] as const) {
    doc.setIn(['regions', region, 'topic'], topics[region]);
    doc.setIn(['regions', region, 'buckets'], doc.createNode([{ name: buckets[region], backend: 's3' }]));
  }
  doc.setIn(
    ['regions', 'apac'],
    doc.createNode({
      jurisdiction: 'SG',
      topic: topics.apac,
      allowedLocations: { s3: ['ap-southeast-1'] },
      encryption: { s3: { mode: 'sse-s3' } },
      buckets: [{ name: `${name}-apac`, backend: 's3' }],
    }),
  );
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, doc.toString());

  for (const region of ['eu', 'us'] as const) {
    const location = REGION_LOCATIONS[region];
    const client = s3Client(location);
    await client.send(
      new CreateBucketCommand({
        Bucket: buckets[region],
        ...(location === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: location as BucketLocationConstraint } }),
      }),
    );
    client.destroy();
  }
  await withAdmin((admin) =>
    ensureTopics(admin, projectTopicSpecs({ ingest: topics.ingest, held: topics.held, deadLetter: topics.deadLetter, audit: topics.audit, regionTopics: [topics.eu, topics.us, topics.apac] }, options.partitions)),
  );
  const groups = { policy: `${name}-policy`, sinkEu: `${name}-sink-eu`, sinkUs: `${name}-sink-us`, approval: `${name}-approval` };
  const queuePrefix = `tf-chaos-${name}`;
  return {
    name,
    dir,
    topics,
    buckets,
    policyFile,
    groups,
    queuePrefix,
    pseudonymKey: randomBytes(32).toString('base64'),
    partitions: options.partitions,
    async destroy(o = {}) {
      await withAdmin(async (admin) => {
        await admin.deleteTopics({ topics: Object.values(topics), timeout: 30_000 }).catch(() => undefined);
        await admin.deleteGroups(Object.values(groups)).catch(() => undefined);
      }).catch(() => undefined);
      for (const bucket of Object.values(buckets)) await emptyAndDeleteBucket(bucket).catch(() => undefined);
      await deleteRedisKeys(`${queuePrefix}:*`).catch(() => undefined);
      if (o.keepLogs !== true) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function emptyAndDeleteBucket(bucket: string): Promise<void> {
  const client = s3Client();
  try {
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ Key: o.Key }]));
      if (keys.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
}

async function deleteRedisKeys(pattern: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

// --- Supervised services ---------------------------------------------------------------------------

export type ServiceKind = 'policy-worker' | 'sink' | 'approval-service';

export interface SupervisedService {
  readonly name: string;
  readonly kind: ServiceKind;
  readonly logFile: string;
  /** Exits this supervisor did not cause (each was followed by a restart). */
  readonly unexpectedExits: number;
  readonly kills: number;
  readonly httpPort: () => number;
  start(): Promise<void>;
  /** SIGKILL, wait for the exit, wait `downMs`, start again and wait until healthy. */
  killAndRestart(downMs: number): Promise<void>;
  isAlive(): boolean;
  healthy(): Promise<boolean>;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export function supervise(name: string, kind: ServiceKind, entry: string, args: readonly string[], env: Record<string, string>, logFile: string, log: (msg: string) => void): SupervisedService {
  let current: ServiceProcess | undefined;
  let intentional = false;
  let stopping = false;
  let unexpectedExits = 0;
  let kills = 0;

  const launch = async (): Promise<void> => {
    intentional = false;
    const proc = await startService(name, entry, args, { ...env, TRACEFENCE_HTTP_PORT: '0' }, repoRoot, logFile);
    current = proc;
    proc.child.once('exit', (code, signal) => {
      if (intentional || stopping || current !== proc) return;
      unexpectedExits++;
      log(`${name} exited on its own (code ${code}, signal ${signal}); restarting`);
      setTimeout(() => {
        if (stopping) return;
        launch()
          .then(() => current?.waitHealthy(180_000))
          .catch((err: unknown) => log(`${name} restart failed: ${err instanceof Error ? err.message : String(err)}`));
      }, 1000);
    });
  };

  return {
    name,
    kind,
    logFile,
    get unexpectedExits() {
      return unexpectedExits;
    },
    get kills() {
      return kills;
    },
    httpPort: () => current?.httpPort ?? 0,
    async start() {
      await launch();
      await current?.waitHealthy(180_000);
    },
    async killAndRestart(downMs) {
      const proc = current;
      if (proc !== undefined) {
        intentional = true;
        kills++;
        await proc.stop('SIGKILL');
      }
      await new Promise((r) => setTimeout(r, downMs));
      await launch();
      await current?.waitHealthy(180_000);
    },
    isAlive: () => current !== undefined && current.child.exitCode === null && current.child.signalCode === null,
    async healthy() {
      if (current === undefined) return false;
      return fetch(`http://127.0.0.1:${current.httpPort}/healthz`)
        .then((r) => r.status === 200)
        .catch(() => false);
    },
    async stop() {
      stopping = true;
      return current === undefined ? null : current.stop('SIGTERM');
    },
  };
}

export interface PipelineOptions {
  policyWorkers: number;
  withApproval: boolean;
  /** Extra environment for the policy workers. */
  policyEnv?: Record<string, string>;
  log: (msg: string) => void;
}

export interface Pipeline {
  policyWorkers: SupervisedService[];
  sinks: Record<RegionName, SupervisedService>;
  approval: SupervisedService | undefined;
  all(): SupervisedService[];
  start(): Promise<void>;
  stop(): Promise<Array<{ name: string; code: number | null }>>;
}

/** The services for a topology (not started). */
export function createPipeline(t: ChaosTopology, o: PipelineOptions): Pipeline {
  const base: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...serviceEnv,
    TRACEFENCE_POLICY_FILE: t.policyFile,
    TRACEFENCE_TOPIC_INGEST: t.topics.ingest,
    TRACEFENCE_TOPIC_HELD: t.topics.held,
    TRACEFENCE_TOPIC_DEADLETTER: t.topics.deadLetter,
    TRACEFENCE_TOPIC_AUDIT: t.topics.audit,
    TRACEFENCE_PSEUDONYM_KEY: t.pseudonymKey,
    LOG_LEVEL: 'info',
  };
  const policyWorkers = Array.from({ length: o.policyWorkers }, (_, i) =>
    supervise(
      `policy-worker-${i + 1}`,
      'policy-worker',
      'services/policy-worker/main.ts',
      [],
      { ...base, TRACEFENCE_GROUP_ID: t.groups.policy, TRACEFENCE_INSTANCE_ID: `${t.name}-pw${i + 1}`, TRACEFENCE_SESSION_TIMEOUT_MS: '10000', ...o.policyEnv },
      join(t.dir, `policy-worker-${i + 1}.log`),
      o.log,
    ),
  );
  const sink = (region: RegionName): SupervisedService =>
    supervise(
      `sink-${region}`,
      'sink',
      'services/sink-worker/main.ts',
      ['--region', region],
      {
        ...base,
        TRACEFENCE_SINK_GROUP_ID: region === 'eu' ? t.groups.sinkEu : t.groups.sinkUs,
        TRACEFENCE_SINK_MAX_BATCH_AGE_MS: '2000',
        TRACEFENCE_SINK_MAX_RECORDS: '2000',
        TRACEFENCE_SINK_SESSION_TIMEOUT_MS: '10000',
        TRACEFENCE_SINK_GUARD_INTERVAL_MS: '30000',
      },
      join(t.dir, `sink-${region}.log`),
      o.log,
    );
  const sinks = { eu: sink('eu'), us: sink('us') };
  const approval = o.withApproval
    ? supervise(
        'approval-service',
        'approval-service',
        'services/approval-service/main.ts',
        [],
        {
          ...base,
          TRACEFENCE_REVIEW_GROUP_ID: t.groups.approval,
          TRACEFENCE_REVIEW_QUEUE_PREFIX: t.queuePrefix,
          TRACEFENCE_REVIEW_PORT: '0',
          TRACEFENCE_INSTANCE_ID: `${t.name}-approval`,
        },
        join(t.dir, 'approval-service.log'),
        o.log,
      )
    : undefined;
  const all = (): SupervisedService[] => [...policyWorkers, sinks.eu, sinks.us, ...(approval === undefined ? [] : [approval])];
  return {
    policyWorkers,
    sinks,
    approval,
    all,
    async start() {
      await Promise.all(all().map((s) => s.start()));
    },
    async stop() {
      return Promise.all(all().map(async (s) => ({ name: s.name, code: await s.stop() })));
    },
  };
}
