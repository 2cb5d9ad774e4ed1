import { readFileSync } from 'node:fs';
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
export const KEY_ENV = 'TRACEFENCE_PSEUDONYM_KEY';

const HELP = `Usage: tracefence scan [options] < input.jsonl > output.jsonl

Reads JSON Lines on stdin, each {"id": string, "text": string}, and writes one line per input
line, in order: {"id": ..., "findings": [{"type", "start", "end", "subtype"?}], "masked": "..."}.
Offsets are JavaScript string indices (UTF-16 code units), end exclusive.

Options:
  --profile NAME         redact (default) | partial | pseudonymize | drop
  --keep-last N          characters kept by the partial profile (0-4, default 4)
  --key-file PATH        pseudonym key: the file's bytes, or hex if the file holds only hex digits
                         (default: $${KEY_ENV}, hex or base64; at least 16 bytes)
  --detectors PATH       JSON file with classifier options (customDetectors, keyNameRules, types)
  --types A,B,...        only detect these types
  --max-line-bytes N     longest accepted input line (default ${DEFAULT_MAX_LINE_BYTES})
  -h, --help             show this help

A bad line (not JSON, no string id or text, too long) is reported on stderr with its line number
and produces no output line; processing continues. Blank lines are skipped.
Exit status: 0 when every line was processed, 1 when a line was bad or stdin failed,
2 for a usage or configuration error.
`;

class UsageError extends Error {}

function decodeKey(text: string): Uint8Array {
  const t = text.trim();
  if (/^(?:[0-9a-fA-F]{2})+$/.test(t)) return Buffer.from(t, 'hex');
  return Buffer.from(t, 'base64');
}

function readKey(keyFile: string | undefined): Uint8Array | undefined {
  if (keyFile !== undefined) {
    const raw = readFileSync(keyFile);
    const asText = raw.toString('latin1').trim();
    return /^(?:[0-9a-fA-F]{2}){16,}$/.test(asText) ? Buffer.from(asText, 'hex') : raw;
  }
  const env = process.env[KEY_ENV];
  return env === undefined || env === '' ? undefined : decodeKey(env);
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
    const n = Number(v['keep-last']);
    if (profileName !== 'partial') throw new UsageError('--keep-last applies to the partial profile only');
    profile = { ...profile, default: { op: 'partial', keepLast: n } };
  }

  let maxLineBytes = DEFAULT_MAX_LINE_BYTES;
  if (v['max-line-bytes'] !== undefined) {
    maxLineBytes = Number(v['max-line-bytes']);
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) throw new UsageError('--max-line-bytes must be a positive integer');
  }

  let options: ClassifierOptions = {};
  if (v.detectors !== undefined) {
    try {
      options = JSON.parse(readFileSync(v.detectors, 'utf8')) as ClassifierOptions;
    } catch (err) {
      throw new UsageError(`cannot read --detectors file: ${(err as Error).message}`);
    }
  }
  if (v.types !== undefined) options = { ...options, types: v.types.split(',').map((t) => t.trim()).filter((t) => t !== '') };

  let tenantKey: Uint8Array | undefined;
  try {
    tenantKey = readKey(v['key-file']);
  } catch (err) {
    throw new UsageError(`cannot read --key-file: ${(err as Error).message}`);
  }
  const classifier = createClassifier(options);
  const masker = createMasker(profile, tenantKey === undefined ? { classifier } : { classifier, tenantKey });
  return { classifier, masker, maxLineBytes };
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
  return { ok: true, output: JSON.stringify({ id, findings, masked }) };
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

  const out = process.stdout;
  let pending: string[] = [];
  let pendingBytes = 0;
  let outputClosed = false;
  out.on('error', () => {
    outputClosed = true; // reader went away (EPIPE): stop quietly
  });

  async function flush(): Promise<void> {
    if (pending.length === 0 || outputClosed) return;
    const chunk = pending.join('');
    pending = [];
    pendingBytes = 0;
    if (!out.write(chunk)) await new Promise<void>((resolve) => {
      const done = (): void => {
        out.off('drain', done);
        out.off('error', done);
        resolve();
      };
      out.once('drain', done);
      out.once('error', done);
    });
  }

  let lineNo = 0;
  let bad = 0;
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;

  function report(reason: string): void {
    bad++;
    process.stderr.write(`tracefence scan: line ${lineNo}: SCAN_INPUT_INVALID: ${reason}\n`);
  }

  function endLine(): void {
    lineNo++;
    if (tooLong) {
      report(`line longer than ${s.maxLineBytes} bytes`);
    } else {
      let line = (parts.length === 1 ? parts[0]! : Buffer.concat(parts)).toString('utf8');
      if (line.endsWith('\r')) line = line.slice(0, -1);
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
    if (size + b.length > s.maxLineBytes) {
      tooLong = true; // drop what we have; the rest of the line is skipped as it arrives
      parts = [];
      size = 0;
      return;
    }
    parts.push(Buffer.from(b)); // copy: the chunk buffer may be reused by the stream
    size += b.length;
  }

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
      if (outputClosed) break;
    }
    if (size > 0 || tooLong) endLine();
  } catch (err) {
    await flush();
    process.stderr.write(`tracefence scan: reading stdin failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  await flush();
  return bad > 0 ? 1 : 0;
}
