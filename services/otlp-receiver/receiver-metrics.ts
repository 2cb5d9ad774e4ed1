import { Counter, Histogram, Registry } from 'prom-client';

/** The OTLP receiver's Prometheus metrics. Labels carry codes and formats, never values or identities. */
export function createReceiverMetrics(registry: Registry = new Registry()) {
  return {
    requests: new Counter({
      name: 'tracefence_otlp_requests_total',
      help: 'OTLP export requests by HTTP status, body format and error code (ok when accepted)',
      labelNames: ['status', 'format', 'code'],
      registers: [registry],
    }),
    spansAccepted: new Counter({ name: 'tracefence_otlp_spans_accepted_total', help: 'GenAI spans produced to the ingest topic', registers: [registry] }),
    spansRejected: new Counter({ name: 'tracefence_otlp_spans_rejected_total', help: 'Spans rejected (reported in partial_success or a 400)', registers: [registry] }),
    spansIgnored: new Counter({ name: 'tracefence_otlp_spans_ignored_total', help: 'Spans without GenAI or OpenInference attributes, accepted and dropped', registers: [registry] }),
    tracesProduced: new Counter({ name: 'tracefence_otlp_traces_produced_total', help: 'ReasoningTrace records produced to the ingest topic', registers: [registry] }),
    requestBytes: new Histogram({
      name: 'tracefence_otlp_request_bytes',
      help: 'Request body size as received (before decompression)',
      buckets: [1024, 8192, 65536, 262144, 1048576, 4194304],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'tracefence_otlp_request_seconds',
      help: 'Time from request to response, Kafka acknowledgement included',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
  };
}

export type ReceiverMetrics = ReturnType<typeof createReceiverMetrics>;
