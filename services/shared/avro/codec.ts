import type { Type } from 'avsc';
import { TracefenceError } from '../errors.js';
import { compileFastReader, DecodeFault } from './fast-reader.js';
import { checkPayloadShape } from './payload-guard.js';
import { DEFAULT_SCHEMA_DIR, loadSchemaVersions, type SchemaVersion } from './schema-files.js';
import type { RecordKind, RecordKinds } from './types.js';

/** Kafka header naming the writer schema: hex SHA-256 of its Avro parsing canonical form. */
export const SCHEMA_HEADER = 'tf-schema';

/** Default size limit: below Kafka's default max.message.bytes (1 MiB) with room for headers. */
export const DEFAULT_MAX_BYTES = 1_000_000;

export interface CodecOptions {
  /** Payloads above this many bytes are refused with RECORD_TOO_LARGE, both ways. */
  maxBytes?: number;
  /** Directory holding <kind>.avsc and history/<kind>.v<N>.avsc. */
  schemaDir?: string;
  /**
   * Version to write and to read into; defaults to the current (newest) one.
   * An older version models a consumer that has not upgraded yet (tests, rolling upgrades).
   */
  version?: number;
  /**
   * Decode records written with the current schema in one pass (fast-reader.ts); default true.
   * false keeps the general path (structure guard, avsc, plain copy) for every record: the
   * reference the fast path is tested against.
   */
  fastDecode?: boolean;
}

export interface Encoded {
  payload: Buffer;
  /** Value for the tf-schema header. */
  fingerprint: string;
}

export interface Codec<T> {
  readonly kind: RecordKind;
  /** Version this codec writes and reads into. */
  readonly version: number;
  /** Fingerprint of that version. */
  readonly fingerprint: string;
  /** Every writer schema this codec can read, oldest first. */
  readonly versions: readonly { version: number; fingerprint: string }[];
  encode(value: T): Encoded;
  decode(payload: Buffer, fingerprint: string | undefined): T;
  knows(fingerprint: string): boolean;
}

type Resolver = ReturnType<Type['createResolver']>;

/** Header text is producer-controlled: keep it short and printable in messages. */
function quote(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 80 ? `${clean.slice(0, 80)}…` : clean;
}

function malformedReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : '';
  if (/truncated/i.test(msg)) return 'the payload is truncated';
  if (/trailing/i.test(msg)) return 'the payload has trailing bytes after the record';
  if (/invalid .*(union|enum) index/i.test(msg)) return 'the payload holds an out-of-range union or enum index';
  return 'the payload is not valid Avro for this schema';
}

/** avsc builds records from generated classes; callers get plain objects (deepStrictEqual, structuredClone). */
function toPlain(value: unknown, seen: { replacementChar: boolean }): unknown {
  if (typeof value === 'string') {
    if (!seen.replacementChar && value.includes('\uFFFD')) seen.replacementChar = true;
    return value;
  }
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) return value.map((v) => toPlain(v, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    // Map keys are decoded strings too.
    if (!seen.replacementChar && k.includes('\uFFFD')) seen.replacementChar = true;
    out[k] = toPlain(v, seen);
  }
  return out;
}

/**
 * avsc decodes invalid UTF-8 as U+FFFD, silently storing something the agent never sent.
 * Valid UTF-8 survives a decode/encode round trip byte for byte; replaced bytes do not.
 * Checked only when a U+FFFD was seen, so the common case costs nothing.
 */
function hasInvalidUtf8(writer: Type, payload: Buffer): boolean {
  try {
    return !writer.toBuffer(writer.fromBuffer(payload)).equals(payload);
  } catch {
    return true;
  }
}

/** Paths (never values: they may be unmasked) of the fields that do not match the schema. */
function invalidPaths(type: Type, value: unknown): string[] {
  const paths: string[] = [];
  type.isValid(value, {
    errorHook: (path: string[], _val: unknown, t: Type) => {
      paths.push(`${path.join('.') || '(root)'} (expected ${t.branchName ?? t.typeName})`);
    },
  });
  return paths;
}

/**
 * Encoding scratch space, shared by all codecs (encoding is synchronous). avsc's toBuffer
 * writes into a 1 KiB buffer and, when the record is bigger, writes the whole record a second
 * time; writing into a buffer that has room and copying the bytes out once avoids that.
 */
let scratch = Buffer.allocUnsafeSlow(64 * 1024);

export function createCodec<K extends RecordKind>(kind: K, options: CodecOptions = {}): Codec<RecordKinds[K]> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const all = loadSchemaVersions(kind, options.schemaDir ?? DEFAULT_SCHEMA_DIR);
  const chosen: SchemaVersion | undefined =
    options.version === undefined ? all.at(-1) : all.find((v) => v.version === options.version);
  if (chosen === undefined) {
    throw new TracefenceError('CONFIG_INVALID', `no version ${String(options.version)} of schema ${kind}`);
  }
  const reader = chosen.type;
  const byFingerprint = new Map(all.map((v) => [v.fingerprint, v] as const));
  const resolvers = new Map<string, Resolver>();
  const fastRead = options.fastDecode === false ? undefined : compileFastReader(reader);

  const tooLarge = (size: number): TracefenceError =>
    new TracefenceError('RECORD_TOO_LARGE', `${kind} record is ${size} bytes; the limit is ${maxBytes}`);

  /** avsc encode into the scratch buffer; returns the size, growing the buffer up to maxBytes. */
  function write(value: RecordKinds[K]): number {
    for (;;) {
      const end = reader.encode(value, scratch, 0);
      if (end >= 0) return end;
      // A negative result is the number of bytes that did not fit.
      const needed = scratch.length - end;
      if (needed > maxBytes) throw tooLarge(needed);
      scratch = Buffer.allocUnsafeSlow(Math.min(Math.max(needed, 2 * scratch.length), Math.max(needed, maxBytes)));
    }
  }

  function resolverFor(writer: SchemaVersion): Resolver | undefined {
    if (writer.fingerprint === chosen!.fingerprint) return undefined;
    let resolver = resolvers.get(writer.fingerprint);
    if (resolver === undefined) {
      try {
        resolver = reader.createResolver(writer.type);
      } catch (err) {
        throw new TracefenceError(
          'SCHEMA_UNKNOWN',
          `${kind} v${writer.version} records cannot be read as v${chosen!.version}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      resolvers.set(writer.fingerprint, resolver);
    }
    return resolver;
  }

  return {
    kind,
    version: chosen.version,
    fingerprint: chosen.fingerprint,
    versions: all.map((v) => ({ version: v.version, fingerprint: v.fingerprint })),

    encode(value) {
      // Validation walks the whole record: pay for it only when writing fails (hot path).
      let size: number;
      try {
        size = write(value);
      } catch (err) {
        if (err instanceof TracefenceError) throw err;
        // The avsc error quotes the value, which may be unmasked: keep only the paths.
        const problems = invalidPaths(reader, value);
        const detail = problems.length > 0 ? problems.join('; ') : 'a value does not fit its field';
        throw new TracefenceError('RECORD_MALFORMED', `${kind} record does not match its schema: ${detail}`, {
          path: problems[0]?.split(' ')[0],
        });
      }
      if (size > maxBytes) throw tooLarge(size);
      const payload = Buffer.allocUnsafe(size);
      scratch.copy(payload, 0, 0, size);
      return { payload, fingerprint: chosen.fingerprint };
    },

    decode(payload, fingerprint) {
      if (!Buffer.isBuffer(payload)) {
        throw new TracefenceError('RECORD_MALFORMED', `${kind} record has no payload`);
      }
      if (payload.length > maxBytes) {
        throw new TracefenceError('RECORD_TOO_LARGE', `${kind} record is ${payload.length} bytes; the limit is ${maxBytes}`);
      }
      if (fingerprint === undefined || fingerprint === '') {
        throw new TracefenceError('SCHEMA_UNKNOWN', `${kind} record has no ${SCHEMA_HEADER} header`);
      }
      const writer = byFingerprint.get(fingerprint.toLowerCase());
      if (writer === undefined) {
        throw new TracefenceError('SCHEMA_UNKNOWN', `${kind} record names an unknown writer schema ${quote(fingerprint)}`);
      }
      if (fastRead !== undefined && writer.fingerprint === chosen.fingerprint) {
        try {
          return fastRead(payload) as RecordKinds[K];
        } catch (err) {
          const reason = err instanceof DecodeFault ? err.message : 'the payload is not valid Avro for this schema';
          throw new TracefenceError('RECORD_MALFORMED', `${kind} record could not be decoded with writer schema v${writer.version}: ${reason}`, { cause: err });
        }
      }
      const bad = checkPayloadShape(writer.type, payload);
      if (bad !== null) {
        throw new TracefenceError('RECORD_MALFORMED', `${kind} record could not be decoded with writer schema v${writer.version}: ${bad}`);
      }
      const resolver = resolverFor(writer);
      let value: unknown;
      try {
        value = reader.fromBuffer(payload, resolver);
      } catch (err) {
        throw new TracefenceError(
          'RECORD_MALFORMED',
          `${kind} record could not be decoded with writer schema v${writer.version}: ${malformedReason(err)}`,
          { cause: err },
        );
      }
      const seen = { replacementChar: false };
      const plain = toPlain(value, seen);
      if (seen.replacementChar && hasInvalidUtf8(writer.type, payload)) {
        throw new TracefenceError('RECORD_MALFORMED', `${kind} record could not be decoded with writer schema v${writer.version}: a string is not valid UTF-8`);
      }
      return plain as RecordKinds[K];
    },

    knows(fp) {
      return byFingerprint.has(fp.toLowerCase());
    },
  };
}

type HeaderValue = Buffer | string | (Buffer | string)[] | undefined;

/** Reads the tf-schema header from KafkaJS-style headers (Buffer, string or a repeated header). */
export function readSchemaHeader(headers: Readonly<Record<string, HeaderValue>> | undefined): string | undefined {
  const raw = headers?.[SCHEMA_HEADER];
  // A repeated header is ambiguous: refuse it rather than pick one.
  if (raw === undefined || (Array.isArray(raw) && raw.length !== 1)) return undefined;
  const one = Array.isArray(raw) ? raw[0] : raw;
  if (one === undefined) return undefined;
  return typeof one === 'string' ? one : one.toString('latin1');
}
