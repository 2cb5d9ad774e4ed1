import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClassifier } from '../../../services/classifier/index.js';
import { regexSafetyProblem } from '../../../services/classifier/regex-safety.js';
import { ValidationError } from '../../../services/shared/errors.js';

test('a custom detector with a checksum (Aadhaar with Verhoeff)', () => {
  const c = createClassifier({ customDetectors: [{ type: 'IN_AADHAAR', pattern: '[2-9]\\d{3} \\d{4} \\d{4}', validate: 'verhoeff', keywords: ['aadhaar'] }] });
  // 2345 6789 0124 passes Verhoeff; ...0123 does not.
  const text = 'Aadhaar 2345 6789 0124 and 2345 6789 0123';
  const found = c.scanText(text).filter((f) => f.type === 'IN_AADHAAR');
  assert.deepEqual(found.map((f) => text.slice(f.start, f.end)), ['2345 6789 0124']);
  // The keyword gate skips text without the keyword.
  assert.deepEqual(c.scanText('number 2345 6789 0124').filter((f) => f.type === 'IN_AADHAAR'), []);
});

test('a custom regex detector (UK National Insurance number)', () => {
  const c = createClassifier({ customDetectors: [{ type: 'UK_NINO', pattern: '[A-CEGHJ-PR-TW-Z]{2}\\d{6}[A-D]', flags: 'i' }] });
  const text = 'NI number ab123456c, not xAB123456C';
  assert.deepEqual(c.scanText(text).map((f) => [f.type, text.slice(f.start, f.end)]), [['UK_NINO', 'ab123456c']]);
});

test('bad custom configuration is CONFIG_INVALID with the path of every problem', () => {
  try {
    createClassifier({
      customDetectors: [
        { type: 'OK_TYPE', pattern: '(a+)+b' },
        { type: 'bad type', pattern: '(' },
        { type: 'EMPTY', pattern: 'x*' },
        { type: 'FLAGS', pattern: 'x', flags: 'g' },
        { type: 'CHECK', pattern: 'x', validate: 'crc32' as 'luhn' },
      ],
    });
    assert.fail('expected an error');
  } catch (err) {
    assert.ok(err instanceof ValidationError);
    assert.equal(err.code, 'CONFIG_INVALID');
    const paths = err.issues.map((i) => i.path);
    assert.deepEqual(paths, [
      'customDetectors[0].pattern',
      'customDetectors[1].type',
      'customDetectors[1].pattern',
      'customDetectors[2].pattern',
      'customDetectors[3].flags',
      'customDetectors[4].validate',
    ]);
    assert.equal(err.path, 'customDetectors[0].pattern');
  }
  assert.throws(() => createClassifier({ types: ['NOPE'] }), ValidationError);
  assert.throws(() => createClassifier({ maxDepth: 0 }), ValidationError);
});

test('regex safety check', () => {
  for (const bad of ['(a+)+', '(a*)*b', '(\\d{2,}\\s?)*', '(?:x|y+){2,}', '(a)\\1', '(?<n>a)\\k<n>', 'a{1,20000}']) {
    assert.notEqual(regexSafetyProblem(bad), undefined, bad);
  }
  for (const ok of ['\\d{3}-\\d{2}-\\d{4}', '(?:\\d{4} ){3}\\d{4}', '[A-Z]{2}\\d{6}[A-D]', '(?:ab)+c', '[(+]\\d+', 'x(?=y)']) {
    assert.equal(regexSafetyProblem(ok), undefined, ok);
  }
});
