/** Prometheus metrics of the audit sink (names are the operator contract: docs/audit.md). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface AuditSinkMetrics {
  events: Counter<'chain'>;
  objects: Counter<'chain' | 'bucket'>;
  conflicts: Counter<'chain'>;
  writeFailures: Counter<'chain'>;
  uploadSeconds: Histogram<'chain'>;
  chainSeq: Gauge<'chain'>;
  guardOk: Gauge<'chain' | 'bucket'>;
  undecodable: Counter<'chain'>;
  misrouted: Counter<'chain'>;
}

export function createAuditSinkMetrics(registry: Registry): AuditSinkMetrics {
  const registers = [registry];
  return {
    events: new Counter({ name: 'tracefence_audit_events_total', help: 'Audit events chained and stored', labelNames: ['chain'], registers }),
    objects: new Counter({ name: 'tracefence_audit_objects_total', help: 'Audit objects written', labelNames: ['chain', 'bucket'], registers }),
    conflicts: new Counter({
      name: 'tracefence_audit_object_conflicts_total',
      help: 'Create-only writes that met an existing object (replay, or a second writer); the chain head is reloaded',
      labelNames: ['chain'],
      registers,
    }),
    writeFailures: new Counter({ name: 'tracefence_audit_write_failures_total', help: 'Batches not stored (retried; offsets not committed)', labelNames: ['chain'], registers }),
    uploadSeconds: new Histogram({
      name: 'tracefence_audit_upload_seconds',
      help: 'Upload latency per audit object and its checkpoint',
      labelNames: ['chain'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    chainSeq: new Gauge({ name: 'tracefence_audit_chain_seq', help: 'Sequence number of the last stored event per chain', labelNames: ['chain'], registers }),
    guardOk: new Gauge({ name: 'tracefence_audit_bucket_guard_ok', help: '1 when the audit bucket location is allowed, 0 when writes are stopped', labelNames: ['chain', 'bucket'], registers }),
    undecodable: new Counter({ name: 'tracefence_audit_undecodable_total', help: 'Audit records that could not be decoded (chained as UNKNOWN with their hash)', labelNames: ['chain'], registers }),
    misrouted: new Counter({ name: 'tracefence_audit_misrouted_total', help: 'Audit records whose key does not name the region of their event', labelNames: ['chain'], registers }),
  };
}
