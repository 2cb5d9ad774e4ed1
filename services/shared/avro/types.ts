/**
 * Plain TypeScript shapes of the records in schemas/*.avsc (current versions).
 * Optional Avro fields (`["null", T]`) are `T | null`: decoded records always carry every field.
 * Every Avro `long` of the trace and held-trace schemas is a `bigint` (nanosecond timestamps exceed 2^53).
 */

export type StepKind = 'LLM' | 'AGENT' | 'TOOL' | 'GENERIC';
export type StatusCode = 'UNSET' | 'OK' | 'ERROR';

/** Known part types; any other type name is kept as received, with its properties in `data`. */
export type KnownPartType =
  | 'text'
  | 'reasoning'
  | 'tool_call'
  | 'tool_call_response'
  | 'blob'
  | 'uri'
  | 'file';

export interface MessagePart {
  /** KnownPartType or any other type name, kept as received. */
  type: string;
  /** Text of a text or reasoning part. */
  content: string | null;
  toolCallId: string | null;
  toolName: string | null;
  /** Tool call arguments as JSON text. */
  arguments: string | null;
  /** Tool call result as JSON text. */
  response: string | null;
  /** Remaining properties as JSON object text. */
  data: string | null;
}

export interface Message {
  role: string;
  name: string | null;
  parts: MessagePart[];
  finishReason: string | null;
}

export interface TokenUsage {
  inputTokens: number | null;
  outputTokens: number | null;
  cacheReadInputTokens: number | null;
  cacheCreationInputTokens: number | null;
  reasoningOutputTokens: number | null;
  totalTokens: number | null;
}

export interface ToolCall {
  name: string;
  callId: string | null;
  type: string | null;
  description: string | null;
  /** JSON text. */
  arguments: string | null;
  /** JSON text. */
  result: string | null;
}

export interface StepStatus {
  code: StatusCode;
  message: string | null;
}

export interface TraceStep {
  stepId: string;
  parentStepIds: string[];
  kind: StepKind;
  name: string;
  operation: string | null;
  provider: string | null;
  requestModel: string | null;
  responseModel: string | null;
  responseId: string | null;
  finishReasons: string[];
  conversationId: string | null;
  agentId: string | null;
  agentName: string | null;
  tool: ToolCall | null;
  systemInstructions: MessagePart[];
  input: Message[];
  output: Message[];
  usage: TokenUsage | null;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  status: StepStatus;
  /** Attributes with no field above; values are JSON text. */
  attributes: Record<string, string>;
}

export interface ReasoningTrace {
  recordId: string;
  traceId: string;
  tenant: string;
  agent: string;
  producedAtUnixNano: bigint;
  dataSubjectRegion: string | null;
  residencyHint: string | null;
  labels: Record<string, string>;
  schemaVersion: number;
  steps: TraceStep[];
  attributes: Record<string, string>;
}

export type Decision =
  | 'ROUTED'
  | 'HELD'
  | 'DEAD_LETTERED'
  | 'APPROVED'
  | 'REJECTED'
  | 'EXPIRED'
  | 'GUARD_BLOCKED'
  | 'STORED'
  | 'WRITE_BLOCKED'
  | 'UNKNOWN';

export interface AuditEvent {
  eventId: string;
  recordId: string;
  traceId: string;
  tenant: string;
  subject: string;
  agent: string;
  decision: Decision;
  region: string | null;
  reasonCode: string | null;
  findingCounts: Record<string, number>;
  /** Finding type -> masking operation. */
  maskingApplied: Record<string, string>;
  policyVersion: string;
  /** sha256 hex. */
  contentHash: string;
  bucket: string | null;
  objectKey: string | null;
  bucketLocation: string | null;
  occurredAtMs: number;
  prevHash: string | null;
  actor: string | null;
}

export interface HeldTrace {
  /** Already masked. */
  trace: ReasoningTrace;
  tenant: string;
  subject: string;
  holdReasonCode: string;
  holdReason: string;
  findings: Record<string, number>;
  candidateRegions: string[];
  policyVersion: string;
  heldAtMs: bigint;
}

export interface EncryptedPayload {
  keyId: string;
  algorithm: string;
  nonce: Buffer;
  ciphertext: Buffer;
}

export interface DeadLetter {
  reasonCode: string;
  fieldPath: string | null;
  message: string;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: number;
  recordId: string | null;
  tenant: string | null;
  /** tf-schema header of the source record. */
  sourceSchema: string | null;
  failedAtMs: number;
  encryptedPayload: EncryptedPayload | null;
}

/** Record kinds, each with one file schemas/<kind>.avsc (current) and schemas/history/<kind>.v<N>.avsc (older). */
export interface RecordKinds {
  'reasoning-trace': ReasoningTrace;
  'audit-event': AuditEvent;
  'held-trace': HeldTrace;
  'dead-letter': DeadLetter;
}

export type RecordKind = keyof RecordKinds;
