import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClassifier } from '../../../services/classifier/index.js';
import { TracefenceError } from '../../../services/shared/errors.js';

const classifier = createClassifier();

test('scanValue walks objects and arrays with paths', () => {
  const found = classifier.scanValue({ a: ['x', 'mail a@b.example'], b: { c: 'ip 10.1.2.3' }, n: 4111111111111111 }, ['root']);
  assert.deepEqual(found, [
    { type: 'EMAIL_ADDRESS', start: 5, end: 16, path: ['root', 'a', '1'] },
    { type: 'IP_ADDRESS', start: 3, end: 11, path: ['root', 'b', 'c'] },
  ]);
});

test('key-name rules classify values whatever their shape', () => {
  const found = classifier.scanValue({ Authorization: 'Basic dXNlcjpwYXNz', userSsn: 42, clientSecret: { v: 1 }, has_password: true, secret_name: 'prod' });
  assert.deepEqual(
    found.map((f) => [f.path[0], f.type, f.subtype]),
    [
      ['Authorization', 'SECRET', 'authorization'],
      ['userSsn', 'US_SSN', undefined],
      ['clientSecret', 'SECRET', 'secret'],
    ],
  );
});

test('key-name matching respects word boundaries for short names', () => {
  assert.equal(classifier.matchKeyName('classn'), undefined);
  assert.equal(classifier.matchKeyName('oauth'), undefined);
  assert.equal(classifier.matchKeyName('max_tokens'), undefined);
  assert.equal(classifier.matchKeyName('user_ssn')?.type, 'US_SSN');
  assert.equal(classifier.matchKeyName('DB_PASSWORD')?.type, 'SECRET');
  assert.equal(classifier.matchKeyName('x-api-key')?.subtype, 'api_key');
});

test('too deep a value is a reported error, not a crash', () => {
  let deep: unknown = 'a@b.example';
  for (let i = 0; i < 100; i++) deep = { d: deep };
  assert.throws(() => classifier.scanValue(deep), (err: unknown) => err instanceof TracefenceError && err.code === 'SCAN_INPUT_INVALID' && typeof err.path === 'string');
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;
  assert.throws(() => classifier.scanValue(cyclic), TracefenceError);
  const shallow = createClassifier({ maxDepth: 2 });
  assert.throws(() => shallow.scanValue({ a: { b: { c: 'x' } } }), TracefenceError);
});

test('custom key-name rules', () => {
  const c = createClassifier({ keyNameRules: [{ suffix: 'employeeid', type: 'EMPLOYEE_ID' }] });
  assert.deepEqual(c.scanValue({ employee_id: 'E-1' }), [{ type: 'EMPLOYEE_ID', start: 0, end: 3, path: ['employee_id'] }]);
});
