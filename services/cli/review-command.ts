/**
 * `tracefence review list|show|approve|reject`: the reviewer API from the command line.
 *   --url <base>          reviewer API base URL (env TRACEFENCE_REVIEW_URL, default http://127.0.0.1:14080)
 *   --token-file <path>   file holding the access token (else env TRACEFENCE_REVIEW_TOKEN)
 *   --json                print the API's JSON instead of text
 * The token is never printed. Exit codes: 0 ok, 1 refused by the API or unreachable, 2 usage.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const USAGE = `Usage:
  tracefence review list [--region R] [--tenant T] [--status pending|approved|rejected|expired] [--limit N]
  tracefence review show <recordId>
  tracefence review approve <recordId> --justification TEXT [--region R]
  tracefence review reject <recordId> --justification TEXT
Options: --url BASE (env TRACEFENCE_REVIEW_URL, default http://127.0.0.1:14080)
         --token-file PATH (else env TRACEFENCE_REVIEW_TOKEN)   --json
`;

const MAX_TOKEN_BYTES = 16 * 1024;

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  fetch: typeof fetch;
}

const defaultIo: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), env: process.env, fetch: globalThis.fetch };

export async function reviewCommand(args: string[], io: Io = defaultIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        'token-file': { type: 'string' },
        region: { type: 'string' },
        tenant: { type: 'string' },
        status: { type: 'string' },
        limit: { type: 'string' },
        justification: { type: 'string', short: 'j' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.err(`tracefence review: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [action, recordId, ...extra] = positionals;
  if (values.help === true) {
    io.out(USAGE);
    return 0;
  }
  const needsId = action === 'show' || action === 'approve' || action === 'reject';
  if (action === undefined || !['list', 'show', 'approve', 'reject'].includes(action) || (needsId && recordId === undefined) || (!needsId && recordId !== undefined) || extra.length > 0) {
    io.err(USAGE);
    return 2;
  }
  if ((action === 'approve' || action === 'reject') && (values.justification === undefined || values.justification.trim() === '')) {
    io.err('tracefence review: --justification is required for approve and reject\n');
    return 2;
  }

  let token: string | undefined;
  try {
    token = values['token-file'] !== undefined ? readFileSync(values['token-file'], 'utf8').trim() : io.env['TRACEFENCE_REVIEW_TOKEN']?.trim();
  } catch {
    io.err('tracefence review: the token file cannot be read\n');
    return 2;
  }
  if (token === undefined || token === '' || Buffer.byteLength(token) > MAX_TOKEN_BYTES || /\s/.test(token)) {
    io.err('tracefence review: an access token is required (--token-file or TRACEFENCE_REVIEW_TOKEN)\n');
    return 2;
  }
  const baseText = values.url ?? io.env['TRACEFENCE_REVIEW_URL'] ?? 'http://127.0.0.1:14080';
  let base: URL;
  try {
    base = new URL(baseText);
  } catch {
    io.err('tracefence review: --url is not a URL\n');
    return 2;
  }

  let path: string;
  let body: Record<string, string> | undefined;
  if (action === 'list') {
    const q = new URLSearchParams();
    for (const k of ['region', 'tenant', 'status', 'limit'] as const) if (values[k] !== undefined) q.set(k, values[k]);
    path = `/api/holds${q.size > 0 ? `?${q.toString()}` : ''}`;
  } else {
    const id = encodeURIComponent(recordId ?? '');
    path = action === 'show' ? `/api/holds/${id}` : `/api/holds/${id}/${action}`;
    if (action !== 'show') body = { justification: values.justification ?? '', ...(action === 'approve' && values.region !== undefined ? { region: values.region } : {}) };
  }

  let status: number;
  let payload: unknown;
  try {
    const res = await io.fetch(new URL(path, base), {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
    status = res.status;
    const text = await res.text();
    payload = text === '' ? {} : JSON.parse(text);
  } catch (err) {
    io.err(`tracefence review: the reviewer API at ${base.origin} could not be reached (${err instanceof Error ? err.name : 'error'})\n`);
    return 1;
  }

  if (status >= 400) {
    const e = (payload as { error?: { code?: string; message?: string } }).error;
    io.err(`tracefence review: ${status} ${e?.code ?? 'ERROR'}: ${e?.message ?? 'request refused'}\n`);
    return 1;
  }
  if (values.json === true) {
    io.out(`${JSON.stringify(payload, null, 2)}\n`);
    return 0;
  }
  io.out(render(action, payload));
  return 0;
}

interface Summary {
  recordId: string;
  tenant: string;
  agent: string;
  holdReasonCode: string;
  holdReason: string;
  findings: Record<string, number>;
  candidateRegions: string[];
  status: string;
  region: string | null;
  expiresAt: string;
  approvals: Array<{ reviewer: string; region: string | null; justification: string }>;
}

function oneLine(s: string): string {
  // Terminal safety: no control characters from the API reach the terminal.
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
}

function findings(f: Record<string, number>): string {
  const e = Object.entries(f);
  return e.length === 0 ? 'none' : e.map(([t, n]) => `${t}=${n}`).join(',');
}

function render(action: string, payload: unknown): string {
  if (action === 'list') {
    const holds = (payload as { holds: Summary[] }).holds;
    if (holds.length === 0) return 'no held traces\n';
    const lines = holds.map((h) => [h.recordId, h.status + (h.region === null ? '' : `→${h.region}`), `${h.tenant}/${h.agent}`, h.holdReasonCode, h.candidateRegions.join(','), findings(h.findings), h.expiresAt].map(oneLine).join('  '));
    return `${['RECORD', 'STATUS', 'TENANT/AGENT', 'REASON', 'CANDIDATES', 'FINDINGS', 'EXPIRES'].join('  ')}\n${lines.join('\n')}\n`;
  }
  if (action === 'show') {
    const d = payload as { hold: Summary; approvalsRequired: number; approvableRegions: string[]; preview: { steps: Array<{ kind: string; name: string; input: Msg[]; output: Msg[] }> } };
    const h = d.hold;
    const out = [
      `record      ${h.recordId}`,
      `tenant      ${h.tenant} / ${h.agent}`,
      `reason      ${h.holdReasonCode}: ${h.holdReason}`,
      `findings    ${findings(h.findings)}`,
      `candidates  ${h.candidateRegions.join(', ')} (you may approve into: ${d.approvableRegions.join(', ') || 'none'})`,
      `status      ${h.status}${h.region === null ? '' : ` → ${h.region}`}${h.status === 'pending' ? ` (${d.approvalsRequired} approval(s) needed)` : ''}`,
      `expires     ${h.expiresAt}`,
      ...h.approvals.map((a) => `approved by ${a.reviewer} → ${a.region ?? ''}: ${a.justification}`),
      '',
      'masked trace (findings in [LABELS]):',
    ].map(oneLine);
    for (const s of d.preview.steps) {
      out.push(oneLine(`- ${s.kind} ${s.name}`));
      for (const [label, msgs] of [['in', s.input], ['out', s.output]] as const) {
        for (const m of msgs) for (const p of m.parts) if (p.text !== null) out.push(oneLine(`    ${label} ${m.role}: ${p.text.text}`));
      }
    }
    return `${out.join('\n')}\n`;
  }
  const h = (payload as { hold: Summary }).hold;
  return `${oneLine(`${h.recordId}: ${h.status}${h.region === null ? '' : ` → ${h.region}`}`)}\n`;
}

interface Msg {
  role: string;
  parts: Array<{ text: { text: string } | null }>;
}
