export { createCodec, readSchemaHeader, SCHEMA_HEADER, DEFAULT_MAX_BYTES } from './codec.js';
export type { Codec, CodecOptions, Encoded } from './codec.js';
export { checkCompatibility } from './compatibility.js';
export type { CompatibilityReport } from './compatibility.js';
export { loadSchemaVersions, parseSchema, fingerprintOf, RECORD_KINDS, DEFAULT_SCHEMA_DIR } from './schema-files.js';
export type { SchemaVersion } from './schema-files.js';
export { bigintLongType } from './bigint-long.js';
export type {
  AuditEvent,
  DeadLetter,
  Decision,
  EncryptedPayload,
  HeldTrace,
  KnownPartType,
  Message,
  MessagePart,
  ReasoningTrace,
  RecordKind,
  RecordKinds,
  StatusCode,
  StepKind,
  StepStatus,
  TokenUsage,
  ToolCall,
  TraceStep,
} from './types.js';
