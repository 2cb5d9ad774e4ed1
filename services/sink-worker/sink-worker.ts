/**
 * The region sink: consumes one region topic (read_committed, manual commits), batches records
 * per partition into objects with deterministic keys, writes them create-only to one bucket that
 * the location guard has verified, and commits offsets only after the upload, in order.
 *
 * Exactly once rests on three rules: an object's key is fixed by its first record (tenant, date,
 * topic, partition, first offset); an upload never replaces an object; and a batch that meets an
 * existing object skips to that object's last offset instead of writing the records again.
 *
 * Evidence: after an object is written, and before its offsets are committed, every record in it
 * gets a STORED audit event (broker-acknowledged) with an id derived from (record, bucket, key).
 * If producing fails nothing is committed; the retry meets the object and emits the same events
 * again, for the records the existing object holds (read again from Kafka, through its last offset).
 */
import type { Admin, Consumer, EachMessagePayload, Kafka, KafkaMessage } from '../shared/kafka/kafka-client.js';
import { createReadCommittedConsumer, fetchHighWatermarks } from '../shared/kafka/kafka-client.js';
import { TracefenceError, describeError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { BucketPolicy, RegionPolicy } from '../policy/policy-types.js';
import { encodeBatch, keptHeaders, isSecretHeader, traceIdOf, type SinkRecord, type TraceDecoder } from './batch-encoder.js';
import { createBucketLocationGuard, type BucketInspector, type BucketLocationGuard, type GuardVerdict } from './bucket-location-guard.js';
import { guardBlockedEvent, type GuardAuditSink } from './guard-audit.js';
import { objectKey, keyTenant, type SinkFormat } from './object-key.js';
import { isRetriableStorageError, type ObjectStore } from './object-store.js';
import { retryWithinBudget } from './retry-within-budget.js';
import type { SinkMetrics } from './sink-metrics.js';
import { storedEvent, storedFact, verifiedLocation, type StoredFact } from './stored-audit.js';

/** Header the policy worker sets on every region record: the verified tenant. */
export const TENANT_HEADER = 'tf-tenant';
/** Header naming the writer schema (fingerprint), set by the Avro codec. */
export const SCHEMA_HEADER_NAME = 'tf-schema';

/** Object user metadata keys (lower case: S3 lower-cases them anyway). */
export const META = {
  firstOffset: 'tf-first-offset',
  lastOffset: 'tf-last-offset',
  recordCount: 'tf-record-count',
  schema: 'tf-schema',
  sha256: 'tf-sha256',
  topic: 'tf-topic',
  partition: 'tf-partition',
  tenant: 'tf-tenant',
  format: 'tf-format',
  policyVersion: 'tf-policy-version',
} as const;

export interface SinkWorkerOptions {
  region: RegionPolicy;
  bucket: BucketPolicy;
  policyVersion: string;
  topic: string;
  groupId: string;
  format: SinkFormat;
  keyPrefix: string;
  maxRecords: number;
  /** Uncompressed record bytes per object. */
  maxBatchBytes: number;
  /** Wall-clock age of a batch's first record after which the batch is written. */
  maxBatchAgeMs: number;
  /** Record bytes held across all partitions above which partitions are paused. */
  memoryCapBytes: number;
  retryBudgetMs: number;
  sessionTimeoutMs: number;
  guardIntervalMs: number;
  partitionsConsumedConcurrently: number;
  lagIntervalMs: number;
}

export interface SinkWorkerDeps {
  options: SinkWorkerOptions;
  kafka: Kafka;
  store: ObjectStore;
  inspector: BucketInspector;
  audit: GuardAuditSink;
  metrics: SinkMetrics;
  logger: Logger;
  decoder?: TraceDecoder;
  /** Called when the consumer dies for good; main exits non-zero. */
  onFatal?: (err: unknown) => void;
  now?: () => number;
}

export interface SinkWorkerStatus {
  region: string;
  bucket: string;
  guardOk: boolean;
  guardReason: string | undefined;
  assigned: number[];
  bufferedBytes: number;
}

export interface SinkWorker {
  readonly guard: BucketLocationGuard;
  start(): Promise<void>;
  /** Stops taking records, abandons open batches without committing them, disconnects. Idempotent. */
  close(): Promise<void>;
  ready(): boolean;
  status(): SinkWorkerStatus;
}

interface Batch {
  records: SinkRecord[];
  bytes: number;
  startedAtMs: number;
  tenant: string | undefined;
  schema: string | undefined;
}

interface PartitionState {
  partition: number;
  open: Batch | undefined;
  sealed: Batch[];
  /** Records at or below this offset are already in an object. */
  skipUntil: bigint | undefined;
  /** Highest offset seen in this generation; a lower one means Kafka is replaying. */
  lastSeen: bigint | undefined;
  /**
   * An existing object met at the batch's key: its STORED events are emitted again (same ids)
   * once every record through its last offset was read, and only then is the offset committed.
   */
  replay: Replay | undefined;
  /** Paused by this partition's own trouble (memory cap, failed upload), not by the guard. */
  paused: boolean;
  retryAtMs: number;
  failures: number;
  tail: Promise<void>;
  tickQueued: boolean;
}

interface Replay {
  key: string;
  /** tf-last-offset of the existing object: it holds every record of the partition from the batch's first offset through this one. */
  lastOffset: bigint;
  facts: StoredFact[];
}

type UploadResult = { kind: 'created'; key: string; traceIds: readonly string[] } | { kind: 'exists'; key: string; lastOffset: bigint | undefined };

function recordSize(r: SinkRecord): number {
  let n = r.value.length + 64;
  for (const [k, v] of Object.entries(r.headers)) n += k.length + v.length;
  return n;
}

function headerString(headers: KafkaMessage['headers'], name: string): string | undefined {
  const raw = headers?.[name];
  if (raw === undefined || (Array.isArray(raw) && raw.length !== 1)) return undefined;
  const one = Array.isArray(raw) ? raw[0] : raw;
  if (one === undefined) return undefined;
  return typeof one === 'string' ? one : one.toString('utf8');
}

export function createSinkWorker(deps: SinkWorkerDeps): SinkWorker {
  const o = deps.options;
  const now = deps.now ?? Date.now;
  const labels = { region: o.region.name, bucket: o.bucket.name };
  const log = deps.logger.child({ component: 'sink', topic: o.topic });
  const partitions = new Map<number, PartitionState>();
  let consumer: Consumer | undefined;
  let admin: Admin | undefined;
  let running = false;
  let stopping = false;
  let closed: Promise<void> | undefined;
  let epoch = 0;
  let bufferedBytes = 0;
  let assigned: number[] = [];
  let auditPending = false;
  const timers: NodeJS.Timeout[] = [];

  const guard = createBucketLocationGuard({
    region: o.region,
    bucket: o.bucket,
    inspector: deps.inspector,
    logger: log,
    guardGauge: deps.metrics.guardOk,
    onVerdict: async (verdict, previous) => {
      deps.metrics.guardChecks.inc({ ...labels, result: verdict.ok ? 'ok' : (verdict.reasonCode ?? 'blocked') });
      applyPauses();
      const changed = previous === undefined || previous.ok || previous.reasonCode !== verdict.reasonCode || previous.detail !== verdict.detail;
      if (!verdict.ok && (changed || auditPending)) await emitAudit(verdict);
      if (verdict.ok && previous !== undefined && !previous.ok) {
        // Writes allowed again: push out what waited.
        for (const st of partitions.values()) schedule(st, () => flush(st));
      }
    },
  });

  async function emitAudit(verdict: GuardVerdict): Promise<void> {
    const { event, details } = guardBlockedEvent(verdict, o.policyVersion, now());
    try {
      await deps.audit.emit(event, details);
      auditPending = false;
    } catch (err) {
      // The block itself stands; the event is logged loudly and sent again on the next check.
      auditPending = true;
      log.error({ err: describeError(err) }, 'could not emit the guard audit event');
    }
  }

  function state(partition: number): PartitionState {
    let st = partitions.get(partition);
    if (st === undefined) {
      st = { partition, open: undefined, sealed: [], skipUntil: undefined, lastSeen: undefined, replay: undefined, paused: false, retryAtMs: 0, failures: 0, tail: Promise.resolve(), tickQueued: false };
      partitions.set(partition, st);
    }
    return st;
  }

  /** Runs work on one partition strictly in order (records, timer flushes, resets). */
  function schedule(st: PartitionState, fn: () => Promise<void>): Promise<void> {
    const next = st.tail.then(fn, fn);
    st.tail = next.catch((err: unknown) => log.error({ partition: st.partition, err: describeError(err) }, 'partition task failed'));
    return st.tail;
  }

  function release(batch: Batch): void {
    bufferedBytes -= batch.bytes;
    deps.metrics.bufferedBytes.set({ region: o.region.name }, bufferedBytes);
  }

  function resetPartition(st: PartitionState): void {
    if (st.open !== undefined) release(st.open);
    for (const b of st.sealed) release(b);
    st.open = undefined;
    st.sealed = [];
    st.skipUntil = undefined;
    st.lastSeen = undefined;
    st.replay = undefined;
    st.failures = 0;
    st.retryAtMs = 0;
  }

  function seal(st: PartitionState): void {
    if (st.open !== undefined && st.open.records.length > 0) st.sealed.push(st.open);
    st.open = undefined;
  }

  function applyPauses(): void {
    if (consumer === undefined || !running) return;
    const verdict = guard.current();
    try {
      if (verdict === undefined || !verdict.ok) {
        consumer.pause([{ topic: o.topic }]);
        return;
      }
      consumer.resume([{ topic: o.topic }]);
      const paused = [...partitions.values()].filter((s) => s.paused).map((s) => s.partition);
      if (paused.length > 0) consumer.pause([{ topic: o.topic, partitions: paused }]);
    } catch (err) {
      log.warn({ err: describeError(err) }, 'could not change paused partitions');
    }
  }

  function setPaused(st: PartitionState, paused: boolean, why: string): void {
    if (st.paused === paused) return;
    st.paused = paused;
    log.info({ partition: st.partition, why }, paused ? 'partition paused' : 'partition resumed');
    applyPauses();
  }

  async function commit(st: PartitionState, nextOffset: bigint): Promise<void> {
    if (consumer === undefined || stopping) return;
    try {
      await consumer.commitOffsets([{ topic: o.topic, partition: st.partition, offset: nextOffset.toString() }]);
    } catch (err) {
      // Usually a rebalance: the next owner replays from the older commit and skips via the object.
      log.warn({ partition: st.partition, offset: nextOffset.toString(), err: describeError(err) }, 'offset commit failed');
    }
  }

  async function upload(st: PartitionState, batch: Batch, heartbeat: (() => Promise<void>) | undefined): Promise<UploadResult> {
    const first = batch.records[0];
    const last = batch.records.at(-1);
    if (first === undefined || last === undefined) throw new TracefenceError('INTERNAL', 'empty batch');
    const key = objectKey({
      prefix: o.keyPrefix,
      tenant: batch.tenant,
      firstTimestampMs: first.timestampMs,
      topic: o.topic,
      partition: st.partition,
      firstOffset: first.offset,
      format: o.format,
    });
    const encoded = await encodeBatch(batch.records, o.format, deps.decoder);
    const metadata = {
      [META.firstOffset]: first.offset.toString(),
      [META.lastOffset]: last.offset.toString(),
      [META.recordCount]: String(batch.records.length),
      [META.schema]: batch.schema ?? 'none',
      [META.sha256]: encoded.sha256,
      [META.topic]: o.topic,
      [META.partition]: String(st.partition),
      [META.tenant]: keyTenant(batch.tenant),
      [META.format]: o.format,
      [META.policyVersion]: o.policyVersion,
    };
    const started = process.hrtime.bigint();
    const retry = {
      budgetMs: o.retryBudgetMs,
      isRetriable: isRetriableStorageError,
      onRetry: async (err: unknown, attempt: number, delayMs: number) => {
        log.warn({ partition: st.partition, key, attempt, delayMs, err: describeError(err) }, 'upload failed, retrying');
        await heartbeat?.().catch(() => undefined);
      },
    };
    const outcome = await retryWithinBudget(
      () => deps.store.putIfAbsent({ key, body: encoded.body, contentType: encoded.contentType, metadata }),
      retry,
    );
    deps.metrics.uploadSeconds.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    if (outcome === 'created') {
      deps.metrics.objects.inc(labels);
      deps.metrics.bytes.inc(labels, encoded.body.length);
      deps.metrics.records.inc(labels, batch.records.length);
      log.debug({ partition: st.partition, key, records: batch.records.length, bytes: encoded.body.length }, 'object written');
      return { kind: 'created', key, traceIds: encoded.traceIds };
    }
    deps.metrics.conflicts.inc(labels);
    const existing = await retryWithinBudget(() => deps.store.readMetadata(key), retry);
    const lastRaw = existing?.[META.lastOffset];
    const lastOffset = lastRaw !== undefined && /^\d+$/.test(lastRaw) ? BigInt(lastRaw) : undefined;
    return { kind: 'exists', key, lastOffset };
  }

  /** Drops every buffered record at or below `offset` (already stored in an existing object). */
  function trimThrough(st: PartitionState, offset: bigint): void {
    const keep = (b: Batch): Batch | undefined => {
      const rest = b.records.filter((r) => r.offset > offset);
      if (rest.length === b.records.length) return b;
      const dropped = b.bytes - rest.reduce((n, r) => n + recordSize(r), 0);
      bufferedBytes -= dropped;
      if (rest.length === 0) return undefined;
      return { ...b, records: rest, bytes: b.bytes - dropped };
    };
    st.sealed = st.sealed.map(keep).filter((b): b is Batch => b !== undefined);
    if (st.open !== undefined) st.open = keep(st.open);
    deps.metrics.bufferedBytes.set({ region: o.region.name }, bufferedBytes);
    st.skipUntil = st.skipUntil === undefined || offset > st.skipUntil ? offset : st.skipUntil;
  }

  /** Pauses the partition and schedules a retry with exponential backoff. */
  function backOff(st: PartitionState, why: string): void {
    st.failures += 1;
    st.retryAtMs = now() + Math.min(60_000, 1_000 * 2 ** Math.min(st.failures, 6));
    setPaused(st, true, why);
  }

  /** Facts of a record read again, for the STORED events of an object written before. */
  function replayFact(st: PartitionState, r: SinkRecord): StoredFact {
    let traceId = '';
    if (deps.decoder !== undefined && r.schema !== undefined) {
      try {
        traceId = traceIdOf(deps.decoder.decode(r.value, r.schema));
      } catch {
        traceId = '';
      }
    }
    return storedFact(r, o.topic, st.partition, traceId);
  }

  function replayReady(st: PartitionState): boolean {
    return st.replay !== undefined && st.lastSeen !== undefined && st.lastSeen >= st.replay.lastOffset;
  }

  /**
   * One STORED event per record of the object at `key`, produced to the audit topic and
   * acknowledged by the broker. False (partition backed off, nothing committed) when producing failed.
   */
  async function emitStored(st: PartitionState, facts: readonly StoredFact[], key: string, verdict: GuardVerdict): Promise<boolean> {
    if (facts.length === 0) return true;
    const context = {
      region: o.region.name,
      backend: o.bucket.backend,
      bucket: o.bucket.name,
      objectKey: key,
      bucketLocation: verifiedLocation(verdict),
      sinkPolicyVersion: o.policyVersion,
      occurredAtMs: now(),
    };
    try {
      await deps.audit.emitAll(facts.map((f) => storedEvent(f, context)));
      deps.metrics.storedEvents.inc(labels, facts.length);
      return true;
    } catch (err) {
      deps.metrics.auditFailures.inc(labels);
      log.error(
        { partition: st.partition, key, events: facts.length, failures: st.failures + 1, err: describeError(err) },
        'could not produce the STORED audit events; offsets not committed, the batch will be retried',
      );
      backOff(st, 'audit events not acknowledged');
      return false;
    }
  }

  /**
   * Writes sealed batches in offset order. After each object: its STORED audit events (broker
   * acknowledged), then the offset commit. Stops at the first refusal or failure.
   */
  async function flush(st: PartitionState, heartbeat?: () => Promise<void>): Promise<void> {
    while (st.replay !== undefined || st.sealed.length > 0) {
      if (stopping) return;
      const verdict = await guard.verdict();
      if (!verdict.ok || stopping) return;
      if (now() < st.retryAtMs) return;
      const myEpoch = epoch;
      const replay = st.replay;
      if (replay !== undefined) {
        if (!replayReady(st)) {
          // The rest of the existing object's records are still to be read (they are in Kafka);
          // this partition holds nothing else, so it must not stay paused for memory.
          if (st.paused) {
            st.failures = 0;
            setPaused(st, false, 'reading the records of an existing object');
          }
          return;
        }
        if (!(await emitStored(st, replay.facts, replay.key, verdict))) return;
        if (myEpoch !== epoch || st.replay !== replay) return;
        st.replay = undefined;
        st.failures = 0;
        await commit(st, replay.lastOffset + 1n);
        await heartbeat?.().catch(() => undefined);
        continue;
      }
      const batch = st.sealed[0];
      if (batch === undefined) return;
      let result: UploadResult;
      try {
        result = await upload(st, batch, heartbeat);
      } catch (err) {
        deps.metrics.uploadFailures.inc(labels);
        log.error({ partition: st.partition, failures: st.failures + 1, err: describeError(err) }, 'upload failed after its retry budget; partition paused, will retry');
        backOff(st, 'upload failed');
        return;
      }
      // A rebalance reset this partition meanwhile: its records will be replayed and meet this object.
      if (myEpoch !== epoch || st.sealed[0] !== batch) return;
      const last = batch.records.at(-1);
      if (last === undefined) return;
      if (result.kind === 'created') {
        const { key, traceIds } = result;
        const facts = batch.records.map((r, i) => storedFact(r, o.topic, st.partition, traceIds[i] ?? ''));
        // Not acknowledged: keep the batch; its retry meets this object and emits the same events.
        if (!(await emitStored(st, facts, key, verdict))) return;
        if (myEpoch !== epoch || st.sealed[0] !== batch) return;
        st.sealed.shift();
        release(batch);
        st.failures = 0;
        await commit(st, last.offset + 1n);
        // Several objects in a row must not starve the group heartbeat.
        await heartbeat?.().catch(() => undefined);
        continue;
      }
      const first = batch.records[0]?.offset ?? 0n;
      if (result.lastOffset === undefined || result.lastOffset < first) {
        // Not one of our objects (or damaged): never overwrite, never guess. Stop this partition.
        st.failures += 1;
        st.retryAtMs = now() + 60_000;
        log.error({ partition: st.partition, key: result.key }, 'an object with this key exists without a valid tf-last-offset; partition stopped');
        setPaused(st, true, 'foreign object at key');
        return;
      }
      log.info({ partition: st.partition, key: result.key, lastOffset: result.lastOffset.toString() }, 'object already written; emitting its STORED events again and skipping ahead');
      // The object holds every record read from `first` through its tf-last-offset (batches are
      // runs of consecutive records): those buffered now, and those still to come, skipped on arrival.
      const lastOffset = result.lastOffset;
      const facts: StoredFact[] = [];
      for (const b of [...st.sealed, ...(st.open === undefined ? [] : [st.open])]) {
        for (const r of b.records) if (r.offset <= lastOffset) facts.push(replayFact(st, r));
      }
      trimThrough(st, lastOffset);
      st.replay = { key: result.key, lastOffset, facts };
    }
    if (st.paused && bufferedBytes <= o.memoryCapBytes) {
      st.failures = 0;
      setPaused(st, false, 'flushed');
    }
  }

  function toRecord(message: KafkaMessage, countDropped = true): SinkRecord {
    const headers = keptHeaders(message.headers);
    if (countDropped) {
      const dropped = Object.keys(message.headers ?? {}).filter((k) => isSecretHeader(k, headerString(message.headers, k))).length;
      if (dropped > 0) deps.metrics.droppedHeaders.inc({ region: o.region.name }, dropped);
    }
    const tenant = headerString(message.headers, TENANT_HEADER);
    return {
      offset: BigInt(message.offset),
      timestampMs: Number(message.timestamp),
      headers,
      value: message.value ?? Buffer.alloc(0),
      schema: headerString(message.headers, SCHEMA_HEADER_NAME),
      tenant,
    };
  }

  async function onMessage(p: EachMessagePayload): Promise<void> {
    const st = state(p.partition);
    await schedule(st, async () => {
      if (stopping) return;
      const offset = BigInt(p.message.offset);
      if (st.lastSeen !== undefined && offset <= st.lastSeen) {
        log.info({ partition: st.partition, offset: offset.toString() }, 'replay from an earlier offset; dropping open batches');
        resetPartition(st);
      }
      st.lastSeen = offset;
      if (st.skipUntil !== undefined && offset <= st.skipUntil) {
        // Already in an object; while that object's events wait, this record is one of them.
        const replay = st.replay;
        if (replay !== undefined && offset <= replay.lastOffset) {
          replay.facts.push(replayFact(st, toRecord(p.message, false)));
          if (replayReady(st)) await flush(st, p.heartbeat);
        }
        return;
      }
      const rec = toRecord(p.message);
      if (st.open !== undefined && (st.open.tenant !== rec.tenant || st.open.schema !== rec.schema)) seal(st);
      st.open ??= { records: [], bytes: 0, startedAtMs: now(), tenant: rec.tenant, schema: rec.schema };
      const size = recordSize(rec);
      st.open.records.push(rec);
      st.open.bytes += size;
      bufferedBytes += size;
      deps.metrics.bufferedBytes.set({ region: o.region.name }, bufferedBytes);
      if (st.open.records.length >= o.maxRecords || st.open.bytes >= o.maxBatchBytes) seal(st);
      if (st.sealed.length > 0 || replayReady(st)) await flush(st, p.heartbeat);
      if (bufferedBytes > o.memoryCapBytes && st.sealed.length + (st.open === undefined ? 0 : 1) > 0) setPaused(st, true, 'memory cap');
    });
  }

  /** Wall-clock rotation and retries, so a quiet partition still writes its batch. */
  function tick(): void {
    if (stopping || !running) return;
    const t = now();
    for (const st of partitions.values()) {
      const due = (st.open !== undefined && t - st.open.startedAtMs >= o.maxBatchAgeMs) || ((st.sealed.length > 0 || replayReady(st)) && t >= st.retryAtMs);
      if (!due || st.tickQueued) continue;
      st.tickQueued = true;
      void schedule(st, async () => {
        st.tickQueued = false;
        if (st.open !== undefined && now() - st.open.startedAtMs >= o.maxBatchAgeMs) seal(st);
        await flush(st);
      });
    }
  }

  async function updateLag(): Promise<void> {
    if (admin === undefined || stopping) return;
    try {
      const [high, committed] = await Promise.all([
        fetchHighWatermarks(admin, o.topic),
        admin.fetchOffsets({ groupId: o.groupId, topics: [o.topic] }),
      ]);
      const byPartition = new Map((committed[0]?.partitions ?? []).map((c) => [c.partition, c.offset] as const));
      for (const partition of assigned) {
        const h = high.get(partition);
        const c = byPartition.get(partition);
        if (h === undefined) continue;
        const base = c === undefined || c === '-1' ? 0n : BigInt(c);
        deps.metrics.lag.set({ region: o.region.name, topic: o.topic, partition: String(partition) }, Number(h > base ? h - base : 0n));
      }
    } catch (err) {
      log.debug({ err: describeError(err) }, 'lag update failed');
    }
  }

  return {
    guard,
    async start() {
      // Before the first write: a refused bucket never sees a byte, and we join paused.
      const first = await guard.check();
      const c = createReadCommittedConsumer(deps.kafka, { groupId: o.groupId, sessionTimeoutMs: o.sessionTimeoutMs });
      consumer = c;
      c.on(c.events.REBALANCING, () => {
        epoch += 1;
        guard.invalidate();
      });
      c.on(c.events.GROUP_JOIN, (e) => {
        epoch += 1;
        // kafkajs restarts every assigned partition from its committed offset after a join.
        for (const st of partitions.values()) {
          st.paused = false;
          void schedule(st, async () => resetPartition(st));
        }
        assigned = (e.payload.memberAssignment[o.topic] ?? []).slice().sort((a, b) => a - b);
        log.info({ assigned, generation: e.payload.groupId }, 'partitions assigned');
        guard.invalidate();
        void guard.check();
      });
      c.on(c.events.CRASH, (e) => {
        log.error({ err: describeError(e.payload.error), restart: e.payload.restart }, 'consumer crashed');
        if (!e.payload.restart && !stopping) deps.onFatal?.(e.payload.error);
      });
      await c.connect();
      await c.subscribe({ topics: [o.topic], fromBeginning: true });
      admin = deps.kafka.admin();
      await admin.connect();
      await c.run({
        autoCommit: false,
        partitionsConsumedConcurrently: o.partitionsConsumedConcurrently,
        eachMessage: onMessage,
      });
      running = true;
      if (!first.ok) applyPauses();
      const tickMs = Math.max(50, Math.min(1_000, Math.floor(o.maxBatchAgeMs / 4)));
      timers.push(setInterval(tick, tickMs));
      timers.push(setInterval(() => void guard.check(), o.guardIntervalMs));
      timers.push(setInterval(() => void updateLag(), o.lagIntervalMs));
      for (const t of timers) t.unref();
      log.info({ groupId: o.groupId, format: o.format, guardOk: first.ok }, 'sink started');
    },
    close() {
      closed ??= (async () => {
        stopping = true;
        for (const t of timers) clearInterval(t);
        // Open and unwritten batches are abandoned uncommitted: the next owner replays them.
        const abandoned = [...partitions.values()].reduce((n, s) => n + s.sealed.length + (s.open === undefined ? 0 : 1), 0);
        const steps: Array<[string, () => Promise<void>]> = [
          ['consumer', async () => consumer?.disconnect()],
          ['admin', async () => admin?.disconnect()],
        ];
        for (const [name, step] of steps) {
          try {
            await step();
          } catch (err) {
            log.warn({ step: name, err: describeError(err) }, 'close step failed');
          }
        }
        running = false;
        log.info({ abandonedBatches: abandoned }, 'sink stopped');
      })();
      return closed;
    },
    ready() {
      return running && !stopping && guard.current()?.ok === true;
    },
    status() {
      const v = guard.current();
      return { region: o.region.name, bucket: o.bucket.name, guardOk: v?.ok === true, guardReason: v?.reasonCode, assigned, bufferedBytes };
    },
  };
}
