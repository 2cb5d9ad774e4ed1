/**
 * Wires the approval service from its configuration: hold store (BullMQ on Redis), intake from
 * the held topic, hold workers with the transactional outcome publisher, the reviewer HTTP app
 * (API + web page) and its listener. main.ts runs it until a signal; tests run it in-process.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCodec } from '../shared/avro/index.js';
import type { Logger } from '../shared/logger.js';
import { createMetricsRegistry, startOpsServer, type Closable } from '../shared/service-runtime.js';
import { getRegion, loadPolicy } from '../policy/load-policy.js';
import { createIssuerTokenVerifier } from '../policy/token-verifier.js';
import type { ApprovalConfig } from './approval-config.js';
import { createApprovalMetrics } from './approval-metrics.js';
import { createHeldIntake } from './held-intake.js';
import { createHoldStore } from './hold-store.js';
import { startHoldWorkers } from './hold-worker.js';
import { createOutcomePublisher } from './outcome-publisher.js';
import { buildApp } from './review-app.js';
import { createReviewService } from './review-service.js';
import { createReviewerAuthenticator, REVIEWER_TOKEN_CLAIMS } from './reviewer-auth.js';
import { createWebRoutes } from './web-app.js';
import { createSessionStore } from './web-session.js';

export interface RunningApprovalService {
  /** Port of the reviewer app. */
  port: number;
  /** Port of the ops endpoint (/metrics, /healthz). */
  opsPort: number;
  policyVersion: string;
  ttlMs: number;
  isReady(): boolean;
  /** Components in start order (close in reverse). */
  components: readonly Closable[];
  close(): Promise<void>;
}

export async function startApprovalService(config: ApprovalConfig, logger: Logger): Promise<RunningApprovalService> {
  const components: Closable[] = [];
  const close = async (): Promise<void> => {
    for (const c of [...components].reverse()) {
      try {
        await c.close();
      } catch (err) {
        logger.error({ component: c.name, err: err instanceof Error ? err.message : String(err) }, 'close failed');
      }
    }
    components.length = 0;
  };
  try {
    const policy = await loadPolicy(config.policyFile);
    const regions = Object.keys(policy.regions);
    const ttlMs = config.ttlMsOverride > 0 ? config.ttlMsOverride : policy.approval.ttlHours * 3_600_000;
    const registry = createMetricsRegistry('approval-service');
    const metrics = createApprovalMetrics(registry);

    const verifier = await createIssuerTokenVerifier({ issuer: config.issuer, audience: config.audience, clientId: config.clientId, algorithms: config.algorithms, clockSkewSec: config.clockSkewSec, ...REVIEWER_TOKEN_CLAIMS });
    components.push({ name: 'token-verifier', close: async () => verifier.close() });
    const auth = createReviewerAuthenticator(verifier, Date.now, config.requiredScope);

    const store = await createHoldStore({ redisUrl: config.redisUrl, prefix: config.queuePrefix, regions, keepDecidedSec: config.keepDecidedSec });
    components.push({ name: 'hold-store', close: store.close });

    const publisher = await createOutcomePublisher({ brokers: config.brokers, transactionalId: config.transactionalId }, logger.child({ component: 'publisher' }));
    components.push({ name: 'outcome-publisher', close: publisher.close });

    const traceCodec = createCodec('reasoning-trace');
    const auditCodec = createCodec('audit-event');
    const workers = startHoldWorkers(
      { redisUrl: config.redisUrl, prefix: config.queuePrefix, queueNames: store.queueNames },
      { store, publisher, auditCodec, auditTopic: config.topics.audit, regionTopic: (r) => getRegion(policy, r)?.topic, policyVersion: policy.version, metrics },
      logger.child({ component: 'hold-worker' }),
    );
    components.push({ name: 'hold-workers', close: workers.close });

    const intake = createHeldIntake(
      { brokers: config.brokers, heldTopic: config.topics.held, deadLetterTopic: config.topics.deadLetter, groupId: config.groupId, ttlMs },
      { store, heldCodec: createCodec('held-trace'), traceCodec, deadLetterCodec: createCodec('dead-letter'), metrics, logger: logger.child({ component: 'intake' }) },
    );
    await intake.start();
    components.push({ name: 'held-intake', close: intake.close });

    const service = createReviewService({ store, traceCodec, minApprovals: policy.approval.minApprovals, knownRegions: new Set(regions), metrics });
    let sessionSecret: Buffer;
    if (config.sessionSecret !== undefined) sessionSecret = Buffer.from(config.sessionSecret);
    else {
      sessionSecret = randomBytes(32);
      logger.warn('TRACEFENCE_REVIEW_SESSION_SECRET is not set: web sessions end when this process stops');
    }
    const sessions = createSessionStore({ redis: store.redis, prefix: config.queuePrefix, secret: sessionSecret, ttlSec: config.sessionTtlSec, secure: config.publicUrl.startsWith('https:') });
    const web = createWebRoutes({
      service,
      auth,
      sessions,
      login: { issuer: config.issuer, clientId: config.clientId, resource: config.audience, scope: config.scope, publicBaseUrl: config.publicUrl },
      logger: logger.child({ component: 'web' }),
    });
    let redisUp = true;
    const probe = setInterval(() => {
      void store.ping().then((ok) => {
        redisUp = ok;
      });
    }, 5000);
    probe.unref();
    components.push({ name: 'redis-probe', close: async () => clearInterval(probe) });
    const isReady = (): boolean => redisUp && intake.isReady() && workers.isRunning();

    const handler = buildApp({ service, auth, logger: logger.child({ component: 'review-api' }), metrics, registry, ready: isReady, web });
    const server: Server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    components.push({
      name: 'review-http',
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        }),
    });
    const ops = await startOpsServer(registry, { ready: isReady, detail: () => ({ policyVersion: policy.version }) }, config.httpPort);
    components.push({ name: 'ops-server', close: ops.close });
    const port = (server.address() as AddressInfo).port;
    return { port, opsPort: ops.port, policyVersion: policy.version, ttlMs, isReady, components: [...components], close };
  } catch (err) {
    await close();
    throw err;
  }
}
