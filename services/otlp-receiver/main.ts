/**
 * OTLP receiver entry: reads and validates configuration, builds the dependencies, listens until
 * SIGTERM. Environment (every problem is reported at once, with the variable at fault):
 *   TRACEFENCE_KAFKA_BROKERS        host:port list (required)
 *   TRACEFENCE_OIDC_ISSUER          issuer URL (required); TRACEFENCE_OIDC_AUDIENCE (required)
 *   TRACEFENCE_TOPIC_INGEST         ingest topic (default traces.ingest)
 *   TRACEFENCE_OTLP_HOST            listen address (default 127.0.0.1)
 *   TRACEFENCE_OTLP_PORT            OTLP/HTTP port (default 4318; 0 = any free port)
 *   TRACEFENCE_HTTP_PORT            /metrics, /healthz, /livez (default 9465; 0 = any free port)
 *   TRACEFENCE_TOKEN_ALGORITHMS     allow-list (default RS256,ES256,PS256,EdDSA)
 *   TRACEFENCE_TOKEN_TYP            required JWT typ header (default at+jwt; "any" = not checked)
 *   TRACEFENCE_CLOCK_SKEW_SEC       allowed skew on exp/nbf (default 30)
 *   TRACEFENCE_OTLP_MAX_BODY_BYTES      raw body limit (default 4194304)
 *   TRACEFENCE_OTLP_MAX_INFLATED_BYTES  body limit after gzip (default 8388608)
 *   TRACEFENCE_OTLP_MAX_SPANS           spans per request (default 10000)
 *   TRACEFENCE_OTLP_ACCEPT_ALL_SPANS    forward non-GenAI spans too (default false)
 *   TRACEFENCE_OTLP_MAX_BUFFERED_BYTES  producer bytes in flight before 429 (default 33554432)
 *   TRACEFENCE_OTLP_SEND_TIMEOUT_MS     Kafka acknowledgement wait before 503 (default 10000)
 *   TRACEFENCE_OTLP_RETRY_AFTER_SEC     Retry-After on 429/503 (default 5)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCodec } from '../shared/avro/index.js';
import { EnvReader, type Env } from '../shared/config.js';
import { describeError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { createMetricsRegistry, readConfigOrRefuse, runUntilSignal, startOpsServer, type Closable } from '../shared/service-runtime.js';
import { createIssuerTokenVerifier } from '../policy/token-verifier.js';
import { createIngestPublisher } from './ingest-publisher.js';
import { buildApp } from './receiver-app.js';
import { createReceiverMetrics } from './receiver-metrics.js';

export function readReceiverConfig(env: Env) {
  const r = new EnvReader(env);
  const typ = r.string('TRACEFENCE_TOKEN_TYP', 'at+jwt');
  return r.done({
    brokers: r.list('TRACEFENCE_KAFKA_BROKERS'),
    issuer: r.url('TRACEFENCE_OIDC_ISSUER'),
    audience: r.string('TRACEFENCE_OIDC_AUDIENCE'),
    topic: r.string('TRACEFENCE_TOPIC_INGEST', 'traces.ingest'),
    host: r.string('TRACEFENCE_OTLP_HOST', '127.0.0.1'),
    port: r.int('TRACEFENCE_OTLP_PORT', 4318, 0, 65535),
    httpPort: r.int('TRACEFENCE_HTTP_PORT', 9465, 0, 65535),
    algorithms: r.list('TRACEFENCE_TOKEN_ALGORITHMS', ['RS256', 'ES256', 'PS256', 'EdDSA']),
    requiredTyp: typ === 'any' ? undefined : typ,
    clockSkewSec: r.int('TRACEFENCE_CLOCK_SKEW_SEC', 30, 0, 600),
    limits: {
      maxBodyBytes: r.int('TRACEFENCE_OTLP_MAX_BODY_BYTES', 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
      maxInflatedBytes: r.int('TRACEFENCE_OTLP_MAX_INFLATED_BYTES', 8 * 1024 * 1024, 1024, 256 * 1024 * 1024),
      maxSpans: r.int('TRACEFENCE_OTLP_MAX_SPANS', 10_000, 1, 1_000_000),
    },
    acceptAllSpans: r.bool('TRACEFENCE_OTLP_ACCEPT_ALL_SPANS', false),
    maxBufferedBytes: r.int('TRACEFENCE_OTLP_MAX_BUFFERED_BYTES', 32 * 1024 * 1024, 1024 * 1024, 1024 * 1024 * 1024),
    sendTimeoutMs: r.int('TRACEFENCE_OTLP_SEND_TIMEOUT_MS', 10_000, 100, 120_000),
    retryAfterSec: r.int('TRACEFENCE_OTLP_RETRY_AFTER_SEC', 5, 1, 3600),
  });
}

async function main(): Promise<void> {
  const logger = createLogger('otlp-receiver');
  const config = readConfigOrRefuse(logger, () => readReceiverConfig(process.env));
  if (config === undefined) return;
  const components: Closable[] = [];
  const shutdown = runUntilSignal(logger, () => components);
  try {
    const verifier = await createIssuerTokenVerifier({
      issuer: config.issuer,
      audience: config.audience,
      algorithms: config.algorithms,
      clockSkewSec: config.clockSkewSec,
      ...(config.requiredTyp === undefined ? {} : { requiredTyp: config.requiredTyp }),
    });
    components.push({ name: 'token-verifier', close: async () => verifier.close() });
    const publisher = await createIngestPublisher({
      brokers: config.brokers,
      topic: config.topic,
      maxBufferedBytes: config.maxBufferedBytes,
      sendTimeoutMs: config.sendTimeoutMs,
      logger,
    });
    components.push({ name: 'ingest-publisher', close: publisher.close });
    const registry = createMetricsRegistry('otlp-receiver');
    const handler = buildApp({
      verifier,
      publisher,
      codec: createCodec('reasoning-trace'),
      metrics: createReceiverMetrics(registry),
      logger,
      limits: config.limits,
      retryAfterSec: config.retryAfterSec,
      acceptAllSpans: config.acceptAllSpans,
    });
    let listening = false;
    const ops = await startOpsServer(registry, { ready: () => listening && publisher.isReady() }, config.httpPort);
    components.push({ name: 'ops-server', close: ops.close });
    const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, handler);
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    listening = true;
    // Closed last-started-first: stop taking requests before the publisher is flushed and closed.
    components.push({
      name: 'otlp-server',
      close: () =>
        new Promise<void>((resolve) => {
          listening = false;
          server.close(() => resolve());
          server.closeIdleConnections();
        }),
    });
    const port = (server.address() as AddressInfo).port;
    logger.info({ port, host: config.host, httpPort: ops.port, topic: config.topic }, 'otlp receiver listening');
  } catch (err) {
    logger.fatal({ err: describeError(err) }, 'start-up failed');
    await shutdown('start-up failed', 1);
  }
}

await main();
