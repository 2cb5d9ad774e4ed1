/** Prometheus metrics of one sink process (names are the operator contract: docs/sink-worker.md). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface SinkMetrics {
  objects: Counter<'region' | 'bucket'>;
  bytes: Counter<'region' | 'bucket'>;
  records: Counter<'region' | 'bucket'>;
  conflicts: Counter<'region' | 'bucket'>;
  uploadFailures: Counter<'region' | 'bucket'>;
  uploadSeconds: Histogram<'region' | 'bucket'>;
  guardOk: Gauge<'region' | 'bucket'>;
  guardChecks: Counter<'region' | 'bucket' | 'result'>;
  bufferedBytes: Gauge<'region'>;
  lag: Gauge<'region' | 'topic' | 'partition'>;
  droppedHeaders: Counter<'region'>;
  storedEvents: Counter<'region' | 'bucket'>;
  auditFailures: Counter<'region' | 'bucket'>;
}

export function createSinkMetrics(registry: Registry): SinkMetrics {
  const registers = [registry];
  return {
    objects: new Counter({ name: 'tracefence_sink_objects_total', help: 'Objects written', labelNames: ['region', 'bucket'], registers }),
    bytes: new Counter({ name: 'tracefence_sink_bytes_total', help: 'Object body bytes written', labelNames: ['region', 'bucket'], registers }),
    records: new Counter({ name: 'tracefence_sink_records_total', help: 'Records written in objects', labelNames: ['region', 'bucket'], registers }),
    conflicts: new Counter({
      name: 'tracefence_sink_object_conflicts_total',
      help: 'Create-only writes that met an existing object (replay after a crash or rebalance)',
      labelNames: ['region', 'bucket'],
      registers,
    }),
    uploadFailures: new Counter({
      name: 'tracefence_sink_upload_failures_total',
      help: 'Uploads that failed after their retry budget',
      labelNames: ['region', 'bucket'],
      registers,
    }),
    uploadSeconds: new Histogram({
      name: 'tracefence_sink_upload_seconds',
      help: 'Upload latency per object, retries included',
      labelNames: ['region', 'bucket'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
      registers,
    }),
    guardOk: new Gauge({
      name: 'tracefence_sink_bucket_guard_ok',
      help: '1 when the bucket location, replication and encryption match the region policy, else 0 (writes stopped)',
      labelNames: ['region', 'bucket'],
      registers,
    }),
    guardChecks: new Counter({ name: 'tracefence_sink_bucket_guard_checks_total', help: 'Bucket guard checks by result', labelNames: ['region', 'bucket', 'result'], registers }),
    bufferedBytes: new Gauge({ name: 'tracefence_sink_buffered_bytes', help: 'Record bytes held in open batches', labelNames: ['region'], registers }),
    lag: new Gauge({ name: 'tracefence_sink_lag', help: 'Records between the high watermark and this sink\'s committed offset', labelNames: ['region', 'topic', 'partition'], registers }),
    droppedHeaders: new Counter({ name: 'tracefence_sink_dropped_secret_headers_total', help: 'Credential-like headers removed before storage', labelNames: ['region'], registers }),
    storedEvents: new Counter({
      name: 'tracefence_sink_stored_events_total',
      help: 'STORED audit events acknowledged by the broker (replays emit their records again, with the same event ids)',
      labelNames: ['region', 'bucket'],
      registers,
    }),
    auditFailures: new Counter({
      name: 'tracefence_sink_audit_failures_total',
      help: 'Batches whose STORED audit events could not be produced (offsets not committed; the batch is retried)',
      labelNames: ['region', 'bucket'],
      registers,
    }),
  };
}
