/**
 * The agent SDK's public surface: get a token, build a reasoning trace, send it.
 *
 *   const tokens = createTokenSource({ issuer, clientId, clientSecret, resource: 'urn:tracefence:broker' });
 *   const producer = await createTraceProducer({ brokers, topic: 'traces.ingest', tokens });
 *   const t = startTrace({ tenant: 'acme', agent: 'support-bot', dataSubjectRegion: 'eu' });
 *   ...
 *   await producer.send(t.end());
 *   await producer.close();
 *
 * Tenant and agent in the trace must be those of the token: the policy worker binds identity from
 * the verified token and refuses a record that claims another.
 */
export { startTrace, TraceBuilder, StepBuilder, createSystemClock, TRACE_SCHEMA_VERSION } from './trace-builder.js';
export type {
  StartTraceOptions,
  LlmStepOptions,
  AgentStepOptions,
  ToolStepOptions,
  GenericStepOptions,
  PartInput,
  ContentInput,
  UsageInput,
  Clock,
} from './trace-builder.js';
export { createTokenSource } from './token-source.js';
export type { TokenSource, TokenSourceOptions } from './token-source.js';
export { createTraceProducer } from './trace-producer.js';
export type { TraceProducer, TraceProducerOptions, SendResult } from './trace-producer.js';
export { mapOtelSpans } from './otel-genai-mapper.js';
export type { MapContext } from './otel-genai-mapper.js';
export type { OtelSpan, OtelEvent, OtelStatus, AttrValue, Attributes } from './otel-types.js';
export type { ReasoningTrace, TraceStep, Message, MessagePart, ToolCall, TokenUsage, StepKind, StatusCode } from '../shared/avro/index.js';
export { TracefenceError, isTracefenceError } from '../shared/errors.js';
export type { ErrorCode } from '../shared/errors.js';
