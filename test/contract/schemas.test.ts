import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import avro from 'avsc';
import type { Type } from 'avsc';
import { TracefenceError } from '../../services/shared/errors.js';
import {
  checkCompatibility,
  createCodec,
  DEFAULT_SCHEMA_DIR,
  fingerprintOf,
  loadSchemaVersions,
  parseSchema,
  readSchemaHeader,
  RECORD_KINDS,
  SCHEMA_HEADER,
  type ReasoningTrace,
  type RecordKind,
} from '../../services/shared/avro/index.js';
import { sampleTrace, samples } from '../fixtures/avro/samples.js';

const fixtureDir = join(import.meta.dirname, '..', 'fixtures', 'avro');
const manifest = JSON.parse(readFileSync(join(fixtureDir, 'manifest.json'), 'utf8')) as {
  file: string;
  kind: RecordKind;
  version: number;
  fingerprint: string;
}[];

function avscFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? avscFiles(path) : [path];
  });
}

function expectCode(code: string, fn: () => unknown): TracefenceError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof TracefenceError, `expected TracefenceError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

describe('schema files', () => {
  it('schemas/ holds only .avsc files and every one parses in namespace io.tracefence', () => {
    const files = avscFiles(DEFAULT_SCHEMA_DIR);
    assert.ok(files.length >= 5);
    for (const file of files) {
      assert.match(file, /\.avsc$/, `${file} is not an .avsc file`);
      const schema = JSON.parse(readFileSync(file, 'utf8')) as { namespace?: string; type?: string };
      assert.equal(schema.type, 'record', file);
      assert.equal(schema.namespace, 'io.tracefence', file);
      avro.Type.forSchema(schema as Parameters<typeof avro.Type.forSchema>[0]);
    }
  });

  it('every kind has a current schema, and history versions are numbered 1..N-1', () => {
    for (const kind of RECORD_KINDS) {
      const versions = loadSchemaVersions(kind);
      assert.deepEqual(
        versions.map((v) => v.version),
        versions.map((_v, i) => i + 1),
        kind,
      );
      assert.equal(new Set(versions.map((v) => v.fingerprint)).size, versions.length, `${kind}: two versions are identical`);
    }
    assert.equal(loadSchemaVersions('reasoning-trace').length, 2);
  });

  it('held-trace embeds exactly the current reasoning-trace schema', () => {
    const held = loadSchemaVersions('held-trace').at(-1)!.type as Type & { fields: { name: string; type: Type }[] };
    const embedded = held.fields.find((f) => f.name === 'trace')!.type;
    assert.equal(fingerprintOf(embedded), createCodec('reasoning-trace').fingerprint);
  });

  it('the fingerprint is the SHA-256 of the parsing canonical form, unaffected by the BigInt long', () => {
    const file = join(DEFAULT_SCHEMA_DIR, 'reasoning-trace.avsc');
    const plain = avro.Type.forSchema(JSON.parse(readFileSync(file, 'utf8')) as Parameters<typeof avro.Type.forSchema>[0]);
    assert.equal(createCodec('reasoning-trace').fingerprint, plain.fingerprint('sha256').toString('hex'));
    assert.match(createCodec('reasoning-trace').fingerprint, /^[0-9a-f]{64}$/);
  });
});

describe('binary fixtures', () => {
  it('there is a committed fixture for every version of every kind', () => {
    for (const kind of RECORD_KINDS) {
      for (const v of createCodec(kind).versions) {
        const entry = manifest.find((m) => m.kind === kind && m.version === v.version);
        assert.ok(entry, `no fixture for ${kind} v${v.version}: run test/fixtures/avro/make-fixtures.ts`);
        assert.equal(entry.fingerprint, v.fingerprint, `${kind} v${v.version} changed after its fixture was written`);
      }
    }
  });

  for (const entry of manifest) {
    it(`${entry.file} decodes and re-encodes byte for byte`, () => {
      const bytes = readFileSync(join(fixtureDir, entry.file));
      const codec = createCodec(entry.kind, { version: entry.version });
      const value = codec.decode(bytes, entry.fingerprint);
      const again = codec.encode(value as never);
      assert.equal(again.fingerprint, entry.fingerprint);
      assert.ok(again.payload.equals(bytes), `${entry.file} changed on re-encode`);
      // and the current reader reads it too
      createCodec(entry.kind).decode(bytes, entry.fingerprint);
    });
  }
});

describe('evolution', () => {
  const v1Bytes = readFileSync(join(fixtureDir, 'reasoning-trace.v1.bin'));
  const v2Bytes = readFileSync(join(fixtureDir, 'reasoning-trace.v2.bin'));
  const [v1, v2] = createCodec('reasoning-trace').versions;

  it('a v1 record decodes with the v2 reader, labels defaulting to {}', () => {
    const decoded = createCodec('reasoning-trace').decode(v1Bytes, v1!.fingerprint);
    assert.deepEqual(decoded, { ...sampleTrace, labels: {} });
  });

  it('a v2 record decodes with a v1 reader, which ignores labels', () => {
    const decoded = createCodec('reasoning-trace', { version: 1 }).decode(v2Bytes, v2!.fingerprint) as Partial<ReasoningTrace>;
    const { labels: _labels, ...rest } = sampleTrace;
    assert.deepEqual(decoded, rest);
  });

  it('every older version is fully compatible with the current one, and with its successor', () => {
    for (const kind of RECORD_KINDS) {
      const versions = loadSchemaVersions(kind);
      const current = versions.at(-1)!;
      versions.forEach((v, i) => {
        const withCurrent = checkCompatibility(v.type, current.type);
        assert.ok(withCurrent.compatible, `${kind} v${v.version} -> current: ${JSON.stringify(withCurrent)}`);
        const next = versions[i + 1];
        if (next) assert.ok(checkCompatibility(v.type, next.type).compatible, `${kind} v${v.version} -> v${next.version}`);
      });
    }
  });

  it('checkCompatibility fails for changes that break existing readers or records', () => {
    const current = loadSchemaVersions('reasoning-trace').at(-1)!.type;
    const broken = (name: string): Type =>
      parseSchema(JSON.parse(readFileSync(join(fixtureDir, 'incompatible', `reasoning-trace.${name}.avsc`), 'utf8')), 'reasoning-trace');

    const required = checkCompatibility(current, broken('required-field'));
    assert.equal(required.compatible, false);
    assert.notEqual(required.backward, null, 'new reader cannot fill a field without default from old records');
    assert.equal(required.forward, null);

    const removed = checkCompatibility(current, broken('removed-field'));
    assert.equal(removed.compatible, false);
    assert.equal(removed.backward, null);
    assert.notEqual(removed.forward, null, 'old readers need the removed field');

    const changed = checkCompatibility(current, broken('changed-type'));
    assert.equal(changed.compatible, false);
    assert.notEqual(changed.backward, null);
    assert.notEqual(changed.forward, null);
  });
});

describe('codec', () => {
  const codec = createCodec('reasoning-trace');

  it('round-trips every kind, as plain objects', () => {
    for (const kind of RECORD_KINDS) {
      const c = createCodec(kind);
      const { payload, fingerprint } = c.encode(samples[kind] as never);
      assert.equal(fingerprint, c.fingerprint);
      const decoded = c.decode(payload, fingerprint);
      assert.deepEqual(decoded, samples[kind]);
      assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
    }
  });

  it('keeps nanosecond timestamps above 2^53 exact, and the int64 extremes', () => {
    const big = 2n ** 63n - 1n;
    const trace: ReasoningTrace = { ...sampleTrace, producedAtUnixNano: big, steps: [{ ...sampleTrace.steps[0]!, startTimeUnixNano: -(2n ** 63n), endTimeUnixNano: 2n ** 53n + 1n }] };
    const out = codec.decode(codec.encode(trace).payload, codec.fingerprint);
    assert.equal(out.producedAtUnixNano, big);
    assert.equal(out.steps[0]!.startTimeUnixNano, -(2n ** 63n));
    assert.equal(out.steps[0]!.endTimeUnixNano, 2n ** 53n + 1n);
  });

  it('refuses an invalid value on encode with the field path and without the value', () => {
    const bad = { ...sampleTrace, tenant: 'secret@example.com', producedAtUnixNano: 5 } as unknown as ReasoningTrace;
    const err = expectCode('RECORD_MALFORMED', () => codec.encode(bad));
    assert.match(err.message, /producedAtUnixNano/);
    assert.doesNotMatch(err.message, /secret@example\.com/);
    expectCode('RECORD_MALFORMED', () => codec.encode({ ...sampleTrace, steps: [{ ...sampleTrace.steps[0]!, kind: 'NOPE' }] } as unknown as ReasoningTrace));
  });

  it('unknown or missing writer schema -> SCHEMA_UNKNOWN', () => {
    const { payload } = codec.encode(sampleTrace);
    expectCode('SCHEMA_UNKNOWN', () => codec.decode(payload, undefined));
    expectCode('SCHEMA_UNKNOWN', () => codec.decode(payload, ''));
    const err = expectCode('SCHEMA_UNKNOWN', () => codec.decode(payload, '0'.repeat(64)));
    assert.match(err.message, /unknown writer schema/);
    // another kind's fingerprint is not a trace schema
    expectCode('SCHEMA_UNKNOWN', () => codec.decode(payload, createCodec('audit-event').fingerprint));
  });

  it('truncated, trailing and garbage bytes -> RECORD_MALFORMED with a clear message', () => {
    const { payload, fingerprint } = codec.encode(sampleTrace);
    const truncated = expectCode('RECORD_MALFORMED', () => codec.decode(payload.subarray(0, payload.length - 3), fingerprint));
    assert.match(truncated.message, /truncated/);
    const trailing = expectCode('RECORD_MALFORMED', () => codec.decode(Buffer.concat([payload, Buffer.from([0])]), fingerprint));
    assert.match(trailing.message, /trailing bytes/);
    expectCode('RECORD_MALFORMED', () => codec.decode(Buffer.from('{"not":"avro"}'), fingerprint));
    expectCode('RECORD_MALFORMED', () => codec.decode(Buffer.alloc(0), fingerprint));
    expectCode('RECORD_MALFORMED', () => codec.decode(null as unknown as Buffer, fingerprint));
  });

  it('a tiny payload announcing billions of items is refused at once', () => {
    const audit = createCodec('audit-event');
    const str = avro.Type.forSchema('string');
    const long = avro.Type.forSchema('long');
    const hostile = Buffer.concat([...Array.from({ length: 6 }, () => str.toBuffer('x')), long.toBuffer(0), long.toBuffer(0), long.toBuffer(0), long.toBuffer(2 ** 31)]);
    const started = Date.now();
    expectCode('RECORD_MALFORMED', () => audit.decode(hostile, audit.fingerprint));
    assert.ok(Date.now() - started < 1000);
  });

  it('random corruption never escapes as anything but RECORD_MALFORMED', () => {
    const { payload, fingerprint } = codec.encode(sampleTrace);
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 500; i++) {
      const copy = Buffer.from(payload.subarray(0, payload.length - rand(4)));
      for (let k = 0; k < 1 + rand(3); k++) copy[rand(copy.length)] = rand(256);
      try {
        codec.decode(copy, fingerprint);
      } catch (err) {
        assert.ok(err instanceof TracefenceError && err.code === 'RECORD_MALFORMED', String(err));
      }
    }
  });

  it('enforces maxBytes both ways -> RECORD_TOO_LARGE', () => {
    const small = createCodec('reasoning-trace', { maxBytes: 100 });
    const { payload, fingerprint } = codec.encode(sampleTrace);
    expectCode('RECORD_TOO_LARGE', () => small.decode(payload, fingerprint));
    expectCode('RECORD_TOO_LARGE', () => small.encode(sampleTrace));
  });

  it('reads the tf-schema header from KafkaJS headers', () => {
    assert.equal(SCHEMA_HEADER, 'tf-schema');
    assert.equal(readSchemaHeader({ 'tf-schema': Buffer.from('abc') }), 'abc');
    assert.equal(readSchemaHeader({ 'tf-schema': 'abc' }), 'abc');
    assert.equal(readSchemaHeader({ 'tf-schema': [Buffer.from('abc')] }), 'abc');
    assert.equal(readSchemaHeader({ 'tf-schema': ['a', 'b'] }), undefined);
    assert.equal(readSchemaHeader({}), undefined);
    assert.equal(readSchemaHeader(undefined), undefined);
  });
});
