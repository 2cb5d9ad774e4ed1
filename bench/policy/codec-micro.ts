/**
 * CPU per decode and encode of the bench traces (reasoning-trace codec), one-pass decode against
 * the general path. `npx tsx bench/policy/codec-micro.ts`; CPU time, so a busy host shifts it less.
 */
import { createCodec } from '../../services/shared/avro/index.js';
import { makeBenchTrace } from './bench-traces.js';

const N = 2000;
const fast = createCodec('reasoning-trace');
const general = createCodec('reasoning-trace', { fastDecode: false });
const traces = Array.from({ length: N }, (_, i) => makeBenchTrace(i, 'acme', 'support-bot'));
const payloads = traces.map((t) => fast.encode(t).payload);

function cpuPerOp(label: string, fn: () => void): void {
  const rounds: number[] = [];
  for (let r = 0; r < 12; r++) {
    const t0 = process.cpuUsage();
    fn();
    const u = process.cpuUsage(t0);
    if (r >= 2) rounds.push((u.user + u.system) / N);
  }
  rounds.sort((a, b) => a - b);
  process.stdout.write(`${label.padEnd(22)} ${(rounds[Math.floor(rounds.length / 2)] ?? 0).toFixed(1).padStart(6)} µs CPU per record (min ${(rounds[0] ?? 0).toFixed(1)})\n`);
}

let sink = 0;
cpuPerOp('decode one-pass', () => {
  for (const p of payloads) sink += fast.decode(p, fast.fingerprint).steps.length;
});
cpuPerOp('decode general', () => {
  for (const p of payloads) sink += general.decode(p, general.fingerprint).steps.length;
});
cpuPerOp('encode', () => {
  for (const t of traces) sink += fast.encode(t).payload.length;
});
if (sink === 0) process.stdout.write('\n');
