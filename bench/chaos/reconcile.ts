/**
 * Reconciliation after a run: every ingest record must end in exactly one of a region bucket
 * object (or, when no sinks run, a region topic), the held topic, or the dead-letter topic with
 * a reason; objects must sit in buckets whose real location is in their region's allow-list;
 * no planted value or token may appear in any stored object, region/held/audit/dead-letter
 * record, approval-queue job or service log. Counting is done here from the raw data (there is
 * no `tracefence reconcile` command yet).
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, HeadBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { createCodec } from '../../services/shared/avro/index.js';
import { HEADERS } from '../../services/shared/record-headers.js';
import { loadPolicy, getRegion, getTenant } from '../../services/policy/load-policy.js';
import { s3Client, type ChaosTopology, type RegionName } from './chaos-pipeline.js';
import type { LeakScanner } from './leak-scan.js';
import { redisUrl } from './stack-access.js';
import { readToEnd, type ReadEnds } from './topic-reader.js';

export type OutcomeKind = 'routed' | 'held' | 'dead-lettered';

export interface ExpectedRecord {
  /** What should happen: a kind (and region or accepted reasons), or any single outcome. */
  expect: { kind: 'routed'; region: string } | { kind: 'held'; reason?: string } | { kind: 'dead-lettered'; reasons: readonly string[] } | { kind: 'any-one-outcome' };
  planted: readonly { text: string; normalized: string }[];
  label?: string;
}

export interface ObservedOutcome {
  kind: OutcomeKind;
  region?: string;
  reason?: string;
  where: string;
}

export interface Figures {
  ingested: number;
  lost: number;
  duplicated: number;
  unexpectedOutcomes: number;
  objectsOutsideJurisdiction: number;
  recordsOutsideTenantRegions: number;
  plantedUnmasked: number;
  tokensStored: number;
  deadLettersWithoutReason: number;
  auditMissing: number;
  auditDuplicated: number;
  heldNotInApprovalQueue: number;
}

export interface Reconciliation {
  figures: Figures;
  outcomes: Map<string, ObservedOutcome[]>;
  /** Identity of each ingest record, by partition/offset. */
  ingestCount: Map<string, number>;
  differsFromPlan: number;
  byKind: Record<string, number>;
  deadLetterReasons: Record<string, number>;
  objects: number;
  regionTopicRecords: number;
  plantedByStore: Record<string, number>;
  tokensByStore: Record<string, number>;
  regionEnds: ReadEnds;
  heldEnds: ReadEnds;
  notes: string[];
}

export interface ReconcileOptions {
  /** Sinks ran: routed records must be in bucket objects (else the region topic counts). */
  buckets: boolean;
  /** The approval service ran: held records must be jobs in its queue. */
  approvalQueue: boolean;
  logFiles: readonly string[];
}

const deadLetterCodec = createCodec('dead-letter');
const auditCodec = createCodec('audit-event');

const inc = (m: Map<string, number>, k: string, n = 1): void => void m.set(k, (m.get(k) ?? 0) + n);

export async function reconcile(t: ChaosTopology, expected: ReadonlyMap<string, ExpectedRecord>, scanner: LeakScanner, o: ReconcileOptions): Promise<Reconciliation> {
  const policy = await loadPolicy(t.policyFile);
  const notes: string[] = [];
  // 1. Ingest: which identity (record id, or the hostile case key) sits at each partition/offset.
  const byOffset = new Map<string, string>();
  const ingestCount = new Map<string, number>();
  await readToEnd([t.topics.ingest], (r) => {
    const identity = r.key?.toString('utf8') ?? `${r.partition}/${r.offset}`;
    byOffset.set(`${r.partition}/${r.offset}`, identity);
    inc(ingestCount, identity);
  });
  const outcomes = new Map<string, ObservedOutcome[]>();
  const add = (identity: string, outcome: ObservedOutcome): void => {
    const list = outcomes.get(identity);
    if (list === undefined) outcomes.set(identity, [outcome]);
    else list.push(outcome);
  };
  const regionOf = new Map<string, RegionName | 'apac'>([
    [t.topics.eu, 'eu'],
    [t.topics.us, 'us'],
    [t.topics.apac, 'apac'],
  ]);
  const textOf = (value: Buffer | null, headers: Record<string, string>): string => `${value?.toString('utf8') ?? ''}\n${Object.values(headers).join('\n')}`;
  const plantedOf = (identity: string): readonly { text: string; normalized: string }[] => expected.get(identity)?.planted ?? [];

  // 2. Region topics: count (and scan); they are outcomes themselves only when no sink ran.
  const regionTopicCount = new Map<string, number>();
  let regionTopicRecords = 0;
  let recordsOutsideTenantRegions = 0;
  const regionEnds = await readToEnd([t.topics.eu, t.topics.us, t.topics.apac], (r) => {
    regionTopicRecords++;
    const identity = r.headers[HEADERS.recordId] ?? `(no record id ${r.topic}/${r.partition}/${r.offset})`;
    inc(regionTopicCount, identity);
    const text = textOf(r.value, r.headers);
    scanner.scan(text, 'region topics');
    scanner.scanRecord(text, plantedOf(identity), 'region topics');
    const region = regionOf.get(r.topic) ?? '?';
    const tenant = getTenant(policy, r.headers[HEADERS.tenant] ?? '');
    if (tenant === undefined || !tenant.allowedRegions.includes(region)) recordsOutsideTenantRegions++;
    if (!o.buckets) add(identity, { kind: 'routed', region, where: r.topic });
  });

  // 3. Held topic.
  const heldIds: string[] = [];
  const heldEnds = await readToEnd([t.topics.held], (r) => {
    const identity = r.headers[HEADERS.recordId] ?? `(no record id ${r.partition}/${r.offset})`;
    heldIds.push(identity);
    const text = textOf(r.value, r.headers);
    scanner.scan(text, 'held topic');
    scanner.scanRecord(text, plantedOf(identity), 'held topic');
    add(identity, { kind: 'held', where: 'held topic' });
  });

  // 4. Dead letters: mapped to the ingest record by source partition/offset.
  let deadLettersWithoutReason = 0;
  const deadLetterReasons: Record<string, number> = {};
  await readToEnd([t.topics.deadLetter], (r) => {
    const text = textOf(r.value, r.headers);
    scanner.scan(text, 'dead-letter topic');
    let dl;
    try {
      dl = deadLetterCodec.decode(r.value ?? Buffer.alloc(0), r.headers[HEADERS.schema]);
    } catch {
      add(`(undecodable dead letter ${r.partition}/${r.offset})`, { kind: 'dead-lettered', where: 'dead-letter topic' });
      return;
    }
    if (dl.reasonCode.trim() === '') deadLettersWithoutReason++;
    deadLetterReasons[dl.reasonCode] = (deadLetterReasons[dl.reasonCode] ?? 0) + 1;
    const identity = dl.sourceTopic === t.topics.ingest ? byOffset.get(`${dl.sourcePartition}/${dl.sourceOffset}`) : undefined;
    const id = identity ?? `(dead letter of ${dl.sourceTopic}/${dl.sourcePartition}/${dl.sourceOffset})`;
    scanner.scanRecord(text, plantedOf(id), 'dead-letter topic');
    add(id, { kind: 'dead-lettered', reason: dl.reasonCode, where: 'dead-letter topic' });
  });

  // 5. Audit events: one policy decision per ingest record.
  const auditCount = new Map<string, number>();
  await readToEnd([t.topics.audit], (r) => {
    scanner.scan(textOf(r.value, r.headers), 'audit topic');
    let ev;
    try {
      ev = auditCodec.decode(r.value ?? Buffer.alloc(0), r.headers[HEADERS.schema]);
    } catch {
      notes.push(`undecodable audit event at ${r.partition}/${r.offset}`);
      return;
    }
    if (ev.decision !== 'ROUTED' && ev.decision !== 'HELD' && ev.decision !== 'DEAD_LETTERED') return;
    const source = /^(.+)\/(\d+)\/(\d+)$/.exec(ev.recordId);
    const identity = source !== null && source[1] === t.topics.ingest ? byOffset.get(`${source[2]}/${source[3]}`) : ev.recordId;
    inc(auditCount, identity ?? ev.recordId);
  });

  // 6. Bucket objects: location of the bucket vs the region allow-list, every line's record.
  let objects = 0;
  let objectsOutsideJurisdiction = 0;
  if (o.buckets) {
    const client = s3Client();
    try {
      for (const region of ['eu', 'us'] as const) {
        const bucket = t.buckets[region];
        const rp = getRegion(policy, region);
        const head = await client.send(new HeadBucketCommand({ Bucket: bucket }));
        const location = (head.BucketRegion ?? 'unknown').toLowerCase();
        const locationOk = rp !== undefined && rp.allowedLocations.s3.includes(location);
        const keys: string[] = [];
        let token: string | undefined;
        do {
          const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
          for (const obj of page.Contents ?? []) if (obj.Key !== undefined) keys.push(obj.Key);
          token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
        } while (token !== undefined);
        const handle = async (key: string): Promise<void> => {
          objects++;
          const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
          const body = Buffer.from(await (res.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array())));
          const topicMeta = res.Metadata?.['tf-topic'];
          if (!locationOk || topicMeta !== rp?.topic) objectsOutsideJurisdiction++;
          const text = key.endsWith('.gz') ? gunzipSync(body).toString('utf8') : body.toString('utf8');
          scanner.scan(text, 'bucket objects');
          for (const line of text.split('\n')) {
            if (line.length === 0) continue;
            const parsed = JSON.parse(line) as { headers?: Record<string, string> };
            const identity = parsed.headers?.[HEADERS.recordId] ?? `(no record id in ${bucket}/${key})`;
            scanner.scanRecord(line, plantedOf(identity), 'bucket objects');
            const tenant = getTenant(policy, parsed.headers?.[HEADERS.tenant] ?? '');
            if (tenant === undefined || !tenant.allowedRegions.includes(region)) recordsOutsideTenantRegions++;
            add(identity, { kind: 'routed', region, where: `s3://${bucket}` });
          }
        };
        // A few downloads in flight; the scanning itself is synchronous.
        let next = 0;
        await Promise.all(
          Array.from({ length: 12 }, async () => {
            while (next < keys.length) await handle(keys[next++] as string);
          }),
        );
      }
    } finally {
      client.destroy();
    }
  }

  // 7. The approval queue: each held record is a job (id = record id) in one of its queues.
  let heldNotInApprovalQueue = 0;
  if (o.approvalQueue && heldIds.length > 0) {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 5 });
    try {
      const queues = [...Object.keys(policy.regions).map((r) => `held-${r}`), 'held-unresolved'];
      for (let i = 0; i < heldIds.length; i += 500) {
        const slice = heldIds.slice(i, i + 500);
        const pipe = redis.pipeline();
        for (const id of slice) for (const q of queues) pipe.hget(`${t.queuePrefix}:${q}:${id}`, 'data');
        const results = (await pipe.exec()) ?? [];
        slice.forEach((id, k) => {
          const datas = results.slice(k * queues.length, (k + 1) * queues.length).map(([, v]) => v).filter((v): v is string => typeof v === 'string');
          if (datas.length !== 1) heldNotInApprovalQueue++;
          for (const d of datas) {
            scanner.scan(d, 'approval queue');
            scanner.scanRecord(d, plantedOf(id), 'approval queue');
          }
        });
      }
    } finally {
      redis.disconnect();
    }
  }

  // 8. Service logs.
  for (const file of o.logFiles) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      notes.push(`log file missing: ${file}`);
      continue;
    }
    scanner.scan(text, 'service logs');
  }

  // Counting.
  let lost = 0;
  let duplicated = 0;
  let unexpectedOutcomes = 0;
  let differsFromPlan = 0;
  let auditMissing = 0;
  let auditDuplicated = 0;
  const byKind: Record<string, number> = {};
  for (const [identity, n] of ingestCount) {
    const got = outcomes.get(identity) ?? [];
    if (got.length < n) lost += n - got.length;
    if (got.length > n) duplicated += got.length - n;
    const audits = auditCount.get(identity) ?? 0;
    if (audits < n) auditMissing += n - audits;
    if (audits > n) auditDuplicated += audits - n;
    const want = expected.get(identity)?.expect;
    for (const g of got) {
      byKind[g.kind === 'routed' ? `routed ${g.region ?? ''}` : g.kind] = (byKind[g.kind === 'routed' ? `routed ${g.region ?? ''}` : g.kind] ?? 0) + 1;
      if (want === undefined || want.kind === 'any-one-outcome') continue;
      const ok =
        want.kind === g.kind &&
        (want.kind !== 'routed' || want.region === g.region) &&
        (want.kind !== 'dead-lettered' || want.reasons.includes(g.reason ?? ''));
      if (!ok) differsFromPlan++;
    }
  }
  for (const [identity, got] of outcomes) if (!ingestCount.has(identity)) unexpectedOutcomes += got.length;
  for (const [identity, n] of auditCount) if (!ingestCount.has(identity)) auditDuplicated += n;
  if (o.buckets) {
    for (const [identity, n] of regionTopicCount) {
      const inBuckets = (outcomes.get(identity) ?? []).filter((x) => x.kind === 'routed').length;
      if (inBuckets !== n) notes.push(`record ${identity.slice(0, 8)}…: ${n} in region topics, ${inBuckets} in buckets`);
    }
  }

  return {
    figures: {
      ingested: [...ingestCount.values()].reduce((a, b) => a + b, 0),
      lost,
      duplicated,
      unexpectedOutcomes,
      objectsOutsideJurisdiction,
      recordsOutsideTenantRegions,
      plantedUnmasked: scanner.totalPlanted(),
      tokensStored: scanner.totalTokens(),
      deadLettersWithoutReason,
      auditMissing,
      auditDuplicated,
      heldNotInApprovalQueue,
    },
    outcomes,
    ingestCount,
    differsFromPlan,
    byKind,
    deadLetterReasons,
    objects,
    regionTopicRecords,
    plantedByStore: Object.fromEntries(scanner.counts.planted),
    tokensByStore: Object.fromEntries(scanner.counts.tokens),
    regionEnds,
    heldEnds,
    notes: notes.slice(0, 50),
  };
}

/** The figures that must all be 0. */
export function failingFigures(f: Figures): string[] {
  return (Object.entries(f) as Array<[keyof Figures, number]>).filter(([k, v]) => k !== 'ingested' && v !== 0).map(([k, v]) => `${k}=${v}`);
}
