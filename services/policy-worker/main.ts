/**
 * Policy worker entry: reads and validates configuration, builds the dependencies, runs until
 * SIGTERM. Environment (every problem is reported at once, with the variable at fault):
 *   TRACEFENCE_KAFKA_BROKERS        host:port list (required)
 *   TRACEFENCE_POLICY_FILE          policy YAML (required)
 *   TRACEFENCE_OIDC_ISSUER          issuer URL (required); TRACEFENCE_OIDC_AUDIENCE (required)
 *   TRACEFENCE_PSEUDONYM_KEY        base64 master key for keyed pseudonyms, >= 32 bytes (required)
 *   TRACEFENCE_TOPIC_INGEST|HELD|DEADLETTER|AUDIT   topic names (defaults traces.*)
 *   TRACEFENCE_GROUP_ID             consumer group (default tracefence-policy)
 *   TRACEFENCE_INSTANCE_ID          stable instance id for the transactional id (default host name)
 *   TRACEFENCE_TOKEN_ALGORITHMS     allow-list (default RS256,ES256,PS256,EdDSA)
 *   TRACEFENCE_CLOCK_SKEW_SEC       allowed skew on exp/nbf (default 30)
 *   TRACEFENCE_MAX_RECORD_BYTES     (default 1000000)
 *   TRACEFENCE_MAX_RECORDS_PER_TRANSACTION   records per Kafka transaction at most (default 500)
 *   TRACEFENCE_SESSION_TIMEOUT_MS   consumer group session timeout (default 30000)
 *   TRACEFENCE_TRANSACTION_TIMEOUT_MS   producer transaction timeout (default 30000)
 *   TRACEFENCE_HTTP_PORT            metrics and health (default 9464; 0 = any free port)
 *   TRACEFENCE_PROCESSING_THREADS   worker threads that process records (default 1; 0 = the Kafka thread)
 *   TRACEFENCE_PARTITIONS_CONCURRENTLY   partitions in work at once (default 2)
 */
import { hostname } from 'node:os';
import { EnvReader, type Env } from '../shared/config.js';
import { describeError, TracefenceError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { createMetricsRegistry, readConfigOrRefuse, runUntilSignal, startOpsServer, type Closable } from '../shared/service-runtime.js';
import { createPolicyWorker } from './policy-worker.js';
import { createPolicyWorkerMetrics } from './policy-worker-metrics.js';
import { createProcessorPool, inProcessChunks, type ChunkProcessor } from './processor-pool.js';
import { readPolicyBytes } from '../policy/load-policy.js';
import { buildRecordProcessor, type ProcessorSetup } from './processor-setup.js';

export function readPolicyWorkerConfig(env: Env) {
  const r = new EnvReader(env);
  const keyText = r.string('TRACEFENCE_PSEUDONYM_KEY');
  const pseudonymKey = Buffer.from(keyText, 'base64');
  if (keyText !== '' && pseudonymKey.length < 32) r.problem('TRACEFENCE_PSEUDONYM_KEY', 'must be base64 of at least 32 bytes');
  const instanceId = r.string('TRACEFENCE_INSTANCE_ID', hostname());
  return r.done({
    brokers: r.list('TRACEFENCE_KAFKA_BROKERS'),
    policyFile: r.string('TRACEFENCE_POLICY_FILE'),
    issuer: r.url('TRACEFENCE_OIDC_ISSUER'),
    audience: r.string('TRACEFENCE_OIDC_AUDIENCE'),
    algorithms: r.list('TRACEFENCE_TOKEN_ALGORITHMS', ['RS256', 'ES256', 'PS256', 'EdDSA']),
    clockSkewSec: r.int('TRACEFENCE_CLOCK_SKEW_SEC', 30, 0, 600),
    pseudonymKey,
    topics: {
      ingest: r.string('TRACEFENCE_TOPIC_INGEST', 'traces.ingest'),
      held: r.string('TRACEFENCE_TOPIC_HELD', 'traces.held'),
      deadLetter: r.string('TRACEFENCE_TOPIC_DEADLETTER', 'traces.deadletter'),
      audit: r.string('TRACEFENCE_TOPIC_AUDIT', 'traces.audit'),
    },
    groupId: r.string('TRACEFENCE_GROUP_ID', 'tracefence-policy'),
    transactionalId: `tracefence-policy-${instanceId}`,
    maxRecordBytes: r.int('TRACEFENCE_MAX_RECORD_BYTES', 1_000_000, 1024, 16 * 1024 * 1024),
    maxRecordsPerTransaction: r.int('TRACEFENCE_MAX_RECORDS_PER_TRANSACTION', 500, 1, 10_000),
    httpPort: r.int('TRACEFENCE_HTTP_PORT', 9464, 0, 65535),
    sessionTimeoutMs: r.int('TRACEFENCE_SESSION_TIMEOUT_MS', 30_000, 6_000, 300_000),
    transactionTimeoutMs: r.int('TRACEFENCE_TRANSACTION_TIMEOUT_MS', 30_000, 1_000, 900_000),
    processingThreads: r.int('TRACEFENCE_PROCESSING_THREADS', 1, 0, 16),
    partitionsConcurrently: r.int('TRACEFENCE_PARTITIONS_CONCURRENTLY', 2, 1, 64),
  });
}

async function main(): Promise<void> {
  const logger = createLogger('policy-worker');
  const config = readConfigOrRefuse(logger, () => readPolicyWorkerConfig(process.env));
  if (config === undefined) return;
  const components: Closable[] = [];
  const shutdown = runUntilSignal(logger, () => components);
  try {
    const setup: ProcessorSetup = {
      policyBytes: await readPolicyBytes(config.policyFile),
      policySource: config.policyFile,
      issuer: config.issuer,
      audience: config.audience,
      algorithms: config.algorithms,
      clockSkewSec: config.clockSkewSec,
      requiredTyp: 'at+jwt', // RFC 9068: an ID token or other JWT from the issuer is not an access token
      pseudonymKey: config.pseudonymKey,
      topics: config.topics,
      maxRecordBytes: config.maxRecordBytes,
    };
    // Error messages may quote record content: log the code or class name only.
    const onUnexpected = (err: unknown): void =>
      logger.error({ code: err instanceof TracefenceError ? err.code : err instanceof Error ? err.name : typeof err }, 'record dead-lettered after a processing fault');
    // Built here too when threads do the work: a bad policy or an unreachable issuer stops start-up with its own message.
    const local = await buildRecordProcessor(setup, onUnexpected);
    components.push({ name: 'token-verifier', close: async () => local.close() });
    const policy = { version: local.policyVersion };
    let processor: ChunkProcessor = inProcessChunks(local.processor);
    if (config.processingThreads > 0) {
      processor = await createProcessorPool({ size: config.processingThreads, factory: new URL('./processor-setup.ts', import.meta.url), config: setup, logger });
      components.push({ name: 'processing-threads', close: processor.close });
    }
    const registry = createMetricsRegistry('policy-worker');
    const worker = createPolicyWorker(
      {
        brokers: config.brokers,
        ingestTopic: config.topics.ingest,
        groupId: config.groupId,
        transactionalId: config.transactionalId,
        maxRecordsPerTransaction: config.maxRecordsPerTransaction,
        transactionTimeoutMs: config.transactionTimeoutMs,
        sessionTimeoutMs: config.sessionTimeoutMs,
        partitionsConsumedConcurrently: config.partitionsConcurrently,
      },
      { processor, metrics: createPolicyWorkerMetrics(registry), logger, onFatal: () => void shutdown('consumer stopped', 1) },
    );
    const ops = await startOpsServer(registry, { ready: worker.isReady, detail: () => ({ policyVersion: policy.version }) }, config.httpPort);
    components.push({ name: 'ops-server', close: ops.close });
    await worker.start();
    components.push({ name: 'policy-worker', close: worker.close });
    logger.info({ policyVersion: policy.version, httpPort: ops.port, groupId: config.groupId }, 'policy worker running');
  } catch (err) {
    logger.fatal({ err: describeError(err) }, 'start-up failed');
    await shutdown('start-up failed', 1);
  }
}

await main();
