import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** Runs scan with stdin and/or stdout bound to a file descriptor (a file, a directory, /dev/full). */
function runFds(args: string[], fds: { stdin?: number; stdout?: number }, input = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'scan', ...args], {
      cwd: root,
      stdio: [fds.stdin ?? 'pipe', fds.stdout ?? 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}

function manyLines(n: number): string {
  return Array.from({ length: n }, (_, i) => JSON.stringify({ id: `l${i}`, text: `row ${i} mail u${i}@example.com` })).join('\n') + '\n';
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
    writeFileSync(cfg, JSON.stringify({ customDetectors: [{ type: 'BAD', pattern: 'x(?=y)' }] }));
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

test('scan: a reader closing stdout early (EPIPE) stops the scan quietly with exit 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-scan-'));
  const file = join(dir, 'many.jsonl');
  writeFileSync(file, manyLines(100_000));
  const fd = openSync(file, 'r');
  try {
    const r = await new Promise<Run & { first: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [bin, 'scan'], { cwd: root, stdio: [fd, 'pipe', 'pipe'] });
      let first = '';
      let stderr = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        first += d;
        if (first.includes('\n')) child.stdout!.destroy(); // like `| head -1`
      });
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout: '', stderr, first }));
    });
    assert.equal(lines(r.first.split('\n')[0]!)[0]!.id, 'l0');
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('scan: a failed stdout write (ENOSPC) is reported and exits 1', { skip: !existsSync('/dev/full') }, async () => {
  for (const input of ['{"id":"a","text":"a@example.com"}\n', manyLines(5000)]) {
    const full = openSync('/dev/full', 'w');
    try {
      const r = await runFds([], { stdout: full }, input);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, 'tracefence scan: writing stdout failed: ENOSPC\n');
    } finally {
      closeSync(full);
    }
  }
});

test('scan: a directory as stdin is a read failure (EISDIR), exit 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-scan-'));
  const fd = openSync(dir, 'r');
  try {
    const r = await runFds([], { stdin: fd });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^tracefence scan: reading stdin failed: EISDIR/);
    assert.equal(r.stdout, '');
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('scan: invalid UTF-8 is a bad line, not replaced with U+FFFD; later lines are processed', async () => {
  const input = Buffer.concat([
    Buffer.from('{"id":"a","text":"ok"}\n{"id":"b","text":"x'),
    Buffer.from([0xff, 0xfe]),
    Buffer.from('"}\n{"id":"s","text":"'),
    Buffer.from([0xed, 0xa0, 0x80]), // an encoded UTF-16 surrogate
    Buffer.from('"}\n{"id":"c","text":"a@b.example"}\n'),
  ]);
  const r = await run([], input);
  assert.equal(r.code, 1);
  assert.deepEqual(lines(r.stdout).map((o) => o.id), ['a', 'c']);
  assert.match(r.stderr, /line 2: SCAN_INPUT_INVALID: not valid UTF-8/);
  assert.match(r.stderr, /line 3: SCAN_INPUT_INVALID: not valid UTF-8/);
  assert.doesNotMatch(r.stdout, /\uFFFD/);
});

test('scan: --types with no type is a usage error', async () => {
  for (const types of ['', ',', ' ', ' , ']) {
    const r = await run(['--types', types], '{"id":"a","text":"a@b.example"}\n');
    assert.equal(r.code, 2, `--types ${JSON.stringify(types)}`);
    assert.match(r.stderr, /--types needs at least one type/);
    assert.equal(r.stdout, '');
  }
  const one = await run(['--types', ' EMAIL_ADDRESS ,'], '{"id":"a","text":"a@b.example 4111111111111111"}\n');
  assert.equal(lines(one.stdout)[0]!.masked, '[EMAIL_ADDRESS] 4111111111111111');
});

test('scan: TRACEFENCE_PSEUDONYM_KEY accepts only hex, canonical base64 or base64url', async () => {
  const input = '{"id":"p","text":"mail a@b.example"}\n';
  const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const spellings = [key.toString('hex'), key.toString('hex').toUpperCase(), key.toString('base64'), key.toString('base64url')];
  assert.deepEqual(spellings.slice(2), ['ABEiM0RVZneImaq7zN3u/w==', 'ABEiM0RVZneImaq7zN3u_w']);
  const masked = new Set<string>();
  for (const k of spellings) {
    const r = await run(['--profile', 'pseudonymize'], input, { TRACEFENCE_PSEUDONYM_KEY: k });
    assert.equal(r.code, 0, `${k}: ${r.stderr}`);
    masked.add(lines(r.stdout)[0]!.masked);
  }
  assert.equal(masked.size, 1);

  const refused = [
    'ABEiM0RVZneImaq7zN3u/x==', // non-zero trailing bits: would decode like .../w==
    'ABEiM0RVZneImaq7zN3u/w', // standard alphabet without padding
    'ABEiM0RVZneImaq7zN3u_w==', // base64url with padding
    'ABEiM0RVZneImaq7zN3u/w==!!', // stray characters
    'ABEiM0RVZneI maq7zN3u/w==', // inner whitespace
    ' 00112233445566778899aabbccddeeff', // surrounding whitespace
    '00112233445566778899aabbccddeeff0', // odd number of hex digits
    'ABEiM0RVZneImaq7zN3u/+_w', // mixed alphabets
  ];
  for (const k of refused) {
    const r = await run(['--profile', 'pseudonymize'], input, { TRACEFENCE_PSEUDONYM_KEY: k });
    assert.equal(r.code, 2, k);
    assert.match(r.stderr, /TRACEFENCE_PSEUDONYM_KEY must be hex/);
    assert.ok(!r.stderr.includes(k.trim()), 'the key is never printed');
    assert.equal(r.stdout, '');
  }
});

test('scan: --max-line-bytes is bounded by 256 MiB', async () => {
  const over = await run(['--max-line-bytes', '268435457'], '');
  assert.equal(over.code, 2);
  assert.match(over.stderr, /--max-line-bytes must be an integer from 1 to 268435456/);
  for (const bad of ['0', '-5', '1e3', 'x', '']) {
    const r = await run([`--max-line-bytes=${bad}`], '');
    assert.equal(r.code, 2, bad);
    assert.match(r.stderr, /--max-line-bytes/);
  }
  const max = await run(['--max-line-bytes', '268435456'], '{"id":"a","text":"ok"}\n');
  assert.equal(max.code, 0, max.stderr);
});

test('scan: --keep-last is validated by the CLI (0-4)', async () => {
  for (const bad of ['5', '-1', 'x', '2.5', '', ' 2', '1e0']) {
    const r = await run(['--profile', 'partial', `--keep-last=${bad}`], '');
    assert.equal(r.code, 2, JSON.stringify(bad));
    assert.match(r.stderr, /--keep-last must be an integer from 0 to 4/);
    assert.doesNotMatch(r.stderr, /profile\.default/);
  }
  const zero = await run(['--profile', 'partial', '--keep-last', '0'], '{"id":"a","text":"a@b.example"}\n');
  assert.equal(lines(zero.stdout)[0]!.masked, '***********');
  const two = await run(['--profile', 'partial', '--keep-last', '2'], '{"id":"a","text":"a@b.example"}\n');
  assert.equal(lines(two.stdout)[0]!.masked, '*********le');
});

test('scan: the \\r of a CRLF line end does not count toward --max-line-bytes', async () => {
  const line = JSON.stringify({ id: 'x', text: 'y'.repeat(100) });
  const n = String(Buffer.byteLength(line));
  for (const eol of ['\n', '\r\n', '']) {
    const ok = await run(['--max-line-bytes', n], `${line}${eol}`);
    assert.equal(ok.code, 0, `${JSON.stringify(eol)}: ${ok.stderr}`);
    assert.deepEqual(lines(ok.stdout).map((o) => o.id), ['x']);
    const tooLong = await run(['--max-line-bytes', String(Number(n) - 1)], `${line}${eol}`);
    assert.equal(tooLong.code, 1);
    assert.match(tooLong.stderr, /line 1: SCAN_INPUT_INVALID: line longer than/);
  }
  // A line one byte over the limit is refused even when that byte is a '\r' that does not end it.
  const inner = await run(['--max-line-bytes', n], `${line}\r \n`);
  assert.equal(inner.code, 1);
});

test('scan: a --detectors file may start with a UTF-8 byte-order mark', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tf-scan-'));
  try {
    const cfg = join(dir, 'detectors.json');
    writeFileSync(cfg, '\uFEFF' + JSON.stringify({ customDetectors: [{ type: 'TICKET', pattern: 'TCK-\\d{6}' }] }));
    const r = await run(['--detectors', cfg], '{"id":"t","text":"see TCK-123456"}\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lines(r.stdout)[0]!.masked, 'see [TICKET]');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('scan: U+0085, U+2028 and U+2029 are escaped so each output line is one text line', async () => {
  const text = 'a\u2028b\u2029c\u0085d a@b.example';
  const r = await run([], JSON.stringify({ id: 'ls\u2028', text }) + '\n');
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /[\u0085\u2028\u2029]/);
  assert.ok(r.stdout.includes('a\\u2028b\\u2029c\\u0085d [EMAIL_ADDRESS]'));
  assert.equal(r.stdout.split(/\r\n|[\n\r\v\f\x1c-\x1e\u0085\u2028\u2029]/).length, 2); // like splitlines
  const [o] = lines(r.stdout);
  assert.equal(o!.id, 'ls\u2028');
  assert.equal(o!.masked, 'a\u2028b\u2029c\u0085d [EMAIL_ADDRESS]');
});

test('scan: --help documents exit statuses, UTF-8, the line limit and key formats', async () => {
  const help = await run(['--help'], '');
  assert.equal(help.code, 0);
  for (const re of [/Exit status/, /EPIPE/, /writing stdout failed/, /EISDIR/, /UTF-8/, /268435456/, /base64url/, /even number of digits/]) {
    assert.match(help.stdout, re);
  }
});
