/**
 * Ingest throughput against the running local stack (bash infra/stack.sh start):
 *   1. agent SDK: ~2 KB reasoning traces -> createTraceProducer -> broker (records/s, MB/s);
 *   2. OTLP receiver in-process: OTLP/JSON and protobuf posts of GenAI spans -> receiver ->
 *      broker (spans/s, requests/s, latency).
 * Each phase runs BENCH_SECONDS (default 10) on its own unique topic, deleted afterwards; the whole
 * run stays under a minute. Usage: npm run bench:sdk
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createTokenSource, createTraceProducer, startTrace, type ReasoningTrace } from '../services/agent-sdk/index.js';
import { createCodec } from '../services/shared/avro/index.js';
import { createKafka, ensureTopics } from '../services/shared/kafka/kafka-client.js';
import { createTokenVerifier, discoverJwks } from '../services/policy/token-verifier.js';
import { createIngestPublisher } from '../services/otlp-receiver/ingest-publisher.js';
import { buildApp } from '../services/otlp-receiver/receiver-app.js';
import { otlpSchema } from '../services/otlp-receiver/otlp-schema.js';
import { DEMO_AGENTS, DEV_BROKER_AUDIENCE } from '../infra/oidc/demo-identities.js';
import { issuerUrl, kafkaBrokers, uniqueName } from '../test/helpers/stack.js';

const SECONDS = Math.min(Number(process.env['BENCH_SECONDS'] ?? 10), 15);
const PARTITIONS = 6;
const SDK_IN_FLIGHT = 2_000;
const HTTP_CONCURRENCY = 8;
const SPANS_PER_REQUEST = 100; // 20 traces x 5 spans
const agent = DEMO_AGENTS[0]!;
const codec = createCodec('reasoning-trace');

interface Row {
  phase: string;
  unit: string;
  count: number;
  seconds: number;
  rate: number;
  mbPerSec: number;
  p50ms: number | null;
  p99ms: number | null;
}

function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** A trace of about `bytes` encoded bytes: an LLM step with a tool call and a tool step. */
function sdkTrace(i: number, bytes: number): ReasoningTrace {
  const t = startTrace({ tenant: agent.tenant, agent: agent.agent, dataSubjectRegion: 'eu' });
  const llm = t.llmStep({ provider: 'openai', model: 'gpt-4o' });
  llm.system('You are a careful travel assistant.');
  llm.input('user', `Plan a day in Paris for request ${i}. ` + 'Include museums, food and a walk along the river. '.repeat(Math.max(1, Math.floor((bytes - 900) / 51))));
  llm.output('assistant', [
    { type: 'reasoning', content: 'The user wants a plan; check the weather first.' },
    { type: 'tool_call', id: `call_${i}`, name: 'get_weather', arguments: { city: 'Paris', day: 'tomorrow' } },
  ], { finishReason: 'tool_call' });
  llm.usage({ input: 420, output: 35 }).end();
  t.toolStep({ name: 'get_weather', callId: `call_${i}`, arguments: { city: 'Paris' }, parent: llm }).result({ tempC: 21, sky: 'clear' }).end();
  return t.end();
}

async function withTopic<T>(prefix: string, fn: (topic: string) => Promise<T>): Promise<T> {
  const kafka = createKafka({ brokers: kafkaBrokers, clientId: 'bench' });
  const admin = kafka.admin();
  await admin.connect();
  const topic = uniqueName(prefix);
  try {
    await ensureTopics(admin, [{ topic, numPartitions: PARTITIONS }]);
    return await fn(topic);
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

async function benchSdk(): Promise<Row> {
  return withTopic('bench-sdk', async (topic) => {
    const tokens = createTokenSource({ issuer: issuerUrl, clientId: agent.clientId, clientSecret: agent.clientSecret, resource: DEV_BROKER_AUDIENCE });
    await tokens.getToken();
    const producer = await createTraceProducer({ brokers: kafkaBrokers, topic, tokens, batchSize: 500, lingerMs: 5 });
    const sample = codec.encode(sdkTrace(0, 2048)).payload.length;
    // Warm-up: metadata, producer id, JIT.
    await Promise.all(Array.from({ length: 200 }, (_, i) => producer.send(sdkTrace(i, 2048))));
    let sent = 0;
    let bytes = 0;
    const latencies: number[] = [];
    const deadline = performance.now() + SECONDS * 1000;
    const started = performance.now();
    const worker = async (): Promise<void> => {
      while (performance.now() < deadline) {
        const trace = sdkTrace(sent, 2048);
        const t0 = performance.now();
        await producer.send(trace);
        latencies.push(performance.now() - t0);
        sent++;
        bytes += sample;
      }
    };
    await Promise.all(Array.from({ length: SDK_IN_FLIGHT }, worker));
    const seconds = (performance.now() - started) / 1000;
    await producer.close();
    latencies.sort((a, b) => a - b);
    return { phase: `SDK -> broker (${sample} B traces)`, unit: 'records', count: sent, seconds, rate: sent / seconds, mbPerSec: bytes / seconds / 1e6, p50ms: quantile(latencies, 0.5), p99ms: quantile(latencies, 0.99) };
  });
}

/** One OTLP request: SPANS_PER_REQUEST GenAI spans in traces of 5 (agent, 2 chats, tool, chat). */
function otlpRequest(seq: number): object {
  const spans: object[] = [];
  const now = BigInt(Date.now()) * 1_000_000n;
  for (let t = 0; t < SPANS_PER_REQUEST / 5; t++) {
    const traceId = (BigInt(seq) * 1000n + BigInt(t) + 1n).toString(16).padStart(32, '0');
    const root = `${(t + 1).toString(16).padStart(8, '0')}00000001`;
    for (let s = 0; s < 5; s++) {
      const spanId = `${(t + 1).toString(16).padStart(8, '0')}${(s + 1).toString(16).padStart(8, '0')}`;
      const op = s === 0 ? 'invoke_agent' : s === 3 ? 'execute_tool' : 'chat';
      const attrs = [
        { key: 'gen_ai.operation.name', value: { stringValue: op } },
        { key: 'gen_ai.provider.name', value: { stringValue: 'openai' } },
        ...(op === 'chat'
          ? [
              { key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o' } },
              { key: 'gen_ai.usage.input_tokens', value: { intValue: '420' } },
              { key: 'gen_ai.usage.output_tokens', value: { intValue: '35' } },
              { key: 'gen_ai.input.messages', value: { stringValue: JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: 'Plan a day in Paris with museums, food and a walk.' }] }]) } },
              { key: 'gen_ai.output.messages', value: { stringValue: JSON.stringify([{ role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: { city: 'Paris' } }], finish_reason: 'tool_call' }]) } },
            ]
          : op === 'execute_tool'
            ? [
                { key: 'gen_ai.tool.name', value: { stringValue: 'get_weather' } },
                { key: 'gen_ai.tool.call.id', value: { stringValue: 'call_1' } },
                { key: 'gen_ai.tool.call.arguments', value: { stringValue: '{"city":"Paris"}' } },
                { key: 'gen_ai.tool.call.result', value: { stringValue: '{"tempC":21}' } },
              ]
            : [{ key: 'gen_ai.agent.name', value: { stringValue: 'planner' } }]),
      ];
      spans.push({
        traceId,
        spanId,
        ...(s === 0 ? {} : { parentSpanId: root }),
        name: `${op} x`,
        kind: 1,
        startTimeUnixNano: String(now + BigInt(s * 1000)),
        endTimeUnixNano: String(now + BigInt(s * 1000 + 900)),
        attributes: attrs,
      });
    }
  }
  return { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench' } }] }, scopeSpans: [{ scope: { name: 'bench' }, spans }] }] };
}

function toProtobuf(request: object): Buffer {
  const clone = structuredClone(request) as { resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[] };
  for (const s of clone.resourceSpans[0]!.scopeSpans[0]!.spans) {
    for (const k of ['traceId', 'spanId', 'parentSpanId']) if (typeof s[k] === 'string') s[k] = Buffer.from(s[k] as string, 'hex');
  }
  const t = otlpSchema().exportRequest;
  return Buffer.from(t.encode(t.fromObject(clone)).finish());
}

async function benchReceiver(format: 'json' | 'protobuf'): Promise<Row> {
  return withTopic(`bench-otlp-${format}`, async (topic) => {
    const token = await createTokenSource({ issuer: issuerUrl, clientId: agent.clientId, clientSecret: agent.clientSecret, resource: DEV_BROKER_AUDIENCE }).getToken();
    const verifier = createTokenVerifier({ issuer: issuerUrl, audience: DEV_BROKER_AUDIENCE, jwks: await discoverJwks(issuerUrl, { allowInsecureLoopback: true }), requiredTyp: 'at+jwt' });
    const publisher = await createIngestPublisher({ brokers: kafkaBrokers, topic });
    const server = createServer(buildApp({ verifier, publisher, codec }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
    // Pre-built bodies (distinct trace ids), so the client's encoding cost is not measured.
    const bodies = Array.from({ length: 64 }, (_, i) => {
      const req = otlpRequest(i);
      return format === 'json' ? Buffer.from(JSON.stringify(req)) : toProtobuf(req);
    });
    const headers = { authorization: `Bearer ${token}`, 'content-type': format === 'json' ? 'application/json' : 'application/x-protobuf' };
    const post = async (i: number): Promise<void> => {
      const res = await fetch(url, { method: 'POST', headers, body: bodies[i % bodies.length]! });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`receiver answered ${res.status}`);
    };
    try {
      await Promise.all(Array.from({ length: 16 }, (_, i) => post(i)));
      let requests = 0;
      let bytes = 0;
      const latencies: number[] = [];
      const deadline = performance.now() + SECONDS * 1000;
      const started = performance.now();
      const worker = async (): Promise<void> => {
        while (performance.now() < deadline) {
          const i = requests++;
          const t0 = performance.now();
          await post(i);
          latencies.push(performance.now() - t0);
          bytes += bodies[i % bodies.length]!.length;
        }
      };
      await Promise.all(Array.from({ length: HTTP_CONCURRENCY }, worker));
      const seconds = (performance.now() - started) / 1000;
      latencies.sort((a, b) => a - b);
      const spans = requests * SPANS_PER_REQUEST;
      const avgBody = Math.round(bytes / Math.max(1, requests));
      return {
        phase: `OTLP ${format} -> receiver -> broker (${SPANS_PER_REQUEST} spans, ${avgBody} B/request, x${HTTP_CONCURRENCY})`,
        unit: 'spans',
        count: spans,
        seconds,
        rate: spans / seconds,
        mbPerSec: bytes / seconds / 1e6,
        p50ms: quantile(latencies, 0.5),
        p99ms: quantile(latencies, 0.99),
      };
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await publisher.close();
      verifier.close();
    }
  });
}

function printTable(rows: readonly Row[]): void {
  const header = ['phase', 'unit', 'count', 'seconds', 'per second', 'MB/s in', 'p50 ms', 'p99 ms'];
  const fmt = (n: number | null, digits = 1): string => (n === null ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
  const lines = rows.map((r) => [r.phase, r.unit, r.count.toLocaleString('en-US'), fmt(r.seconds), fmt(r.rate, 0), fmt(r.mbPerSec, 2), fmt(r.p50ms, 2), fmt(r.p99ms, 2)]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(row(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(row(l));
}

const rows: Row[] = [];
const t0 = performance.now();
console.log(`node ${process.version}, broker ${kafkaBrokers.join(',')}, ${PARTITIONS} partitions, ${SECONDS} s per phase, acks=all, idempotent producers`);
rows.push(await benchSdk());
rows.push(await benchReceiver('json'));
rows.push(await benchReceiver('protobuf'));
console.log('');
printTable(rows);
console.log(`\ntotal ${((performance.now() - t0) / 1000).toFixed(1)} s`);
