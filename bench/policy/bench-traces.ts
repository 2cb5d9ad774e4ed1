/**
 * The traces of `npm run bench:policy`, shared with the in-process profile harness so both
 * measure the same records: ~2 KB of Avro, a two-step trace with ordinary agent prose and one
 * email to mask.
 */
import { startTrace } from '../../services/agent-sdk/trace-builder.js';
import type { ReasoningTrace } from '../../services/shared/avro/index.js';

export function makeBenchTrace(i: number, tenant: string, agent: string): ReasoningTrace {
  const t = startTrace({ tenant, agent });
  const prose = 'The agent compares suppliers by price, lead time and past reliability, then drafts a reply. ';
  t.llmStep({ provider: 'openai', model: 'gpt-4o' })
    .input('user', `Request ${i}: ${prose.repeat(7)}`)
    .output('assistant', [
      { type: 'reasoning', content: prose.repeat(6) },
      { type: 'text', content: `Done; I wrote to buyer${i}@example.com.` },
    ])
    .usage({ input: 420, output: 380 })
    .end();
  t.toolStep({ name: 'lookup_supplier', callId: `call_${i}`, arguments: { supplier: `S-${i % 97}`, fields: ['price', 'leadTime'] } })
    .result({ price: 12.5, leadTimeDays: 4, notes: prose.repeat(2) })
    .end();
  return t.end();
}
