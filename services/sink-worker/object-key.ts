/**
 * Deterministic object names: the same batch start always yields the same key, so a crash
 * and retry meets the object it already wrote instead of writing a second one.
 */
import { TENANT_NAME_PATTERN } from '../policy/load-policy.js';

export type SinkFormat = 'jsonl-gz' | 'avro';

export const FORMAT_EXTENSION: Readonly<Record<SinkFormat, string>> = { 'jsonl-gz': 'jsonl.gz', avro: 'avro' };

/** Tenant used in keys when the record's tf-tenant header is missing or not a legal tenant name. */
export const UNKNOWN_TENANT = '_unknown';

export function keyTenant(tenant: string | undefined): string {
  return tenant !== undefined && TENANT_NAME_PATTERN.test(tenant) ? tenant : UNKNOWN_TENANT;
}

export interface ObjectKeyParts {
  prefix: string;
  tenant: string | undefined;
  /** Kafka timestamp (ms) of the batch's first record. */
  firstTimestampMs: number;
  topic: string;
  partition: number;
  firstOffset: bigint;
  format: SinkFormat;
}

export function utcDate(ms: number): string {
  const d = new Date(Number.isFinite(ms) ? ms : 0);
  return d.toISOString().slice(0, 10);
}

export function objectKey(p: ObjectKeyParts): string {
  const prefix = p.prefix === '' ? '' : p.prefix.endsWith('/') ? p.prefix : `${p.prefix}/`;
  const offset = p.firstOffset.toString().padStart(20, '0');
  return `${prefix}tenant=${keyTenant(p.tenant)}/date=${utcDate(p.firstTimestampMs)}/${p.topic}/${p.partition}/${offset}.${FORMAT_EXTENSION[p.format]}`;
}
