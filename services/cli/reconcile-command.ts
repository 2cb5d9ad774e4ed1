/**
 * `tracefence reconcile --from <time> --to <time> [--json]`: proves from the audit chains and the
 * region buckets that ingested = routed + held + dead-lettered, and that every routed or approved
 * record is stored once in its region (by its STORED events, each checked against the object it
 * names, or else by reading the region's objects). Exit 0 when it balances, 1 with the missing record ids.
 */
import { describeError } from '../shared/errors.js';
import { readAuditEvents } from '../audit/audit-reader.js';
import { createProgressBar, openAuditStores, parseFlags, parseTime } from '../audit/cli-support.js';
import { scanDataObjects, utcDay } from '../audit/data-objects.js';
import { objectsNamedByStoredEvents, reconcile, type ReconcileReport } from '../audit/reconcile.js';

const USAGE = 'Usage: tracefence reconcile --from <time> --to <time> [--json]\n  times: ISO 8601, epoch ms, now, or 2h / 7d ago\n';

export async function reconcileCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, ['from', 'to'], ['json']);
  const fromText = flags.values.get('from');
  const toText = flags.values.get('to');
  if (fromText === undefined || toText === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  const nowMs = Date.now();
  const fromMs = parseTime(fromText, 'from', nowMs);
  const toMs = parseTime(toText, 'to', nowMs);
  if (toMs <= fromMs) {
    process.stderr.write('tracefence reconcile: --to must be later than --from\n');
    return 2;
  }
  const stores = await openAuditStores(process.env);
  try {
    const bar = createProgressBar('reading audit');
    const events = await readAuditEvents(stores.chains, { fromMs, progress: (d, t) => bar.update(d, t) });
    bar.done();
    const dataBar = createProgressBar('reading objects');
    const buckets = Object.keys(stores.policy.regions).flatMap((r) => stores.dataBuckets(r).map((b) => ({ region: r, access: b.access })));
    const keyPrefix = process.env['TRACEFENCE_SINK_KEY_PREFIX'];
    // An object's date is its first record's: a record just after midnight may sit in the day before.
    // Objects named by STORED events are read whatever their date, to check they hold what was claimed.
    const data = await scanDataObjects(buckets, {
      fromDate: utcDay(fromMs, -1),
      toDate: utcDay(toMs),
      alsoKeys: objectsNamedByStoredEvents(events, fromMs, toMs),
      ...(keyPrefix === undefined ? {} : { keyPrefix }),
      progress: (d, t) => dataBar.update(d, t),
    });
    dataBar.done();
    const report = reconcile(events, data, fromMs, toMs);
    process.stdout.write(flags.switches.has('json') ? JSON.stringify(report, null, 2) + '\n' : render(report));
    return report.ok ? 0 : 1;
  } catch (err) {
    process.stderr.write(`tracefence reconcile: ${describeError(err)}\n`);
    return 1;
  } finally {
    stores.close();
  }
}

function render(r: ReconcileReport): string {
  const c = r.counts;
  const mark = (ok: boolean) => (ok ? 'OK' : 'MISMATCH');
  const lines = [
    `window ${new Date(r.fromMs).toISOString()} .. ${new Date(r.toMs).toISOString()}`,
    `ingested ${c.ingested} = routed ${c.routed} + held ${c.held} + dead-lettered ${c.deadLettered}  ${mark(r.decisionsBalance)}`,
    `holds: approved ${c.approved}, rejected ${c.rejected}, expired ${c.expired}, pending ${c.pendingHolds}`,
    `routed + approved ${c.expectedStored} = stored ${c.stored}  ${mark(r.storageBalance)}   (${c.storedByEvents} by STORED events, ${c.storedFromObjectsOnly} found in objects only; ${c.objectsRead} objects, ${c.recordsInObjects} records read; ${r.storedOutsideWindow} decided outside the window)`,
  ];
  if (r.violations.length > 0) {
    lines.push('', `${r.violations.length} problem${r.violations.length === 1 ? '' : 's'}:`);
    for (const v of r.violations.slice(0, 50)) lines.push(`  ${v.kind.padEnd(21)} ${v.recordId === '' ? '' : `${v.recordId}  `}${v.detail}`);
    if (r.violations.length > 50) lines.push(`  ... and ${r.violations.length - 50} more (--json lists all)`);
  }
  if (r.missingRecordIds.length > 0) {
    lines.push('', 'missing record ids:', ...r.missingRecordIds.map((id) => `  ${id}`));
  }
  lines.push('', `result: ${r.ok ? 'BALANCED' : 'NOT BALANCED'}`);
  return lines.join('\n') + '\n';
}
