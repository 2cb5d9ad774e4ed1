/**
 * Decides the fate of one ingest record: exactly one of region topic, hold, or dead letter,
 * plus one audit event. Pure apart from the injected verifier, so it is tested without Kafka;
 * the Kafka loop (policy-worker.ts) writes the outcome in one transaction with the offset.
 */
import { randomUUID } from 'node:crypto';
import { sha256Hex } from '../shared/sha256.js';
import type { AuditEvent, Codec, DeadLetter, HeldTrace, ReasoningTrace } from '../shared/avro/index.js';
import { TracefenceError, type ErrorCode } from '../shared/errors.js';
import { HEADERS, headerString, type HeaderValue } from '../shared/record-headers.js';
import { decideJurisdiction } from '../policy/decide-jurisdiction.js';
import { getRegion, getTenant } from '../policy/load-policy.js';
import type { Policy } from '../policy/policy-types.js';
import type { TraceScrubber } from './trace-scrubber.js';

export interface VerifiedIdentity {
  subject: string;
  tenant: string;
  agent: string;
  groups: readonly string[];
}

export interface IdentityVerifier {
  /** Verifies at the record's broker timestamp; throws TracefenceError with an AUTH_* code. */
  verify(token: string, atMs: number): Promise<VerifiedIdentity>;
}

export interface IngestRecord {
  topic: string;
  partition: number;
  offset: string;
  /** Broker-assigned (LogAppendTime) timestamp in ms. */
  timestampMs: number;
  headers: Readonly<Record<string, HeaderValue>>;
  value: Buffer | null;
}

export interface OutboundRecord {
  topic: string;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

export type OutcomeKind = 'routed' | 'held' | 'dead-lettered';

export interface Outcome {
  kind: OutcomeKind;
  region: string | null;
  reasonCode: string | null;
  findingCounts: Record<string, number>;
  /** The decision record and its audit event, written together. */
  records: OutboundRecord[];
}

export interface TopicNames {
  held: string;
  deadLetter: string;
  audit: string;
}

export interface RecordProcessorDeps {
  policy: Policy;
  verifier: IdentityVerifier;
  traceCodec: Codec<ReasoningTrace>;
  heldCodec: Codec<HeldTrace>;
  deadLetterCodec: Codec<DeadLetter>;
  auditCodec: Codec<AuditEvent>;
  /** Scrubber for a tenant's masking profile and pseudonym key. */
  scrubberFor: (tenant: string) => TraceScrubber;
  /** Finding type -> masking op name, for the audit event. */
  maskingOpsFor: (tenant: string) => (type: string) => string;
  topics: TopicNames;
  maxRecordBytes: number;
  now?: () => number;
  /** Told about a fault that dead-lettered a record after decoding (for logs; the error may quote data, so log its code or name only). */
  onUnexpected?: (err: unknown) => void;
}

export interface RecordProcessor {
  process(record: IngestRecord): Promise<Outcome>;
}

const sha256 = sha256Hex;

const RECORD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TRACE_ID = /^[0-9a-f]{32}$/i;

/** A schema fingerprint: the only shape of tf-schema text that is copied downstream. */
const FINGERPRINT = /^[0-9a-f]{64}$/i;

/**
 * The producer controls the tf-schema header, so its text is echoed only when it has the shape
 * of a fingerprint; anything else could carry a value that must not leave the ingest topic.
 */
function safeSchemaHeader(record: IngestRecord): string | null {
  const text = headerString(record.headers, HEADERS.schema);
  if (text === undefined || text === '') return null;
  return FINGERPRINT.test(text) ? text.toLowerCase() : '(not a fingerprint)';
}

export function createRecordProcessor(deps: RecordProcessorDeps): RecordProcessor {
  const now = deps.now ?? Date.now;
  const policyVersion = deps.policy.version;

  const audit = (fields: Omit<AuditEvent, 'eventId' | 'policyVersion' | 'occurredAtMs' | 'prevHash' | 'actor' | 'bucket' | 'objectKey' | 'bucketLocation'>): OutboundRecord => {
    const event: AuditEvent = {
      eventId: randomUUID(),
      ...fields,
      policyVersion,
      occurredAtMs: now(),
      prevHash: null,
      actor: null,
      bucket: null,
      objectKey: null,
      bucketLocation: null,
    };
    const { payload, fingerprint } = deps.auditCodec.encode(event);
    return {
      topic: deps.topics.audit,
      // Keyed by region so each region's chain stays in one partition, in order.
      key: event.region ?? 'none',
      value: payload,
      headers: { [HEADERS.schema]: fingerprint, [HEADERS.recordId]: event.recordId, ...(event.tenant === '' ? {} : { [HEADERS.tenant]: event.tenant }) },
    };
  };

  const deadLetter = (
    record: IngestRecord,
    code: ErrorCode | string,
    message: string,
    context: { fieldPath?: string | undefined; recordId?: string; traceId?: string; tenant?: string; subject?: string; agent?: string; findingCounts?: Record<string, number> },
  ): Outcome => {
    const envelope: DeadLetter = {
      reasonCode: code,
      fieldPath: context.fieldPath ?? null,
      message,
      sourceTopic: record.topic,
      sourcePartition: record.partition,
      sourceOffset: Number(record.offset),
      recordId: context.recordId ?? null,
      tenant: context.tenant ?? null,
      sourceSchema: safeSchemaHeader(record),
      failedAtMs: now(),
      // Unclassified payloads are not kept (invariant 3: stored encrypted or not at all).
      encryptedPayload: null,
    };
    const { payload, fingerprint } = deps.deadLetterCodec.encode(envelope);
    const sourceRef = `${record.topic}/${record.partition}/${record.offset}`;
    return {
      kind: 'dead-lettered',
      region: null,
      reasonCode: code,
      findingCounts: context.findingCounts ?? {},
      records: [
        {
          topic: deps.topics.deadLetter,
          key: context.recordId ?? sourceRef,
          value: payload,
          headers: { [HEADERS.schema]: fingerprint, [HEADERS.reason]: code, ...(context.tenant === undefined ? {} : { [HEADERS.tenant]: context.tenant }) },
        },
        audit({
          recordId: context.recordId ?? sourceRef,
          traceId: context.traceId ?? '',
          tenant: context.tenant ?? '',
          subject: context.subject ?? '',
          agent: context.agent ?? '',
          decision: 'DEAD_LETTERED',
          region: null,
          reasonCode: code,
          findingCounts: context.findingCounts ?? {},
          maskingApplied: {},
          contentHash: sha256(payload),
        }),
      ],
    };
  };

  return {
    async process(record) {
      if (record.value === null || record.value.length === 0) {
        return deadLetter(record, 'RECORD_MALFORMED', 'the record has no value', {});
      }
      if (record.value.length > deps.maxRecordBytes) {
        return deadLetter(record, 'RECORD_TOO_LARGE', `the record is ${record.value.length} bytes; the limit is ${deps.maxRecordBytes}`, {});
      }

      // 1. Authenticate: identity comes from the token, checked at broker time.
      const token = headerString(record.headers, HEADERS.accessToken);
      if (token === undefined || token === '') {
        return deadLetter(record, 'AUTH_TOKEN_MISSING', `the record has no ${HEADERS.accessToken} header`, {});
      }
      let identity: VerifiedIdentity;
      try {
        identity = await deps.verifier.verify(token, record.timestampMs);
      } catch (err) {
        if (err instanceof TracefenceError && !err.retriable) return deadLetter(record, err.code, err.message, {});
        throw err; // retriable (issuer unreachable) or unexpected: do not commit, try again
      }
      const who = { tenant: identity.tenant, subject: identity.subject, agent: identity.agent };

      // 2. Decode against the writer schema named in the header.
      let trace: ReasoningTrace;
      try {
        trace = deps.traceCodec.decode(record.value, headerString(record.headers, HEADERS.schema));
      } catch (err) {
        if (!(err instanceof TracefenceError)) throw err;
        // The codec quotes an unknown header; only a fingerprint-shaped one may be repeated.
        const message =
          err.code === 'SCHEMA_UNKNOWN' && safeSchemaHeader(record) === '(not a fingerprint)' ? 'the record names a writer schema that is not a fingerprint' : err.message;
        return deadLetter(record, err.code, message, { ...who, fieldPath: err.path });
      }
      // The ids are copied into keys, headers and audit events unscanned: they must have their documented shape.
      if (!RECORD_ID.test(trace.recordId)) return deadLetter(record, 'RECORD_MALFORMED', 'recordId is not a UUID', { ...who, fieldPath: 'recordId' });
      if (!TRACE_ID.test(trace.traceId)) return deadLetter(record, 'RECORD_MALFORMED', 'traceId is not 32 hex characters', { ...who, fieldPath: 'traceId' });
      const ids = { recordId: trace.recordId, traceId: trace.traceId };
      try {

        // Identity is bound from the token: a payload naming someone else is refused.
        if (trace.tenant !== '' && trace.tenant !== identity.tenant) {
          return deadLetter(record, 'IDENTITY_MISMATCH', 'the payload names a tenant other than the verified token', { ...who, ...ids, fieldPath: 'tenant' });
        }
        if (trace.agent !== '' && trace.agent !== identity.agent) {
          return deadLetter(record, 'IDENTITY_MISMATCH', 'the payload names an agent other than the verified token', { ...who, ...ids, fieldPath: 'agent' });
        }
        if (getTenant(deps.policy, identity.tenant) === undefined) {
          return deadLetter(record, 'POLICY_TENANT_UNKNOWN', 'the verified tenant has no entry in the policy', { ...who, ...ids });
        }

        // 3. Classify and mask every string.
        const { trace: masked, findingCounts } = deps.scrubberFor(identity.tenant).scrub({ ...trace, tenant: identity.tenant, agent: identity.agent });
        const opOf = deps.maskingOpsFor(identity.tenant);
        const maskingApplied = Object.fromEntries(Object.keys(findingCounts).map((t) => [t, opOf(t)]));

        // 4. Decide the jurisdiction; fail closed.
        const decision = decideJurisdiction({
          policy: deps.policy,
          tenant: identity.tenant,
          groups: identity.groups,
          declaredRegion: trace.dataSubjectRegion ?? undefined,
          residencyHint: trace.residencyHint ?? undefined,
          findingCounts,
        });

        if (decision.kind === 'refuse') {
          return deadLetter(record, decision.reasonCode, decision.reason, { ...who, ...ids, findingCounts });
        }

        const encodedTrace = deps.traceCodec.encode(masked);
        const common = {
          ...ids,
          ...who,
          findingCounts,
          maskingApplied,
        };

        if (decision.kind === 'hold') {
          const held: HeldTrace = {
            trace: masked,
            tenant: identity.tenant,
            subject: identity.subject,
            holdReasonCode: decision.reasonCode,
            holdReason: decision.reason,
            findings: findingCounts,
            candidateRegions: [...decision.candidateRegions],
            policyVersion,
            heldAtMs: BigInt(now()),
          };
          const { payload, fingerprint } = deps.heldCodec.encode(held);
          // A hold whose candidates share one region is audited in that region's chain.
          const region = decision.candidateRegions.length === 1 ? (decision.candidateRegions[0] ?? null) : null;
          return {
            kind: 'held',
            region: null,
            reasonCode: decision.reasonCode,
            findingCounts,
            records: [
              {
                topic: deps.topics.held,
                key: trace.recordId,
                value: payload,
                headers: { [HEADERS.schema]: fingerprint, [HEADERS.tenant]: identity.tenant, [HEADERS.recordId]: trace.recordId, [HEADERS.policyVersion]: policyVersion },
              },
              audit({ ...common, decision: 'HELD', region, reasonCode: decision.reasonCode, contentHash: sha256(encodedTrace.payload) }),
            ],
          };
        }

        const region = getRegion(deps.policy, decision.region);
        if (region === undefined) throw new TracefenceError('INTERNAL', `policy resolved unknown region ${decision.region}`);
        return {
          kind: 'routed',
          region: region.name,
          reasonCode: null,
          findingCounts,
          records: [
            {
              topic: region.topic,
              key: trace.traceId,
              value: encodedTrace.payload,
              headers: {
                [HEADERS.schema]: encodedTrace.fingerprint,
                [HEADERS.tenant]: identity.tenant,
                [HEADERS.recordId]: trace.recordId,
                [HEADERS.policyVersion]: policyVersion,
              },
            },
            audit({ ...common, decision: 'ROUTED', region: region.name, reasonCode: null, contentHash: sha256(encodedTrace.payload) }),
          ],
        };
      } catch (err) {
        // Retriable faults are retried (the chunk is not committed). Anything else would fail
        // again on every retry and stop the partition: dead-letter it with its code instead.
        if (err instanceof TracefenceError && err.retriable) throw err;
        deps.onUnexpected?.(err);
        const code = err instanceof TracefenceError ? err.code : 'INTERNAL';
        const message = err instanceof TracefenceError ? err.message : 'the record could not be processed (internal fault)';
        // The classifier's paths run through JSON the producer wrote: its keys are unmasked content.
        const fieldPath = err instanceof TracefenceError && err.code !== 'SCAN_INPUT_INVALID' ? err.path : undefined;
        return deadLetter(record, code, message, { ...who, ...ids, fieldPath });
      }
    },
  };
}
