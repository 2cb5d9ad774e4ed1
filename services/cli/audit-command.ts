/**
 * `tracefence audit verify --region <r> [--json] [--expect-head <seq>:<hash>]`: recomputes a
 * region's audit hash chain from its bucket and reports the first break. Exit 0 intact, 1 broken.
 * `--region none` checks the chain of events without a region (in the home region's bucket).
 */
import { describeError } from '../shared/errors.js';
import { createProgressBar, openAuditStores, parseFlags } from '../audit/cli-support.js';
import { verifyStoredChain } from '../audit/verify-stored-chain.js';
import type { VerifyReport } from '../audit/audit-chain.js';

const USAGE = 'Usage: tracefence audit verify --region <region|none|all> [--json] [--expect-head <seq>:<hash>]\n';

export async function auditCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'verify') {
    process.stderr.write(USAGE);
    return 2;
  }
  const flags = parseFlags(rest, ['region', 'expect-head'], ['json']);
  const region = flags.values.get('region');
  if (region === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  const stores = await openAuditStores(process.env);
  try {
    const names = region === 'all' ? [...stores.chains.keys()] : [region];
    const reports: Array<VerifyReport & { bucket: string }> = [];
    for (const name of names) {
      const store = stores.chains.get(name);
      if (store === undefined) {
        process.stderr.write(`tracefence audit: no audit chain '${name}' (regions: ${[...stores.chains.keys()].join(', ')})\n`);
        return 2;
      }
      const bar = createProgressBar(`verifying ${name}`);
      const report = await verifyStoredChain(store.access, name, (d, t) => bar.update(d, t));
      bar.done();
      reports.push({ ...report, bucket: `${store.access.backend}://${store.access.bucket}` });
    }
    const expect = flags.values.get('expect-head');
    if (expect !== undefined && reports.length === 1) {
      const [seqText, hash] = expect.split(':');
      const r = reports[0];
      const seq = Number(seqText);
      if (r !== undefined && (r.head.seq < seq || (r.head.seq === seq && r.head.hash !== hash))) {
        r.ok = false;
        r.breaks.push({ kind: r.head.seq < seq ? 'missing' : 'altered', chain: r.chain, object: '(head)', expectedSeq: seq, foundSeq: r.head.seq, eventId: undefined, detail: `the recorded head is ${expect}; the bucket's chain ends at ${r.head.seq}:${r.head.hash ?? 'null'}` });
      }
    }
    if (flags.switches.has('json')) {
      process.stdout.write(JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2) + '\n');
    } else {
      process.stdout.write(reports.map(renderReport).join('\n'));
    }
    return reports.every((r) => r.ok) ? 0 : 1;
  } catch (err) {
    process.stderr.write(`tracefence audit verify: ${describeError(err)}\n`);
    return 1;
  } finally {
    stores.close();
  }
}

function renderReport(r: VerifyReport & { bucket: string }): string {
  const lines = [
    `chain ${r.chain} in ${r.bucket}: ${r.objects} objects, ${r.events} events, ${r.checkpoints} checkpoints`,
    `head: seq ${r.head.seq} hash ${r.head.hash ?? '(empty chain)'}`,
  ];
  const first = r.breaks[0];
  if (first === undefined) {
    lines.push('result: INTACT');
  } else {
    lines.push(`result: BROKEN (${r.breaks.length} break${r.breaks.length === 1 ? '' : 's'})`);
    lines.push(`first break: ${first.kind.toUpperCase()} in ${first.object}`);
    lines.push(`  expected seq ${first.expectedSeq}, found ${first.foundSeq ?? '-'}${first.eventId === undefined ? '' : `, event ${first.eventId}`}`);
    lines.push(`  ${first.detail}`);
    for (const b of r.breaks.slice(1, 10)) lines.push(`also: ${b.kind} in ${b.object}: ${b.detail}`);
    if (r.breaks.length > 10) lines.push(`... and ${r.breaks.length - 10} more`);
  }
  for (const w of r.warnings.slice(0, 10)) lines.push(`warning: ${w}`);
  return lines.join('\n') + '\n';
}
