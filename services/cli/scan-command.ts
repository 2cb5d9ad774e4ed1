import { isUtf8 } from 'node:buffer';
import { fstatSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { describeError } from '../shared/errors.js';
import {
  BUILTIN_PROFILES,
  createClassifier,
  createMasker,
  isBuiltinProfileName,
  type Classifier,
  type ClassifierOptions,
  type Masker,
  type MaskingProfile,
} from '../classifier/index.js';

export const DEFAULT_MAX_LINE_BYTES = 10 * 1024 * 1024;
/** Keeps a whole line and its decoded string well below V8's string length limit (~512 Mi chars). */
export const MAX_MAX_LINE_BYTES = 256 * 1024 * 1024;
export const KEY_ENV = 'TRACEFENCE_PSEUDONYM_KEY';

const HELP = `Usage: tracefence scan [options] < input.jsonl > output.jsonl

Reads JSON Lines on stdin, each {"id": string, "text": string}, and writes one line per input
line, in order: {"id": ..., "findings": [{"type", "start", "end", "subtype"?}], "masked": "..."}.
Input must be UTF-8. Offsets are JavaScript string indices (UTF-16 code units), end exclusive.
U+0085, U+2028 and U+2029 are written escaped (\\u2028) so every output line is one text line.

Options:
  --profile NAME         redact (default) | partial | pseudonymize | drop
  --keep-last N          characters kept by the partial profile (integer 0-4, default 4)
  --key-file PATH        pseudonym key: the file's bytes, or hex if the file holds only hex digits
                         (default: $${KEY_ENV}: hex with an even number of digits, or
                         canonical base64 (padded) or base64url (unpadded); at least 16 bytes)
  --detectors PATH       JSON file with classifier options (customDetectors, keyNameRules, types);
                         a leading byte-order mark is ignored
  --types A,B,...        only detect these types (at least one)
  --max-line-bytes N     longest accepted input line, line end excluded
                         (default ${DEFAULT_MAX_LINE_BYTES}, at most ${MAX_MAX_LINE_BYTES})
  -h, --help             show this help

A bad line (not valid UTF-8, not JSON, no string id or text, too long) is reported on stderr with
its line number and produces no output line; processing continues. Blank lines are skipped.
Exit status:
  0  every line was processed
  1  a line was bad, reading stdin failed (e.g. stdin is a directory: EISDIR), or writing stdout
     failed ("writing stdout failed: ENOSPC" on a full disk)
  2  usage or configuration error, reported before any input is read
A reader that closes stdout early (EPIPE, e.g. | head -1) is not an error: scan stops quietly,
without reporting the line cut off, and exits 0 unless an earlier line was bad.
`;

class UsageError extends Error {}

/**
 * Strict decoding so that one key has exactly one spelling: Buffer.from(.., 'base64') skips
 * invalid characters and ignores trailing bits, which would let different strings mean one key.
 */
function decodeEnvKey(text: string): Uint8Array {
  if (/^[0-9a-fA-F]+$/.test(text)) {
    if (text.length % 2 === 0) return Buffer.from(text, 'hex');
  } else if (/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    const key = Buffer.from(text, 'base64');
    if (key.toString('base64') === text) return key;
  } else if (/^[A-Za-z0-9_-]+$/.test(text)) {
    const key = Buffer.from(text, 'base64url');
    if (key.toString('base64url') === text) return key;
  }
  // Never echo the value: it is key material.
  throw new UsageError(`${KEY_ENV} must be hex (an even number of digits), canonical base64 or unpadded base64url`);
}

function readKey(keyFile: string | undefined): Uint8Array | undefined {
  if (keyFile !== undefined) {
    let raw: Buffer;
    try {
      raw = readFileSync(keyFile);
    } catch (err) {
      throw new UsageError(`cannot read --key-file: ${(err as Error).message}`);
    }
    const asText = raw.toString('latin1').trim();
    return /^(?:[0-9a-fA-F]{2}){16,}$/.test(asText) ? Buffer.from(asText, 'hex') : raw;
  }
  const env = process.env[KEY_ENV];
  return env === undefined || env === '' ? undefined : decodeEnvKey(env);
}

interface ScanSetup {
  classifier: Classifier;
  masker: Masker;
  maxLineBytes: number;
}

function setup(args: string[]): ScanSetup | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        profile: { type: 'string', default: 'redact' },
        'keep-last': { type: 'string' },
        'key-file': { type: 'string' },
        detectors: { type: 'string' },
        types: { type: 'string' },
        'max-line-bytes': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help === true) return 'help';

  const profileName = v.profile ?? 'redact';
  if (!isBuiltinProfileName(profileName)) throw new UsageError(`unknown profile '${profileName}' (redact, partial, pseudonymize, drop)`);
  let profile: MaskingProfile = BUILTIN_PROFILES[profileName];
  if (v['keep-last'] !== undefined) {
    if (!/^[0-4]$/.test(v['keep-last'])) throw new UsageError('--keep-last must be an integer from 0 to 4');
    if (profileName !== 'partial') throw new UsageError('--keep-last applies to the partial profile only');
    profile = { ...profile, default: { op: 'partial', keepLast: Number(v['keep-last']) } };
  }

  let maxLineBytes = DEFAULT_MAX_LINE_BYTES;
  if (v['max-line-bytes'] !== undefined) {
    maxLineBytes = /^[1-9][0-9]*$/.test(v['max-line-bytes']) ? Number(v['max-line-bytes']) : 0;
    if (maxLineBytes < 1 || maxLineBytes > MAX_MAX_LINE_BYTES) {
      throw new UsageError(`--max-line-bytes must be an integer from 1 to ${MAX_MAX_LINE_BYTES}`);
    }
  }

  let options: ClassifierOptions = {};
  if (v.detectors !== undefined) {
    try {
      const text = readFileSync(v.detectors, 'utf8');
      options = JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text) as ClassifierOptions;
    } catch (err) {
      throw new UsageError(`cannot read --detectors file: ${(err as Error).message}`);
    }
  }
  if (v.types !== undefined) {
    const types = v.types.split(',').map((t) => t.trim()).filter((t) => t !== '');
    // An empty list would silently disable every detector.
    if (types.length === 0) throw new UsageError('--types needs at least one type');
    options = { ...options, types };
  }

  const tenantKey = readKey(v['key-file']);
  const classifier = createClassifier(options);
  const masker = createMasker(profile, tenantKey === undefined ? { classifier } : { classifier, tenantKey });
  return { classifier, masker, maxLineBytes };
}

// Valid JSON unescaped, but line-splitting readers (e.g. Python's splitlines) break lines on them.
const UNICODE_LINE_BREAKS = /[\u0085\u2028\u2029]/g;

function escapeLineBreaks(json: string): string {
  return json.replace(UNICODE_LINE_BREAKS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

type LineResult = { ok: true; output: string } | { ok: false; reason: string } | { ok: 'skip' };

function processLine(line: string, s: ScanSetup): LineResult {
  if (line.trim() === '') return { ok: 'skip' };
  let input: unknown;
  try {
    input = JSON.parse(line);
  } catch {
    // The parser's message quotes the input, which may hold the very values we mask.
    return { ok: false, reason: 'not valid JSON' };
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { ok: false, reason: 'not a JSON object' };
  const { id, text } = input as { id?: unknown; text?: unknown };
  if (typeof id !== 'string') return { ok: false, reason: '"id" must be a string' };
  if (typeof text !== 'string') return { ok: false, reason: '"text" must be a string' };
  const findings = s.classifier.scanText(text);
  const masked = s.masker.maskText(text, findings);
  return { ok: true, output: escapeLineBreaks(JSON.stringify({ id, findings, masked })) };
}

/** `tracefence scan`: streams stdin line by line; see HELP for the contract. */
export async function scanCommand(args: string[]): Promise<number> {
  let s: ScanSetup;
  try {
    const r = setup(args);
    if (r === 'help') {
      process.stdout.write(HELP);
      return 0;
    }
    s = r;
  } catch (err) {
    const msg = err instanceof UsageError ? err.message : describeError(err);
    process.stderr.write(`tracefence scan: ${msg}\n`);
    if (err instanceof UsageError) process.stderr.write('Run tracefence scan --help for usage.\n');
    return 2;
  }

  // Node gives a directory on stdin an empty stream instead of an error, so check first.
  if (stdinIsDirectory()) {
    process.stderr.write('tracefence scan: reading stdin failed: EISDIR: stdin is a directory\n');
    return 1;
  }

  const out = process.stdout;
  let pending: string[] = [];
  let pendingBytes = 0;
  let writeError: NodeJS.ErrnoException | undefined;
  out.on('error', (err: NodeJS.ErrnoException) => {
    writeError ??= err; // also reported to the write callback; the listener keeps it from throwing
  });

  /** Writes the pending lines and waits until they were written or failed, so the exit status is known. */
  async function flush(): Promise<void> {
    if (pending.length === 0 || writeError !== undefined) return;
    const chunk = pending.join('');
    pending = [];
    pendingBytes = 0;
    await new Promise<void>((resolve) => {
      out.write(chunk, (err) => {
        if (err) writeError ??= err;
        resolve();
      });
    });
  }

  let lineNo = 0;
  let bad = 0;
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  // One spare byte so a line of exactly maxLineBytes still fits with the '\r' of a CRLF end.
  const maxBuffered = s.maxLineBytes + 1;

  function report(reason: string): void {
    bad++;
    process.stderr.write(`tracefence scan: line ${lineNo}: SCAN_INPUT_INVALID: ${reason}\n`);
  }

  function endLine(): void {
    lineNo++;
    let bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    if (bytes.at(-1) === 13) bytes = bytes.subarray(0, -1); // the '\r' of CRLF is not part of the line
    if (tooLong || bytes.length > s.maxLineBytes) {
      report(`line longer than ${s.maxLineBytes} bytes`);
    } else if (!isUtf8(bytes)) {
      report('not valid UTF-8'); // decoding would silently turn bad bytes into U+FFFD
    } else {
      let line = bytes.toString('utf8');
      if (lineNo === 1 && line.startsWith('\uFEFF')) line = line.slice(1);
      try {
        const r = processLine(line, s);
        if (r.ok === true) {
          pending.push(r.output, '\n');
          pendingBytes += r.output.length + 1;
        } else if (r.ok === false) {
          report(r.reason);
        }
      } catch (err) {
        report(`INTERNAL: ${err instanceof Error ? err.name : 'error'}`);
      }
    }
    parts = [];
    size = 0;
    tooLong = false;
  }

  function append(b: Buffer): void {
    if (tooLong || b.length === 0) return;
    if (size + b.length > maxBuffered) {
      tooLong = true; // drop what we have; the rest of the line is skipped as it arrives
      parts = [];
      size = 0;
      return;
    }
    parts.push(Buffer.from(b)); // copy: the chunk buffer may be reused by the stream
    size += b.length;
  }

  let readError: unknown;
  try {
    for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(10, start);
        if (nl === -1) {
          append(chunk.subarray(start));
          break;
        }
        append(chunk.subarray(start, nl));
        endLine();
        start = nl + 1;
      }
      if (pendingBytes >= 64 * 1024) await flush();
      if (writeError !== undefined) break;
    }
    // After a write error the buffered bytes are a cut-off line, not the last line of the input.
    if (writeError === undefined && (size > 0 || tooLong)) endLine();
  } catch (err) {
    readError = err;
  }
  await flush();

  if (readError !== undefined) {
    process.stderr.write(`tracefence scan: reading stdin failed: ${readError instanceof Error ? readError.message : String(readError)}\n`);
  }
  if (writeError !== undefined && writeError.code !== 'EPIPE') {
    process.stderr.write(`tracefence scan: writing stdout failed: ${writeError.code ?? writeError.message}\n`);
    return 1;
  }
  // EPIPE: the reader has what it wanted (e.g. `| head`); not an error in itself.
  return readError !== undefined || bad > 0 ? 1 : 0;
}

function stdinIsDirectory(): boolean {
  try {
    return fstatSync(0).isDirectory();
  } catch {
    return false; // no usable fd 0: let the stream report it
  }
}
