/**
 * The one-pass decoder (services/shared/avro/fast-reader.ts) against the general path (structure
 * guard, avsc, plain copy, UTF-8 check): the same value for every valid record and the same
 * refusal code for every corrupted one, including random mutations of real payloads.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeBenchTrace } from '../../bench/policy/bench-traces.js';
import { createCodec, loadSchemaVersions, RECORD_KINDS, type Codec, type RecordKind } from '../../services/shared/avro/index.js';
import { TracefenceError } from '../../services/shared/errors.js';
import { sampleTrace } from '../fixtures/avro/samples.js';

type Result = { ok: true; value: unknown } | { ok: false; code: string };

function outcome(codec: Codec<unknown>, payload: Buffer, fingerprint: string): Result {
  try {
    return { ok: true, value: codec.decode(payload, fingerprint) };
  } catch (err) {
    assert.ok(err instanceof TracefenceError, `unexpected ${String(err)}`);
    return { ok: false, code: err.code };
  }
}

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function mutate(payload: Buffer, next: () => number): Buffer {
  const at = Math.floor(next() * payload.length);
  const pick = next();
  if (pick < 0.4) {
    const b = Buffer.from(payload);
    b[at] = Math.floor(next() * 256);
    return b;
  }
  if (pick < 0.55) return payload.subarray(0, at);
  if (pick < 0.7) return Buffer.concat([payload.subarray(0, at), Buffer.from([Math.floor(next() * 256)]), payload.subarray(at)]);
  if (pick < 0.85) {
    const b = Buffer.from(payload);
    b[at] = [0x80, 0xff, 0xc3, 0xed, 0x01, 0x7f][Math.floor(next() * 6)] ?? 0;
    return b;
  }
  return Buffer.concat([payload.subarray(0, at), payload.subarray(at + 1 + Math.floor(next() * 8))]);
}

for (const kind of RECORD_KINDS) {
  describe(`${kind}: fast decode equals the general path`, () => {
    const fast = createCodec(kind) as Codec<unknown>;
    const general = createCodec(kind, { fastDecode: false }) as Codec<unknown>;
    const samples: Buffer[] = [];
    if (kind === 'reasoning-trace') {
      samples.push(fast.encode(sampleTrace).payload);
      for (let i = 0; i < 5; i++) samples.push(fast.encode(makeBenchTrace(i, 'acme', 'support-bot')).payload);
      samples.push(fast.encode({ ...sampleTrace, labels: { 'ünï': 'çödé \u{1F600}', __proto__x: 'y' } }).payload);
    }

    test('random valid records decode to equal values', () => {
      const current = loadSchemaVersions(kind).at(-1);
      assert.ok(current !== undefined);
      for (let i = 0; i < 200; i++) samples.push(current.type.toBuffer(current.type.random()));
      for (const payload of samples) {
        const a = outcome(fast, payload, fast.fingerprint);
        const b = outcome(general, payload, general.fingerprint);
        assert.deepStrictEqual(a, b);
      }
    });

    test('mutated payloads: same value or same refusal code', () => {
      const next = rng(RECORD_KINDS.indexOf(kind as RecordKind) + 7);
      let refused = 0;
      for (let i = 0; i < 3000; i++) {
        const base = samples[Math.floor(next() * samples.length)];
        assert.ok(base !== undefined);
        const payload = mutate(base, next);
        const a = outcome(fast, payload, fast.fingerprint);
        const b = outcome(general, payload, general.fingerprint);
        assert.deepStrictEqual(a, b, `mutation ${i}`);
        if (!a.ok) refused++;
      }
      assert.ok(refused > 100, `mutations should mostly be refused, ${refused} were`);
    });
  });
}

test('a block count the payload cannot hold is refused before any allocation', () => {
  const codec = createCodec('reasoning-trace');
  const payload = codec.encode({ ...sampleTrace, steps: [] }).payload;
  // The steps array count sits right before the trailing attributes map: rewrite it to 2^31 items.
  const at = payload.length - 2;
  const hostile = Buffer.concat([payload.subarray(0, at), Buffer.from([0x80, 0x80, 0x80, 0x80, 0x10]), payload.subarray(at)]);
  assert.throws(() => codec.decode(hostile, codec.fingerprint), (err: unknown) => err instanceof TracefenceError && err.code === 'RECORD_MALFORMED');
});

test('encode of a record above the scratch buffer and the size limit', () => {
  const small = createCodec('reasoning-trace', { maxBytes: 4096 });
  const big = { ...sampleTrace, labels: { note: 'x'.repeat(100_000) } };
  assert.throws(() => small.encode(big), (err: unknown) => err instanceof TracefenceError && err.code === 'RECORD_TOO_LARGE');
  const codec = createCodec('reasoning-trace');
  const { payload, fingerprint } = codec.encode(big);
  assert.equal(codec.decode(payload, fingerprint).labels['note'], big.labels.note);
  // The scratch buffer grew; a small record afterwards still encodes to exactly its own bytes.
  const again = codec.encode(sampleTrace).payload;
  assert.deepStrictEqual(codec.decode(again, fingerprint), codec.decode(codec.encode(sampleTrace).payload, fingerprint));
});
