import { Counter, type Registry } from 'prom-client';

/** The approval service's Prometheus metrics. Labels carry codes and names, never values. */
export function createApprovalMetrics(registry: Registry) {
  return {
    intake: new Counter({ name: 'tracefence_approval_intake_total', help: 'Held records read, by result (added, duplicate, invalid)', labelNames: ['result'], registers: [registry] }),
    requests: new Counter({ name: 'tracefence_approval_http_requests_total', help: 'Reviewer HTTP requests by route and status', labelNames: ['route', 'status'], registers: [registry] }),
    decisions: new Counter({ name: 'tracefence_approval_decisions_total', help: 'Review steps by decision (approval, approved, rejected, expired)', labelNames: ['decision'], registers: [registry] }),
    published: new Counter({ name: 'tracefence_approval_published_total', help: 'Approved traces produced to a region topic', labelNames: ['region'], registers: [registry] }),
    recoveries: new Counter({ name: 'tracefence_approval_publish_recoveries_total', help: 'Retries that checked the region topic for an earlier commit, by whether it was found', labelNames: ['found'], registers: [registry] }),
  };
}

export type ApprovalMetrics = ReturnType<typeof createApprovalMetrics>;
