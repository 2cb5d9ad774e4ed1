/**
 * The audit sink: consumes the audit topic (read_committed, manual commits), appends each event
 * to its region's hash chain and writes the chain, create-only, to an audit bucket in that
 * region's jurisdiction; offsets are committed only after the objects and checkpoints are stored.
 *
 * One writer per chain: the audit topic is keyed by region, so a chain lives in one partition
 * and the consumer that owns the partition writes it. Objects are named by the chain position of
 * their first event, so even two writers (a rebalance overlap) cannot fork a chain: the second
 * meets an existing object, reloads the head from the bucket and skips what is stored.
 * The chain head is never trusted from memory across a rebalance or a failure: it is recovered
 * from the last object in the bucket.
 */
import { randomUUID } from 'node:crypto';
import type { Codec } from '../shared/avro/codec.js';
import type { AuditEvent } from '../shared/avro/types.js';
import { TracefenceError, describeError, isTracefenceError } from '../shared/errors.js';
import type { Consumer, Kafka, KafkaMessage } from '../shared/kafka/kafka-client.js';
import type { Logger } from '../shared/logger.js';
import { HEADERS, headerString } from '../shared/record-headers.js';
import { evaluateBucketFacts } from '../sink-worker/bucket-location-guard.js';
import { isRetriableStorageError } from '../sink-worker/object-store.js';
import { retryWithinBudget } from '../sink-worker/retry-within-budget.js';
import { appendToChain, EMPTY_HEAD, entryHash, NO_REGION_CHAIN, type ChainEntry, type ChainHead, type EntrySource } from '../audit/audit-chain.js';
import { AUDIT_META, checkpointKey, checkpointOf, decodeAuditObject, encodeAuditObject, eventsPrefix, sha256Hex } from '../audit/audit-layout.js';
import type { AuditTarget, BucketAccess } from '../audit/bucket-access.js';
import type { AuditSinkMetrics } from './audit-sink-metrics.js';

type RunConfig = NonNullable<Parameters<Consumer['run']>[0]>;
type EachBatchPayload = Parameters<NonNullable<RunConfig['eachBatch']>>[0];

export interface AuditSinkOptions {
  topic: string;
  groupId: string;
  /** Most events in one audit object. */
  maxEventsPerObject: number;
  /** How long the broker may wait to fill a fetch (batches events into fewer objects). */
  lingerMs: number;
  /** Bytes the broker waits for before answering a fetch early. */
  fetchMinBytes: number;
  retryBudgetMs: number;
  sessionTimeoutMs: number;
  /** Audit buckets are re-verified when their last verdict is older than this. */
  guardIntervalMs: number;
}

export interface ChainStore {
  target: AuditTarget;
  access: BucketAccess;
}

export interface AuditSinkDeps {
  options: AuditSinkOptions;
  kafka: Kafka;
  /** Chain name -> where it is stored; must contain NO_REGION_CHAIN. */
  chains: ReadonlyMap<string, ChainStore>;
  codec: Codec<AuditEvent>;
  metrics: AuditSinkMetrics;
  logger: Logger;
  onFatal?: (err: unknown) => void;
  now?: () => number;
}

export interface AuditSinkStatus {
  assigned: number[];
  chains: Record<string, { seq: number | undefined; guardOk: boolean | undefined }>;
}

export interface AuditSink {
  start(): Promise<void>;
  /** Stops consuming; uncommitted events are replayed by the next owner. Idempotent. */
  close(): Promise<void>;
  ready(): boolean;
  status(): AuditSinkStatus;
}

interface ChainState {
  head: ChainHead;
  /** Source of the head entry: replayed records at or below it are already stored. */
  partition: number | undefined;
  lastOffset: bigint | undefined;
}

interface Item {
  event: AuditEvent;
  source: EntrySource;
}

const CONFLICT_ATTEMPTS = 5;

export function createAuditSink(deps: AuditSinkDeps): AuditSink {
  const o = deps.options;
  const now = deps.now ?? Date.now;
  const log = deps.logger.child({ component: 'audit-sink', topic: o.topic });
  const state = new Map<string, ChainState>();
  const verdicts = new Map<string, { ok: boolean; atMs: number; detail: string; code: string | undefined }>();
  let consumer: Consumer | undefined;
  let running = false;
  let stopping = false;
  let closed: Promise<void> | undefined;
  let assigned: number[] = [];

  const noRegion = deps.chains.get(NO_REGION_CHAIN);
  if (noRegion === undefined) throw new TracefenceError('CONFIG_INVALID', `the audit sink needs a store for the '${NO_REGION_CHAIN}' chain`);

  const retry = (what: string, chain: string) => ({
    budgetMs: o.retryBudgetMs,
    isRetriable: isRetriableStorageError,
    onRetry: (err: unknown, attempt: number) => log.warn({ chain, what, attempt, err: describeError(err) }, 'storage call failed, retrying'),
  });

  /** The chain for a record: its key names the region (policy worker, sink and approvals key by region). */
  function chainOf(message: KafkaMessage, event: AuditEvent | undefined): string {
    const key = message.key?.toString('utf8');
    const byEvent = event?.region ?? NO_REGION_CHAIN;
    const chain = key !== undefined && deps.chains.has(key) ? key : deps.chains.has(byEvent) ? byEvent : NO_REGION_CHAIN;
    if (event !== undefined && chain !== byEvent) deps.metrics.misrouted.inc({ chain });
    return chain;
  }

  function undecodable(message: KafkaMessage, source: EntrySource): AuditEvent {
    return {
      eventId: randomUUID(),
      recordId: `${source.topic}/${source.partition}/${source.offset}`,
      traceId: '',
      tenant: '',
      subject: '',
      agent: '',
      decision: 'UNKNOWN',
      region: null,
      reasonCode: 'RECORD_MALFORMED',
      findingCounts: {},
      maskingApplied: {},
      policyVersion: '',
      // The record is kept out of the chain (it could hold anything); its hash is evidence enough.
      contentHash: sha256Hex(message.value ?? Buffer.alloc(0)),
      bucket: null,
      objectKey: null,
      bucketLocation: null,
      occurredAtMs: Number(message.timestamp),
      prevHash: null,
      actor: null,
    };
  }

  async function checkGuard(chain: string, store: ChainStore): Promise<void> {
    const key = `${store.target.region.name}/${store.access.bucket}`;
    const cached = verdicts.get(key);
    if (cached !== undefined && now() - cached.atMs < o.guardIntervalMs) {
      if (!cached.ok) throw new TracefenceError(cached.code === 'BUCKET_LOCATION_MISMATCH' ? 'BUCKET_LOCATION_MISMATCH' : 'BUCKET_LOCATION_UNKNOWN', `audit bucket ${store.access.bucket} refused: ${cached.detail}`, { retriable: true });
      return;
    }
    let ok: boolean;
    let detail: string;
    let code: string | undefined;
    try {
      const v = evaluateBucketFacts(await store.access.inspector.inspect(), store.target.region, store.target.bucket, now());
      ok = v.ok;
      detail = v.detail;
      code = v.reasonCode;
    } catch (err) {
      ok = false;
      detail = `location unreadable: ${describeError(err)}`;
      code = 'BUCKET_LOCATION_UNKNOWN';
    }
    const was = cached?.ok;
    verdicts.set(key, { ok, atMs: now(), detail, code });
    deps.metrics.guardOk.set({ chain, bucket: store.access.bucket }, ok ? 1 : 0);
    if (!ok && was !== false) log.error({ chain, bucket: store.access.bucket, reasonCode: code, detail }, 'audit bucket refused; audit events wait');
    if (ok && was === false) log.info({ chain, bucket: store.access.bucket }, 'audit bucket allowed again');
    if (!ok) throw new TracefenceError(code === 'BUCKET_LOCATION_MISMATCH' ? 'BUCKET_LOCATION_MISMATCH' : 'BUCKET_LOCATION_UNKNOWN', `audit bucket ${store.access.bucket} refused: ${detail}`, { retriable: true });
  }

  /** Head of a chain from the last object in its bucket; also writes a missing last checkpoint. */
  async function recover(chain: string, store: ChainStore): Promise<ChainState> {
    let lastKey: string | undefined;
    await retryWithinBudget(async () => {
      lastKey = undefined;
      for await (const obj of store.access.list(eventsPrefix(chain))) lastKey = obj.key;
    }, retry('list', chain));
    if (lastKey === undefined) return { head: EMPTY_HEAD, partition: undefined, lastOffset: undefined };
    const key = lastKey;
    const got = await retryWithinBudget(() => store.access.get(key), retry('read', chain));
    if (got === undefined) throw new TracefenceError('STORAGE_UNAVAILABLE', `audit object ${key} vanished while recovering the chain head`, { retriable: true });
    let entries: ChainEntry[];
    try {
      entries = decodeAuditObject(got.body);
    } catch (err) {
      throw new TracefenceError('AUDIT_CHAIN_BROKEN', `the last audit object ${key} of chain ${chain} cannot be read (${describeError(err)}); run 'tracefence audit verify --region ${chain}'`, { retriable: true });
    }
    const last = entries.at(-1);
    const first = entries[0];
    if (last === undefined || first === undefined) throw new TracefenceError('AUDIT_CHAIN_BROKEN', `the last audit object ${key} of chain ${chain} is empty`, { retriable: true });
    const { hash: _h, ...rest } = last;
    if (entryHash(rest) !== last.hash || last.chain !== chain) {
      // Never extend a chain whose head does not verify: that would bless the tampering.
      throw new TracefenceError('AUDIT_CHAIN_BROKEN', `the last audit object ${key} of chain ${chain} does not verify; run 'tracefence audit verify --region ${chain}'`, { retriable: true });
    }
    // A sink that stopped between the object and its checkpoint left this one to write.
    const cp = checkpointOf(key, sha256Hex(got.body), first, last, now());
    const cpKey = checkpointKey(chain, last.seq);
    if ((await retryWithinBudget(() => store.access.store.readMetadata(cpKey), retry('checkpoint head', chain))) === undefined) {
      await retryWithinBudget(
        () => store.access.store.putIfAbsent({ key: cpKey, body: Buffer.from(JSON.stringify(cp, null, 2) + '\n'), contentType: 'application/json', metadata: { [AUDIT_META.chain]: chain } }),
        retry('checkpoint', chain),
      );
      log.warn({ chain, object: key }, 'wrote the missing checkpoint of the last audit object');
    }
    const partition = Number(got.metadata[AUDIT_META.partition] ?? last.source.partition);
    const lastOffsetRaw = got.metadata[AUDIT_META.lastOffset] ?? last.source.offset;
    deps.metrics.chainSeq.set({ chain }, last.seq);
    log.info({ chain, seq: last.seq, object: key }, 'chain head recovered');
    return { head: { seq: last.seq, hash: last.hash }, partition, lastOffset: /^\d+$/.test(lastOffsetRaw) ? BigInt(lastOffsetRaw) : undefined };
  }

  function pending(st: ChainState, partition: number, items: readonly Item[]): Item[] {
    if (st.partition !== partition || st.lastOffset === undefined) return [...items];
    const through = st.lastOffset;
    return items.filter((i) => BigInt(i.source.offset) > through);
  }

  async function writeChain(chain: string, partition: number, items: readonly Item[], heartbeat: () => Promise<void>): Promise<void> {
    const store = deps.chains.get(chain);
    if (store === undefined) throw new TracefenceError('INTERNAL', `no store for chain ${chain}`);
    await checkGuard(chain, store);
    let st = state.get(chain) ?? (await recover(chain, store));
    state.set(chain, st);
    let todo = pending(st, partition, items);
    let conflicts = 0;
    while (todo.length > 0) {
      const slice = todo.slice(0, o.maxEventsPerObject);
      const { entries, head } = appendToChain(chain, st.head, slice);
      const enc = encodeAuditObject(entries, now());
      const started = process.hrtime.bigint();
      const outcome = await retryWithinBudget(
        () => store.access.store.putIfAbsent({ key: enc.key, body: enc.body, contentType: 'application/gzip', metadata: enc.metadata }),
        retry('put', chain),
      );
      if (outcome === 'exists') {
        // A replay, or another writer got there first: the bucket is the truth.
        deps.metrics.conflicts.inc({ chain });
        conflicts += 1;
        if (conflicts > CONFLICT_ATTEMPTS) throw new TracefenceError('STORAGE_UNAVAILABLE', `chain ${chain}: object ${enc.key} keeps existing; another writer?`, { retriable: true });
        log.info({ chain, key: enc.key }, 'audit object already exists; reloading the chain head');
        st = await recover(chain, store);
        state.set(chain, st);
        todo = pending(st, partition, todo);
        continue;
      }
      await retryWithinBudget(
        () =>
          store.access.store.putIfAbsent({ key: enc.checkpoint.key, body: enc.checkpoint.body, contentType: 'application/json', metadata: { [AUDIT_META.chain]: chain } }),
        retry('checkpoint', chain),
      );
      deps.metrics.uploadSeconds.observe({ chain }, Number(process.hrtime.bigint() - started) / 1e9);
      deps.metrics.objects.inc({ chain, bucket: store.access.bucket });
      deps.metrics.events.inc({ chain }, entries.length);
      deps.metrics.chainSeq.set({ chain }, head.seq);
      const lastItem = slice.at(-1);
      st = { head, partition, lastOffset: lastItem === undefined ? st.lastOffset : BigInt(lastItem.source.offset) };
      state.set(chain, st);
      todo = todo.slice(slice.length);
      log.debug({ chain, key: enc.key, events: entries.length }, 'audit object written');
      await heartbeat();
    }
  }

  async function onBatch(p: EachBatchPayload): Promise<void> {
    const { batch } = p;
    const last = batch.messages.at(-1);
    if (last === undefined || stopping) return;
    const groups = new Map<string, Item[]>();
    for (const message of batch.messages) {
      const source: EntrySource = { topic: batch.topic, partition: batch.partition, offset: message.offset };
      let event: AuditEvent | undefined;
      try {
        event = deps.codec.decode(message.value ?? Buffer.alloc(0), headerString(message.headers, HEADERS.schema));
      } catch {
        event = undefined;
      }
      const chain = chainOf(message, event);
      if (event === undefined) {
        deps.metrics.undecodable.inc({ chain });
        log.warn({ chain, partition: batch.partition, offset: message.offset }, 'audit record cannot be decoded; chained as UNKNOWN with its hash');
      }
      const list = groups.get(chain) ?? [];
      list.push({ event: event ?? undecodable(message, source), source });
      groups.set(chain, list);
    }
    for (const [chain, items] of groups) {
      if (stopping || !p.isRunning() || p.isStale()) return;
      try {
        await writeChain(chain, batch.partition, items, p.heartbeat);
      } catch (err) {
        // Forget the head: the next attempt recovers it from the bucket.
        state.delete(chain);
        deps.metrics.writeFailures.inc({ chain });
        log.error({ chain, partition: batch.partition, err: describeError(err) }, 'audit events not stored; will retry');
        throw isTracefenceError(err) ? err : new TracefenceError('INTERNAL', describeError(err), { retriable: true, cause: err });
      }
    }
    if (stopping || p.isStale()) return;
    p.resolveOffset(last.offset);
    const next = (BigInt(last.offset) + 1n).toString();
    try {
      await consumer?.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
    } catch (err) {
      // Usually a rebalance: the next owner replays from the older commit and skips via the bucket.
      log.warn({ partition: batch.partition, offset: next, err: describeError(err) }, 'offset commit failed');
    }
  }

  return {
    async start() {
      const c = deps.kafka.consumer({
        groupId: o.groupId,
        readUncommitted: false,
        sessionTimeout: o.sessionTimeoutMs,
        heartbeatInterval: Math.max(500, Math.floor(o.sessionTimeoutMs / 10)),
        allowAutoTopicCreation: false,
        maxWaitTimeInMs: o.lingerMs,
        minBytes: o.fetchMinBytes,
      });
      consumer = c;
      c.on(c.events.GROUP_JOIN, (e) => {
        // New generation: heads are reloaded from the buckets, never carried over.
        state.clear();
        assigned = (e.payload.memberAssignment[o.topic] ?? []).slice().sort((a, b) => a - b);
        log.info({ assigned }, 'audit partitions assigned');
      });
      c.on(c.events.CRASH, (e) => {
        state.clear();
        log.error({ err: describeError(e.payload.error), restart: e.payload.restart }, 'audit consumer crashed');
        if (!e.payload.restart && !stopping) deps.onFatal?.(e.payload.error);
      });
      await c.connect();
      await c.subscribe({ topics: [o.topic], fromBeginning: true });
      await c.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 4, eachBatch: onBatch });
      running = true;
      log.info({ groupId: o.groupId, chains: [...deps.chains.keys()] }, 'audit sink started');
    },
    close() {
      closed ??= (async () => {
        stopping = true;
        try {
          await consumer?.disconnect();
        } catch (err) {
          log.warn({ err: describeError(err) }, 'consumer disconnect failed');
        }
        for (const s of new Set([...deps.chains.values()].map((c) => c.access))) s.close();
        running = false;
        log.info('audit sink stopped');
      })();
      return closed;
    },
    ready() {
      return running && !stopping && [...verdicts.values()].every((v) => v.ok);
    },
    status() {
      const chains: AuditSinkStatus['chains'] = {};
      for (const [name, store] of deps.chains) {
        chains[name] = { seq: state.get(name)?.head.seq, guardOk: verdicts.get(`${store.target.region.name}/${store.access.bucket}`)?.ok };
      }
      return { assigned, chains };
    },
  };
}
