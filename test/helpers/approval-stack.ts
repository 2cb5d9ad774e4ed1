/**
 * Test helpers for the approval service on the local stack: unique topics, queue prefix and
 * policy per run; reviewer access tokens minted with the development issuer's key; held records
 * produced the way the policy worker writes them; readers for region and audit topics.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importJWK, SignJWT, type JWK } from 'jose';
import { parse, stringify } from 'yaml';
import { Redis } from 'ioredis';
import { createCodec } from '../../services/shared/avro/index.js';
import type { AuditEvent, HeldTrace, ReasoningTrace } from '../../services/shared/avro/index.js';
import { createKafka, ensureTopics, type Kafka } from '../../services/shared/kafka/kafka-client.js';
import { HEADERS } from '../../services/shared/record-headers.js';
import { createLogger } from '../../services/shared/logger.js';
import { readApprovalConfig } from '../../services/approval-service/approval-config.js';
import { startApprovalService, type RunningApprovalService } from '../../services/approval-service/approval-service.js';
import { DEV_BROKER_AUDIENCE } from '../../infra/oidc/demo-identities.js';
import { issuerUrl, kafkaBrokers, redisUrl, repoRoot, serviceEnv, uniqueName } from './stack.js';

export interface ApprovalRun {
  name: string;
  topics: { held: string; audit: string; deadLetter: string; eu: string; us: string };
  prefix: string;
  policyFile: string;
  kafka: Kafka;
  cleanup(): Promise<void>;
}

/** Fresh topics, queue prefix and a policy (dev policy pointed at them) with the given approval rules. */
export async function createApprovalRun(approval: { minApprovals: number; ttlHours?: number }, buckets: { eu?: string; us?: string } = {}): Promise<ApprovalRun> {
  const name = uniqueName('appr');
  const topics = { held: `${name}.held`, audit: `${name}.audit`, deadLetter: `${name}.deadletter`, eu: `${name}.region.eu`, us: `${name}.region.us` };
  const policy = parse(readFileSync(join(repoRoot, 'infra', 'policy.dev.yaml'), 'utf8')) as {
    regions: Record<string, { topic: string; buckets: Array<{ name: string; backend: string }> }>;
    approval: { minApprovals: number; ttlHours: number };
  };
  for (const r of ['eu', 'us'] as const) {
    const region = policy.regions[r];
    if (region === undefined) throw new Error(`dev policy has no region ${r}`);
    region.topic = topics[r];
    const bucket = buckets[r];
    if (bucket !== undefined) region.buckets = [{ name: bucket, backend: 's3' }];
  }
  policy.approval = { minApprovals: approval.minApprovals, ttlHours: approval.ttlHours ?? 72 };
  const dir = mkdtempSync(join(tmpdir(), 'tf-approval-'));
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, stringify(policy));
  const kafka = createKafka({ brokers: kafkaBrokers, clientId: name });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, Object.values(topics).map((topic) => ({ topic, numPartitions: 2 })));
  await admin.disconnect();
  return {
    name,
    topics,
    prefix: `tf-test-${name}`,
    policyFile,
    kafka,
    async cleanup() {
      const a = kafka.admin();
      await a.connect();
      await a.deleteTopics({ topics: Object.values(topics), timeout: 5000 }).catch(() => undefined);
      await a.disconnect();
      rmSync(dir, { recursive: true, force: true });
      await deleteKeys(`tf-test-${name}:*`);
    },
  };
}

async function deleteKeys(pattern: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export function approvalEnv(run: ApprovalRun, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ...serviceEnv,
    TRACEFENCE_POLICY_FILE: run.policyFile,
    TRACEFENCE_TOPIC_HELD: run.topics.held,
    TRACEFENCE_TOPIC_AUDIT: run.topics.audit,
    TRACEFENCE_TOPIC_DEADLETTER: run.topics.deadLetter,
    TRACEFENCE_REVIEW_GROUP_ID: `${run.name}-approval`,
    TRACEFENCE_REVIEW_QUEUE_PREFIX: run.prefix,
    TRACEFENCE_INSTANCE_ID: run.name,
    TRACEFENCE_REVIEW_PORT: '0',
    TRACEFENCE_HTTP_PORT: '0',
    TRACEFENCE_REVIEW_SESSION_SECRET: randomBytes(32).toString('base64url'),
    ...overrides,
  };
}

/** The approval service in this process, on free ports. */
export async function startInProcess(run: ApprovalRun, overrides: Record<string, string> = {}): Promise<RunningApprovalService> {
  const config = readApprovalConfig(approvalEnv(run, overrides));
  const service = await startApprovalService(config, createLogger('approval-test', process.env['APPROVAL_TEST_LOG_LEVEL'] ?? 'silent'));
  const deadline = Date.now() + 30_000;
  while (!service.isReady()) {
    if (Date.now() > deadline) throw new Error('approval service not ready in 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return service;
}

let signingKey: { key: Awaited<ReturnType<typeof importJWK>>; kid: string } | undefined;

/** An access token as the issuer would mint it for a reviewer (RS256 at+jwt, broker audience). */
export async function reviewerToken(sub: string, groups: readonly string[], opts: { expiresInSec?: number; audience?: string; scope?: string } = {}): Promise<string> {
  if (signingKey === undefined) {
    const secrets = JSON.parse(readFileSync(join(repoRoot, '.stack', 'oidc', 'issuer-secrets.json'), 'utf8')) as { jwks: { keys: Array<JWK & { kid: string }> } };
    const jwk = secrets.jwks.keys[0];
    if (jwk === undefined) throw new Error('issuer has no key');
    signingKey = { key: await importJWK(jwk, 'RS256'), kid: jwk.kid };
  }
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ groups: [...groups], scope: opts.scope ?? 'traces:review', client_id: 'tracefence-review' })
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: signingKey.kid })
    .setIssuer(issuerUrl)
    .setAudience(opts.audience ?? DEV_BROKER_AUDIENCE)
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.expiresInSec ?? 600))
    .setJti(randomUUID())
    .sign(signingKey.key);
}

export interface HeldSpec {
  tenant?: string;
  subject?: string;
  agent?: string;
  candidateRegions?: string[];
  holdReasonCode?: string;
  holdReason?: string;
  text?: string;
}

/** A held record as the policy worker writes it (masked trace; Avro held-trace). */
export function heldTrace(spec: HeldSpec = {}): HeldTrace {
  const recordId = randomUUID();
  const traceId = randomBytes(16).toString('hex');
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const trace: ReasoningTrace = {
    recordId,
    traceId,
    tenant: spec.tenant ?? 'acme',
    agent: spec.agent ?? 'support-bot',
    producedAtUnixNano: nowNs,
    dataSubjectRegion: null,
    residencyHint: null,
    labels: {},
    schemaVersion: 2,
    attributes: {},
    steps: [
      {
        stepId: randomBytes(8).toString('hex'),
        parentStepIds: [],
        kind: 'LLM',
        name: 'chat',
        operation: 'chat',
        provider: 'anthropic',
        requestModel: 'claude',
        responseModel: null,
        responseId: null,
        finishReasons: [],
        conversationId: null,
        agentId: null,
        agentName: null,
        tool: null,
        systemInstructions: [],
        input: [{ role: 'user', name: null, finishReason: null, parts: [{ type: 'text', content: spec.text ?? 'Mail [EMAIL_ADDRESS:3f2a9c01] the key [SECRET] <b>now</b>', toolCallId: null, toolName: null, arguments: null, response: null, data: null }] }],
        output: [{ role: 'assistant', name: null, finishReason: 'stop', parts: [{ type: 'text', content: 'Done.', toolCallId: null, toolName: null, arguments: null, response: null, data: null }] }],
        usage: null,
        startTimeUnixNano: nowNs,
        endTimeUnixNano: nowNs + 1000n,
        status: { code: 'OK', message: null },
        attributes: {},
      },
    ],
  };
  return {
    trace,
    tenant: spec.tenant ?? 'acme',
    subject: spec.subject ?? 'agent-acme-support',
    holdReasonCode: spec.holdReasonCode ?? 'FINDINGS_THRESHOLD',
    holdReason: spec.holdReason ?? 'SECRET findings reached the hold threshold (1)',
    findings: { EMAIL_ADDRESS: 1, SECRET: 1 },
    candidateRegions: spec.candidateRegions ?? ['eu'],
    policyVersion: 'test-policy',
    heldAtMs: BigInt(Date.now()),
  };
}

const heldCodec = createCodec('held-trace');

export async function produceHeld(kafka: Kafka, topic: string, records: readonly HeldTrace[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: records.map((h) => {
        const { payload, fingerprint } = heldCodec.encode(h);
        return { key: h.trace.traceId, value: payload, headers: { [HEADERS.schema]: fingerprint, [HEADERS.tenant]: h.tenant, [HEADERS.recordId]: h.trace.recordId, [HEADERS.policyVersion]: h.policyVersion } };
      }),
    });
  } finally {
    await producer.disconnect();
  }
}

export interface TopicRecord {
  key: string;
  headers: Record<string, string>;
  value: Buffer;
  partition: number;
  offset: string;
}

/** Reads a topic from the beginning (read_committed) for `ms`, or until `until` is satisfied. */
export async function readTopic(kafka: Kafka, topic: string, opts: { until?: (rs: TopicRecord[]) => boolean; timeoutMs?: number; settleMs?: number } = {}): Promise<TopicRecord[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('appr-read'), readUncommitted: false });
  const out: TopicRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = Array.isArray(v) ? String(v[0]) : v.toString();
        out.push({ key: message.key?.toString() ?? '', headers, value: message.value ?? Buffer.alloc(0), partition, offset: message.offset });
      },
    });
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    while (Date.now() < deadline && !(opts.until?.(out) ?? false)) await new Promise((r) => setTimeout(r, 200));
    if (opts.settleMs !== undefined) await new Promise((r) => setTimeout(r, opts.settleMs));
  } finally {
    await consumer.disconnect();
  }
  return out;
}

const auditCodec = createCodec('audit-event');

export function decodeAudit(r: TopicRecord): AuditEvent {
  return auditCodec.decode(r.value, r.headers[HEADERS.schema]);
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** Calls the reviewer API of a running service. */
export async function api(port: number, method: string, path: string, token?: string, body?: unknown): Promise<ApiResponse> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}
