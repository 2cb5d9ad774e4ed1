/**
 * OTLP/HTTP trace receiver as a node:http request handler (built here, listened to by main.ts,
 * tested in-process). `POST /v1/traces` with an OTLP ExportTraceServiceRequest in protobuf or
 * OTLP/JSON, optionally gzip-compressed, and the agent's access token as a Bearer credential.
 *
 * Per request: authenticate the token (now), read the body within limits, decode, keep the GenAI
 * spans, group them by trace id, map each group to one ReasoningTrace bound to the VERIFIED tenant
 * and agent, encode it (Avro) and produce all of them with the caller's token and the schema
 * fingerprint as headers. Answers follow the OTLP specification: 200 with an
 * ExportTraceServiceResponse (partial_success when some spans were rejected), 400 for bad data,
 * 401, 413, 415, and 429/503 with Retry-After when the sender should come back later. A refused
 * request produces nothing.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { OtelSpan } from '../agent-sdk/otel-types.js';
import { mapOtelSpans } from '../agent-sdk/otel-genai-mapper.js';
import { createCodec, type Codec, type ReasoningTrace } from '../shared/avro/index.js';
import { TracefenceError, type ErrorCode } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { HEADERS } from '../shared/record-headers.js';
import type { VerifiedIdentity } from '../policy/token-verifier.js';
import type { IngestPublisher, IngestRecord } from './ingest-publisher.js';
import { decodeOtlpJson, decodeOtlpProtobuf, type DecodedExport, type RejectedSpan } from './otlp-request-decoder.js';
import { encodeExportResponseJson, encodeExportResponseProto, encodeStatusJson, encodeStatusProto, type PartialSuccess } from './otlp-schema.js';
import type { ReceiverMetrics } from './receiver-metrics.js';

const gunzipAsync = promisify(gunzip);

export const TRACES_PATH = '/v1/traces';

/** Resource attributes (or request headers) an agent uses to declare residency; policy checks them. */
export const RESIDENCY_ATTRIBUTES = Object.freeze({ dataSubjectRegion: 'tracefence.data_subject_region', residencyHint: 'tracefence.residency_hint' });
export const RESIDENCY_HEADERS = Object.freeze({ dataSubjectRegion: 'tracefence-data-subject-region', residencyHint: 'tracefence-residency-hint' });
const REGION_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;

export interface ReceiverLimits {
  /** Body as received (compressed or not); default 4 MiB. */
  maxBodyBytes: number;
  /** Body after gzip decompression; default 8 MiB. */
  maxInflatedBytes: number;
  /** Spans per request; default 10000. */
  maxSpans: number;
  /** Nesting of array/kvlist attribute values; default 16. */
  maxValueDepth: number;
}

export const DEFAULT_RECEIVER_LIMITS: Readonly<ReceiverLimits> = Object.freeze({
  maxBodyBytes: 4 * 1024 * 1024,
  maxInflatedBytes: 8 * 1024 * 1024,
  maxSpans: 10_000,
  maxValueDepth: 16,
});

export interface ReceiverDeps {
  /** Verifies the caller's token (createTokenVerifier). */
  verifier: { verify(token: string, atMs: number): Promise<VerifiedIdentity> };
  publisher: Pick<IngestPublisher, 'publish'>;
  /** Default: createCodec('reasoning-trace'). */
  codec?: Codec<ReasoningTrace>;
  metrics?: ReceiverMetrics;
  logger?: Logger;
  limits?: Partial<ReceiverLimits>;
  /** Seconds in Retry-After on 429 and 503; default 5. */
  retryAfterSec?: number;
  /** Forward spans without GenAI/OpenInference attributes too; default false (they are dropped). */
  acceptAllSpans?: boolean;
  /** Epoch ms; default Date.now. */
  now?: () => number;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

type Format = 'protobuf' | 'json';

/** HTTP status and google.rpc.Code per error code. */
const GRPC = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly grpcCode: number,
    readonly reason: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

function isGenAiSpan(span: OtelSpan): boolean {
  for (const key of Object.keys(span.attributes)) {
    if (key.startsWith('gen_ai.') || key.startsWith('llm.') || key === 'openinference.span.kind') return true;
  }
  return (span.events ?? []).some((e) => e.name.startsWith('gen_ai.'));
}

/** Stable record id for one trace group, so a retried export yields the same idempotency key (UUID v8 layout). */
function recordIdFor(tenant: string, agent: string, traceId: string, spans: readonly OtelSpan[]): string {
  const h = createHash('sha256').update(`${tenant}\n${agent}\n${traceId}\n`);
  for (const s of [...spans].sort((a, b) => (a.spanId < b.spanId ? -1 : a.spanId > b.spanId ? 1 : 0))) {
    h.update(`${s.spanId}:${s.startTimeUnixNano}:${s.endTimeUnixNano}\n`);
  }
  const b = h.digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const x = b.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

function summarise(rejected: readonly RejectedSpan[], total: number): string {
  const shown = rejected.slice(0, 3).map((r) => `${r.path}: ${r.reason}`);
  const more = rejected.length > shown.length ? `; and ${rejected.length - shown.length} more` : '';
  const text = `${rejected.length} of ${total} spans rejected: ${shown.join('; ')}${more}`;
  return text.length > 1024 ? `${text.slice(0, 1021)}...` : text;
}

function formatOf(contentType: string | undefined): Format | undefined {
  const mime = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (mime === 'application/x-protobuf' || mime === 'application/protobuf') return 'protobuf';
  if (mime === 'application/json') return 'json';
  return undefined;
}

function headerOne(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function bearerToken(req: IncomingMessage): string | undefined {
  const m = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(headerOne(req, 'authorization') ?? '');
  return m?.[1];
}

/** Reads the body up to `max` bytes; beyond that it stops collecting and reports the overflow. */
function readBody(req: IncomingMessage, max: number): Promise<{ body: Buffer; overflow: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let overflow = false;
    req.on('data', (chunk: Buffer) => {
      if (overflow) return;
      size += chunk.length;
      if (size > max) {
        overflow = true;
        chunks.length = 0;
        resolve({ body: Buffer.alloc(0), overflow: true });
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!overflow) resolve({ body: Buffer.concat(chunks, size), overflow: false });
    });
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('request aborted'));
    });
  });
}

export function buildApp(deps: ReceiverDeps): RequestHandler {
  const limits: ReceiverLimits = { ...DEFAULT_RECEIVER_LIMITS, ...deps.limits };
  const codec = deps.codec ?? createCodec('reasoning-trace');
  const retryAfter = String(deps.retryAfterSec ?? 5);
  const now = deps.now ?? Date.now;
  const { metrics, logger } = deps;
  // Bytes of a refused request we still read (and drop) so the client sees our answer, not a reset.
  const maxDrainBytes = limits.maxBodyBytes * 4;

  const authenticate = async (req: IncomingMessage): Promise<{ token: string; identity: VerifiedIdentity }> => {
    const token = bearerToken(req);
    if (token === undefined) {
      throw new Refusal(401, GRPC.UNAUTHENTICATED, 'AUTH_TOKEN_MISSING', 'an access token is required (Authorization: Bearer <token>)', {
        'www-authenticate': 'Bearer realm="tracefence-otlp"',
      });
    }
    try {
      return { token, identity: await deps.verifier.verify(token, now()) };
    } catch (err) {
      if (err instanceof TracefenceError && err.code === 'AUTH_ISSUER_UNREACHABLE') {
        throw new Refusal(503, GRPC.UNAVAILABLE, err.code, 'the token issuer keys are unavailable; retry later', { 'retry-after': retryAfter });
      }
      if (err instanceof TracefenceError && err.code.startsWith('AUTH_')) {
        const description = err.message.replace(/["\\]/g, "'");
        throw new Refusal(401, GRPC.UNAUTHENTICATED, err.code, `access token refused: ${err.message}`, {
          'www-authenticate': `Bearer realm="tracefence-otlp", error="invalid_token", error_description="${description}"`,
        });
      }
      throw err;
    }
  };

  const residencyHeader = (req: IncomingMessage, name: string): string | undefined => {
    const v = headerOne(req, name);
    if (v === undefined || v === '') return undefined;
    if (!REGION_PATTERN.test(v)) throw new Refusal(400, GRPC.INVALID_ARGUMENT, 'OTLP_REQUEST_INVALID', `header ${name} must be a region name (a-z, 0-9, -; up to 32)`);
    return v;
  };

  const decode = async (req: IncomingMessage, body: Buffer, format: Format): Promise<DecodedExport> => {
    let raw = body;
    if (/gzip/i.test(headerOne(req, 'content-encoding') ?? '')) {
      try {
        raw = await gunzipAsync(body, { maxOutputLength: limits.maxInflatedBytes });
      } catch (err) {
        if (err instanceof RangeError || (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
          throw new Refusal(413, GRPC.INVALID_ARGUMENT, 'RECORD_TOO_LARGE', `the decompressed body exceeds ${limits.maxInflatedBytes} bytes`);
        }
        throw new Refusal(400, GRPC.INVALID_ARGUMENT, 'OTLP_REQUEST_INVALID', 'the gzip body is corrupt or truncated');
      }
    }
    const decodeLimits = { maxSpans: limits.maxSpans, maxValueDepth: limits.maxValueDepth };
    if (format === 'protobuf') return decodeOtlpProtobuf(raw, decodeLimits);
    return decodeOtlpJson(raw.toString('utf8'), decodeLimits);
  };

  /** Maps and encodes each trace group; a group that cannot become a record is rejected with its spans. */
  const toRecords = (
    spans: readonly OtelSpan[],
    identity: VerifiedIdentity,
    token: string,
    defaults: { dataSubjectRegion: string | undefined; residencyHint: string | undefined },
    rejected: RejectedSpan[],
  ): IngestRecord[] => {
    const groups = new Map<string, OtelSpan[]>();
    for (const s of spans) {
      const g = groups.get(s.traceId);
      if (g) g.push(s);
      else groups.set(s.traceId, [s]);
    }
    const records: IngestRecord[] = [];
    for (const [traceId, group] of groups) {
      const reject = (reason: string): void => {
        rejected.push(...group.map((s) => ({ path: `trace ${traceId} span ${s.spanId}`, reason })));
      };
      const declared = (attr: string, fallback: string | undefined): string | undefined | Error => {
        const values = new Set<string>();
        for (const s of group) {
          const v = s.resource?.[attr];
          if (v === undefined || v === null) continue;
          if (typeof v !== 'string' || !REGION_PATTERN.test(v)) return new Error(`resource attribute ${attr} must be a region name`);
          values.add(v);
        }
        if (values.size > 1) return new Error(`the spans of this trace disagree on ${attr}`);
        return values.values().next().value ?? fallback;
      };
      const region = declared(RESIDENCY_ATTRIBUTES.dataSubjectRegion, defaults.dataSubjectRegion);
      const hint = declared(RESIDENCY_ATTRIBUTES.residencyHint, defaults.residencyHint);
      if (region instanceof Error || hint instanceof Error) {
        reject((region instanceof Error ? region : (hint as Error)).message);
        continue;
      }
      try {
        const [trace] = mapOtelSpans(group, {
          tenant: identity.tenant,
          agent: identity.agent,
          ...(region === undefined ? {} : { dataSubjectRegion: region }),
          ...(hint === undefined ? {} : { residencyHint: hint }),
          newRecordId: () => recordIdFor(identity.tenant, identity.agent, traceId, group),
        });
        if (trace === undefined) continue;
        const { payload, fingerprint } = codec.encode(trace);
        records.push({ key: traceId, value: payload, headers: { [HEADERS.schema]: fingerprint, [HEADERS.accessToken]: token } });
      } catch (err) {
        if (err instanceof TracefenceError && err.code === 'RECORD_TOO_LARGE') reject('the trace exceeds the record size limit; export it in smaller batches');
        else if (err instanceof TracefenceError) reject(`the trace could not be encoded (${err.code})`);
        else throw err;
      }
    }
    return records;
  };

  const publish = async (records: readonly IngestRecord[]): Promise<void> => {
    try {
      await deps.publisher.publish(records);
    } catch (err) {
      if (err instanceof TracefenceError && err.code === 'INGEST_BACKPRESSURE') {
        throw new Refusal(429, GRPC.RESOURCE_EXHAUSTED, err.code, 'the receiver is busy; retry later', { 'retry-after': retryAfter });
      }
      if (err instanceof TracefenceError && (err.code === 'KAFKA_UNAVAILABLE' || err.retriable)) {
        throw new Refusal(503, GRPC.UNAVAILABLE, err.code, 'the ingest topic is unavailable; retry later', { 'retry-after': retryAfter });
      }
      throw err;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, format: Format | undefined): Promise<{ status: number; code: string }> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== TRACES_PATH) throw new Refusal(404, GRPC.NOT_FOUND, 'NOT_FOUND', `no such endpoint; OTLP traces go to POST ${TRACES_PATH}`);
    if (req.method !== 'POST') throw new Refusal(405, GRPC.UNIMPLEMENTED, 'METHOD_NOT_ALLOWED', `${TRACES_PATH} accepts POST only`, { allow: 'POST' });

    const { token, identity } = await authenticate(req);

    if (format === undefined) {
      throw new Refusal(415, GRPC.INVALID_ARGUMENT, 'OTLP_MEDIA_TYPE_UNSUPPORTED', 'Content-Type must be application/x-protobuf or application/json');
    }
    const encoding = (headerOne(req, 'content-encoding') ?? 'identity').trim().toLowerCase();
    if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'x-gzip') {
      throw new Refusal(415, GRPC.INVALID_ARGUMENT, 'OTLP_MEDIA_TYPE_UNSUPPORTED', 'Content-Encoding must be gzip or absent');
    }
    const defaults = {
      dataSubjectRegion: residencyHeader(req, RESIDENCY_HEADERS.dataSubjectRegion),
      residencyHint: residencyHeader(req, RESIDENCY_HEADERS.residencyHint),
    };
    const declaredLength = Number(headerOne(req, 'content-length') ?? '0');
    if (declaredLength > limits.maxBodyBytes) {
      throw new Refusal(413, GRPC.INVALID_ARGUMENT, 'RECORD_TOO_LARGE', `the request body exceeds ${limits.maxBodyBytes} bytes`);
    }
    const { body, overflow } = await readBody(req, limits.maxBodyBytes);
    if (overflow) throw new Refusal(413, GRPC.INVALID_ARGUMENT, 'RECORD_TOO_LARGE', `the request body exceeds ${limits.maxBodyBytes} bytes`);
    metrics?.requestBytes.observe(body.length);

    const decoded = await decode(req, body, format);
    const rejected = [...decoded.rejected];
    const kept = deps.acceptAllSpans === true ? decoded.spans : decoded.spans.filter(isGenAiSpan);
    const ignored = decoded.spans.length - kept.length;
    const records = toRecords(kept, identity, token, defaults, rejected);
    if (rejected.length > 0 && records.length === 0) {
      metrics?.spansRejected.inc(rejected.length);
      throw new Refusal(400, GRPC.INVALID_ARGUMENT, 'OTLP_REQUEST_INVALID', summarise(rejected, decoded.totalSpans));
    }
    await publish(records);

    metrics?.spansAccepted.inc(kept.length - rejected.length + decoded.rejected.length);
    metrics?.spansRejected.inc(rejected.length);
    metrics?.spansIgnored.inc(ignored);
    metrics?.tracesProduced.inc(records.length);
    const partial: PartialSuccess | undefined = rejected.length > 0 ? { rejectedSpans: rejected.length, errorMessage: summarise(rejected, decoded.totalSpans) } : undefined;
    const body200 = format === 'protobuf' ? encodeExportResponseProto(partial) : encodeExportResponseJson(partial);
    reply(res, 200, format, body200, {});
    logger?.debug(
      { tenant: identity.tenant, agent: identity.agent, tokenHash: identity.tokenHash, spans: decoded.totalSpans, rejected: rejected.length, ignored, traces: records.length },
      'otlp export accepted',
    );
    return { status: 200, code: partial === undefined ? 'ok' : 'partial' };
  };

  return (req, res) => {
    const started = process.hrtime.bigint();
    const format = formatOf(headerOne(req, 'content-type'));
    const finish = (status: number, code: string): void => {
      metrics?.requests.inc({ status: String(status), format: format ?? 'other', code });
      metrics?.duration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    };
    handle(req, res, format)
      .then(({ status, code }) => finish(status, code))
      .catch((err: unknown) => {
        let refusal: Refusal;
        if (err instanceof Refusal) refusal = err;
        else if (err instanceof TracefenceError && err.code === 'OTLP_REQUEST_INVALID') refusal = new Refusal(400, GRPC.INVALID_ARGUMENT, err.code, err.message);
        else if (err instanceof TracefenceError && err.code === 'RECORD_TOO_LARGE') refusal = new Refusal(413, GRPC.INVALID_ARGUMENT, err.code, err.message);
        else {
          const code: ErrorCode = err instanceof TracefenceError ? err.code : 'INTERNAL';
          logger?.error({ code, err: err instanceof Error ? err.message : String(err) }, 'otlp export failed');
          refusal = new Refusal(500, GRPC.INTERNAL, code, 'internal error');
        }
        if (refusal.status >= 500) logger?.warn({ status: refusal.status, code: refusal.reason }, 'otlp export refused');
        else logger?.debug({ status: refusal.status, code: refusal.reason }, 'otlp export refused');
        refuse(req, res, refusal, format, maxDrainBytes);
        finish(refusal.status, refusal.reason);
      });
  };
}

function reply(res: ServerResponse, status: number, format: Format | undefined, body: string | Uint8Array, headers: Readonly<Record<string, string>>): void {
  if (res.headersSent) return;
  res.writeHead(status, {
    ...headers,
    'content-type': format === 'protobuf' ? 'application/x-protobuf' : 'application/json',
    'content-length': String(typeof body === 'string' ? Buffer.byteLength(body) : body.length),
  });
  res.end(body);
}

/**
 * Answers a refused request with a google.rpc.Status body in the request's format. A body not
 * read yet is drained (up to a cap) first, so the client gets the answer rather than a reset;
 * past the cap the connection is closed.
 */
function refuse(req: IncomingMessage, res: ServerResponse, r: Refusal, format: Format | undefined, maxDrainBytes: number): void {
  const status = { code: r.grpcCode, message: r.message, reason: r.reason };
  const body = format === 'protobuf' ? encodeStatusProto(status) : encodeStatusJson(status);
  if (req.complete || req.readableEnded) {
    reply(res, r.status, format, body, r.headers);
    return;
  }
  const declared = Number(headerOne(req, 'content-length') ?? 'NaN');
  if (Number.isFinite(declared) && declared > maxDrainBytes) {
    reply(res, r.status, format, body, { ...r.headers, connection: 'close' });
    return;
  }
  let drained = 0;
  const done = (close: boolean): void => {
    req.removeAllListeners('data');
    reply(res, r.status, format, body, close ? { ...r.headers, connection: 'close' } : r.headers);
  };
  req.removeAllListeners('data');
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > maxDrainBytes) done(true);
  });
  req.once('end', () => done(false));
  req.once('error', () => res.destroy());
  req.resume();
}
