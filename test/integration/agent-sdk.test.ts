/**
 * Agent SDK against the real local issuer and broker: the token source fetches and caches a
 * client-credentials token; the producer sends Avro records carrying that token, which the
 * policy worker's verifier accepts for the trace's tenant and agent.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTokenSource, createTraceProducer, startTrace, TracefenceError, type ReasoningTrace } from '../../services/agent-sdk/index.js';
import { createCodec } from '../../services/shared/avro/index.js';
import { createKafka, ensureTopics, type Admin } from '../../services/shared/kafka/kafka-client.js';
import { HEADERS, headerString } from '../../services/shared/record-headers.js';
import { createTokenVerifier, discoverJwks } from '../../services/policy/token-verifier.js';
import { DEMO_AGENTS, DEV_BROKER_AUDIENCE } from '../../infra/oidc/demo-identities.js';
import { issuerUrl, kafkaBrokers, uniqueName } from '../helpers/stack.js';

const agent = DEMO_AGENTS[0]!;
const codec = createCodec('reasoning-trace');
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'test-agent-sdk' });
const topic = uniqueName('test-sdk-ingest');
let admin: Admin;

before(async () => {
  admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, numPartitions: 3 }]);
});

after(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
});

test('token source: one grant for concurrent callers, cached afterwards, audience and claims of the agent', async () => {
  const tokens = createTokenSource({ issuer: issuerUrl, clientId: agent.clientId, clientSecret: agent.clientSecret, resource: DEV_BROKER_AUDIENCE });
  const burst = await Promise.all([tokens.getToken(), tokens.getToken(), tokens.getToken()]);
  assert.equal(new Set(burst).size, 1);
  assert.equal(await tokens.getToken(), burst[0]);
  const verifier = createTokenVerifier({ issuer: issuerUrl, audience: DEV_BROKER_AUDIENCE, jwks: await discoverJwks(issuerUrl, { allowInsecureLoopback: true }), requiredTyp: 'at+jwt' });
  const identity = await verifier.verify(burst[0]!, Date.now());
  assert.equal(identity.tenant, agent.tenant);
  assert.equal(identity.agent, agent.agent);
});

test('token source: a wrong secret is a non-retriable CONFIG_INVALID naming the client and the OAuth error, never the secret', async () => {
  const tokens = createTokenSource({ issuer: issuerUrl, clientId: agent.clientId, clientSecret: 'not-the-secret', resource: DEV_BROKER_AUDIENCE });
  await assert.rejects(tokens.getToken(), (err: unknown) => {
    assert.ok(err instanceof TracefenceError);
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.equal(err.retriable, false);
    assert.match(err.message, new RegExp(`${agent.clientId} \\(invalid_client\\)`));
    assert.doesNotMatch(err.message, /not-the-secret/);
    return true;
  });
});

test('token source: an unreachable issuer is a retriable AUTH_ISSUER_UNREACHABLE', async () => {
  const tokens = createTokenSource({ issuer: 'http://127.0.0.1:9/', clientId: agent.clientId, clientSecret: agent.clientSecret });
  await assert.rejects(tokens.getToken(), (err: unknown) => err instanceof TracefenceError && err.code === 'AUTH_ISSUER_UNREACHABLE' && err.retriable);
});

test('producer: traces built with the SDK reach the topic as Avro with the schema and token headers', async () => {
  const tokens = createTokenSource({ issuer: issuerUrl, clientId: agent.clientId, clientSecret: agent.clientSecret, resource: DEV_BROKER_AUDIENCE });
  const producer = await createTraceProducer({ brokers: kafkaBrokers, topic, tokens, batchSize: 10 });
  const sent: ReasoningTrace[] = [];
  try {
    for (let i = 0; i < 25; i++) {
      const t = startTrace({ tenant: agent.tenant, agent: agent.agent, dataSubjectRegion: 'eu', labels: { run: String(i) } });
      const llm = t.llmStep({ provider: 'openai', model: 'gpt-4o' });
      llm.input('user', `Weather in Paris? #${i}`);
      llm.output('assistant', [{ type: 'tool_call', id: `call_${i}`, name: 'get_weather', arguments: { city: 'Paris' } }], { finishReason: 'tool_call' });
      llm.usage({ input: 12, output: 9 }).end();
      t.toolStep({ name: 'get_weather', callId: `call_${i}`, arguments: { city: 'Paris' }, parent: llm }).result({ tempC: 21 }).end();
      sent.push(t.end());
    }
    const results = await Promise.all(sent.map((t) => producer.send(t)));
    assert.deepEqual(results.map((r) => r.recordId), sent.map((t) => t.recordId));
  } finally {
    await producer.close();
  }
  await assert.rejects(producer.send(sent[0]!), (err: unknown) => err instanceof TracefenceError && err.code === 'KAFKA_UNAVAILABLE');

  const expectedToken = await tokens.getToken();
  const got = new Map<string, { trace: ReasoningTrace; token: string | undefined; schema: string | undefined; key: string | undefined }>();
  const consumer = kafka.consumer({ groupId: uniqueName('test-sdk-reader') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${got.size} of ${sent.length} records within 30 s`)), 30_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          const schema = headerString(message.headers, HEADERS.schema);
          const trace = codec.decode(message.value ?? Buffer.alloc(0), schema);
          got.set(trace.recordId, { trace, schema, token: headerString(message.headers, HEADERS.accessToken), key: message.key?.toString() });
          if (got.size >= sent.length) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  for (const t of sent) {
    const hit = got.get(t.recordId);
    assert.ok(hit, `record ${t.recordId} missing`);
    assert.deepEqual(hit.trace, t);
    assert.equal(hit.schema, codec.fingerprint);
    assert.equal(hit.token, expectedToken);
    assert.equal(hit.key, t.traceId);
  }
});
