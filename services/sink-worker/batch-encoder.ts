/**
 * Turns one batch of region-topic records into an object body: gzip-compressed JSON Lines or
 * an Avro object container file. Records stay as masked as the policy worker made them; the
 * encoder only drops headers that could carry credentials.
 */
import { sha256Hex } from '../shared/sha256.js';
import { createGzip } from 'node:zlib';
import avro from 'avsc';
import type { Type } from 'avsc';
import type { SinkFormat } from './object-key.js';

/** Gzip line by line: a batch never exists as one big string next to its compressed copy. */
async function gzipLines(lines: Iterable<string>): Promise<Buffer> {
  const gz = createGzip();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    gz.on('data', (c: Buffer) => chunks.push(c));
    gz.on('end', () => resolve());
    gz.on('error', reject);
  });
  for (const line of lines) {
    if (!gz.write(line + '\n')) await new Promise<void>((r) => gz.once('drain', () => r()));
  }
  gz.end();
  await done;
  return Buffer.concat(chunks);
}

export interface SinkRecord {
  offset: bigint;
  timestampMs: number;
  /** Headers already reduced to the ones we keep (see keptHeaders), as UTF-8 text. */
  headers: Readonly<Record<string, string>>;
  value: Buffer;
  /** tf-schema header (writer schema fingerprint), if any. */
  schema: string | undefined;
  tenant: string | undefined;
}

/** Knows the writer schemas of region records; absent until the Avro codec is wired in. */
export interface TraceDecoder {
  /** The writer schema for a fingerprint, or undefined when it is not known. */
  writerType(fingerprint: string): Type | undefined;
  /** Decoded trace as a plain value, or undefined when it cannot be decoded. */
  decode(payload: Buffer, fingerprint: string): unknown;
}

export interface EncodedBatch {
  body: Buffer;
  contentType: string;
  sha256: string;
  /** traceId of each record, in order, as decoded for the body ('' when not decodable). */
  traceIds: string[];
}

/** traceId of a decoded trace, or '' when there is none. */
export function traceIdOf(decoded: unknown): string {
  if (decoded === null || typeof decoded !== 'object') return '';
  const id = (decoded as { traceId?: unknown }).traceId;
  return typeof id === 'string' ? id : '';
}

// Header names that may hold credentials: never persisted even if an upstream forgot to strip them.
const SECRET_HEADER = /auth|token|bearer|cookie|secret|passw|credential|api[-_]?key/i;
// A JWT-looking value is dropped whatever its header name.
const JWT_VALUE = /^eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

type RawHeaderValue = Buffer | string | (Buffer | string)[] | undefined;

function headerText(v: RawHeaderValue): string | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) {
    // A repeated header is ambiguous; keep only a single occurrence.
    if (v.length !== 1 || v[0] === undefined) return undefined;
    return headerText(v[0]);
  }
  return typeof v === 'string' ? v : v.toString('utf8');
}

export function isSecretHeader(name: string, value: string | undefined): boolean {
  return SECRET_HEADER.test(name) || (value !== undefined && JWT_VALUE.test(value.trim()));
}

export function keptHeaders(headers: Readonly<Record<string, RawHeaderValue>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers ?? {})) {
    const value = headerText(raw);
    if (value === undefined || isSecretHeader(name, value)) continue;
    out[name] = value;
  }
  return out;
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value !== null && typeof value === 'object') {
    const v = value as { type?: unknown; data?: unknown };
    if (v.type === 'Buffer' && Array.isArray(v.data)) return Buffer.from(v.data as number[]).toString('base64');
  }
  return value;
}

function jsonLine(r: SinkRecord, decoder: TraceDecoder | undefined, traceIds: string[]): string {
  const base = { offset: r.offset.toString(), timestamp: String(r.timestampMs), headers: r.headers };
  if (decoder !== undefined && r.schema !== undefined) {
    let trace: unknown;
    try {
      trace = decoder.decode(r.value, r.schema);
    } catch {
      trace = undefined;
    }
    if (trace !== undefined) {
      traceIds.push(traceIdOf(trace));
      return JSON.stringify({ ...base, trace }, jsonReplacer);
    }
  }
  traceIds.push('');
  // Not decodable here: keep the exact bytes so nothing is lost.
  return JSON.stringify({ ...base, payload: r.value.toString('base64') });
}

/** Schema of Avro files whose records this sink cannot decode: the raw bytes with their offset. */
export const OPAQUE_RECORD_SCHEMA = {
  type: 'record',
  name: 'OpaqueRegionRecord',
  namespace: 'io.tracefence.sink',
  fields: [
    { name: 'offset', type: 'long' },
    { name: 'timestampMs', type: 'long' },
    { name: 'payload', type: 'bytes' },
  ],
} as const;

let opaqueType: Type | undefined;

async function avroContainer(records: readonly SinkRecord[], decoder: TraceDecoder | undefined, traceIds: string[]): Promise<Buffer> {
  const fingerprint = records[0]?.schema;
  const writer = fingerprint !== undefined ? decoder?.writerType(fingerprint) : undefined;
  let type: Type;
  let values: unknown[];
  if (writer !== undefined) {
    type = writer;
    // Batches hold one writer schema, so every payload decodes with it.
    values = records.map((r) => writer.fromBuffer(r.value));
    for (const v of values) traceIds.push(traceIdOf(v));
  } else {
    opaqueType ??= avro.Type.forSchema(OPAQUE_RECORD_SCHEMA as unknown as avro.Schema);
    type = opaqueType;
    values = records.map((r) => ({ offset: Number(r.offset), timestampMs: r.timestampMs, payload: r.value }));
    for (let i = 0; i < records.length; i++) traceIds.push('');
  }
  const encoder = new avro.streams.BlockEncoder(type, { codec: 'deflate' });
  const chunks: Buffer[] = [];
  const finished = new Promise<void>((resolve, reject) => {
    encoder.on('data', (c: Buffer) => chunks.push(c));
    encoder.on('end', () => resolve());
    encoder.on('error', reject);
  });
  for (const v of values) encoder.write(v);
  encoder.end();
  await finished;
  return Buffer.concat(chunks);
}

export async function encodeBatch(records: readonly SinkRecord[], format: SinkFormat, decoder?: TraceDecoder): Promise<EncodedBatch> {
  let body: Buffer;
  let contentType: string;
  const traceIds: string[] = [];
  if (format === 'avro') {
    body = await avroContainer(records, decoder, traceIds);
    contentType = 'application/avro';
  } else {
    body = await gzipLines((function* () {
      for (const r of records) yield jsonLine(r, decoder, traceIds);
    })());
    contentType = 'application/gzip';
  }
  return { body, contentType, sha256: sha256Hex(body), traceIds };
}
