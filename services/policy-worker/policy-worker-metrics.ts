import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The policy worker's Prometheus metrics. Labels carry codes and names, never values. */
export function createPolicyWorkerMetrics(registry: Registry) {
  return {
    consumed: new Counter({ name: 'tracefence_policy_records_consumed_total', help: 'Ingest records consumed', registers: [registry] }),
    routed: new Counter({ name: 'tracefence_policy_records_routed_total', help: 'Records routed to a region topic', labelNames: ['region'], registers: [registry] }),
    held: new Counter({ name: 'tracefence_policy_records_held_total', help: 'Records held for review', labelNames: ['reason'], registers: [registry] }),
    deadLettered: new Counter({ name: 'tracefence_policy_records_dead_lettered_total', help: 'Records dead-lettered', labelNames: ['reason'], registers: [registry] }),
    findings: new Counter({ name: 'tracefence_policy_findings_total', help: 'Findings by type', labelNames: ['type'], registers: [registry] }),
    latency: new Histogram({
      name: 'tracefence_policy_processing_seconds',
      help: 'Per-record processing time (authenticate, decode, classify, mask, decide)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    transactions: new Counter({ name: 'tracefence_policy_transactions_total', help: 'Kafka transactions by result', labelNames: ['result'], registers: [registry] }),
    lag: new Gauge({ name: 'tracefence_policy_consumer_lag', help: 'Records behind the high watermark, per ingest partition', labelNames: ['partition'], registers: [registry] }),
  };
}

export type PolicyWorkerMetrics = ReturnType<typeof createPolicyWorkerMetrics>;
