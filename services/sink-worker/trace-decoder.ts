/** Reads region records with the project's Avro schemas, for JSON Lines and Avro container output. */
import type { Type } from 'avsc';
import { createCodec } from '../shared/avro/codec.js';
import { loadSchemaVersions } from '../shared/avro/schema-files.js';
import type { TraceDecoder } from './batch-encoder.js';

export function createTraceDecoder(): TraceDecoder {
  const codec = createCodec('reasoning-trace');
  const writers = new Map<string, Type>(loadSchemaVersions('reasoning-trace').map((v) => [v.fingerprint, v.type] as const));
  return {
    writerType: (fingerprint) => writers.get(fingerprint.toLowerCase()),
    decode: (payload, fingerprint) => (codec.knows(fingerprint) ? codec.decode(payload, fingerprint) : undefined),
  };
}
