/**
 * The OTLP trace messages (vendored subset under ./proto) loaded once with protobufjs, plus
 * google.rpc.Status for error bodies. Only this file knows where the .proto files live.
 */
import { join } from 'node:path';
import protobuf from 'protobufjs';

export const PROTO_DIR = join(import.meta.dirname, 'proto');

const FILES = ['opentelemetry/proto/collector/trace/v1/trace_service.proto', 'google/rpc/status.proto'];

export interface OtlpSchema {
  readonly exportRequest: protobuf.Type;
  readonly exportResponse: protobuf.Type;
  readonly status: protobuf.Type;
  readonly errorInfo: protobuf.Type;
  readonly any: protobuf.Type;
}

let loaded: OtlpSchema | undefined;

/** Loads (once per process) the vendored definitions; imports resolve against PROTO_DIR. */
export function otlpSchema(): OtlpSchema {
  if (loaded !== undefined) return loaded;
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string) => join(PROTO_DIR, target);
  root.loadSync(FILES, { keepCase: false });
  root.resolveAll();
  loaded = Object.freeze({
    exportRequest: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
    exportResponse: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse'),
    status: root.lookupType('google.rpc.Status'),
    errorInfo: root.lookupType('google.rpc.ErrorInfo'),
    any: root.lookupType('google.protobuf.Any'),
  });
  return loaded;
}

export interface PartialSuccess {
  rejectedSpans: number;
  errorMessage: string;
}

/** ExportTraceServiceResponse as protobuf bytes; partial_success only when there is something to say. */
export function encodeExportResponseProto(partial: PartialSuccess | undefined): Uint8Array {
  const s = otlpSchema();
  const body = partial === undefined ? {} : { partialSuccess: { rejectedSpans: partial.rejectedSpans, errorMessage: partial.errorMessage } };
  return s.exportResponse.encode(s.exportResponse.fromObject(body)).finish();
}

/** ExportTraceServiceResponse in OTLP/JSON: int64 as a decimal string, lowerCamelCase keys. */
export function encodeExportResponseJson(partial: PartialSuccess | undefined): string {
  if (partial === undefined) return '{}';
  return JSON.stringify({ partialSuccess: { rejectedSpans: String(partial.rejectedSpans), errorMessage: partial.errorMessage } });
}

export interface RpcStatus {
  /** google.rpc.Code (3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, 14 UNAVAILABLE, 16 UNAUTHENTICATED...). */
  code: number;
  message: string;
  /** Our error code, carried as a google.rpc.ErrorInfo reason. */
  reason: string;
}

const ERROR_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.ErrorInfo';
const ERROR_DOMAIN = 'tracefence';

export function encodeStatusProto(status: RpcStatus): Uint8Array {
  const s = otlpSchema();
  const info = s.errorInfo.encode(s.errorInfo.fromObject({ reason: status.reason, domain: ERROR_DOMAIN })).finish();
  // protobufjs serves google.protobuf.Any from its built-in definitions (snake_case field names) with a
  // JSON wrapper in fromObject(): build the message with create() and the built-in field name.
  const msg = s.status.create({ code: status.code, message: status.message, details: [s.any.create({ type_url: ERROR_INFO_TYPE_URL, value: info })] });
  return s.status.encode(msg).finish();
}

export function encodeStatusJson(status: RpcStatus): string {
  return JSON.stringify({
    code: status.code,
    message: status.message,
    details: [{ '@type': ERROR_INFO_TYPE_URL, reason: status.reason, domain: ERROR_DOMAIN }],
  });
}

/** Reads a protobuf google.rpc.Status (tests and clients). */
export function decodeStatusProto(bytes: Uint8Array): { code: number; message: string; reason: string | undefined } {
  const s = otlpSchema();
  const msg = s.status.decode(bytes) as unknown as { code: number; message: string; details: { type_url: string; value: Uint8Array }[] };
  const detail = msg.details.find((d) => d.type_url === ERROR_INFO_TYPE_URL);
  const reason = detail === undefined ? undefined : (s.errorInfo.decode(detail.value) as unknown as { reason: string }).reason;
  return { code: msg.code, message: msg.message, reason };
}

/** Reads a protobuf ExportTraceServiceResponse (tests and clients). */
export function decodeExportResponseProto(bytes: Uint8Array): PartialSuccess | undefined {
  const s = otlpSchema();
  const obj = s.exportResponse.toObject(s.exportResponse.decode(bytes), { longs: Number }) as { partialSuccess?: { rejectedSpans?: number; errorMessage?: string } };
  if (obj.partialSuccess === undefined) return undefined;
  return { rejectedSpans: obj.partialSuccess.rejectedSpans ?? 0, errorMessage: obj.partialSuccess.errorMessage ?? '' };
}
