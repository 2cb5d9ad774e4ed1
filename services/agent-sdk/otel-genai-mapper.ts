/**
 * Maps decoded OTel spans (GenAI semantic conventions, current and deprecated, and OpenInference) to ReasoningTraces.
 * Every attribute without a field of its own stays in the step's `attributes` (as JSON text): nothing is dropped,
 * so masking sees every value. Tenant and agent come from the caller (the verified token), never from spans.
 */
import { randomUUID } from 'node:crypto';
import { TracefenceError } from '../shared/errors.js';
import type { Message, MessagePart, ReasoningTrace, StatusCode, StepKind, TokenUsage, ToolCall, TraceStep } from '../shared/avro/types.js';
import type { AttrValue, Attributes, OtelEvent, OtelSpan, OtelStatus } from './otel-types.js';
import { createSystemClock, TRACE_SCHEMA_VERSION, toMessagePart, type PartInput } from './trace-builder.js';

export interface MapContext {
  /** Verified tenant. */
  tenant: string;
  /** Verified agent. */
  agent: string;
  dataSubjectRegion?: string;
  residencyHint?: string;
  labels?: Readonly<Record<string, string>>;
  /** Defaults to now. */
  producedAtUnixNano?: bigint;
  /** Defaults to crypto.randomUUID. */
  newRecordId?: () => string;
}

const LLM_OPERATIONS = new Set(['chat', 'generate_content', 'text_completion', 'embeddings']);
const AGENT_OPERATIONS = new Set(['invoke_agent', 'create_agent']);
const OI_KINDS: Readonly<Record<string, StepKind>> = { LLM: 'LLM', EMBEDDING: 'LLM', AGENT: 'AGENT', TOOL: 'TOOL' };

/** JSON text of an attribute value: bigint as a decimal string, bytes as base64. */
export function attrToJson(value: unknown): string {
  return (
    JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
      return v;
    }) ?? 'null'
  );
}

/** Content fields that may be JSON text already (OTel puts objects on spans as JSON strings). */
function asJsonText(value: unknown): string {
  if (typeof value === 'string') {
    try {
      JSON.parse(value);
      return value;
    } catch {
      return JSON.stringify(value);
    }
  }
  return attrToJson(value);
}

function parseJsonish(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function asString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return null;
}

function asTokenCount(v: unknown): number | null {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : typeof v === 'bigint' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 2 ** 31 - 1 ? n : null;
}

/** Attribute bag that records which keys were mapped; the rest become step attributes. */
class Bag {
  private readonly used = new Set<string>();
  constructor(readonly attrs: Attributes) {}

  has(key: string): boolean {
    return this.attrs[key] !== undefined && this.attrs[key] !== null;
  }

  get(key: string): AttrValue | undefined {
    const v = this.attrs[key];
    return v === null ? undefined : v;
  }

  use(key: string): void {
    this.used.add(key);
  }

  /**
   * First present key wins, converted by `convert`; a key whose value does not convert, or an alias that
   * disagrees with the winner, is left unused so it is kept among the attributes.
   */
  pick<T>(keys: readonly string[], convert: (v: AttrValue) => T | null): T | null {
    let winner: T | null = null;
    let winnerJson = '';
    for (const key of keys) {
      const raw = this.get(key);
      if (raw === undefined) continue;
      const v = convert(raw);
      if (v === null) continue;
      if (winner === null) {
        winner = v;
        winnerJson = attrToJson(v);
        this.use(key);
      } else if (attrToJson(v) === winnerJson) {
        this.use(key);
      }
    }
    return winner;
  }

  string(...keys: string[]): string | null {
    return this.pick(keys, asString);
  }

  rest(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.attrs)) {
      if (!this.used.has(k) && v !== undefined) out[k] = attrToJson(v);
    }
    return out;
  }
}

function emptyPart(type: string): MessagePart {
  return { type, content: null, toolCallId: null, toolName: null, arguments: null, response: null, data: null };
}

/** One part of a current-conventions message; tool arguments and responses may be objects or JSON text. */
function mapPart(raw: unknown): MessagePart {
  if (!isRecord(raw) || typeof raw.type !== 'string') {
    return { ...emptyPart('text'), content: typeof raw === 'string' ? raw : attrToJson(raw) };
  }
  const part = toMessagePart(raw as PartInput);
  if (raw.type === 'tool_call' && raw.arguments !== undefined) part.arguments = asJsonText(raw.arguments);
  if (raw.type === 'tool_call_response') {
    const response = raw.response !== undefined ? raw.response : raw.result;
    if (response !== undefined) part.response = asJsonText(response);
  }
  if ((raw.type === 'text' || raw.type === 'reasoning') && typeof raw.content !== 'string' && raw.content !== undefined) {
    part.content = attrToJson(raw.content);
  }
  return part;
}

function mapMessage(raw: unknown): Message | null {
  if (!isRecord(raw) || typeof raw.role !== 'string') return null;
  const parts = Array.isArray(raw.parts) ? raw.parts.map(mapPart) : [];
  // Some emitters still write a bare content string.
  if (!Array.isArray(raw.parts) && typeof raw.content === 'string') parts.push({ ...emptyPart('text'), content: raw.content });
  return {
    role: raw.role,
    name: typeof raw.name === 'string' ? raw.name : null,
    parts,
    finishReason: asString(raw.finish_reason),
  };
}

/** gen_ai.input.messages / output.messages: JSON text or an array; null when unusable (the attribute is then kept). */
function mapMessages(value: AttrValue | undefined): Message[] | null {
  if (value === undefined) return null;
  const parsed = parseJsonish(value);
  if (!Array.isArray(parsed)) return null;
  const out: Message[] = [];
  for (const m of parsed) {
    const mapped = mapMessage(m);
    if (mapped === null) return null;
    out.push(mapped);
  }
  return out;
}

function mapInstructions(value: AttrValue | undefined): MessagePart[] | null {
  if (value === undefined) return null;
  const parsed = parseJsonish(value);
  if (Array.isArray(parsed)) return parsed.map(mapPart);
  if (typeof value === 'string') return [{ ...emptyPart('text'), content: value }];
  return null;
}

/** Deprecated tool_calls: [{id, type, function: {name, arguments}}], possibly as JSON text. */
function legacyToolCalls(value: unknown): MessagePart[] {
  const parsed = parseJsonish(value);
  if (!Array.isArray(parsed)) return [];
  return parsed.filter(isRecord).map((c) => {
    const fn = isRecord(c.function) ? c.function : {};
    const extra: Record<string, unknown> = { ...c };
    delete extra.id;
    delete extra.function;
    if (extra.type === 'function') delete extra.type;
    return {
      ...emptyPart('tool_call'),
      toolCallId: asString(c.id),
      toolName: asString(fn.name),
      arguments: fn.arguments === undefined ? null : asJsonText(fn.arguments),
      data: Object.keys(extra).length > 0 ? attrToJson(extra) : null,
    };
  });
}

function legacyContent(content: unknown): MessagePart[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return [{ ...emptyPart('text'), content }];
  return [{ ...emptyPart('text'), content: attrToJson(content) }];
}

interface LegacyResult {
  input: Message[];
  output: Message[];
  finishReasons: string[];
  rest: OtelEvent[];
}

/** Deprecated message events (gen_ai.system/user/assistant/tool.message, gen_ai.choice). */
function mapLegacyEvents(events: readonly OtelEvent[]): LegacyResult {
  const result: LegacyResult = { input: [], output: [], finishReasons: [], rest: [] };
  for (const ev of events) {
    const a = ev.attributes;
    const msg = (role: string, parts: MessagePart[]): Message => ({ role, name: asString(a.name), parts, finishReason: null });
    switch (ev.name) {
      case 'gen_ai.system.message':
        result.input.push(msg(asString(a.role) ?? 'system', legacyContent(a.content)));
        break;
      case 'gen_ai.user.message':
        result.input.push(msg(asString(a.role) ?? 'user', legacyContent(a.content)));
        break;
      case 'gen_ai.assistant.message':
        result.input.push(msg(asString(a.role) ?? 'assistant', [...legacyContent(a.content), ...legacyToolCalls(a.tool_calls)]));
        break;
      case 'gen_ai.tool.message':
        result.input.push(
          msg(asString(a.role) ?? 'tool', [
            { ...emptyPart('tool_call_response'), toolCallId: asString(a.id), response: a.content === undefined ? null : asJsonText(a.content) },
          ]),
        );
        break;
      case 'gen_ai.choice': {
        const m = parseJsonish(a.message);
        const body = isRecord(m) ? m : {};
        const finish = asString(a.finish_reason);
        result.output.push({
          role: asString(body.role) ?? 'assistant',
          name: null,
          parts: [...legacyContent(body.content), ...legacyToolCalls(body.tool_calls)],
          finishReason: finish,
        });
        if (finish !== null) result.finishReasons.push(finish);
        break;
      }
      default:
        result.rest.push(ev);
    }
  }
  return result;
}

/** OpenInference flattened messages: llm.input_messages.N.message.* and llm.output_messages.N.message.*. */
function mapOpenInferenceMessages(bag: Bag, direction: 'input' | 'output'): Message[] {
  const prefix = `llm.${direction}_messages.`;
  const byIndex = new Map<number, Map<string, { key: string; value: AttrValue }>>();
  for (const [key, value] of Object.entries(bag.attrs)) {
    if (!key.startsWith(prefix) || value === null) continue;
    const m = /^(\d+)\.message\.(.+)$/.exec(key.slice(prefix.length));
    if (!m?.[1] || !m[2]) continue;
    const idx = Number(m[1]);
    let fields = byIndex.get(idx);
    if (!fields) byIndex.set(idx, (fields = new Map()));
    fields.set(m[2], { key, value });
  }
  const messages: Message[] = [];
  for (const idx of [...byIndex.keys()].sort((a, b) => a - b)) {
    const fields = byIndex.get(idx)!;
    const take = (sub: string): AttrValue | undefined => {
      const f = fields.get(sub);
      if (f === undefined) return undefined;
      bag.use(f.key);
      return f.value;
    };
    const role = asString(take('role')) ?? 'unknown';
    const toolCallId = asString(take('tool_call_id'));
    const parts: MessagePart[] = [];
    const content = take('content');
    if (content !== undefined) {
      parts.push(
        role === 'tool'
          ? { ...emptyPart('tool_call_response'), toolCallId, response: asJsonText(content) }
          : { ...emptyPart('text'), content: asString(content) ?? attrToJson(content) },
      );
    }
    const contentIdx = new Set<number>();
    const callIdx = new Set<number>();
    for (const sub of fields.keys()) {
      const c = /^contents\.(\d+)\.message_content\./.exec(sub);
      if (c?.[1]) contentIdx.add(Number(c[1]));
      const t = /^tool_calls\.(\d+)\.tool_call\./.exec(sub);
      if (t?.[1]) callIdx.add(Number(t[1]));
    }
    for (const j of [...contentIdx].sort((a, b) => a - b)) {
      const p = `contents.${j}.message_content.`;
      const type = asString(take(`${p}type`)) ?? 'text';
      const text = take(`${p}text`);
      const extra: Record<string, AttrValue> = {};
      for (const [sub] of fields) {
        if (sub.startsWith(p) && sub !== `${p}type` && sub !== `${p}text`) {
          const v = take(sub);
          if (v !== undefined) extra[sub.slice(p.length)] = v;
        }
      }
      if (type === 'text' || type === 'reasoning') {
        parts.push({ ...emptyPart(type), content: asString(text) ?? '', data: Object.keys(extra).length ? attrToJson(extra) : null });
      } else {
        if (text !== undefined) extra.text = text;
        parts.push({ ...emptyPart(type), data: attrToJson(extra) });
      }
    }
    for (const k of [...callIdx].sort((a, b) => a - b)) {
      const p = `tool_calls.${k}.tool_call.`;
      const args = take(`${p}function.arguments`);
      parts.push({
        ...emptyPart('tool_call'),
        toolCallId: asString(take(`${p}id`)),
        toolName: asString(take(`${p}function.name`)),
        arguments: args === undefined ? null : asJsonText(args),
      });
    }
    if (role === 'tool' && content === undefined && toolCallId !== null) {
      parts.push({ ...emptyPart('tool_call_response'), toolCallId });
    }
    messages.push({ role, name: asString(take('name')), parts, finishReason: null });
  }
  return messages;
}

function stepKind(operation: string | null, oiKind: string | null, bag: Bag): StepKind {
  if (operation !== null) {
    if (LLM_OPERATIONS.has(operation)) return 'LLM';
    if (AGENT_OPERATIONS.has(operation)) return 'AGENT';
    if (operation === 'execute_tool') return 'TOOL';
    return 'GENERIC';
  }
  if (oiKind !== null) return OI_KINDS[oiKind.toUpperCase()] ?? 'GENERIC';
  if (bag.has('gen_ai.request.model') || bag.has('llm.model_name')) return 'LLM';
  if (bag.has('gen_ai.tool.name')) return 'TOOL';
  return 'GENERIC';
}

function statusCode(code: OtelStatus['code'] | undefined): StatusCode {
  if (code === 1 || code === 'OK') return 'OK';
  if (code === 2 || code === 'ERROR') return 'ERROR';
  return 'UNSET';
}

function isHexId(id: string | undefined, length: number): id is string {
  return id !== undefined && id.length === length && /^[0-9a-f]+$/i.test(id) && !/^0+$/.test(id);
}

/** Maps one span to a step. */
export function mapOtelSpan(span: OtelSpan): TraceStep {
  const bag = new Bag(span.attributes);
  const operation = bag.string('gen_ai.operation.name');
  const oiKind = bag.string('openinference.span.kind');
  const kind = stepKind(operation, oiKind, bag);

  // Current message attributes, else the same ones on the current details event.
  const details = span.events?.find((e) => e.name === 'gen_ai.client.inference.operation.details');
  const detailsBag = details ? new Bag(details.attributes) : undefined;
  const fromAttr = (key: string, map: (v: AttrValue | undefined) => MessagePart[] | Message[] | null) => {
    const own = map(bag.get(key));
    if (own !== null) {
      bag.use(key);
      return own;
    }
    const fromEvent = detailsBag ? map(detailsBag.get(key)) : null;
    if (fromEvent !== null) detailsBag!.use(key);
    return fromEvent;
  };
  const system = fromAttr('gen_ai.system_instructions', mapInstructions) as MessagePart[] | null;
  let input = fromAttr('gen_ai.input.messages', mapMessages) as Message[] | null;
  let output = fromAttr('gen_ai.output.messages', mapMessages) as Message[] | null;

  const oiInput = mapOpenInferenceMessages(bag, 'input');
  const oiOutput = mapOpenInferenceMessages(bag, 'output');
  const legacy = mapLegacyEvents((span.events ?? []).filter((e) => e !== details));
  input = [...(input ?? []), ...oiInput, ...legacy.input];
  output = [...(output ?? []), ...oiOutput, ...legacy.output];

  let finishReasons =
    bag.pick(['gen_ai.response.finish_reasons'], (v) => {
      const parsed = parseJsonish(v);
      return Array.isArray(parsed) && parsed.every((x) => typeof x === 'string') ? (parsed as string[]) : null;
    }) ?? [];
  for (const r of [...legacy.finishReasons, ...output.flatMap((m) => (m.finishReason ? [m.finishReason] : []))]) {
    if (!finishReasons.includes(r)) finishReasons = [...finishReasons, r];
  }

  const usage: TokenUsage = {
    inputTokens: bag.pick(['gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens', 'llm.token_count.prompt'], asTokenCount),
    outputTokens: bag.pick(['gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens', 'llm.token_count.completion'], asTokenCount),
    cacheReadInputTokens: bag.pick(['gen_ai.usage.cache_read.input_tokens', 'llm.token_count.prompt_details.cache_read'], asTokenCount),
    cacheCreationInputTokens: bag.pick(['gen_ai.usage.cache_creation.input_tokens', 'llm.token_count.prompt_details.cache_write'], asTokenCount),
    reasoningOutputTokens: bag.pick(['gen_ai.usage.reasoning.output_tokens', 'llm.token_count.completion_details.reasoning'], asTokenCount),
    totalTokens: bag.pick(['gen_ai.usage.total_tokens', 'llm.token_count.total'], asTokenCount),
  };

  let tool: ToolCall | null = null;
  const toolName = bag.string('gen_ai.tool.name', 'tool.name');
  if (kind === 'TOOL' || toolName !== null) {
    const args = bag.pick(['gen_ai.tool.call.arguments', 'tool_call.function.arguments', ...(kind === 'TOOL' ? ['input.value'] : [])], asJsonText);
    const result = bag.pick(['gen_ai.tool.call.result', ...(kind === 'TOOL' ? ['output.value'] : [])], asJsonText);
    tool = {
      name: toolName ?? span.name,
      callId: bag.string('gen_ai.tool.call.id', 'tool_call.id', 'tool.id'),
      type: bag.string('gen_ai.tool.type'),
      description: bag.string('gen_ai.tool.description', 'tool.description'),
      arguments: args,
      result,
    };
  }

  const provider = bag.string('gen_ai.provider.name', 'gen_ai.system', 'llm.provider', 'llm.system');
  const requestModel = bag.string('gen_ai.request.model', 'llm.model_name');
  const responseModel = bag.string('gen_ai.response.model');
  const responseId = bag.string('gen_ai.response.id');
  const conversationId = bag.string('gen_ai.conversation.id', 'session.id');
  const agentId = bag.string('gen_ai.agent.id');
  const agentName = bag.string('gen_ai.agent.name', 'agent.name');

  // Everything not mapped above is kept.
  const attributes = bag.rest();
  if (span.kind !== undefined) attributes['otel.span.kind'] = attrToJson(span.kind);
  // Events with no field of their own (exceptions...) are kept whole.
  const keptEvents = legacy.rest.map((e) => ({ name: e.name, timeUnixNano: e.timeUnixNano, attributes: e.attributes }));
  if (detailsBag) {
    const left = detailsBag.rest();
    if (Object.keys(left).length > 0) keptEvents.push({ name: details!.name, timeUnixNano: details!.timeUnixNano, attributes: details!.attributes });
  }
  if (keptEvents.length > 0) attributes['otel.events'] = attrToJson(keptEvents);

  const parent = span.parentSpanId?.toLowerCase();
  const hasUsage = Object.values(usage).some((v) => v !== null);
  return {
    stepId: span.spanId.toLowerCase(),
    parentStepIds: isHexId(parent, 16) ? [parent] : [],
    kind,
    name: span.name,
    operation: operation ?? oiKind,
    provider,
    requestModel,
    responseModel,
    responseId,
    finishReasons,
    conversationId,
    agentId,
    agentName,
    tool,
    systemInstructions: system ?? [],
    input,
    output,
    usage: hasUsage ? usage : null,
    startTimeUnixNano: span.startTimeUnixNano,
    endTimeUnixNano: span.endTimeUnixNano,
    status: { code: statusCode(span.status?.code), message: span.status?.message || null },
    attributes,
  };
}

/** Groups spans by trace id (in order of first appearance) and maps each group to one ReasoningTrace. */
export function mapOtelSpans(spans: readonly OtelSpan[], context: MapContext): ReasoningTrace[] {
  if (!context.tenant || !context.agent) {
    throw new TracefenceError('INTERNAL', 'mapOtelSpans needs the verified tenant and agent');
  }
  const groups = new Map<string, OtelSpan[]>();
  spans.forEach((span, i) => {
    const traceId = span.traceId.toLowerCase();
    if (!isHexId(traceId, 32)) {
      throw new TracefenceError('RECORD_MALFORMED', `span ${i} has an invalid trace id`, { path: `spans.${i}.traceId` });
    }
    if (!isHexId(span.spanId, 16)) {
      throw new TracefenceError('RECORD_MALFORMED', `span ${i} has an invalid span id`, { path: `spans.${i}.spanId` });
    }
    const group = groups.get(traceId);
    if (group) group.push(span);
    else groups.set(traceId, [span]);
  });
  const producedAt = context.producedAtUnixNano ?? createSystemClock().nowUnixNano();
  const newRecordId = context.newRecordId ?? randomUUID;
  return [...groups].map(([traceId, group]) => {
    const ordered = [...group].sort((a, b) => (a.startTimeUnixNano < b.startTimeUnixNano ? -1 : a.startTimeUnixNano > b.startTimeUnixNano ? 1 : 0));
    const resource: Record<string, string> = {};
    for (const s of ordered) {
      for (const [k, v] of Object.entries(s.resource ?? {})) if (!(k in resource) && v !== null) resource[k] = attrToJson(v);
    }
    return {
      recordId: newRecordId(),
      traceId,
      tenant: context.tenant,
      agent: context.agent,
      producedAtUnixNano: producedAt,
      dataSubjectRegion: context.dataSubjectRegion ?? null,
      residencyHint: context.residencyHint ?? null,
      labels: { ...context.labels },
      schemaVersion: TRACE_SCHEMA_VERSION,
      steps: ordered.map(mapOtelSpan),
      attributes: resource,
    };
  });
}
