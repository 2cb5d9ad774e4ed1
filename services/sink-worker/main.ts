/**
 * Region sink entry point: `node --import tsx services/sink-worker/main.ts --region eu [--bucket name]`.
 * Reads flags and the environment, builds the sink and runs until SIGTERM.
 */
import { describeError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { runUntilSignal, type Closable } from '../shared/service-runtime.js';
import { buildSinkApp } from './sink-app.js';
import { readSinkConfig } from './sink-config.js';

const logger = createLogger('sink-worker');
let closables: readonly Closable[] = [];

async function main(): Promise<void> {
  const config = readSinkConfig(process.env, process.argv.slice(2));
  const app = await buildSinkApp(config, logger, { onFatal: () => process.kill(process.pid, 'SIGTERM') });
  closables = app.closables;
  runUntilSignal(logger, () => closables, config.shutdownGraceMs);
  await app.start();
}

main().catch((err: unknown) => {
  logger.fatal({ err: describeError(err) }, 'sink worker failed to start');
  logger.flush();
  // Close what was opened, then exit 1 so the orchestrator restarts us.
  void Promise.allSettled([...closables].reverse().map((c) => c.close())).finally(() => process.exit(1));
});
