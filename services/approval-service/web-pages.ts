/**
 * HTML of the reviewer web page. Every value is escaped; the only markup added to trace text is
 * the <mark> around masking labels. No script: plain forms with a CSRF field.
 */
import type { HoldSummary } from './hold-record.js';
import type { HoldDetail } from './review-service.js';
import { markedTextHtml, type MarkedText, type PreviewMessage, type PreviewPart } from './trace-preview.js';
import { MAX_JUSTIFICATION_CHARS } from './review-rules.js';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const e = escapeHtml;

const STYLE = `body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}
mark.finding{background:#ffe08a;padding:0 .15rem;border-radius:.2rem}.flash-ok{background:#e3f6e3;padding:.5rem}.flash-error{background:#fbe3e3;padding:.5rem}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f7;padding:.5rem}textarea{width:100%;min-height:4rem}.status{font-weight:bold}
form.inline{display:inline-block;margin-right:2rem;vertical-align:top;min-width:24rem}`;

export interface PageContext {
  reviewer: string;
  csrf: string;
  flash?: { kind: 'ok' | 'error'; text: string } | undefined;
}

function layout(title: string, ctx: PageContext | undefined, body: string): string {
  const header =
    ctx === undefined
      ? ''
      : `<header><span>Signed in as <strong id="reviewer">${e(ctx.reviewer)}</strong></span>
<form method="post" action="/auth/logout" style="display:inline"><input type="hidden" name="csrf" value="${e(ctx.csrf)}"><button type="submit">Log out</button></form></header>`;
  const flash = ctx?.flash === undefined ? '' : `<p class="flash-${ctx.flash.kind}" role="status" id="flash">${e(ctx.flash.text)}</p>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${e(title)} · Tracefence review</title><style>${STYLE}</style></head>
<body>${header}<h1>${e(title)}</h1>${flash}${body}</body></html>`;
}

function findingsText(f: Readonly<Record<string, number>>): string {
  const entries = Object.entries(f);
  return entries.length === 0 ? 'none' : entries.map(([t, n]) => `${t} × ${n}`).join(', ');
}

export function listPage(ctx: PageContext, holds: readonly HoldSummary[]): string {
  const rows = holds
    .map(
      (h) => `<tr data-record-id="${e(h.recordId)}">
<td><a href="/holds/${encodeURIComponent(h.recordId)}">${e(h.recordId)}</a></td><td>${e(h.tenant)} / ${e(h.agent)}</td>
<td class="reason"><code>${e(h.holdReasonCode)}</code><br>${e(h.holdReason)}</td><td class="findings">${e(findingsText(h.findings))}</td>
<td>${e(h.candidateRegions.join(', '))}</td><td class="status">${e(h.status)}${h.region === null ? '' : ` → ${e(h.region)}`}</td><td>${e(h.expiresAt)}</td></tr>`,
    )
    .join('\n');
  const table =
    holds.length === 0
      ? '<p id="empty">No held traces for your reviewer groups.</p>'
      : `<table id="holds"><thead><tr><th>Record</th><th>Tenant / agent</th><th>Hold reason</th><th>Findings</th><th>Candidate regions</th><th>Status</th><th>Expires</th></tr></thead><tbody>${rows}</tbody></table>`;
  return layout('Held traces', ctx, table);
}

function marked(t: MarkedText | null): string {
  return t === null ? '' : `<pre>${markedTextHtml(t, e)}</pre>`;
}

function parts(ps: readonly PreviewPart[]): string {
  return ps.map((p) => `<div class="part"><small>${e(p.type)}${p.toolName === null ? '' : ` ${e(p.toolName)}`}</small>${marked(p.text)}</div>`).join('');
}

function messages(label: string, ms: readonly PreviewMessage[]): string {
  return ms.map((m) => `<div class="message"><strong>${e(label)} · ${e(m.role)}</strong>${parts(m.parts)}</div>`).join('');
}

export function detailPage(ctx: PageContext, d: HoldDetail): string {
  const h = d.hold;
  const facts = `<table id="facts">
<tr><th>Record</th><td id="record-id">${e(h.recordId)}</td></tr><tr><th>Trace</th><td>${e(h.traceId)}</td></tr>
<tr><th>Tenant / agent</th><td>${e(h.tenant)} / ${e(h.agent)} (sent by ${e(h.subject)})</td></tr>
<tr><th>Hold reason</th><td id="hold-reason"><code>${e(h.holdReasonCode)}</code> ${e(h.holdReason)}</td></tr>
<tr><th>Findings</th><td id="findings">${e(findingsText(h.findings))}</td></tr>
<tr><th>Candidate regions</th><td>${e(h.candidateRegions.join(', '))}</td></tr>
<tr><th>Status</th><td id="status" class="status">${e(h.status)}${h.region === null ? '' : ` → ${e(h.region)}`}${h.published ? ' (delivered to the region topic)' : ''}</td></tr>
<tr><th>Expires</th><td>${e(h.expiresAt)}</td></tr>
<tr><th>Approvals</th><td>${h.approvals.map((a) => `${e(a.reviewer)} → ${e(a.region ?? '')}: ${e(a.justification)}`).join('<br>') || 'none'}${h.status === 'pending' ? ` (${d.approvalsRequired} more needed)` : ''}</td></tr>
${h.rejection === null ? '' : `<tr><th>Rejected</th><td>${e(h.rejection.reviewer)}: ${e(h.rejection.justification)}</td></tr>`}
</table>`;
  const csrf = `<input type="hidden" name="csrf" value="${e(ctx.csrf)}">`;
  const justification = (id: string): string =>
    `<label for="${id}">Justification (required)</label><textarea id="${id}" name="justification" required maxlength="${MAX_JUSTIFICATION_CHARS}"></textarea>`;
  const regionChoice =
    d.approvableRegions.length > 1
      ? `<label for="approve-region">Region</label> <select id="approve-region" name="region" required>${d.approvableRegions.map((r) => `<option value="${e(r)}">${e(r)}</option>`).join('')}</select><br>`
      : d.approvableRegions.length === 1
        ? `<input type="hidden" name="region" value="${e(d.approvableRegions[0] ?? '')}"><p>Approve into region <strong>${e(d.approvableRegions[0] ?? '')}</strong></p>`
        : '<p>You may not approve this hold into any of its candidate regions.</p>';
  const forms =
    h.status !== 'pending'
      ? ''
      : `<section id="decide">
<form class="inline" method="post" action="/holds/${encodeURIComponent(h.recordId)}/approve" id="approve-form">${csrf}${regionChoice}${justification('approve-justification')}<button type="submit" id="approve-button"${d.approvableRegions.length === 0 ? ' disabled' : ''}>Approve</button></form>
<form class="inline" method="post" action="/holds/${encodeURIComponent(h.recordId)}/reject" id="reject-form">${csrf}${justification('reject-justification')}<button type="submit" id="reject-button">Reject</button></form>
</section>`;
  const steps = d.preview.steps
    .map(
      (s) => `<section class="step"><h3>${e(s.kind)} · ${e(s.name)}${s.model === null ? '' : ` (${e(s.model)})`}</h3>
${s.system.length > 0 ? `<div class="message"><strong>system</strong>${parts(s.system)}</div>` : ''}${messages('input', s.input)}${messages('output', s.output)}
${s.tool === null ? '' : `<div class="tool"><strong>tool ${e(s.tool.name)}</strong>${marked(s.tool.arguments)}${marked(s.tool.result)}</div>`}</section>`,
    )
    .join('\n');
  return layout(
    `Held trace ${h.recordId}`,
    ctx,
    `<p><a href="/">← all held traces</a></p>${facts}${forms}<h2>Masked trace</h2><p>Highlighted: where masking replaced a finding.</p><div id="preview">${steps}</div>`,
  );
}

export function messagePage(title: string, text: string, ctx?: PageContext): string {
  return layout(title, ctx, `<p id="message">${e(text)}</p><p><a href="/">Back to the held traces</a></p>`);
}
