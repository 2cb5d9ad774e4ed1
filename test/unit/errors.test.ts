import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, TracefenceError, ValidationError, describeError } from '../../services/shared/errors.js';

test('every error code is documented in docs/errors.md', () => {
  const doc = readFileSync(join(import.meta.dirname, '../../docs/errors.md'), 'utf8');
  const missing = Object.keys(ERROR_CODES).filter((code) => !doc.includes(`\`${code}\``));
  assert.deepEqual(missing, []);
});

test('validation errors list every issue with its path', () => {
  const err = new ValidationError('CONFIG_INVALID', 'config.yaml', [
    { path: 'kafka.brokers', message: 'must not be empty' },
    { path: 'regions.eu.topic', message: 'must be a string' },
  ]);
  assert.equal(err.code, 'CONFIG_INVALID');
  assert.equal(err.path, 'kafka.brokers');
  assert.match(describeError(err), /kafka\.brokers: must not be empty/);
  assert.match(describeError(err), /regions\.eu\.topic: must be a string/);
});

test('retriable defaults to false and keeps the cause', () => {
  const cause = new Error('socket hang up');
  const err = new TracefenceError('STORAGE_UNAVAILABLE', 'upload failed', { retriable: true, cause });
  assert.equal(err.retriable, true);
  assert.equal(err.cause, cause);
  assert.equal(new TracefenceError('INTERNAL', 'x').retriable, false);
});
