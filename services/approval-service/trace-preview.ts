/**
 * A reviewer's view of a masked trace: every text with the masking labels the policy worker left
 * ([EMAIL_ADDRESS], [EMAIL_ADDRESS:3f2a...]) marked as finding spans. The trace is already masked;
 * this only points at where findings were. Long texts are cut to keep responses bounded.
 */
import type { Message, MessagePart, ReasoningTrace } from '../shared/avro/index.js';

export interface FindingSpan {
  /** Offsets in `text` (UTF-16 code units), end exclusive. */
  start: number;
  end: number;
  type: string;
}

export interface MarkedText {
  text: string;
  findings: FindingSpan[];
  truncated: boolean;
}

export interface PreviewPart {
  type: string;
  toolName: string | null;
  text: MarkedText | null;
}

export interface PreviewMessage {
  role: string;
  parts: PreviewPart[];
}

export interface PreviewStep {
  stepId: string;
  kind: string;
  name: string;
  model: string | null;
  system: PreviewPart[];
  input: PreviewMessage[];
  output: PreviewMessage[];
  tool: { name: string; arguments: MarkedText | null; result: MarkedText | null } | null;
}

export interface TracePreview {
  recordId: string;
  traceId: string;
  agent: string;
  steps: PreviewStep[];
  truncated: boolean;
}

const LABEL = /\[([A-Z][A-Z0-9_]{0,63})(?::[A-Za-z0-9_-]{1,64})?\]/g;
export const MAX_TEXT_CHARS = 8000;
export const MAX_STEPS = 200;

export function markFindings(raw: string, maxChars = MAX_TEXT_CHARS): MarkedText {
  const truncated = raw.length > maxChars;
  const text = truncated ? raw.slice(0, maxChars) : raw;
  const findings: FindingSpan[] = [];
  for (const m of text.matchAll(LABEL)) {
    if (m.index === undefined || m[1] === undefined) continue;
    findings.push({ start: m.index, end: m.index + m[0].length, type: m[1] });
  }
  return { text, findings, truncated };
}

const marked = (s: string | null): MarkedText | null => (s === null || s === '' ? null : markFindings(s));

function partText(p: MessagePart): string | null {
  return p.content ?? p.arguments ?? p.response ?? p.data;
}

function part(p: MessagePart): PreviewPart {
  return { type: p.type, toolName: p.toolName, text: marked(partText(p)) };
}

function message(m: Message): PreviewMessage {
  return { role: m.role, parts: m.parts.map(part) };
}

export function previewTrace(trace: ReasoningTrace): TracePreview {
  const steps = trace.steps.slice(0, MAX_STEPS).map(
    (s): PreviewStep => ({
      stepId: s.stepId,
      kind: s.kind,
      name: s.name,
      model: s.responseModel ?? s.requestModel,
      system: s.systemInstructions.map(part),
      input: s.input.map(message),
      output: s.output.map(message),
      tool: s.tool === null ? null : { name: s.tool.name, arguments: marked(s.tool.arguments), result: marked(s.tool.result) },
    }),
  );
  return { recordId: trace.recordId, traceId: trace.traceId, agent: trace.agent, steps, truncated: trace.steps.length > MAX_STEPS };
}

/** HTML for one marked text: every character escaped, finding spans wrapped in <mark>. */
export function markedTextHtml(t: MarkedText, escape: (s: string) => string): string {
  let out = '';
  let at = 0;
  for (const f of t.findings) {
    out += escape(t.text.slice(at, f.start));
    out += `<mark class="finding" data-finding="${escape(f.type)}">${escape(t.text.slice(f.start, f.end))}</mark>`;
    at = f.end;
  }
  out += escape(t.text.slice(at));
  if (t.truncated) out += ' <em>(cut)</em>';
  return out;
}
