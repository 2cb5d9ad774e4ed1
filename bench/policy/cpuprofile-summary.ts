/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time by area (our modules by folder,
 * dependencies by package, GC, idle) and the top functions by self time.
 *
 *   npx tsx bench/policy/cpuprofile-summary.ts <file.cpuprofile> [top=30] [fnA,fnB,...]
 *
 * The optional third argument lists function names whose inclusive time (self plus callees,
 * recursion counted once) is reported too, e.g. decode,scrub,encode.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const file = process.argv[2];
if (file === undefined) throw new Error('usage: cpuprofile-summary.ts <file.cpuprofile> [top]');
const topArg = Number(process.argv[3]);
const top = Number.isInteger(topArg) && topArg > 0 ? topArg : 30;
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const byId = new Map(profile.nodes.map((n) => [n.id, n] as const));
const selfUs = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i] ?? 0;
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}

function area(f: CallFrame): string {
  if (f.functionName === '(garbage collector)') return 'gc';
  if (f.functionName === '(idle)') return 'idle';
  if (f.functionName === '(program)') return 'program (native, unattributed)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f.url);
  if (pkg?.[1] !== undefined) return `dep ${pkg[1]}`;
  const ours = /\/(services|bench|test)\/([^/]+)\/(?:([^/]+)\/)?/.exec(f.url);
  if (ours !== null) return `${ours[1]}/${ours[2]}${ours[2] === 'shared' && ours[3] !== undefined ? `/${ours[3]}` : ''}`;
  if (f.url.startsWith('node:')) return `node ${f.url.slice(5).split('/').slice(0, f.url.startsWith('node:internal') ? 2 : 1).join('/')}`;
  // avsc compiles a reader and a writer function per record type (readTraceStep, writeAuditEvent...).
  if (f.url === '' && f.lineNumber > 0 && /^(read|write|skip)[A-Z]/.test(f.functionName)) return 'dep avsc (generated codecs)';
  if (f.url === '' && f.functionName.startsWith('RegExp: ')) return 'regexp (native)';
  if (f.url === '') return `native ${f.functionName || '(anonymous)'}`;
  return f.url;
}

const areas = new Map<string, number>();
const fns = new Map<string, number>();
let total = 0;
for (const [id, us] of selfUs) {
  const node = byId.get(id);
  if (node === undefined) continue;
  const a = area(node.callFrame);
  if (a !== 'idle') total += us;
  areas.set(a, (areas.get(a) ?? 0) + us);
  const where = node.callFrame.url.replace(/^.*\/(node_modules|services|bench)\//, '$1/');
  const key = `${node.callFrame.functionName || '(anonymous)'}  ${where}:${node.callFrame.lineNumber + 1}`;
  fns.set(key, (fns.get(key) ?? 0) + us);
}
const pct = (us: number): string => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
const ms = (us: number): string => `${(us / 1000).toFixed(0).padStart(7)} ms`;
process.stdout.write(`busy (non-idle) ${ms(total)}; idle ${ms(areas.get('idle') ?? 0)}\n\nby area (self time):\n`);
for (const [a, us] of [...areas].filter(([a]) => a !== 'idle').sort((x, y) => y[1] - x[1])) process.stdout.write(`${pct(us)} ${ms(us)}  ${a}\n`);
process.stdout.write(`\ntop ${top} functions (self time):\n`);
for (const [k, us] of [...fns].sort((x, y) => y[1] - x[1]).slice(0, top)) process.stdout.write(`${pct(us)} ${ms(us)}  ${k}\n`);

const inclusive = (process.argv[4] ?? '').split(',').filter((n) => n !== '');
if (inclusive.length > 0) {
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const totalOf = new Map<number, number>();
  const totalUs = (id: number): number => {
    const known = totalOf.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    let t = selfUs.get(id) ?? 0;
    for (const c of node?.children ?? []) t += totalUs(c);
    totalOf.set(id, t);
    return t;
  };
  process.stdout.write('\ninclusive time:\n');
  for (const name of inclusive) {
    let us = 0;
    for (const n of profile.nodes) {
      if (n.callFrame.functionName !== name) continue;
      let outer = false;
      for (let p = parent.get(n.id); p !== undefined; p = parent.get(p)) {
        if (byId.get(p)?.callFrame.functionName === name) {
          outer = true;
          break;
        }
      }
      if (!outer) us += totalUs(n.id);
    }
    process.stdout.write(`${pct(us)} ${ms(us)}  ${name}\n`);
  }
}
