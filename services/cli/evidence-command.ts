/**
 * `tracefence evidence --trace <id>` or `--tenant <t> --from <time> --to <time>` [--json]:
 * residency evidence per record, read from the audit chains and the region data buckets.
 * Exit 0 with evidence, 1 when nothing matched or a lookup failed.
 */
import { describeError } from '../shared/errors.js';
import { evaluateBucketFacts } from '../sink-worker/bucket-location-guard.js';
import { readAuditEvents, type StoredAuditEvent } from '../audit/audit-reader.js';
import { createProgressBar, formatTable, openAuditStores, parseFlags, parseTime, type AuditStores } from '../audit/cli-support.js';
import { scanDataObjects, utcDay } from '../audit/data-objects.js';
import { allowListCheck, buildEvidence, describeLocation, type LocationCheck, type RecordEvidence } from '../audit/evidence.js';

const USAGE =
  'Usage: tracefence evidence --trace <traceId|recordId> [--from <time>] [--json]\n' +
  '       tracefence evidence --tenant <tenant> --from <time> --to <time> [--json]\n';

export async function evidenceCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, ['trace', 'tenant', 'from', 'to'], ['json']);
  const trace = flags.values.get('trace');
  const tenant = flags.values.get('tenant');
  const fromText = flags.values.get('from');
  const toText = flags.values.get('to');
  if ((trace === undefined) === (tenant === undefined) || (tenant !== undefined && (fromText === undefined || toText === undefined))) {
    process.stderr.write(USAGE);
    return 2;
  }
  const nowMs = Date.now();
  const fromMs = fromText === undefined ? undefined : parseTime(fromText, 'from', nowMs);
  const toMs = toText === undefined ? undefined : parseTime(toText, 'to', nowMs);
  const stores = await openAuditStores(process.env);
  try {
    const bar = createProgressBar('reading audit');
    const all = await readAuditEvents(stores.chains, { ...(fromMs === undefined ? {} : { fromMs }), progress: (d, t) => bar.update(d, t) });
    bar.done();
    const ids = new Set(
      all
        .filter((e) =>
          trace !== undefined
            ? e.event.traceId === trace || e.event.recordId === trace
            : e.event.tenant === tenant && e.event.occurredAtMs >= (fromMs ?? 0) && e.event.occurredAtMs < (toMs ?? Number.MAX_SAFE_INTEGER),
        )
        .map((e) => e.event.recordId)
        .filter((id) => id !== ''),
    );
    // Every event about a selected record, also steps after the window (a later approval).
    const events = all.filter((e) => ids.has(e.event.recordId));
    if (events.length === 0) {
      process.stderr.write(`tracefence evidence: no audit events for ${trace !== undefined ? `trace ${trace}` : `tenant ${tenant} in that window`}\n`);
      return 1;
    }
    const { locations, bucketLocations } = await lookUpObjects(stores, events);
    const evidence = buildEvidence({
      events,
      locations,
      bucketLocations,
      // Each location of a STORED event (bucket and replicas) is checked against the allow-list on its own.
      isAllowed: allowListCheck(stores.policy.regions),
    });
    process.stdout.write(flags.switches.has('json') ? JSON.stringify(evidence, null, 2) + '\n' : evidence.map(render).join('\n'));
    // Evidence resting on an altered entry is not evidence: a non-zero exit says so to scripts.
    return evidence.every((e) => e.story.every((s) => s.verified)) ? 0 : 1;
  } catch (err) {
    process.stderr.write(`tracefence evidence: ${describeError(err)}\n`);
    return 1;
  } finally {
    stores.close();
  }
}

/** Objects holding the records, in the buckets of the regions they went to, and those buckets' locations. */
async function lookUpObjects(stores: AuditStores, events: readonly StoredAuditEvent[]) {
  const regions = new Set<string>();
  const tenants = new Set<string>();
  let minMs = Number.MAX_SAFE_INTEGER;
  let maxMs = 0;
  for (const e of events) {
    if ((e.event.decision === 'ROUTED' || e.event.decision === 'APPROVED' || e.event.decision === 'STORED') && e.event.region !== null) regions.add(e.event.region);
    if (e.event.tenant !== '') tenants.add(e.event.tenant);
    minMs = Math.min(minMs, e.event.occurredAtMs);
    maxMs = Math.max(maxMs, e.event.occurredAtMs);
  }
  const buckets = [...regions].flatMap((r) => stores.dataBuckets(r));
  const locations = new Map<string, Array<{ region: string; bucket: string; key: string }>>();
  const keyPrefix = process.env['TRACEFENCE_SINK_KEY_PREFIX'];
  const bar = createProgressBar('reading objects');
  for (const tenant of tenants) {
    const scan = await scanDataObjects(
      buckets.map((b) => ({ region: b.region, access: b.access })),
      { tenant, fromDate: utcDay(minMs, -1), toDate: utcDay(maxMs, 1), ...(keyPrefix === undefined ? {} : { keyPrefix }), progress: (d, t) => bar.update(d, t) },
    );
    for (const [id, refs] of scan.locations) locations.set(id, [...(locations.get(id) ?? []), ...refs]);
  }
  bar.done();
  const bucketLocations = new Map<string, LocationCheck>();
  for (const b of buckets) {
    const name = `${b.access.backend}://${b.access.bucket}`;
    const region = stores.policy.regions[b.region];
    const policyBucket = region?.buckets.find((x) => x.name === b.bucket);
    if (region === undefined || policyBucket === undefined) continue;
    try {
      const verdict = evaluateBucketFacts(await b.access.inspector.inspect(), region, policyBucket);
      const locations = verdict.reported.map((l) => l.location).filter((l, i, all) => all.indexOf(l) === i);
      bucketLocations.set(name, { location: locations.join(', ') || 'unknown', allowed: verdict.ok, locations });
    } catch (err) {
      bucketLocations.set(name, { location: `unreadable (${describeError(err)})`, allowed: false });
    }
  }
  return { locations, bucketLocations };
}

function counts(c: Record<string, number>, m: Record<string, string>): string {
  const entries = Object.entries(c);
  if (entries.length === 0) return 'none';
  return entries.map(([t, n]) => `${t}=${n}${m[t] === undefined ? '' : ` (${m[t]})`}`).join(', ');
}

function render(r: RecordEvidence): string {
  const rows: Array<[string, string]> = [
    ['trace', r.traceId],
    ['record', r.recordId],
    ['tenant', r.tenant],
    ['status', r.status],
    ['sender', r.sender === undefined ? '(no policy decision found)' : `subject ${r.sender.subject}, agent ${r.sender.agent} (verified token)`],
    ['decision', r.decision === undefined ? '-' : `${r.decision.decision}${r.decision.reasonCode === null ? '' : ` (${r.decision.reasonCode})`} at ${r.decision.at}`],
    ['policy version', r.decision?.policyVersion ?? '-'],
    ['findings (masking)', counts(r.findingCounts, r.maskingApplied)],
    ['region', r.region ?? '-'],
    ['content sha256', r.contentHash ?? '-'],
  ];
  if (r.storage.length === 0) rows.push(['stored in', '-']);
  for (const s of r.storage) {
    rows.push(['stored in', `${s.bucket}/${s.objectKey}`]);
    rows.push(['bucket location', describeLocation(s)]);
  }
  for (const v of r.reviews) rows.push(['review', `${v.decision} by ${v.actor ?? '-'}${v.region === null ? '' : ` for ${v.region}`} at ${v.at}${v.reasonCode === null ? '' : ` (${v.reasonCode})`}`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const head = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
  const story = formatTable(
    ['time', 'decision', 'region', 'actor', 'reason', 'audit chain#seq', 'hash'],
    r.story.map((s) => [s.at, s.decision, s.region ?? '-', s.actor ?? '-', s.reasonCode ?? '-', `${s.chain}#${s.seq}`, s.verified ? s.hash.slice(0, 16) : 'ALTERED']),
  );
  const altered = r.story.filter((s) => !s.verified);
  const warning = altered.length === 0 ? '' : `\nWARNING: ${altered.length} audit entr${altered.length === 1 ? 'y does' : 'ies do'} not match the chain hash; run 'tracefence audit verify --region ${altered[0]?.chain ?? ''}'\n`;
  return `${head}\n\nstory:\n${story}${warning}`;
}
