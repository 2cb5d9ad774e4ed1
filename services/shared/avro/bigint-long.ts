import avro from 'avsc';
import type { Type } from 'avsc';

const MIN = -(2n ** 63n);
const MAX = 2n ** 63n - 1n;

/**
 * Avro `long` backed by BigInt. avsc's default long is a JS number and refuses values above 2^53,
 * which nanosecond timestamps exceed. Register it as `long` in a fresh registry per parse.
 */
export const bigintLongType: Type = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer): bigint => buf.readBigInt64LE(),
  toBuffer: (n: bigint): Buffer => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(n);
    return buf;
  },
  // JSON form (schema defaults, toString): numbers when exact, decimal strings otherwise.
  fromJSON: (v: unknown): bigint => {
    if (typeof v === 'bigint') return v;
    if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
    if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
    throw new Error('invalid long');
  },
  toJSON: (n: bigint): number | string =>
    n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString(),
  isValid: (v: unknown): boolean => typeof v === 'bigint' && v >= MIN && v <= MAX,
  compare: (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0),
});
