/**
 * A processor factory for processing-thread tests (test/unit/processor-pool.test.ts). The
 * record value says what to do: "ok" routes, "exit" ends the thread as a crash would,
 * "retriable" throws a retriable error, "slow" waits 200 ms. A config of { failSetup: true }
 * makes the set-up fail; { failSetupIfExists: path } makes it fail once that file exists.
 */
import { existsSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { TracefenceError } from '../../services/shared/errors.js';
import type { ProcessorFactoryResult } from '../../services/policy-worker/processor-pool.js';

export async function createProcessor(config: unknown): Promise<ProcessorFactoryResult> {
  const c = config as { failSetup?: boolean; failSetupIfExists?: string };
  if (c.failSetup === true || (c.failSetupIfExists !== undefined && existsSync(c.failSetupIfExists))) {
    throw new TracefenceError('POLICY_INVALID', 'bad policy in a test');
  }
  return {
    processor: {
      async process(record) {
        const what = record.value?.toString('utf8') ?? '';
        if (what === 'exit') process.exit(3);
        if (what === 'retriable') throw new TracefenceError('AUTH_ISSUER_UNREACHABLE', 'issuer down in a test', { retriable: true });
        if (what === 'slow') await new Promise((r) => setTimeout(r, 200));
        const header = record.headers['h'];
        return {
          kind: 'routed',
          region: 'eu',
          reasonCode: null,
          findingCounts: {},
          records: [{ topic: 'out', key: `${threadId}`, value: Buffer.concat([Buffer.from(`${record.offset}:`), Buffer.isBuffer(header) ? header : Buffer.from('none')]), headers: {} }],
        };
      },
    },
    close() {},
  };
}
