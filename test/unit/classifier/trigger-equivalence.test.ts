/**
 * The gated scan (the single pass over the text, detectors skipped when their trigger characters
 * are absent, shortcuts inside detectors) must report exactly what the full scan (every detector's
 * own scan on every text) reports: same findings, same order, on the
 * accuracy corpus, on random strings built from the characters detectors react to, and on
 * adversarial strings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClassifierWith } from '../../../services/classifier/create-classifier.js';
import type { ClassifierOptions } from '../../../services/classifier/index.js';
import type { Candidate } from '../../../services/classifier/detectors/detector.js';
import { createSecretDetector } from '../../../services/classifier/detectors/secret-detector.js';
import { createSinglePass } from '../../../services/classifier/detectors/single-pass.js';
import { createRng, generateCorpus, generateTraceText } from '../../../bench/corpus/trace-generator.js';

function pair(options: ClassifierOptions = {}) {
  return { full: createClassifierWith(options, { gating: false }), gated: createClassifierWith(options, {}) };
}

function assertSame(c: ReturnType<typeof pair>, texts: Iterable<string>): number {
  let n = 0;
  for (const text of texts) {
    const want = c.full.scanText(text);
    const got = c.gated.scanText(text);
    if (JSON.stringify(got) !== JSON.stringify(want)) assert.deepEqual(got, want, `text ${JSON.stringify(text.slice(0, 300))}`);
    n += want.length;
  }
  return n;
}

/** `count` strings of `minLen` to `maxLen` characters, each drawn from one of the alphabets in turn. */
function randomStrings(rng: () => number, alphabets: readonly string[], count: number, minLen: number, maxLen: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < count; k++) {
    const alphabet = alphabets[k % alphabets.length]!;
    const len = minLen + Math.floor(rng() * (maxLen - minLen + 1));
    let s = '';
    for (let i = 0; i < len; i++) s += alphabet[Math.floor(rng() * alphabet.length)];
    out.push(s);
  }
  return out;
}

/** Pieces of `text` of 20-200 characters cut at spaces, as the policy worker sees message parts. */
function shortPieces(text: string, rng: () => number): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    let e = text.indexOf(' ', i + 20 + Math.floor(rng() * 181));
    if (e === -1) e = text.length;
    out.push(text.slice(i, e));
    i = e + 1;
  }
  return out;
}

test('accuracy corpus: gated and full scan give identical findings', () => {
  const c = pair();
  const records = generateCorpus(20240601, 400).map((r) => r.text);
  const found = assertSame(c, records);
  assert.ok(found > 5000, `corpus too small to mean anything: ${found} findings`);
  const rng = createRng(11);
  assertSame(c, records.slice(0, 100).flatMap((r) => shortPieces(r, rng)));
  assertSame(c, generateTraceText(5, 400_000, 0.15));
});

test('random strings over trigger characters: identical findings', () => {
  const c = pair();
  const rng = createRng(99);
  const alphabets = [
    '0123456789 -.:/()+',
    '0123456789abcdefABCDEF:.:: ',
    'abcdef0123456789:.[]% \n',
    'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ',
    '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz bc1',
    'ab.c@-_+\'0123456789 ',
    'passwordtokenkey=:"\' 0123456789_-',
    'the quick brown fox, ',
  ];
  assertSame(c, randomStrings(rng, alphabets, 6000, 3, 122));
});

test('IPv6 shapes around the colon count check: identical findings', () => {
  const c = pair();
  const rng = createRng(5);
  const texts: string[] = [];
  const groups = ['', '0', '1', 'ff', 'db8', '2001', 'fe80', 'abcd', '1.2.3.4', '192.168.0.1', '10.0.0', '1.2.3.4.5'];
  for (let k = 0; k < 20000; k++) {
    const n = 1 + Math.floor(rng() * 10);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(groups[Math.floor(rng() * groups.length)]!);
    const addr = parts.join(':');
    texts.push(`host ${addr} up`, `[${addr}]:443`, `${addr}.`, `at ${addr}:`);
  }
  for (const t of ['2001:db8::1', '::1', '::ffff:192.0.2.1', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:1.2.3.4', 'fe80::1:2:3:4:5:6:7', '12:30:45.123', '2024-01-01T12:30:45.123Z']) texts.push(t, `x ${t} y`);
  assert.ok(assertSame(c, texts) > 10000, 'too few addresses found to compare');
});

test('adversarial and boundary strings: identical findings', () => {
  const c = pair();
  const units = ['1', '4111 ', '12-', '1.', '@', 'a.b@', 'ab:', ':', 'AKIAsk-ghp_xoxb-eyJ://', 'password=', '"token": "', 'DE89 ', '+1 ', '(0)', '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN', 'bc1q', '::'];
  const texts: string[] = [];
  for (const u of units) for (const n of [1, 2, 3, 7, 50, 400]) texts.push(u.repeat(n));
  const values = ['4111 1111 1111 1111', '536-22-1457', '10.0.0.7', '+14155552671', 'ann@example.org', 'DE89 3704 0044 0532 0130 00', '2001:db8::7', '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', 'AKIAIOSFODNN7EXAMPLE', 'password: hunter2x'];
  for (const v of values) for (const [a, b] of [['', ''], ['x', ''], ['', 'x'], ['😀', 'é'], ['words only ', ' and more'], ['no', '']]) texts.push(a + v + b);
  for (const t of ['', 'a', 'ab', 'abc', 'no digits at all here', 'één 😀 日本', 'x'.repeat(5000)]) texts.push(t);
  assertSame(c, texts);
});

test('type subsets and custom detectors keep the full-scan findings and their order', () => {
  const options: ClassifierOptions[] = [
    { types: ['EMAIL_ADDRESS', 'SECRET'] },
    { types: ['IP_ADDRESS'] },
    { types: ['CRYPTO', 'IBAN_CODE'] },
    { customDetectors: [{ type: 'ORDER_ID', pattern: 'ORD-[0-9]{6}' }, { type: 'CODE_WORD', pattern: '[a-z]{4,8}', keywords: ['token'] }] },
  ];
  const records = generateCorpus(7, 120).map((r) => r.text);
  for (const o of options) {
    const c = pair(o);
    assertSame(c, records);
    assertSame(c, ['ORD-123456 and ORD-654321', 'the token word list', 'ann@example.org ORD-000001']);
  }
});

test('single pass: mixed case key words, keywords at both ends, characters that fold onto ASCII', () => {
  const c = pair();
  const rng = createRng(2024);
  const alphabets = [
    'PaSsWoRdTOKENsecretApI_kEyAuthSSN:= "\'',
    'AKIAghp_xoxb-sk-ant-eyJ://@Bearer Token 0123456789abcdefXYZ',
    'DE89370400440532013000GB82WEST12345698765432 _-',
    '13bc1tbBC1TB1qpzry9x8gf2tvdw0s3jn54khce6mua7l _',
    // Characters whose low 5 or 7 bits equal those of ASCII trigger letters.
    'ĀŁŠŰƀ€😀ﬀ\u2028pPaAsS:=',
  ];
  const texts = randomStrings(rng, alphabets, 8000, 1, 90);
  const starts = ['password=hunter2x9', 'AKIAIOSFODNN7EXAMPLE', 'DE89 3704 0044 0532 0130 00', '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', '+44 20 7946 0958', 'Token: abc123def456ghi789'];
  for (const v of starts) texts.push(v, `x ${v}`, `${v} x`, v.slice(0, 3), v.slice(0, -1), `_${v}`, `Ł${v}Ł`);
  const found = assertSame(c, texts);
  assert.ok(found > 25, `too few findings to compare: ${found}`);
});

test('single pass: secret rules with keywords shorter than three characters still run everywhere', () => {
  const rules = [{ subtype: 'short_prefix', keywords: ['q'], pattern: /q[0-9]{6}/y }, { subtype: 'two', keywords: ['zz'], pattern: /zz-[a-z]{4}/y }];
  const alone = createSecretDetector(rules);
  const pass = createSinglePass({ secret: createSecretDetector(rules) });
  for (const s of randomStrings(createRng(8), ['qz-0123456789abcd '], 3000, 0, 39)) {
    const want: Candidate[] = [];
    alone.scan(s, want);
    const got = [...pass.scan(s).values()][0];
    assert.deepEqual(got, want, `text ${JSON.stringify(s)}`);
  }
  const end: Candidate[] = [];
  alone.scan('abc q123456', end);
  assert.equal(end.length, 1);
  assert.deepEqual([...pass.scan('abc q123456').values()][0], end);
});

test('single pass: a text longer than the kept code-unit buffer, then short ones again', () => {
  const c = pair();
  const tail = ' mail bob@example.com card 4111 1111 1111 1111 key AKIAIOSFODNN7EXAMPLE';
  const texts = ['ann@example.org 10.0.0.7', `${'word 12 '.repeat(300_000)}${tail}`, 'password=hunter2x9 +44 20 7946 0958', tail];
  assert.ok(texts[1]!.length > 2 ** 21);
  assert.equal(assertSame(c, texts), 2 + 3 + 2 + 3);
});
