import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClassifier } from '../../../services/classifier/index.js';
import { backtrackChoices, compilePattern, patternProblem } from '../../../services/classifier/regex-safety.js';
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
        { type: 'OK_TYPE', pattern: 'x(?=y)' },
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

test('a pattern with bounded backtracking runs on V8, any other on the linear-time engine', () => {
  for (const native of ['\\d{3}-\\d{2}-\\d{4}', '(?:\\d{4} ){3}\\d{4}', '[A-Z]{2}\\d{6}[A-D]', 'EMP-\\d{6}', '(?:ab|cd)\\d{4}', '[(+]\\d{1,12}']) {
    assert.notEqual(backtrackChoices(native), undefined, native);
    assert.equal(compilePattern(native, '').engine, 'native', native);
  }
  for (const re2 of ['(a+)+', 'a+b', '(a|a)*b', '(?:a|aa)+b', '(\\d{2,}\\s?)*', '(?:x|y){2,5}', '\\w{1,64}@\\w{1,64}', 'a{1,2000}']) {
    assert.equal(backtrackChoices(re2), undefined, re2);
    if (patternProblem(re2, '') === undefined) assert.equal(compilePattern(re2, '').engine, 're2', re2);
  }
});

test('configured patterns the linear-time engine cannot run, and empty classes, are refused', () => {
  for (const bad of ['(a)\\1', '(?<n>a)\\k<n>', 'x(?=y)', 'x(?<!y)', '(?:[]|(?:a+)+b|])', 'a[^]b', 'x*', '(']) {
    assert.notEqual(patternProblem(bad, ''), undefined, bad);
  }
  for (const ok of ['(a|a)*b', '(a+)+b', 'a+b', '[A-Z]{2}\\d{6}[A-D]']) assert.equal(patternProblem(ok, ''), undefined, ok);
});

test('catastrophic and polynomial custom patterns stay linear on long input', () => {
  const input = 'a'.repeat(100_000);
  for (const pattern of ['(a|a)*b', '(?:a|aa)+b', 'a+b', '[a-z]+\\d', 'a*a*a*b', '(a+)+b']) {
    const c = createClassifier({ customDetectors: [{ type: 'X_TEST', pattern }] });
    const t0 = performance.now();
    assert.deepEqual(c.scanText(input), []);
    const ms = performance.now() - t0;
    // Linear: well under a second for 100 KB even on a loaded 2-core host (backtracking takes minutes).
    assert.ok(ms < 2000, `${pattern}: ${ms.toFixed(0)} ms for 100 KB`);
  }
});

test('a pattern on the linear-time engine finds the same matches, with UTF-16 offsets', () => {
  const c = createClassifier({ customDetectors: [{ type: 'EMP_ID', pattern: '(?:EMP|emp)-\\d+', keywords: ['emp'] }] });
  const text = '😀 see EMP-123456 and emp-7, not xEMP-1';
  assert.deepEqual(c.scanText(text).map((f) => [f.type, f.start, text.slice(f.start, f.end)]), [['EMP_ID', 7, 'EMP-123456'], ['EMP_ID', 22, 'emp-7']]);
});

test('a misspelt field is CONFIG_INVALID, not silently ignored', () => {
  try {
    createClassifier({ customDetector: [], customDetectors: [{ type: 'X_A', regex: 'x', pattern: 'bar\\d', validator: 'luhn' }], keyNameRules: [{ suffix: 'empid', type: 'EMP', sub: 'x' }] } as never);
    assert.fail('expected an error');
  } catch (err) {
    assert.ok(err instanceof ValidationError);
    assert.deepEqual(err.issues.map((i) => i.path), ['customDetector', 'customDetectors[0].regex', 'customDetectors[0].validator', 'keyNameRules[0].sub']);
  }
});

test('configured key-name rules apply to keys in text too', () => {
  const c = createClassifier({ keyNameRules: [{ suffix: 'employeeid', type: 'EMPLOYEE_ID' }] });
  for (const text of ['{"employeeId": "E12345"}', 'employee_id=E12345', 'EMPLOYEE-ID: E12345']) {
    assert.deepEqual(c.scanText(text).map((f) => [f.type, text.slice(f.start, f.end)]), [['EMPLOYEE_ID', 'E12345']], text);
  }
  assert.deepEqual(c.scanText('badge E12345'), []);
});
