import { isUtf8 } from 'node:buffer';
import type { Type } from 'avsc';
import { bigintLongType } from './bigint-long.js';
import { minSize, type TypeView } from './payload-guard.js';

/**
 * One-pass Avro decoder for records written with the reader's own schema (the common case).
 * It does in one walk what the general path does in four: the structure checks of
 * payload-guard.ts (every count bounded by the bytes that remain, so a hostile payload costs
 * one linear pass), avsc's decoding, the copy of avsc's record classes into plain objects,
 * and the refusal of invalid UTF-8 (checked per string with node's validator instead of
 * looking for U+FFFD afterwards). The values it returns equal the general path's value for
 * value; test/contract/codec-fast-reader.test.ts holds the two paths to that, including on
 * corrupted payloads. Schema resolution (an older writer) stays on the general path.
 */

/** Why a payload was refused; the message never quotes the payload. */
export class DecodeFault extends Error {}

/** Cap on items of types that can take zero bytes (null, empty records), where bytes cannot bound them. */
const MAX_ZERO_SIZE_ITEMS = 100_000;
const TRUNCATED = 'the payload is truncated';


/** Buffer's own UTF-8 slice: what toString('utf8', start, end) ends in, minus the encoding lookup (untyped in @types/node). */
interface Utf8Sliceable {
  utf8Slice(start: number, end: number): string;
}

class Cursor {
  pos = 0;
  constructor(readonly buf: Buffer) {}
}

type Read = (c: Cursor) => unknown;

/** avsc's readLong (same arithmetic, so ints and longs come out identical), bounded to 10 bytes. */
function readLong(c: Cursor): number {
  const buf = c.buf;
  const end = buf.length;
  let n = 0;
  let k = 0;
  let b: number;
  let h: number;
  do {
    if (c.pos >= end) throw new DecodeFault(TRUNCATED);
    b = buf[c.pos++] as number;
    h = b & 0x80;
    n |= (b & 0x7f) << k;
    k += 7;
  } while (h && k < 28);
  if (!h) return (n >> 1) ^ -(n & 1);
  let f = n;
  let fk = 268435456;
  let bytes = 4;
  do {
    if (++bytes > 10) throw new DecodeFault('a varint is longer than 10 bytes');
    if (c.pos >= end) throw new DecodeFault(TRUNCATED);
    b = buf[c.pos++] as number;
    f += (b & 0x7f) * fk;
    fk *= 128;
  } while (b & 0x80);
  return (f % 2 ? -(f + 1) : f) / 2;
}

/**
 * A 64-bit zigzag varint as a BigInt, wrapping like avsc's unpackLongBytes beyond 64 bits.
 * The first four bytes (28 bits) and the next six (42 bits) are gathered as exact numbers, so
 * a nanosecond timestamp costs a few BigInt operations instead of one per byte.
 */
function readBigLong(c: Cursor): bigint {
  const buf = c.buf;
  const end = buf.length;
  let lo = 0;
  let b: number;
  for (let i = 0; i < 4; i++) {
    if (c.pos >= end) throw new DecodeFault(TRUNCATED);
    b = buf[c.pos++] as number;
    lo |= (b & 0x7f) << (7 * i);
    if ((b & 0x80) === 0) return BigInt((lo >>> 1) ^ -(lo & 1));
  }
  let hi = 0;
  let mul = 1;
  for (let i = 4; i < 10; i++) {
    if (c.pos >= end) throw new DecodeFault(TRUNCATED);
    b = buf[c.pos++] as number;
    hi += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) {
      const u = BigInt.asUintN(64, (BigInt(hi) << 28n) | BigInt(lo));
      return BigInt.asIntN(64, (u >> 1n) ^ -(u & 1n));
    }
  }
  throw new DecodeFault('a varint is longer than 10 bytes');
}

function length(c: Cursor): number {
  const len = readLong(c);
  if (len < 0) throw new DecodeFault('a string or bytes length is negative');
  if (len > c.buf.length - c.pos) throw new DecodeFault(TRUNCATED);
  return len;
}

function readString(c: Cursor): string {
  const len = length(c);
  const start = c.pos;
  c.pos += len;
  if (len === 0) return '';
  const buf = c.buf;
  // Short strings (ids, names): a pure-ASCII one needs no validator call.
  let ascii = len <= 24;
  for (let i = start; ascii && i < c.pos; i++) ascii = (buf[i] as number) < 0x80;
  if (!ascii && !isUtf8(buf.subarray(start, c.pos))) throw new DecodeFault('a string is not valid UTF-8');
  return (buf as unknown as Utf8Sliceable).utf8Slice(start, c.pos);
}


function blockCount(c: Cursor, itemSize: number): number {
  let n = readLong(c);
  if (n < 0) {
    n = -n;
    readLong(c); // block size in bytes, unused
  }
  const limit = itemSize > 0 ? Math.floor((c.buf.length - c.pos) / itemSize) : MAX_ZERO_SIZE_ITEMS;
  if (n > limit) throw new DecodeFault(`a block announces ${n} items; the payload cannot hold them`);
  return n;
}

class Unsupported extends Error {}

function compile(t: TypeView, cache: Map<TypeView, Read>): Read {
  const known = cache.get(t);
  if (known !== undefined) return known;
  if ((t as unknown) === bigintLongType) return readBigLong;
  let read: Read;
  switch (t.typeName) {
    case 'null':
      read = () => null;
      break;
    case 'boolean':
      read = (c) => {
        if (c.pos >= c.buf.length) throw new DecodeFault(TRUNCATED);
        const b = c.buf[c.pos++] as number;
        if (b > 1) throw new DecodeFault('a boolean is neither 0 nor 1');
        return b === 1;
      };
      break;
    case 'int':
      read = readLong;
      break;
    case 'long':
      read = (c) => {
        const n = readLong(c);
        // avsc refuses longs a number cannot hold exactly; the general path reports it so.
        if (!(n >= -Number.MAX_SAFE_INTEGER && n <= Number.MAX_SAFE_INTEGER)) throw new DecodeFault('the payload is not valid Avro for this schema');
        return n;
      };
      break;
    case 'float':
      read = (c) => {
        if (c.buf.length - c.pos < 4) throw new DecodeFault(TRUNCATED);
        c.pos += 4;
        return c.buf.readFloatLE(c.pos - 4);
      };
      break;
    case 'double':
      read = (c) => {
        if (c.buf.length - c.pos < 8) throw new DecodeFault(TRUNCATED);
        c.pos += 8;
        return c.buf.readDoubleLE(c.pos - 8);
      };
      break;
    case 'string':
      read = readString;
      break;
    case 'bytes':
      read = (c) => {
        const len = length(c);
        c.pos += len;
        return Buffer.from(c.buf.subarray(c.pos - len, c.pos));
      };
      break;
    case 'fixed': {
      const size = t.size ?? 0;
      read = (c) => {
        if (c.buf.length - c.pos < size) throw new DecodeFault(TRUNCATED);
        c.pos += size;
        return Buffer.from(c.buf.subarray(c.pos - size, c.pos));
      };
      break;
    }
    case 'enum': {
      const symbols = t.symbols ?? [];
      read = (c) => {
        const i = readLong(c);
        const s = symbols[i];
        if (s === undefined) throw new DecodeFault('an enum index is out of range');
        return s;
      };
      break;
    }
    case 'record':
    case 'error': {
      const fields = t.fields ?? [];
      const names = fields.map((f) => f.name);
      const readers: Read[] = [];
      // One object literal per record type (fields in schema order, read left to right), like
      // avsc's generated readers: V8 gives every record of a type one shape. Avro names are
      // [A-Za-z_][A-Za-z0-9_]*, and JSON quoting keeps the generated source safe regardless.
      const body = `return (c) => ({ ${names.map((n, i) => `${JSON.stringify(n)}: r[${i}](c)`).join(', ')} });`;
      read = new Function('r', body)(readers) as Read;
      // Recursive records: readers is filled in before any payload is read.
      cache.set(t, read);
      for (const f of fields) readers.push(compile(f.type, cache));
      return read;
    }
    case 'array': {
      const items = t.itemsType as TypeView;
      const itemSize = minSize(items);
      const readItem = compile(items, cache);
      read = (c) => {
        const out: unknown[] = [];
        for (let n = blockCount(c, itemSize); n !== 0; n = blockCount(c, itemSize)) {
          for (let i = 0; i < n; i++) out.push(readItem(c));
        }
        return out;
      };
      break;
    }
    case 'map': {
      const values = t.valuesType as TypeView;
      const entrySize = 1 + minSize(values);
      const readValue = compile(values, cache);
      read = (c) => {
        // Plain assignment on a plain object, as avsc does (so both paths agree on every key).
        const out: Record<string, unknown> = {};
        for (let n = blockCount(c, entrySize); n !== 0; n = blockCount(c, entrySize)) {
          for (let i = 0; i < n; i++) {
            const key = readString(c);
            out[key] = readValue(c);
          }
        }
        return out;
      };
      break;
    }
    case 'union:unwrapped':
    case 'union:wrapped': {
      const branches = t.types ?? [];
      const readers = branches.map((b) => compile(b, cache));
      const wrapped = t.typeName === 'union:wrapped';
      const names = branches.map((b) => b.branchName ?? b.typeName);
      read = (c) => {
        const i = readLong(c);
        const r = readers[i];
        if (r === undefined) throw new DecodeFault('a union index is out of range');
        const v = r(c);
        if (!wrapped || branches[i]?.typeName === 'null') return v;
        return { [names[i] as string]: v };
      };
      break;
    }
    default:
      // Logical types and custom longs other than ours: the general path handles them.
      throw new Unsupported(t.typeName);
  }
  cache.set(t, read);
  return read;
}

/** A decoder for payloads written with `type`, or undefined when `type` uses something it does not cover. */
export function compileFastReader(type: Type): ((payload: Buffer) => unknown) | undefined {
  let root: Read;
  try {
    root = compile(type as unknown as TypeView, new Map());
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
  return (payload) => {
    const c = new Cursor(payload);
    const value = root(c);
    if (c.pos !== payload.length) throw new DecodeFault('the payload has trailing bytes after the record');
    return value;
  };
}
