/** Invalid UTF-8 inside an Avro string is refused, never silently replaced; a real U+FFFD is kept. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCodec } from '../../services/shared/avro/index.js';
import { TracefenceError } from '../../services/shared/errors.js';
import { sampleTrace } from '../fixtures/avro/samples.js';

const codec = createCodec('reasoning-trace');

test('a string with invalid UTF-8 bytes is RECORD_MALFORMED', () => {
  const { payload, fingerprint } = codec.encode({ ...sampleTrace, labels: { note: 'MARKER-ABCD' } });
  const at = payload.indexOf('MARKER-ABCD');
  assert.ok(at > 0);
  const broken = Buffer.from(payload);
  broken[at] = 0xc3; // a lead byte followed by ASCII: not UTF-8
  assert.throws(
    () => codec.decode(broken, fingerprint),
    (err: unknown) => err instanceof TracefenceError && err.code === 'RECORD_MALFORMED' && /UTF-8/.test(err.message),
  );
});

test('a genuine U+FFFD character in a string decodes unchanged', () => {
  const trace = { ...sampleTrace, labels: { note: 'replacement \uFFFD character' } };
  const { payload, fingerprint } = codec.encode(trace);
  assert.equal(codec.decode(payload, fingerprint).labels['note'], 'replacement \uFFFD character');
});

for (const fastDecode of [true, false]) {
  test(`invalid UTF-8 in a map key is RECORD_MALFORMED (${fastDecode ? 'one-pass' : 'general'} decode)`, () => {
    const c = createCodec('reasoning-trace', { fastDecode });
    const { payload, fingerprint } = c.encode({ ...sampleTrace, labels: { 'KEYMARKER-ABCD': 'value' } });
    const at = payload.indexOf('KEYMARKER-ABCD');
    assert.ok(at > 0);
    const broken = Buffer.from(payload);
    broken[at] = 0xff;
    assert.throws(
      () => c.decode(broken, fingerprint),
      (err: unknown) => err instanceof TracefenceError && err.code === 'RECORD_MALFORMED' && /UTF-8/.test(err.message),
    );
  });
}
