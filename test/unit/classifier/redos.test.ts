import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_PROFILES, createClassifier, createMasker } from '../../../services/classifier/index.js';

/**
 * Adversarial inputs: every detector must stay linear. The bound is generous (a loaded 2-core
 * machine, no JIT warm-up) yet far below what quadratic behaviour on 256 KB would take.
 */
const classifier = createClassifier();
const masker = createMasker(BUILTIN_PROFILES.redact, { classifier });
const SIZE = 256 * 1024;
const MS_PER_KB = 4;

function repeatTo(unit: string): string {
  return unit.repeat(Math.ceil(SIZE / unit.length)).slice(0, SIZE);
}

const INPUTS: Record<string, string> = {
  digits: repeatTo('1'),
  'digit groups': repeatTo('4111 '),
  'digits and dashes': repeatTo('12-'),
  'dotted digits': repeatTo('1.'),
  dots: repeatTo('.'),
  'at-signs': repeatTo('@'),
  'local parts and at-signs': repeatTo('a.b@'),
  'domain labels': 'x@' + repeatTo('a.'),
  base64: repeatTo('QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3'),
  base58: repeatTo('1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN'),
  spaces: repeatTo(' '),
  colons: repeatTo(':'),
  'hex and colons': repeatTo('ab:'),
  'secret prefixes': repeatTo('AKIAsk-ghp_xoxb-eyJ://'),
  'key words': repeatTo('password='),
  'json keys': repeatTo('"token": "'),
  'escaped json': repeatTo('\\"secret\\": \\"\\\\'),
  'pem begin': repeatTo('-----BEGIN PRIVATE KEY-----'),
  'url userinfo': repeatTo('://a:'),
  plus: repeatTo('+1 '),
  parens: repeatTo('(0)'),
  'iban-ish': repeatTo('DE89 '),
  bech32: 'bc1' + repeatTo('q'),
};

for (const [name, input] of Object.entries(INPUTS)) {
  test(`linear time on ${SIZE / 1024} KB of ${name}`, () => {
    const t0 = performance.now();
    const findings = classifier.scanText(input);
    masker.maskText(input, findings);
    const ms = performance.now() - t0;
    if (process.env['REDOS_VERBOSE'] !== undefined) console.log(`${name}: ${ms.toFixed(1)} ms`);
    assert.ok(ms < (SIZE / 1024) * MS_PER_KB, `${name}: ${ms.toFixed(0)} ms for ${SIZE / 1024} KB`);
  });
}
