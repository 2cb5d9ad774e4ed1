/** A pending hold as the approval service stores it, for unit tests of the review rules and the hold worker. */
import { randomUUID } from 'node:crypto';
import type { HoldJobData } from '../../services/approval-service/hold-record.js';

export function holdData(over: Partial<HoldJobData> = {}): HoldJobData {
  return {
    v: 1,
    recordId: randomUUID(),
    traceId: 'a'.repeat(32),
    tenant: 'acme',
    subject: 'agent-acme-support',
    agent: 'support-bot',
    holdReasonCode: 'FINDINGS_THRESHOLD',
    holdReason: 'r',
    findings: { SECRET: 1 },
    candidateRegions: ['eu'],
    policyVersion: 'p',
    heldAtMs: 1000,
    expiresAtMs: 10_000,
    trace: { schema: 'f', payloadBase64: '' },
    contentHash: 'h',
    source: { topic: 't', partition: 0, offset: '0' },
    review: { status: 'pending', region: null, decidedAtMs: null, votes: [], audited: [], published: false, intent: null },
    ...over,
  };
}
