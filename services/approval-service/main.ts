/**
 * Approval service entry: reads and validates configuration, starts the service, runs until
 * SIGTERM/SIGINT and then closes in reverse order of start (stop the listener and the intake,
 * let the hold workers finish their step, flush the producer, close Redis). Environment: see
 * approval-config.ts and docs/approval.md.
 */
import { describeError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { readConfigOrRefuse, runUntilSignal, type Closable } from '../shared/service-runtime.js';
import { readApprovalConfig } from './approval-config.js';
import { startApprovalService } from './approval-service.js';

async function main(): Promise<void> {
  const logger = createLogger('approval-service');
  const config = readConfigOrRefuse(logger, () => readApprovalConfig(process.env));
  if (config === undefined) return;
  let components: readonly Closable[] = [];
  const shutdown = runUntilSignal(logger, () => components);
  try {
    const service = await startApprovalService(config, logger);
    components = service.components;
    logger.info({ port: service.port, httpPort: service.opsPort, policyVersion: service.policyVersion, ttlMs: service.ttlMs }, 'approval service running');
  } catch (err) {
    logger.fatal({ err: describeError(err) }, 'start-up failed');
    await shutdown('start-up failed', 1);
  }
}

await main();
