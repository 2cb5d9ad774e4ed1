/**
 * `npm start`: the main job on the local stack. Starts a policy worker and one sink worker per
 * region, the audit sink and the approval service, lets the example agents publish traces with real tokens, then
 * prints where each trace went: the bucket, the object key and the bucket's location as the store reports it
 * (or why it was held or refused). Pass --follow to keep the services running afterwards.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { devServiceEnv, readStackEnv } from '../../infra/stack-env.js';
import { DEMO_AGENTS, DEV_BROKER_AUDIENCE } from '../../infra/oidc/demo-identities.js';
import { createCodec, type AuditEvent } from '../shared/avro/index.js';
import { createKafka } from '../shared/kafka/kafka-client.js';
import { loadPolicy } from '../policy/load-policy.js';
import { startTrace } from '../agent-sdk/trace-builder.js';
import { createTokenSource } from '../agent-sdk/token-source.js';
import { createTraceProducer } from '../agent-sdk/trace-producer.js';
import { findLandings, type BucketRef } from './find-landing.js';
import { startService, type ServiceProcess } from './service-process.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const stateDir = join(repoRoot, '.stack');
const follow = process.argv.includes('--follow');

/** A stable development pseudonym key, made once per checkout and never committed. */
function devPseudonymKey(): string {
  const file = join(stateDir, 'dev-pseudonym-key');
  if (!existsSync(file)) {
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

interface DemoTrace {
  clientId: string;
  declaredRegion?: string;
  text: string;
}

const DEMO_TRACES: DemoTrace[] = [
  { clientId: 'agent-acme-support', text: 'Customer jane.doe@example.com asks to update her card 4111 1111 1111 1111.' },
  { clientId: 'agent-acme-support', text: 'Refund order 88231 to the card on file; call back on +49 30 901820.' },
  { clientId: 'agent-globex-research', text: 'Summarise the Q3 filings for the research desk.' },
  { clientId: 'agent-globex-research', declaredRegion: 'eu', text: 'Data subject in Berlin: contact max.mustermann@example.de.' },
  { clientId: 'agent-initech-ops', text: 'Server 10.20.30.40 is down; page the on-call engineer.' },
];

async function publishDemoTraces(brokers: string[], topic: string, issuer: string): Promise<Map<string, string>> {
  const sent = new Map<string, string>(); // recordId -> tenant
  for (const agent of DEMO_AGENTS) {
    const mine = DEMO_TRACES.filter((t) => t.clientId === agent.clientId);
    if (mine.length === 0) continue;
    const tokens = createTokenSource({ issuer, clientId: agent.clientId, clientSecret: agent.clientSecret, resource: DEV_BROKER_AUDIENCE, scope: 'traces:write' });
    const producer = await createTraceProducer({ brokers, topic, tokens, clientId: agent.clientId });
    try {
      for (const demo of mine) {
        const trace = startTrace({ tenant: agent.tenant, agent: agent.agent, ...(demo.declaredRegion === undefined ? {} : { dataSubjectRegion: demo.declaredRegion }) });
        const llm = trace.llmStep({ provider: 'openai', model: 'gpt-4o' });
        llm.input('user', demo.text);
        llm.output('assistant', [{ type: 'reasoning', content: 'Look the customer up before answering.' }, { type: 'text', content: 'On it.' }]);
        llm.end();
        trace.toolStep({ name: 'crm_lookup', arguments: { query: demo.text } }).result({ found: true }).end();
        const record = trace.end();
        await producer.send(record);
        sent.set(record.recordId, agent.tenant);
      }
    } finally {
      await producer.close();
    }
  }
  return sent;
}

/** Reads the audit topic until every record id has its decision (or the deadline passes). */
async function awaitDecisions(brokers: string[], topic: string, ids: ReadonlySet<string>, timeoutMs: number): Promise<Map<string, AuditEvent>> {
  const codec = createCodec('audit-event');
  const kafka = createKafka({ brokers, clientId: 'tracefence-demo' });
  const consumer = kafka.consumer({ groupId: `tracefence-demo-${randomBytes(6).toString('hex')}`, readUncommitted: false });
  const found = new Map<string, AuditEvent>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      void consumer.run({
        eachMessage: async ({ message }) => {
          if (message.value === null) return;
          const event = codec.decode(message.value, message.headers?.['tf-schema']?.toString());
          if (ids.has(event.recordId) && (event.decision === 'ROUTED' || event.decision === 'HELD' || event.decision === 'DEAD_LETTERED')) {
            found.set(event.recordId, event);
          }
          if (found.size === ids.size) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return found;
}

async function main(): Promise<number> {
  const stack = readStackEnv();
  const env: Record<string, string | undefined> = { ...process.env, ...devServiceEnv(stack, repoRoot), TRACEFENCE_PSEUDONYM_KEY: devPseudonymKey() };
  delete env['TRACEFENCE_HTTP_PORT'];
  const brokers = [env['TRACEFENCE_KAFKA_BROKERS'] ?? ''];
  const policy = await loadPolicy(env['TRACEFENCE_POLICY_FILE'] ?? '');
  const logDir = join(stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });

  const services: ServiceProcess[] = await Promise.all([
    startService('policy-worker', 'services/policy-worker/main.ts', [], { ...env, TRACEFENCE_INSTANCE_ID: 'demo' }, repoRoot, join(logDir, 'demo-policy-worker.log')),
    startService('audit-sink', 'services/audit-sink/main.ts', [], env, repoRoot, join(logDir, 'demo-audit-sink.log')),
    startService('approval-service', 'services/approval-service/main.ts', [], { ...env, TRACEFENCE_INSTANCE_ID: 'demo' }, repoRoot, join(logDir, 'demo-approval-service.log')),
    ...Object.keys(policy.regions).map((region) =>
      startService(`sink-${region}`, 'services/sink-worker/main.ts', ['--region', region], { ...env, TRACEFENCE_SINK_MAX_BATCH_AGE_MS: '2000' }, repoRoot, join(logDir, `demo-sink-${region}.log`)),
    ),
  ]);
  const stopAll = async (): Promise<void> => {
    await Promise.all(services.map((s) => s.stop()));
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  process.once('SIGTERM', () => void stopAll().then(() => process.exit(143)));

  try {
    await Promise.all(services.map((s) => s.waitHealthy(90_000)));
    console.log(`services running: ${services.map((s) => s.name).join(', ')} (logs in .stack/logs/demo-*.log)`);

    const sent = await publishDemoTraces(brokers, env['TRACEFENCE_TOPIC_INGEST'] ?? 'traces.ingest', env['TRACEFENCE_OIDC_ISSUER'] ?? '');
    console.log(`example agents published ${sent.size} traces; waiting for decisions and objects...`);
    const decisions = await awaitDecisions(brokers, env['TRACEFENCE_TOPIC_AUDIT'] ?? 'traces.audit', new Set(sent.keys()), 60_000);

    const routedIds = new Set([...decisions.values()].filter((d) => d.decision === 'ROUTED').map((d) => d.recordId));
    const buckets: BucketRef[] = Object.values(policy.regions).flatMap((r) =>
      r.buckets.map((b) => ({
        name: b.name,
        backend: b.backend,
        endpoint: b.backend === 's3' ? env['TRACEFENCE_S3_ENDPOINT'] : (env['TRACEFENCE_GCS_ENDPOINTS'] ?? '').split(',').find((p) => p.startsWith(`${b.name}=`))?.split('=')[1],
      })),
    );
    const credentials = { accessKeyId: env['AWS_ACCESS_KEY_ID'] ?? '', secretAccessKey: env['AWS_SECRET_ACCESS_KEY'] ?? '' };
    let landings = await findLandings(buckets, routedIds, credentials);
    for (let i = 0; i < 60 && new Set(landings.map((l) => l.recordId)).size < routedIds.size; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      landings = await findLandings(buckets, routedIds, credentials);
    }

    console.log('');
    console.log('record id                             tenant   decision       where');
    let missing = 0;
    for (const [recordId, tenant] of sent) {
      const d = decisions.get(recordId);
      const land = landings.find((l) => l.recordId === recordId);
      let where: string;
      if (d === undefined) {
        where = 'no decision yet';
        missing++;
      } else if (d.decision === 'ROUTED') {
        if (land === undefined) missing++;
        where = land === undefined ? `region ${d.region}: object not written yet` : `region ${d.region}: ${land.url} (bucket location ${land.bucketLocation})`;
      } else {
        where = `${d.reasonCode ?? ''}${d.decision === 'HELD' ? ' (held for a reviewer)' : ''}`;
      }
      console.log(`${recordId}  ${tenant.padEnd(8)} ${(d?.decision ?? '-').padEnd(14)} ${where}`);
    }
    const example = [...sent.keys()][0];
    console.log('\nInspect the evidence (the variables point the CLI at the local stack):');
    console.log('  eval "$(bash infra/stack.sh env)"');
    if (example !== undefined) console.log(`  npx tracefence evidence --trace ${example}`);
    console.log('  npx tracefence audit verify --region eu');
    console.log('  npx tracefence reconcile --from 1h --to now');
    console.log(`Review held traces: npm start -- --follow, then open ${env['TRACEFENCE_REVIEW_URL'] ?? ''} (log in as alice).`);
    if (follow) {
      console.log('\nservices keep running (--follow); Ctrl-C stops them.');
      await new Promise(() => undefined);
    }
    return missing === 0 ? 0 : 1;
  } finally {
    if (!follow) await stopAll();
  }
}

process.exitCode = await main();
