/**
 * Audit sink entry point: `tsx services/audit-sink/main.ts`. Reads the environment, builds the
 * sink and runs until SIGTERM. docs/audit.md describes the variables and the chain format.
 */
import { describeError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { runUntilSignal, type Closable } from '../shared/service-runtime.js';
import { buildAuditSinkApp } from './audit-sink-app.js';
import { readAuditSinkConfig } from './audit-sink-config.js';

const logger = createLogger('audit-sink');
let closables: readonly Closable[] = [];

async function main(): Promise<void> {
  const config = readAuditSinkConfig(process.env);
  const app = await buildAuditSinkApp(config, logger, { onFatal: () => process.kill(process.pid, 'SIGTERM') });
  closables = app.closables;
  runUntilSignal(logger, () => closables, config.shutdownGraceMs);
  await app.start();
}

main().catch((err: unknown) => {
  logger.fatal({ err: describeError(err) }, 'audit sink failed to start');
  logger.flush();
  void Promise.allSettled([...closables].reverse().map((c) => c.close())).finally(() => process.exit(1));
});
