/**
 * Process plumbing shared by every long-running service: one place for signals, the
 * metrics/health HTTP endpoint and ordered, idempotent shutdown.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { describeError } from './errors.js';
import type { Logger } from './logger.js';

export interface HealthState {
  /** Ready to take work (connected, guard passed...). */
  ready: () => boolean;
  /** Extra detail for /healthz, no secrets. */
  detail?: () => Record<string, unknown>;
}

export interface OpsServer {
  port: number;
  close: () => Promise<void>;
}

/** GET /metrics (Prometheus text), GET /healthz (200 when ready, else 503), GET /livez. */
export async function startOpsServer(registry: Registry, health: HealthState, port: number, host = '127.0.0.1'): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'method not allowed' }));
      return;
    }
    if (path === '/metrics') {
      registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text))
        .catch((err: unknown) => res.writeHead(500).end(describeError(err)));
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const ready = health.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ready ? 'ok' : 'not-ready', ...(health.detail?.() ?? {}) }));
      return;
    }
    if (path === '/livez') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export interface Closable {
  name: string;
  close: () => Promise<void>;
}

/** Closes in reverse order of start; every step runs even if an earlier one fails. Returns false if any failed. */
export async function closeInReverse(components: readonly Closable[], logger: Logger): Promise<boolean> {
  let ok = true;
  for (const c of [...components].reverse()) {
    try {
      await c.close();
    } catch (err) {
      ok = false;
      logger.error({ component: c.name, err: describeError(err) }, 'close failed');
    }
  }
  return ok;
}

/**
 * Reads a service's configuration once; on failure logs every problem (with the variable at
 * fault) and sets exit code 2, returning undefined: a bad config refuses to start.
 */
export function readConfigOrRefuse<T>(logger: Logger, read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    logger.fatal({ err: describeError(err) }, 'configuration refused');
    logger.flush();
    process.exitCode = 2;
    return undefined;
  }
}

/**
 * Runs a service until SIGTERM/SIGINT, then closes components in reverse order of start.
 * Every close step runs even if an earlier one fails; exit 1 on failure or when the grace
 * period runs out, so an orchestrator sees an unclean stop. Returns the stop function for
 * start-up failures.
 */
export function runUntilSignal(logger: Logger, components: () => readonly Closable[], graceMs = 30_000): (reason: string, code: number) => Promise<void> {
  let stopping = false;
  const stop = async (reason: string, code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ graceMs }, 'shutdown grace period exceeded');
      process.exit(1);
    }, graceMs);
    timer.unref();
    const failed = !(await closeInReverse(components(), logger));
    logger.info('stopped');
    logger.flush();
    process.exit(failed ? 1 : code);
  };
  process.once('SIGTERM', () => void stop('SIGTERM', 0));
  process.once('SIGINT', () => void stop('SIGINT', 0));
  process.on('uncaughtException', (err) => {
    logger.fatal({ err: describeError(err) }, 'uncaught exception');
    void stop('uncaughtException', 1);
  });
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err: describeError(err) }, 'unhandled rejection');
    void stop('unhandledRejection', 1);
  });
  return stop;
}
