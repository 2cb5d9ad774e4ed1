/**
 * Decodes an OTLP ExportTraceServiceRequest (protobuf or OTLP/JSON) into the wire-independent
 * OtelSpan structures the GenAI mapper reads. A request that cannot be decoded at all throws
 * OTLP_REQUEST_INVALID (HTTP 400); a span that is unusable on its own (bad ids, timestamps out of
 * range, values nested too deep) is rejected with a reason and its position, and the others go on.
 * Reasons describe the problem, never echo a value: span content may be personal data.
 */
import { TracefenceError } from '../shared/errors.js';
import type { AttrValue, Attributes, OtelEvent, OtelSpan, OtelStatus } from '../agent-sdk/otel-types.js';
import { otlpSchema } from './otlp-schema.js';

export interface DecodeLimits {
  /** Spans in one request; more is refused whole (RECORD_TOO_LARGE, HTTP 413). */
  maxSpans: number;
  /** Nesting of array/kvlist attribute values. */
  maxValueDepth: number;
}

export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({ maxSpans: 10_000, maxValueDepth: 16 });

export interface RejectedSpan {
  /** Position in the request, e.g. resourceSpans[0].scopeSpans[1].spans[4]. */
  path: string;
  reason: string;
}

export interface DecodedExport {
  spans: OtelSpan[];
  rejected: RejectedSpan[];
  /** Accepted plus rejected. */
  totalSpans: number;
}

type Format = 'protobuf' | 'json';

class SpanProblem extends Error {}

const MAX_INT64 = (1n << 63n) - 1n;
const MIN_INT64 = -(1n << 63n);
const MAX_FIXED64 = (1n << 64n) - 1n;
const SPAN_KINDS: Readonly<Record<string, number>> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODES: Readonly<Record<string, 0 | 1 | 2>> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

function invalid(message: string): TracefenceError {
  return new TracefenceError('OTLP_REQUEST_INVALID', message);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * A field of a decoded message: own properties only (protobufjs puts proto3 defaults on the
 * prototype), lowerCamelCase first, then the proto field name (protobuf JSON parsers accept both).
 */
function field(obj: Record<string, unknown>, camel: string, snake?: string): unknown {
  if (Object.hasOwn(obj, camel) && obj[camel] !== null) return obj[camel];
  if (snake !== undefined && Object.hasOwn(obj, snake) && obj[snake] !== null) return obj[snake];
  return undefined;
}

function list(obj: Record<string, unknown>, camel: string, snake: string, path: string): unknown[] {
  const v = field(obj, camel, snake);
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw invalid(`${path}.${camel} must be an array`);
  return v;
}

function spanList(obj: Record<string, unknown>, camel: string, snake: string): unknown[] {
  const v = field(obj, camel, snake);
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new SpanProblem(`${camel} must be an array`);
  return v;
}

/** protobufjs Long (fixed64, int64) without depending on the long package's types. */
interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
}

function isLong(v: unknown): v is LongLike {
  return isObject(v) && typeof v.low === 'number' && typeof v.high === 'number' && typeof v.unsigned === 'boolean';
}

function longToBigInt(v: LongLike): bigint {
  const raw = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return v.unsigned ? raw : BigInt.asIntN(64, raw);
}

/** An int64/fixed64 as bigint: Long or number from protobuf, decimal string or number from JSON. */
function toBigInt(v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (isLong(v)) return longToBigInt(v);
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d{1,20}$/.test(v)) return BigInt(v);
  return undefined;
}

/** Timestamps: unsigned 64-bit on the wire, signed 64-bit (Avro long) in the record. */
function nanos(v: unknown, name: string): bigint {
  if (v === undefined) return 0n;
  const n = toBigInt(v);
  if (n === undefined) throw new SpanProblem(`${name} must be an unsigned 64-bit integer (decimal string in OTLP/JSON)`);
  if (n < 0n || n > MAX_FIXED64) throw new SpanProblem(`${name} is out of range`);
  if (n > MAX_INT64) throw new SpanProblem(`${name} is later than the year 2262`);
  return n;
}

function hexId(v: unknown, bytes: number, format: Format, name: string, required: boolean): string | undefined {
  let hex: string;
  if (format === 'protobuf') {
    if (v === undefined || (v instanceof Uint8Array && v.length === 0)) hex = '';
    else if (v instanceof Uint8Array) {
      if (v.length !== bytes) throw new SpanProblem(`${name} must be ${bytes} bytes, got ${v.length}`);
      hex = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
    } else throw new SpanProblem(`${name} must be bytes`);
  } else {
    if (v === undefined || v === '') hex = '';
    else if (typeof v === 'string' && v.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(v)) hex = v.toLowerCase();
    else throw new SpanProblem(`${name} must be ${bytes * 2} hex characters (OTLP/JSON encodes ids as hex, not base64)`);
  }
  if (hex === '') {
    if (required) throw new SpanProblem(`${name} is missing`);
    return undefined;
  }
  if (/^0+$/.test(hex)) {
    if (required) throw new SpanProblem(`${name} is all zero (invalid)`);
    return undefined;
  }
  return hex;
}

function anyValue(v: unknown, format: Format, depth: number, limits: DecodeLimits): AttrValue {
  if (depth > limits.maxValueDepth) throw new SpanProblem(`an attribute value is nested deeper than ${limits.maxValueDepth} levels`);
  if (!isObject(v)) return null;
  const s = field(v, 'stringValue', 'string_value');
  if (s !== undefined) {
    if (typeof s !== 'string') throw new SpanProblem('stringValue must be a string');
    return s;
  }
  const b = field(v, 'boolValue', 'bool_value');
  if (b !== undefined) {
    if (typeof b !== 'boolean') throw new SpanProblem('boolValue must be a boolean');
    return b;
  }
  const i = field(v, 'intValue', 'int_value');
  if (i !== undefined) {
    const n = toBigInt(i);
    if (n === undefined || n > MAX_INT64 || n < MIN_INT64) throw new SpanProblem('intValue must be a 64-bit integer');
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
  }
  const d = field(v, 'doubleValue', 'double_value');
  if (d !== undefined) {
    if (typeof d === 'number') return d;
    // Proto3 JSON spells the special values as strings.
    if (d === 'NaN' || d === 'Infinity' || d === '-Infinity') return Number(d);
    if (typeof d === 'string' && d.trim() !== '' && Number.isFinite(Number(d))) return Number(d);
    throw new SpanProblem('doubleValue must be a number');
  }
  const arr = field(v, 'arrayValue', 'array_value');
  if (arr !== undefined) {
    if (!isObject(arr)) throw new SpanProblem('arrayValue must be an object');
    return spanList(arr, 'values', 'values').map((x) => anyValue(x, format, depth + 1, limits));
  }
  const kv = field(v, 'kvlistValue', 'kvlist_value');
  if (kv !== undefined) {
    if (!isObject(kv)) throw new SpanProblem('kvlistValue must be an object');
    return keyValues(spanList(kv, 'values', 'values'), format, depth + 1, limits);
  }
  const bytes = field(v, 'bytesValue', 'bytes_value');
  if (bytes !== undefined) {
    if (bytes instanceof Uint8Array) return new Uint8Array(bytes);
    if (typeof bytes === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(bytes)) return new Uint8Array(Buffer.from(bytes, 'base64'));
    throw new SpanProblem('bytesValue must be base64');
  }
  return null;
}

/** KeyValue list to a prototype-free record (a key named __proto__ stays a plain key). */
function keyValues(items: readonly unknown[], format: Format, depth: number, limits: DecodeLimits): Record<string, AttrValue> {
  const out = Object.create(null) as Record<string, AttrValue>;
  for (const item of items) {
    if (!isObject(item)) throw new SpanProblem('an attribute is not a KeyValue object');
    const key = field(item, 'key');
    if (typeof key !== 'string' || key.length === 0) throw new SpanProblem('an attribute has no key');
    out[key] = anyValue(field(item, 'value'), format, depth, limits);
  }
  return out;
}

function statusOf(v: unknown): OtelStatus | undefined {
  if (!isObject(v)) return undefined;
  const rawCode = field(v, 'code');
  let code: 0 | 1 | 2 = 0;
  if (rawCode === 1 || rawCode === 2) code = rawCode;
  else if (typeof rawCode === 'string') code = STATUS_CODES[rawCode] ?? 0;
  const message = field(v, 'message');
  return typeof message === 'string' && message !== '' ? { code, message } : { code };
}

function kindOf(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 5) return v;
  if (typeof v === 'string') return SPAN_KINDS[v];
  return undefined;
}

function decodeSpan(raw: unknown, resource: Attributes, format: Format, limits: DecodeLimits): OtelSpan {
  if (!isObject(raw)) throw new SpanProblem('span is not an object');
  const traceId = hexId(field(raw, 'traceId', 'trace_id'), 16, format, 'traceId', true)!;
  const spanId = hexId(field(raw, 'spanId', 'span_id'), 8, format, 'spanId', true)!;
  const parentSpanId = hexId(field(raw, 'parentSpanId', 'parent_span_id'), 8, format, 'parentSpanId', false);
  const name = field(raw, 'name');
  if (name !== undefined && typeof name !== 'string') throw new SpanProblem('name must be a string');
  const events: OtelEvent[] = spanList(raw, 'events', 'events').map((e) => {
    if (!isObject(e)) throw new SpanProblem('an event is not an object');
    const evName = field(e, 'name');
    return {
      name: typeof evName === 'string' ? evName : '',
      timeUnixNano: nanos(field(e, 'timeUnixNano', 'time_unix_nano'), 'event timeUnixNano'),
      attributes: keyValues(spanList(e, 'attributes', 'attributes'), format, 0, limits),
    };
  });
  const span: OtelSpan = {
    traceId,
    spanId,
    name: name ?? '',
    startTimeUnixNano: nanos(field(raw, 'startTimeUnixNano', 'start_time_unix_nano'), 'startTimeUnixNano'),
    endTimeUnixNano: nanos(field(raw, 'endTimeUnixNano', 'end_time_unix_nano'), 'endTimeUnixNano'),
    attributes: keyValues(spanList(raw, 'attributes', 'attributes'), format, 0, limits),
    events,
    resource,
  };
  if (parentSpanId !== undefined) span.parentSpanId = parentSpanId;
  const kind = kindOf(field(raw, 'kind'));
  if (kind !== undefined) span.kind = kind;
  const status = statusOf(field(raw, 'status'));
  if (status !== undefined) span.status = status;
  return span;
}

function walk(request: unknown, format: Format, limits: DecodeLimits): DecodedExport {
  if (!isObject(request)) throw invalid('the request body must be an ExportTraceServiceRequest object');
  const out: DecodedExport = { spans: [], rejected: [], totalSpans: 0 };
  list(request, 'resourceSpans', 'resource_spans', '(request)').forEach((rs, r) => {
    const rPath = `resourceSpans[${r}]`;
    if (!isObject(rs)) throw invalid(`${rPath} must be an object`);
    let resource: Attributes = Object.create(null) as Attributes;
    const res = field(rs, 'resource');
    if (res !== undefined) {
      if (!isObject(res)) throw invalid(`${rPath}.resource must be an object`);
      try {
        resource = keyValues(list(res, 'attributes', 'attributes', `${rPath}.resource`), format, 0, limits);
      } catch (err) {
        if (err instanceof SpanProblem) throw invalid(`${rPath}.resource: ${err.message}`);
        throw err;
      }
    }
    list(rs, 'scopeSpans', 'scope_spans', rPath).forEach((ss, s) => {
      const sPath = `${rPath}.scopeSpans[${s}]`;
      if (!isObject(ss)) throw invalid(`${sPath} must be an object`);
      list(ss, 'spans', 'spans', sPath).forEach((raw, i) => {
        out.totalSpans++;
        if (out.totalSpans > limits.maxSpans) {
          throw new TracefenceError('RECORD_TOO_LARGE', `the request holds more than ${limits.maxSpans} spans; send smaller batches`);
        }
        try {
          out.spans.push(decodeSpan(raw, resource, format, limits));
        } catch (err) {
          if (!(err instanceof SpanProblem)) throw err;
          out.rejected.push({ path: `${sPath}.spans[${i}]`, reason: err.message });
        }
      });
    });
  });
  return out;
}

/** Decodes a protobuf ExportTraceServiceRequest; truncated or malformed bytes throw OTLP_REQUEST_INVALID. */
export function decodeOtlpProtobuf(body: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DecodedExport {
  let message: unknown;
  try {
    message = otlpSchema().exportRequest.decode(body);
  } catch (err) {
    const detail = err instanceof RangeError && /stack/i.test(err.message) ? 'nested too deeply' : 'truncated or not a valid ExportTraceServiceRequest';
    throw new TracefenceError('OTLP_REQUEST_INVALID', `protobuf body could not be decoded: ${detail}`, { cause: err });
  }
  return walk(message, 'protobuf', limits);
}

/** Decodes an OTLP/JSON ExportTraceServiceRequest; unknown fields are ignored. */
export function decodeOtlpJson(text: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DecodedExport {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new TracefenceError('OTLP_REQUEST_INVALID', 'JSON body could not be parsed: not valid JSON', { cause: err });
  }
  return walk(parsed, 'json', limits);
}
