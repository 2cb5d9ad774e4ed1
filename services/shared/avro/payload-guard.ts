import type { Type } from 'avsc';

/**
 * Walks Avro binary data with the writer schema before avsc decodes it.
 * avsc trusts block counts: a 20-byte payload announcing 2^31 array items makes it loop and allocate
 * until the process dies. Here every count is checked against the bytes that remain, so a hostile or
 * corrupt payload costs at most one linear pass.
 */

/** Cap on items of types that can take zero bytes (null, empty records), where bytes cannot bound them. */
const MAX_ZERO_SIZE_ITEMS = 100_000;

class Truncated extends Error {}

/** The parts of an avsc Type the guards read. */
export interface TypeView {
  typeName: string;
  fields?: readonly { name: string; type: TypeView }[];
  types?: readonly TypeView[];
  itemsType?: TypeView;
  valuesType?: TypeView;
  symbols?: readonly string[];
  size?: number;
  underlyingType?: TypeView;
  branchName?: string;
}

const minSizes = new WeakMap<TypeView, number>();

/** Smallest encoded size of a value of `t`, to bound the block counts a payload may claim. */
export function minSize(t: TypeView): number {
  const known = minSizes.get(t);
  if (known !== undefined) return known;
  minSizes.set(t, 1); // recursive records: any positive guess is safe enough
  let n: number;
  switch (t.typeName) {
    case 'null':
      n = 0;
      break;
    case 'record':
    case 'error':
      n = (t.fields ?? []).reduce((s, f) => s + minSize(f.type), 0);
      break;
    case 'float':
      n = 4;
      break;
    case 'double':
      n = 8;
      break;
    case 'fixed':
      n = t.size ?? 0;
      break;
    default:
      n = t.typeName.startsWith('logical:') && t.underlyingType ? minSize(t.underlyingType) : 1;
  }
  minSizes.set(t, n);
  return n;
}

class Walker {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  private byte(): number {
    const b = this.buf[this.pos++];
    if (b === undefined) throw new Truncated('truncated');
    return b;
  }

  private skip(n: number): void {
    if (n > this.buf.length - this.pos) throw new Truncated('truncated');
    this.pos += n;
  }

  /** Zigzag varint as a number; exact up to 2^53, which is all a count or length may need. */
  private varint(): number {
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      value += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
      mul *= 128;
    }
    throw new Error('a varint is longer than 10 bytes');
  }

  private count(item: number): number {
    let n = this.varint();
    if (n < 0) {
      n = -n;
      this.varint(); // block size in bytes, unused
    }
    const limit = item > 0 ? Math.floor((this.buf.length - this.pos) / item) : MAX_ZERO_SIZE_ITEMS;
    if (n > limit) throw new Truncated(`a block announces ${n} items; the payload cannot hold them`);
    return n;
  }

  walk(t: TypeView): void {
    switch (t.typeName) {
      case 'null':
        return;
      case 'boolean':
        if (this.byte() > 1) throw new Error('a boolean is neither 0 nor 1');
        return;
      case 'int':
      case 'long':
      case 'abstract:long':
        this.varint();
        return;
      case 'float':
        this.skip(4);
        return;
      case 'double':
        this.skip(8);
        return;
      case 'string':
      case 'bytes': {
        const len = this.varint();
        if (len < 0) throw new Error('a string or bytes length is negative');
        this.skip(len);
        return;
      }
      case 'fixed':
        this.skip(t.size ?? 0);
        return;
      case 'enum': {
        const i = this.varint();
        if (i < 0 || i >= (t.symbols?.length ?? 0)) throw new Error('an enum index is out of range');
        return;
      }
      case 'record':
      case 'error':
        for (const f of t.fields ?? []) this.walk(f.type);
        return;
      case 'array': {
        const items = t.itemsType!;
        for (let n = this.count(minSize(items)); n !== 0; n = this.count(minSize(items))) {
          for (let i = 0; i < n; i++) this.walk(items);
        }
        return;
      }
      case 'map': {
        const values = t.valuesType!;
        const entry = 1 + minSize(values);
        for (let n = this.count(entry); n !== 0; n = this.count(entry)) {
          for (let i = 0; i < n; i++) {
            this.walk({ typeName: 'string' });
            this.walk(values);
          }
        }
        return;
      }
      case 'union:unwrapped':
      case 'union:wrapped': {
        const i = this.varint();
        const branch = t.types?.[i];
        if (branch === undefined) throw new Error('a union index is out of range');
        this.walk(branch);
        return;
      }
      default:
        if (t.typeName.startsWith('logical:') && t.underlyingType) return this.walk(t.underlyingType);
        throw new Error(`unsupported Avro type ${t.typeName}`);
    }
  }
}

/** Returns why `payload` cannot be a record of `writer`, or null when its structure is sound. */
export function checkPayloadShape(writer: Type, payload: Buffer): string | null {
  const w = new Walker(payload);
  try {
    w.walk(writer as unknown as TypeView);
  } catch (err) {
    if (err instanceof Truncated) return err.message === 'truncated' ? 'the payload is truncated' : err.message;
    return err instanceof Error ? err.message : 'the payload is not valid Avro for this schema';
  }
  if (w.pos !== payload.length) return 'the payload has trailing bytes after the record';
  return null;
}
