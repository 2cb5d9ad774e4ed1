/**
 * Builds a ReasoningTrace in memory (no I/O). Example:
 *
 *   const t = startTrace({ tenant: 'acme', agent: 'support-bot', dataSubjectRegion: 'eu' });
 *   const s = t.llmStep({ provider: 'openai', model: 'gpt-4o' });
 *   s.input('user', 'Weather in Paris?');
 *   s.output('assistant', [{ type: 'reasoning', content: '...' }, { type: 'text', content: 'Sunny.' }]);
 *   s.usage({ input: 10, output: 5 }).end();
 *   t.toolStep({ name: 'get_weather', callId: 'call_1', arguments: { city: 'Paris' }, parent: s }).result({ tempC: 21 }).end();
 *   const record = t.end();
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { TracefenceError } from '../shared/errors.js';
import type {
  Message,
  MessagePart,
  ReasoningTrace,
  StatusCode,
  StepKind,
  TokenUsage,
  TraceStep,
} from '../shared/avro/types.js';

/** Schema version the builder fills in; a unit test keeps it equal to the current reasoning-trace version. */
export const TRACE_SCHEMA_VERSION = 2;

export interface Clock {
  /** Nanoseconds since the Unix epoch. */
  nowUnixNano(): bigint;
}

/** Wall clock read once, then advanced by the monotonic high-resolution timer (ns precision, no jumps). */
export function createSystemClock(): Clock {
  const anchorWall = BigInt(Date.now()) * 1_000_000n;
  const anchorMono = process.hrtime.bigint();
  return { nowUnixNano: () => anchorWall + (process.hrtime.bigint() - anchorMono) };
}

/** What callers may pass as a message part; values of tool calls are any JSON-serialisable data. */
export type PartInput =
  | { type: 'text'; content: string }
  | { type: 'reasoning'; content: string }
  | { type: 'tool_call'; name: string; id?: string; arguments?: unknown }
  | { type: 'tool_call_response'; id?: string; response: unknown }
  | { type: string; [property: string]: unknown };

export type ContentInput = string | readonly PartInput[];

export interface UsageInput {
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheCreation?: number;
  reasoning?: number;
  total?: number;
}

export interface StartTraceOptions {
  tenant: string;
  agent: string;
  dataSubjectRegion?: string;
  residencyHint?: string;
  labels?: Readonly<Record<string, string>>;
  /** 32 lowercase hex characters; generated when absent. */
  traceId?: string;
  /** Trace-level attributes; values are stored as JSON text. */
  attributes?: Readonly<Record<string, unknown>>;
  clock?: Clock;
}

interface StepCommon {
  /** Step this one was called from. */
  parent?: StepBuilder | string;
  name?: string;
  conversationId?: string;
  attributes?: Readonly<Record<string, unknown>>;
}

export interface LlmStepOptions extends StepCommon {
  provider?: string;
  model?: string;
  /** gen_ai.operation.name; default chat. */
  operation?: string;
}

export interface AgentStepOptions extends StepCommon {
  agentName?: string;
  agentId?: string;
  /** Default invoke_agent. */
  operation?: string;
}

export interface ToolStepOptions extends StepCommon {
  name: string;
  callId?: string;
  type?: string;
  description?: string;
  /** Any JSON-serialisable value; stored as JSON text. */
  arguments?: unknown;
}

export interface GenericStepOptions extends StepCommon {
  name: string;
  operation?: string;
}

/** JSON text of a value; bigint becomes a decimal string, undefined becomes null. */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null';
}

function misuse(message: string): TracefenceError {
  return new TracefenceError('INTERNAL', `trace builder: ${message}`);
}

function jsonAttributes(attrs: Readonly<Record<string, unknown>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs ?? {})) out[k] = toJsonText(v);
  return out;
}

function emptyPart(type: string): MessagePart {
  return { type, content: null, toolCallId: null, toolName: null, arguments: null, response: null, data: null };
}

function optionalString(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** Converts one caller part; properties without a field of their own are kept in `data`. */
export function toMessagePart(input: PartInput): MessagePart {
  const { type, ...rest } = input as { type: string } & Record<string, unknown>;
  const part = emptyPart(type);
  const extra: Record<string, unknown> = { ...rest };
  const take = (key: string): unknown => {
    const v = extra[key];
    delete extra[key];
    return v;
  };
  switch (type) {
    case 'text':
    case 'reasoning':
      part.content = optionalString(take('content')) ?? '';
      break;
    case 'tool_call': {
      part.toolCallId = optionalString(take('id'));
      part.toolName = optionalString(take('name'));
      const args = take('arguments');
      part.arguments = args === undefined ? null : toJsonText(args);
      break;
    }
    case 'tool_call_response': {
      part.toolCallId = optionalString(take('id'));
      // The conventions name it response; their examples also write result.
      const response = 'response' in extra ? take('response') : take('result');
      part.response = response === undefined ? null : toJsonText(response);
      break;
    }
    default:
      break;
  }
  part.data = Object.keys(extra).length > 0 ? toJsonText(extra) : null;
  return part;
}

export function toParts(content: ContentInput): MessagePart[] {
  if (typeof content === 'string') return [toMessagePart({ type: 'text', content })];
  return content.map(toMessagePart);
}

function newStepId(): string {
  return randomBytes(8).toString('hex');
}

function newTraceId(): string {
  for (;;) {
    const id = randomBytes(16).toString('hex');
    if (!/^0+$/.test(id)) return id;
  }
}

export class StepBuilder {
  readonly stepId: string;
  private readonly step: TraceStep;
  private ended = false;

  /** @internal created by TraceBuilder */
  constructor(
    private readonly clock: Clock,
    kind: StepKind,
    name: string,
    common: StepCommon,
  ) {
    this.stepId = newStepId();
    const parent = common.parent;
    const now = clock.nowUnixNano();
    this.step = {
      stepId: this.stepId,
      parentStepIds: parent === undefined ? [] : [typeof parent === 'string' ? parent : parent.stepId],
      kind,
      name,
      operation: null,
      provider: null,
      requestModel: null,
      responseModel: null,
      responseId: null,
      finishReasons: [],
      conversationId: common.conversationId ?? null,
      agentId: null,
      agentName: null,
      tool: null,
      systemInstructions: [],
      input: [],
      output: [],
      usage: null,
      startTimeUnixNano: now,
      endTimeUnixNano: now,
      status: { code: 'UNSET', message: null },
      attributes: jsonAttributes(common.attributes),
    };
  }

  /** @internal */
  get record(): TraceStep {
    return this.step;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  private open(): TraceStep {
    if (this.ended) throw misuse(`step ${this.step.name} has already ended`);
    return this.step;
  }

  /** @internal */
  configure(fn: (step: TraceStep) => void): this {
    fn(this.open());
    return this;
  }

  system(content: ContentInput): this {
    this.open().systemInstructions.push(...toParts(content));
    return this;
  }

  input(role: string, content: ContentInput, options: { name?: string } = {}): this {
    this.open().input.push(message(role, content, options.name, undefined));
    return this;
  }

  output(role: string, content: ContentInput, options: { name?: string; finishReason?: string } = {}): this {
    const step = this.open();
    step.output.push(message(role, content, options.name, options.finishReason));
    if (options.finishReason !== undefined && !step.finishReasons.includes(options.finishReason)) {
      step.finishReasons.push(options.finishReason);
    }
    return this;
  }

  usage(u: UsageInput): this {
    const usage: TokenUsage = {
      inputTokens: u.input ?? null,
      outputTokens: u.output ?? null,
      cacheReadInputTokens: u.cacheRead ?? null,
      cacheCreationInputTokens: u.cacheCreation ?? null,
      reasoningOutputTokens: u.reasoning ?? null,
      totalTokens: u.total ?? null,
    };
    for (const [k, v] of Object.entries(usage)) {
      if (v !== null && !(Number.isInteger(v) && v >= 0 && v <= 2 ** 31 - 1)) {
        throw misuse(`usage ${k} must be a non-negative 32-bit integer`);
      }
    }
    this.open().usage = usage;
    return this;
  }

  response(r: { model?: string; id?: string; finishReasons?: readonly string[] }): this {
    const step = this.open();
    if (r.model !== undefined) step.responseModel = r.model;
    if (r.id !== undefined) step.responseId = r.id;
    if (r.finishReasons) step.finishReasons = [...r.finishReasons];
    return this;
  }

  /** Result of a tool step; any JSON-serialisable value, stored as JSON text. */
  result(value: unknown): this {
    const step = this.open();
    if (step.tool === null) throw misuse('result() is only for tool steps');
    step.tool.result = toJsonText(value);
    return this;
  }

  attribute(key: string, value: unknown): this {
    this.open().attributes[key] = toJsonText(value);
    return this;
  }

  /** Marks the step as failed; end() keeps the ERROR status. */
  fail(message: string): this {
    this.open().status = { code: 'ERROR', message };
    return this;
  }

  end(status?: StatusCode): this {
    const step = this.open();
    step.endTimeUnixNano = this.clock.nowUnixNano();
    if (status !== undefined) step.status = { code: status, message: step.status.message };
    else if (step.status.code === 'UNSET') step.status = { code: 'OK', message: null };
    this.ended = true;
    return this;
  }
}

function message(role: string, content: ContentInput, name: string | undefined, finishReason: string | undefined): Message {
  return { role, name: name ?? null, parts: toParts(content), finishReason: finishReason ?? null };
}

export class TraceBuilder {
  readonly recordId: string = randomUUID();
  readonly traceId: string;
  private readonly steps: StepBuilder[] = [];
  private readonly clock: Clock;
  private ended = false;

  constructor(private readonly options: StartTraceOptions) {
    if (!options.tenant) throw misuse('tenant is required');
    if (!options.agent) throw misuse('agent is required');
    if (options.traceId !== undefined && !/^(?!0{32})[0-9a-f]{32}$/.test(options.traceId)) {
      throw misuse('traceId must be 32 lowercase hex characters, not all zero');
    }
    this.traceId = options.traceId ?? newTraceId();
    this.clock = options.clock ?? createSystemClock();
  }

  private add(step: StepBuilder): StepBuilder {
    if (this.ended) throw misuse('the trace has already ended');
    this.steps.push(step);
    return step;
  }

  llmStep(o: LlmStepOptions = {}): StepBuilder {
    const operation = o.operation ?? 'chat';
    const name = o.name ?? (o.model ? `${operation} ${o.model}` : operation);
    return this.add(
      new StepBuilder(this.clock, 'LLM', name, o).configure((s) => {
        s.operation = operation;
        s.provider = o.provider ?? null;
        s.requestModel = o.model ?? null;
      }),
    );
  }

  agentStep(o: AgentStepOptions = {}): StepBuilder {
    const operation = o.operation ?? 'invoke_agent';
    const name = o.name ?? (o.agentName ? `${operation} ${o.agentName}` : operation);
    return this.add(
      new StepBuilder(this.clock, 'AGENT', name, o).configure((s) => {
        s.operation = operation;
        s.agentId = o.agentId ?? null;
        s.agentName = o.agentName ?? null;
      }),
    );
  }

  toolStep(o: ToolStepOptions): StepBuilder {
    if (!o.name) throw misuse('a tool step needs a name');
    return this.add(
      new StepBuilder(this.clock, 'TOOL', `execute_tool ${o.name}`, o).configure((s) => {
        s.operation = 'execute_tool';
        s.tool = {
          name: o.name,
          callId: o.callId ?? null,
          type: o.type ?? null,
          description: o.description ?? null,
          arguments: o.arguments === undefined ? null : toJsonText(o.arguments),
          result: null,
        };
      }),
    );
  }

  step(o: GenericStepOptions): StepBuilder {
    return this.add(
      new StepBuilder(this.clock, 'GENERIC', o.name, o).configure((s) => {
        s.operation = o.operation ?? null;
      }),
    );
  }

  /** Ends steps still open (status left UNSET) and returns the record. The builder cannot be used afterwards. */
  end(): ReasoningTrace {
    if (this.ended) throw misuse('the trace has already ended');
    for (const s of this.steps) if (!s.isEnded) s.end('UNSET');
    this.ended = true;
    const o = this.options;
    return {
      recordId: this.recordId,
      traceId: this.traceId,
      tenant: o.tenant,
      agent: o.agent,
      producedAtUnixNano: this.clock.nowUnixNano(),
      dataSubjectRegion: o.dataSubjectRegion ?? null,
      residencyHint: o.residencyHint ?? null,
      labels: { ...o.labels },
      schemaVersion: TRACE_SCHEMA_VERSION,
      steps: this.steps.map((s) => s.record),
      attributes: jsonAttributes(o.attributes),
    };
  }
}

export function startTrace(options: StartTraceOptions): TraceBuilder {
  return new TraceBuilder(options);
}
