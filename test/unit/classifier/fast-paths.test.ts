/**
 * Boundary cases of the scanning fast paths: the number detector reads only every 7th character
 * until it meets a run of number characters, so a value must be found wherever it sits relative to
 * that stride (start and end of the text, every prefix length), next to non-ASCII characters and
 * after surrogate pairs (offsets are UTF-16 code units).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClassifier } from '../../../services/classifier/index.js';

const classifier = createClassifier();

const VALUES: Array<[type: string, value: string]> = [
  ['CREDIT_CARD', '4111 1111 1111 1111'],
  ['CREDIT_CARD', '5500005555555559'],
  ['US_SSN', '536-22-1457'],
  ['IP_ADDRESS', '10.0.0.7'],
  ['IP_ADDRESS', '1.2.3.4'], // shortest run any type accepts: 7 characters
  ['PHONE_NUMBER', '+14155552671'],
  ['PHONE_NUMBER', '(415) 555-2671'],
  ['PHONE_NUMBER', '+44 20 7946 0958'],
  ['SECRET', 'AKIAIOSFODNN7EXAMPLE'],
  ['EMAIL_ADDRESS', 'ann@example.org'],
  ['IBAN_CODE', 'DE89 3704 0044 0532 0130 00'],
];

const PREFIXES = ['', ' ', 'é ', '😀', '😀 ', '日本 ', 'ünïcödé: ', '😀😀😀 x '];
const SUFFIXES = ['', ' ', '.', ' é', ' 😀', '😀', '\n'];

test('values are found at every offset, after non-ASCII text and surrogate pairs', () => {
  for (const [type, value] of VALUES) {
    for (const prefix of PREFIXES) {
      for (let pad = 0; pad <= 15; pad++) {
        for (const suffix of SUFFIXES) {
          // A non-ASCII prefix right before the value is a boundary for every type.
          const head = prefix + 'w'.repeat(pad) + (pad > 0 ? ' ' : '');
          const text = head + value + suffix;
          const hits = classifier.scanText(text);
          const ok = hits.some((f) => f.type === type && f.start === head.length && f.end === head.length + value.length);
          assert.ok(ok, `${type} ${JSON.stringify(value)} in ${JSON.stringify(text)}: got ${JSON.stringify(hits)}`);
        }
      }
    }
  }
});

test('a value touching non-ASCII letters on both sides is still found at the right UTF-16 offsets', () => {
  for (const [type, value] of VALUES.filter(([t]) => t !== 'EMAIL_ADDRESS')) {
    const text = `😀é${value}é😀`;
    const hits = classifier.scanText(text);
    assert.ok(
      hits.some((f) => f.type === type && f.start === 3 && f.end === 3 + value.length),
      `${type} ${JSON.stringify(value)} in ${JSON.stringify(text)}: got ${JSON.stringify(hits)}`,
    );
  }
});

test('number runs shorter than any accepted value, or glued to words, find nothing', () => {
  for (const text of ['12-34-5', 'x 1.2.3 y', 'build4111111111111111', '4111111111111111x', 'v1.2.3.4', '😀123456😀']) {
    const hits = classifier.scanText(text).filter((f) => f.type !== 'SECRET');
    assert.deepEqual(hits, [], `${JSON.stringify(text)}: ${JSON.stringify(hits)}`);
  }
});

test('runs of number characters of every length around the sampling stride', () => {
  // A phone number inside a longer run of separators and digits, at every alignment.
  for (let pad = 0; pad < 14; pad++) {
    const head = '-'.repeat(pad) + ' ';
    const text = `${head}(415) 555-2671 ${'-'.repeat(14 - pad)}`;
    const hits = classifier.scanText(text);
    assert.ok(hits.some((f) => f.type === 'PHONE_NUMBER' && f.start === head.length && f.end === head.length + 14), `${JSON.stringify(text)}: ${JSON.stringify(hits)}`);
  }
});
