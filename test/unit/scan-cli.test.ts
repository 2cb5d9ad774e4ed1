import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../..');
const bin = join(root, 'bin/tracefence.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], input: string | Buffer, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'scan', ...args], { cwd: root, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => undefined); // the child may exit before reading everything
    child.stdin.end(input);
  });
}

function lines(out: string): Array<{ id: string; findings: Array<{ type: string; start: number; end: number; subtype?: string }>; masked: string }> {
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as ReturnType<typeof lines>[number]);
}

test('scan: one output line per input line, in order, with offsets and masked text', async () => {
  const input = readFileSync(join(root, 'test/fixtures/classifier/scan-input.jsonl'));
  const r = await run([], input);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const out = lines(r.stdout);
  assert.deepEqual(out.map((o) => o.id), ['r1', 'r2', 'r3']);
  const text1 = 'Contact jane.doe@example.com or +44 20 7946 0958.';
  assert.deepEqual(out[0]!.findings, [
    { type: 'EMAIL_ADDRESS', start: 8, end: 28 },
    { type: 'PHONE_NUMBER', start: 32, end: 48 },
  ]);
  assert.equal(text1.slice(8, 28), 'jane.doe@example.com');
  assert.equal(out[0]!.masked, 'Contact [EMAIL_ADDRESS] or [PHONE_NUMBER].');
  assert.deepEqual(out[1]!.findings[0], { type: 'SECRET', start: 4, end: 24, subtype: 'aws_access_key_id' });
  assert.equal(out[1]!.masked, 'key [SECRET], card [CREDIT_CARD]');
  assert.deepEqual(out[2], { id: 'r3', findings: [], masked: 'nothing here' });
});

test('scan: offsets are UTF-16 code units', async () => {
  const text = '😀😀 a@b.example';
  const r = await run([], JSON.stringify({ id: 'u', text }) + '\n');
  const [o] = lines(r.stdout);
  assert.deepEqual(o!.findings, [{ type: 'EMAIL_ADDRESS', start: 5, end: 16 }]);
  assert.equal(text.slice(5, 16), 'a@b.example');
});

test('scan: bad lines are reported with their line number, processing continues, exit 1', async () => {
  const secretish = 'not json but 4111 1111 1111 1111';
  const input = [
    '{"id":"a","text":"a@b.example"}',
    secretish,
    '{"id":1,"text":"x"}',
    '',
    '{"id":"b"}',
    '[1,2]',
    '{"id":"c","text":"ok"}',
  ].join('\n');
  const r = await run([], input);
  assert.equal(r.code, 1);
  assert.deepEqual(lines(r.stdout).map((o) => o.id), ['a', 'c']);
  assert.match(r.stderr, /line 2: SCAN_INPUT_INVALID: not valid JSON/);
  assert.match(r.stderr, /line 3: SCAN_INPUT_INVALID: "id" must be a string/);
  assert.match(r.stderr, /line 5: SCAN_INPUT_INVALID: "text" must be a string/);
  assert.match(r.stderr, /line 6: SCAN_INPUT_INVALID: not a JSON object/);
  assert.doesNotMatch(r.stderr, /4111/); // input text never reaches stderr
});

test('scan: over-long lines are bad lines; the next line is still processed', async () => {
  const long = JSON.stringify({ id: 'long', text: 'x'.repeat(5000) });
  const r = await run(['--max-line-bytes', '1000'], `${long}\n{"id":"after","text":"a@b.example"}\r\n`);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /line 1: SCAN_INPUT_INVALID: line longer than 1000 bytes/);
  assert.deepEqual(lines(r.stdout).map((o) => o.id), ['after']);
});

test('scan: profiles partial, drop and pseudonymize with a key file or env', async () => {
  const input = '{"id":"p","text":"card 4111111111111111 mail a@b.example"}\n';
  const partial = await run(['--profile', 'partial'], input);
  assert.equal(lines(partial.stdout)[0]!.masked, 'card ************1111 mail *******mple');
  const drop = await run(['--profile', 'drop'], input);
  assert.equal(lines(drop.stdout)[0]!.masked, 'card  mail ');

  const dir = mkdtempSync(join(tmpdir(), 'tf-scan-'));
  try {
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, '00112233445566778899aabbccddeeff\n');
    const a = await run(['--profile', 'pseudonymize', '--key-file', keyFile], input);
    const b = await run(['--profile', 'pseudonymize'], input, { TRACEFENCE_PSEUDONYM_KEY: '00112233445566778899aabbccddeeff' });
    assert.equal(a.code, 0, a.stderr);
    assert.match(lines(a.stdout)[0]!.masked, /^card \[CREDIT_CARD:[0-9a-f]{16}\] mail \[EMAIL_ADDRESS:[0-9a-f]{16}\]$/);
    assert.equal(lines(a.stdout)[0]!.masked, lines(b.stdout)[0]!.masked);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const noKey = await run(['--profile', 'pseudonymize'], input, { TRACEFENCE_PSEUDONYM_KEY: '' });
  assert.equal(noKey.code, 2);
  assert.match(noKey.stderr, /CONFIG_INVALID/);
});

test('scan: --help, unknown options and custom detectors', async () => {
  const help = await run(['--help'], '');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--profile/);
  const bad = await run(['--nope'], '');
  assert.equal(bad.code, 2);
  const unknownProfile = await run(['--profile', 'shred'], '');
  assert.equal(unknownProfile.code, 2);

  const dir = mkdtempSync(join(tmpdir(), 'tf-scan-'));
  try {
    const cfg = join(dir, 'detectors.json');
    writeFileSync(cfg, JSON.stringify({ customDetectors: [{ type: 'TICKET', pattern: 'TCK-\\d{6}' }] }));
    const r = await run(['--detectors', cfg], '{"id":"t","text":"see TCK-123456"}\n');
    assert.equal(lines(r.stdout)[0]!.masked, 'see [TICKET]');
    writeFileSync(cfg, JSON.stringify({ customDetectors: [{ type: 'BAD', pattern: '(a+)+' }] }));
    const rejected = await run(['--detectors', cfg], '');
    assert.equal(rejected.code, 2);
    assert.match(rejected.stderr, /customDetectors\[0\]\.pattern/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('scan: streams many lines without buffering them all', async () => {
  const n = 20000;
  const input = Array.from({ length: n }, (_, i) => JSON.stringify({ id: `l${i}`, text: `row ${i} mail u${i}@example.com` })).join('\n') + '\n';
  const r = await run([], input);
  assert.equal(r.code, 0);
  const out = lines(r.stdout);
  assert.equal(out.length, n);
  assert.equal(out[n - 1]!.id, `l${n - 1}`);
  assert.equal(out[n - 1]!.masked, `row ${n - 1} mail [EMAIL_ADDRESS]`);
});
