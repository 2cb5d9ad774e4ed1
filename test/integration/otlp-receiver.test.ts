/**
 * The real OpenTelemetry JS SDK exports GenAI spans (protobuf, and JSON with gzip) with a real
 * bearer token from the local issuer to the receiver, which produces to a unique topic of the
 * real local broker; the test reads the record back and checks every GenAI field survived.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, trace, SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { createCodec, type ReasoningTrace } from '../../services/shared/avro/index.js';
import { createKafka, ensureTopics, type Admin } from '../../services/shared/kafka/kafka-client.js';
import { HEADERS, headerString } from '../../services/shared/record-headers.js';
import { createTokenVerifier, discoverJwks } from '../../services/policy/token-verifier.js';
import { createTokenSource } from '../../services/agent-sdk/token-source.js';
import { createIngestPublisher, type IngestPublisher } from '../../services/otlp-receiver/ingest-publisher.js';
import { buildApp } from '../../services/otlp-receiver/receiver-app.js';
import { DEMO_AGENTS, DEV_BROKER_AUDIENCE } from '../../infra/oidc/demo-identities.js';
import { issuerUrl, kafkaBrokers, uniqueName } from '../helpers/stack.js';

const agent = DEMO_AGENTS[0]!;
const codec = createCodec('reasoning-trace');
const topic = uniqueName('test-otlp-ingest');
const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'test-otlp' });
let admin: Admin;
let publisher: IngestPublisher;
let server: Server;
let endpoint: string;
let token: string;

before(async () => {
  admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, numPartitions: 2 }]);
  token = await createTokenSource({ issuer: issuerUrl, clientId: agent.clientId, clientSecret: agent.clientSecret, resource: DEV_BROKER_AUDIENCE }).getToken();
  const verifier = createTokenVerifier({
    issuer: issuerUrl,
    audience: DEV_BROKER_AUDIENCE,
    jwks: await discoverJwks(issuerUrl, { allowInsecureLoopback: true }),
    requiredTyp: 'at+jwt',
  });
  publisher = await createIngestPublisher({ brokers: kafkaBrokers, topic });
  server = createServer(buildApp({ verifier, publisher, codec }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
});

after(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await publisher?.close();
  await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin?.disconnect();
});

/** Wraps an exporter so the test sees each export's result (the SDK only logs failures). */
function recording(inner: SpanExporter): { exporter: SpanExporter; results: { code: number; error?: Error | undefined }[] } {
  const results: { code: number; error?: Error | undefined }[] = [];
  return {
    results,
    exporter: {
      export(spans: ReadableSpan[], done) {
        inner.export(spans, (r) => {
          results.push({ code: r.code, error: r.error });
          done(r);
        });
      },
      shutdown: () => inner.shutdown(),
      forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
    },
  };
}

/** An agent turn as a GenAI-instrumented application emits it: invoke_agent > chat > execute_tool, plus an HTTP span. */
function emitAgentTurn(provider: BasicTracerProvider, label: string): string {
  const tracer = provider.getTracer('tracefence-test', '1.0.0');
  const root = tracer.startSpan('invoke_agent weather-agent', {
    kind: SpanKind.INTERNAL,
    attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.provider.name': 'openai', 'gen_ai.agent.name': 'weather-agent', 'gen_ai.agent.id': 'agt_1', 'gen_ai.conversation.id': `conv-${label}` },
  });
  const inRoot = trace.setSpan(context.active(), root);
  const chat: Span = tracer.startSpan(
    'chat gpt-4o',
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.response.model': 'gpt-4o-2024-08-06',
        'gen_ai.response.id': `chatcmpl-${label}`,
        'gen_ai.response.finish_reasons': ['tool_calls'],
        'gen_ai.usage.input_tokens': 57,
        'gen_ai.usage.output_tokens': 21,
        'gen_ai.system_instructions': JSON.stringify([{ type: 'text', content: 'You are a weather assistant.' }]),
        'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: `What is the weather in Paris? (${label})` }] }]),
        'gen_ai.output.messages': JSON.stringify([
          {
            role: 'assistant',
            parts: [
              { type: 'reasoning', content: 'I should call the weather tool.' },
              { type: 'tool_call', id: 'call_42', name: 'get_weather', arguments: { city: 'Paris' } },
            ],
            finish_reason: 'tool_call',
          },
        ]),
        'server.address': 'api.openai.test',
      },
    },
    inRoot,
  );
  chat.setStatus({ code: SpanStatusCode.OK });
  chat.end();
  const tool = tracer.startSpan(
    'execute_tool get_weather',
    {
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': 'get_weather',
        'gen_ai.tool.call.id': 'call_42',
        'gen_ai.tool.type': 'function',
        'gen_ai.tool.call.arguments': '{"city":"Paris"}',
        'gen_ai.tool.call.result': '{"tempC":21,"sky":"clear"}',
      },
    },
    inRoot,
  );
  const http = tracer.startSpan('GET /weather', { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'GET', 'url.full': 'http://weather.test/paris' } }, trace.setSpan(inRoot, tool));
  http.end();
  tool.end();
  root.end();
  return root.spanContext().traceId;
}

/** Reads the topic from the beginning until a record of every wanted trace id was seen. */
async function readTraces(wanted: readonly string[], timeoutMs = 30_000): Promise<Map<string, { trace: ReasoningTrace; token: string | undefined; key: string }>> {
  const found = new Map<string, { trace: ReasoningTrace; token: string | undefined; key: string }>();
  const consumer = kafka.consumer({ groupId: uniqueName('test-otlp-reader') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`traces ${wanted.filter((w) => !found.has(w)).join(', ')} not found within ${timeoutMs} ms`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ message }) => {
          const t = codec.decode(message.value ?? Buffer.alloc(0), headerString(message.headers, HEADERS.schema));
          found.set(t.traceId, { trace: t, token: headerString(message.headers, HEADERS.accessToken), key: message.key?.toString() ?? '' });
          if (wanted.every((w) => found.has(w))) {
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

function checkTrace(t: ReasoningTrace, label: string): void {
  assert.equal(t.tenant, agent.tenant);
  assert.equal(t.agent, agent.agent);
  assert.equal(t.dataSubjectRegion, 'eu');
  assert.equal(JSON.parse(t.attributes['service.name'] ?? 'null'), 'weather-agent');
  assert.equal(t.steps.length, 3, 'the HTTP span is dropped, the three GenAI spans are kept');
  const byKind = new Map(t.steps.map((s) => [s.kind, s]));
  const root = byKind.get('AGENT');
  const chat = byKind.get('LLM');
  const tool = byKind.get('TOOL');
  assert.ok(root && chat && tool);
  assert.equal(root.agentName, 'weather-agent');
  assert.equal(root.agentId, 'agt_1');
  assert.equal(root.conversationId, `conv-${label}`);
  assert.deepEqual(chat.parentStepIds, [root.stepId]);
  assert.deepEqual(tool.parentStepIds, [root.stepId]);
  assert.equal(chat.operation, 'chat');
  assert.equal(chat.provider, 'openai');
  assert.equal(chat.requestModel, 'gpt-4o');
  assert.equal(chat.responseModel, 'gpt-4o-2024-08-06');
  assert.equal(chat.responseId, `chatcmpl-${label}`);
  assert.ok(chat.finishReasons.includes('tool_calls'));
  assert.equal(chat.usage?.inputTokens, 57);
  assert.equal(chat.usage?.outputTokens, 21);
  assert.equal(chat.systemInstructions[0]?.content, 'You are a weather assistant.');
  assert.equal(chat.input[0]?.role, 'user');
  assert.equal(chat.input[0]?.parts[0]?.content, `What is the weather in Paris? (${label})`);
  const out = chat.output[0];
  assert.equal(out?.role, 'assistant');
  assert.equal(out?.finishReason, 'tool_call');
  assert.equal(out?.parts[0]?.type, 'reasoning');
  assert.equal(out?.parts[0]?.content, 'I should call the weather tool.');
  assert.equal(out?.parts[1]?.type, 'tool_call');
  assert.equal(out?.parts[1]?.toolCallId, 'call_42');
  assert.equal(out?.parts[1]?.toolName, 'get_weather');
  assert.deepEqual(JSON.parse(out?.parts[1]?.arguments ?? 'null'), { city: 'Paris' });
  assert.equal(chat.status.code, 'OK');
  assert.equal(JSON.parse(chat.attributes['server.address'] ?? 'null'), 'api.openai.test');
  assert.equal(tool.tool?.name, 'get_weather');
  assert.equal(tool.tool?.callId, 'call_42');
  assert.equal(tool.tool?.type, 'function');
  assert.deepEqual(JSON.parse(tool.tool?.arguments ?? 'null'), { city: 'Paris' });
  assert.deepEqual(JSON.parse(tool.tool?.result ?? 'null'), { tempC: 21, sky: 'clear' });
  assert.ok(chat.startTimeUnixNano > 1_600_000_000_000_000_000n && chat.endTimeUnixNano >= chat.startTimeUnixNano);
}

test('real OTel SDK -> receiver (protobuf, and JSON with gzip) -> ingest topic: GenAI fields, verified identity, token header', async () => {
  const resource = resourceFromAttributes({ 'service.name': 'weather-agent', 'tracefence.data_subject_region': 'eu' });
  const proto = recording(new ProtoExporter({ url: endpoint, headers: { Authorization: `Bearer ${token}` } }));
  const json = recording(new JsonExporter({ url: endpoint, headers: async () => ({ Authorization: `Bearer ${token}` }), compression: CompressionAlgorithm.GZIP }));
  // One batch per provider: the four spans of a turn travel in one export request.
  const batch = { scheduledDelayMillis: 60_000, maxExportBatchSize: 512 };
  const protoProvider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(proto.exporter, batch)] });
  const jsonProvider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(json.exporter, batch)] });
  const protoTrace = emitAgentTurn(protoProvider, 'proto');
  const jsonTrace = emitAgentTurn(jsonProvider, 'json');
  await protoProvider.forceFlush();
  await jsonProvider.forceFlush();
  await protoProvider.shutdown();
  await jsonProvider.shutdown();
  assert.ok(proto.results.length >= 1 && json.results.length >= 1);
  for (const r of [...proto.results, ...json.results]) assert.equal(r.code, 0, `export failed: ${r.error?.message ?? ''}`);

  const found = await readTraces([protoTrace, jsonTrace]);
  assert.equal(found.size, 2, 'one record per trace');
  for (const [traceId, label] of [
    [protoTrace, 'proto'],
    [jsonTrace, 'json'],
  ] as const) {
    const hit = found.get(traceId);
    assert.ok(hit);
    assert.equal(hit.token, token, 'the caller token travels as tf-access-token for re-verification');
    assert.equal(hit.key, traceId);
    checkTrace(hit.trace, label);
  }
});
