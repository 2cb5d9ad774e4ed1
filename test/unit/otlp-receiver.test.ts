/**
 * OTLP receiver in-process: the real handler behind a real HTTP server on 127.0.0.1:0, a local
 * JWKS and a fake publisher. Every refused request must leave the fake topic empty.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { Registry } from 'prom-client';
import { createCodec, type ReasoningTrace } from '../../services/shared/avro/index.js';
import { TracefenceError } from '../../services/shared/errors.js';
import { HEADERS } from '../../services/shared/record-headers.js';
import { createTokenVerifier } from '../../services/policy/token-verifier.js';
import type { IngestRecord } from '../../services/otlp-receiver/ingest-publisher.js';
import { buildApp } from '../../services/otlp-receiver/receiver-app.js';
import { createReceiverMetrics } from '../../services/otlp-receiver/receiver-metrics.js';
import { decodeOtlpJson, decodeOtlpProtobuf } from '../../services/otlp-receiver/otlp-request-decoder.js';
import { decodeExportResponseProto, decodeStatusProto, otlpSchema } from '../../services/otlp-receiver/otlp-schema.js';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'urn:tracefence:broker';
const MAX_BODY = 256 * 1024;
const MAX_INFLATED = 1024 * 1024;
const codec = createCodec('reasoning-trace');

let keys: { privateKey: CryptoKey; publicKey: CryptoKey };
let otherKeys: { privateKey: CryptoKey; publicKey: CryptoKey };
let token: string;
let server: Server;
let base: string;
let produced: IngestRecord[] = [];
let publisherMode: 'ok' | 'full' | 'down' = 'ok';
let registry: Registry;

async function sign(claims: JWTPayload = {}, key: CryptoKey = keys.privateKey): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'agent-acme-support', tenant: 'acme', agent: 'support-bot', iat: now, exp: now + 300, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'at+jwt' })
    .sign(key);
}

before(async () => {
  keys = await generateKeyPair('RS256', { extractable: true });
  otherKeys = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const verifier = createTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: createLocalJWKSet({ keys: [jwk] }), requiredTyp: 'at+jwt' });
  token = await sign();
  registry = new Registry();
  const handler = buildApp({
    verifier,
    codec,
    metrics: createReceiverMetrics(registry),
    limits: { maxBodyBytes: MAX_BODY, maxInflatedBytes: MAX_INFLATED, maxSpans: 50 },
    retryAfterSec: 7,
    publisher: {
      async publish(records) {
        if (publisherMode === 'full') throw new TracefenceError('INGEST_BACKPRESSURE', 'full', { retriable: true });
        if (publisherMode === 'down') throw new TracefenceError('KAFKA_UNAVAILABLE', 'down', { retriable: true });
        produced.push(...records);
      },
    },
  });
  server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  produced = [];
  publisherMode = 'ok';
});

// --- Request builders (OTLP/JSON shape; the protobuf form is made from it with fromObject).

const TRACE_A = '5b8efff798038103d269b633813fc60c';
const TRACE_B = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const T0 = 1_767_225_600_000_000_000n; // 2026-01-01T00:00:00Z in ns, beyond 2^53

interface JsonSpan {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number; message?: string };
}

function str(key: string, value: string) {
  return { key, value: { stringValue: value } };
}
function int(key: string, value: number) {
  return { key, value: { intValue: String(value) } };
}

function llmSpan(traceId: string, spanId: string, parent?: string): JsonSpan {
  return {
    traceId,
    spanId,
    ...(parent === undefined ? {} : { parentSpanId: parent }),
    name: 'chat gpt-4o',
    kind: 3,
    startTimeUnixNano: String(T0 + 1000n),
    endTimeUnixNano: String(T0 + 2_000_000n),
    attributes: [
      str('gen_ai.operation.name', 'chat'),
      str('gen_ai.provider.name', 'openai'),
      str('gen_ai.request.model', 'gpt-4o'),
      int('gen_ai.usage.input_tokens', 12),
      int('gen_ai.usage.output_tokens', 7),
      str('gen_ai.input.messages', JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: 'Weather in Paris?' }] }])),
      str(
        'gen_ai.output.messages',
        JSON.stringify([{ role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: { city: 'Paris' } }], finish_reason: 'tool_call' }]),
      ),
    ],
    status: { code: 1 },
  };
}

function toolSpan(traceId: string, spanId: string, parent: string): JsonSpan {
  return {
    traceId,
    spanId,
    parentSpanId: parent,
    name: 'execute_tool get_weather',
    startTimeUnixNano: String(T0 + 3_000_000n),
    endTimeUnixNano: String(T0 + 4_000_000n),
    attributes: [
      str('gen_ai.operation.name', 'execute_tool'),
      str('gen_ai.tool.name', 'get_weather'),
      str('gen_ai.tool.call.id', 'call_1'),
      str('gen_ai.tool.call.arguments', '{"city":"Paris"}'),
      str('gen_ai.tool.call.result', '{"tempC":21}'),
    ],
  };
}

function httpSpan(traceId: string, spanId: string): JsonSpan {
  return { traceId, spanId, name: 'GET /', startTimeUnixNano: String(T0), endTimeUnixNano: String(T0 + 5n), attributes: [str('http.request.method', 'GET')] };
}

function exportRequest(spans: JsonSpan[], resourceAttrs: { key: string; value: Record<string, unknown> }[] = [str('service.name', 'support-bot')]) {
  return { resourceSpans: [{ resource: { attributes: resourceAttrs }, scopeSpans: [{ scope: { name: 'test', version: '1' }, spans }] }] };
}

/** JSON request object to protobuf bytes (ids hex -> bytes, int64 strings -> Long by fromObject). */
function toProtobuf(request: ReturnType<typeof exportRequest>): Buffer {
  const clone = structuredClone(request) as unknown as { resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[] };
  for (const rs of clone.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        for (const k of ['traceId', 'spanId', 'parentSpanId']) {
          if (typeof s[k] === 'string') s[k] = Buffer.from(s[k] as string, 'hex');
        }
      }
    }
  }
  const t = otlpSchema().exportRequest;
  return Buffer.from(t.encode(t.fromObject(clone)).finish());
}

interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
}

async function post(body: Buffer | string, headers: Record<string, string>, path = '/v1/traces'): Promise<Reply> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers, body });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

const auth = () => ({ authorization: `Bearer ${token}` });
const jsonHeaders = () => ({ ...auth(), 'content-type': 'application/json' });
const protoHeaders = () => ({ ...auth(), 'content-type': 'application/x-protobuf' });

function decoded(): ReasoningTrace[] {
  return produced.map((r) => codec.decode(r.value, r.headers[HEADERS.schema]));
}

function jsonStatus(r: Reply): { code: number; message: string; details: { reason: string }[] } {
  assert.match(r.headers.get('content-type') ?? '', /application\/json/);
  return JSON.parse(r.body.toString('utf8')) as { code: number; message: string; details: { reason: string }[] };
}

// --- Accepted requests.

test('OTLP/JSON: a GenAI trace is produced once, bound to the verified identity, with token and schema headers', async () => {
  const req = exportRequest(
    [llmSpan(TRACE_A, '00f067aa0ba902b7'), toolSpan(TRACE_A, '00f067aa0ba902b8', '00f067aa0ba902b7')],
    // A resource claiming another tenant changes nothing: identity comes from the token.
    [str('service.name', 'support-bot'), str('tenant', 'globex')],
  );
  const r = await post(JSON.stringify(req), jsonHeaders());
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body.toString()), {});
  assert.equal(produced.length, 1);
  const rec = produced[0]!;
  assert.equal(rec.key, TRACE_A);
  assert.equal(rec.headers[HEADERS.accessToken], token);
  assert.equal(rec.headers[HEADERS.schema], codec.fingerprint);
  const [trace] = decoded();
  assert.ok(trace);
  assert.equal(trace.tenant, 'acme');
  assert.equal(trace.agent, 'support-bot');
  assert.equal(trace.traceId, TRACE_A);
  assert.equal(trace.steps.length, 2);
  const [llm, tool] = trace.steps;
  assert.equal(llm?.kind, 'LLM');
  assert.equal(llm?.provider, 'openai');
  assert.equal(llm?.requestModel, 'gpt-4o');
  assert.equal(llm?.startTimeUnixNano, T0 + 1000n);
  assert.equal(llm?.usage?.inputTokens, 12);
  assert.equal(llm?.input[0]?.parts[0]?.content, 'Weather in Paris?');
  assert.equal(llm?.output[0]?.parts[0]?.toolName, 'get_weather');
  assert.equal(llm?.status.code, 'OK');
  assert.equal(tool?.kind, 'TOOL');
  assert.deepEqual(tool?.parentStepIds, ['00f067aa0ba902b7']);
  assert.equal(tool?.tool?.name, 'get_weather');
  assert.equal(tool?.tool?.result, '{"tempC":21}');
});

test('protobuf: accepted, answered with a protobuf ExportTraceServiceResponse without partial_success', async () => {
  const r = await post(toProtobuf(exportRequest([llmSpan(TRACE_A, '00f067aa0ba902b7')])), protoHeaders());
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/x-protobuf');
  assert.equal(decodeExportResponseProto(r.body), undefined);
  const [trace] = decoded();
  assert.equal(trace?.traceId, TRACE_A);
  assert.equal(trace?.steps[0]?.usage?.outputTokens, 7);
  assert.equal(trace?.steps[0]?.endTimeUnixNano, T0 + 2_000_000n);
});

test('gzip: JSON and protobuf bodies with Content-Encoding gzip are accepted', async () => {
  const json = gzipSync(JSON.stringify(exportRequest([llmSpan(TRACE_A, '00f067aa0ba902b7')])));
  assert.equal((await post(json, { ...jsonHeaders(), 'content-encoding': 'gzip' })).status, 200);
  const proto = gzipSync(toProtobuf(exportRequest([llmSpan(TRACE_B, '00f067aa0ba902b7')])));
  assert.equal((await post(proto, { ...protoHeaders(), 'content-encoding': 'gzip' })).status, 200);
  assert.deepEqual(decoded().map((t) => t.traceId), [TRACE_A, TRACE_B]);
});

test('spans are grouped by trace id; spans without GenAI attributes are dropped, not rejected', async () => {
  const req = exportRequest([llmSpan(TRACE_A, '00f067aa0ba902b7'), httpSpan(TRACE_A, '00f067aa0ba902b9'), llmSpan(TRACE_B, '00f067aa0ba902b7'), toolSpan(TRACE_A, '00f067aa0ba902b8', '00f067aa0ba902b7')]);
  const r = await post(JSON.stringify(req), jsonHeaders());
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body.toString()), {});
  const traces = decoded();
  assert.deepEqual(traces.map((t) => [t.traceId, t.steps.length]), [
    [TRACE_A, 2],
    [TRACE_B, 1],
  ]);
});

test('a retried export yields the same record ids (idempotency key); another batch of the trace does not', async () => {
  const body = JSON.stringify(exportRequest([llmSpan(TRACE_A, '00f067aa0ba902b7')]));
  await post(body, jsonHeaders());
  await post(body, jsonHeaders());
  await post(JSON.stringify(exportRequest([toolSpan(TRACE_A, '00f067aa0ba902b8', '00f067aa0ba902b7')])), jsonHeaders());
  const ids = decoded().map((t) => t.recordId);
  assert.equal(ids[0], ids[1]);
  assert.notEqual(ids[0], ids[2]);
  assert.match(ids[0]!, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('declared residency: resource attributes, else request headers; conflicting or invalid values reject the trace', async () => {
  const region = [str('service.name', 'x'), str('tracefence.data_subject_region', 'eu'), str('tracefence.residency_hint', 'eu')];
  let r = await post(JSON.stringify(exportRequest([llmSpan(TRACE_A, '00f067aa0ba902b7')], region)), jsonHeaders());
  assert.equal(r.status, 200);
  r = await post(JSON.stringify(exportRequest([llmSpan(TRACE_B, '00f067aa0ba902b7')])), { ...jsonHeaders(), 'tracefence-data-subject-region': 'us' });
  assert.equal(r.status, 200);
  const [a, b] = decoded();
  assert.equal(a?.dataSubjectRegion, 'eu');
  assert.equal(a?.residencyHint, 'eu');
  assert.equal(b?.dataSubjectRegion, 'us');
  assert.equal(b?.residencyHint, null);

  produced = [];
  r = await post(JSON.stringify(exportRequest([llmSpan(TRACE_A, '00f067aa0ba902b7')])), { ...jsonHeaders(), 'tracefence-data-subject-region': 'EU West!' });
  assert.equal(r.status, 400);
  assert.match(jsonStatus(r).message, /tracefence-data-subject-region/);
  const conflicting = {
    resourceSpans: [
      { resource: { attributes: [str('tracefence.data_subject_region', 'eu')] }, scopeSpans: [{ spans: [llmSpan(TRACE_A, '00f067aa0ba902b7')] }] },
      { resource: { attributes: [str('tracefence.data_subject_region', 'us')] }, scopeSpans: [{ spans: [llmSpan(TRACE_A, '00f067aa0ba902b8')] }] },
    ],
  };
  r = await post(JSON.stringify(conflicting), jsonHeaders());
  assert.equal(r.status, 400);
  assert.match(jsonStatus(r).message, /disagree on tracefence\.data_subject_region/);
  assert.equal(produced.length, 0);
});

// --- Partial success.

test('partial success (JSON): spans with missing or invalid ids are counted and explained, the rest is produced', async () => {
  const noTrace = llmSpan(TRACE_B, '00f067aa0ba902b7');
  delete noTrace.traceId;
  const base64Id = llmSpan('W47/95gDgQPSabYzgT/GDA==', '00f067aa0ba902b7');
  const req = exportRequest([llmSpan(TRACE_A, '00f067aa0ba902b7'), noTrace, base64Id]);
  const r = await post(JSON.stringify(req), jsonHeaders());
  assert.equal(r.status, 200);
  const body = JSON.parse(r.body.toString()) as { partialSuccess: { rejectedSpans: string; errorMessage: string } };
  assert.equal(body.partialSuccess.rejectedSpans, '2');
  assert.match(body.partialSuccess.errorMessage, /2 of 3 spans rejected/);
  assert.match(body.partialSuccess.errorMessage, /resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[1\]: traceId is missing/);
  assert.match(body.partialSuccess.errorMessage, /spans\[2\]: traceId must be 32 hex characters/);
  assert.deepEqual(decoded().map((t) => t.traceId), [TRACE_A]);
});

test('partial success (protobuf): an 8-byte trace id and an all-zero span id are rejected', async () => {
  const req = toProtobuf(exportRequest([llmSpan(TRACE_A, '00f067aa0ba902b7'), llmSpan('00f067aa0ba902b7', '00f067aa0ba902b7'), llmSpan(TRACE_B, '0000000000000000')]));
  const r = await post(req, protoHeaders());
  assert.equal(r.status, 200);
  const partial = decodeExportResponseProto(r.body);
  assert.equal(partial?.rejectedSpans, 2);
  assert.match(partial?.errorMessage ?? '', /traceId must be 16 bytes, got 8/);
  assert.match(partial?.errorMessage ?? '', /spanId is all zero/);
  assert.equal(produced.length, 1);
});

// --- Refused requests: right status, clear message, nothing produced.

test('400: every span has missing ids -> the whole request is refused', async () => {
  const a = llmSpan(TRACE_A, '00f067aa0ba902b7');
  delete a.spanId;
  const b = llmSpan(TRACE_B, '00f067aa0ba902b7');
  delete b.traceId;
  const r = await post(JSON.stringify(exportRequest([a, b])), jsonHeaders());
  assert.equal(r.status, 400);
  const status = jsonStatus(r);
  assert.equal(status.code, 3);
  assert.match(status.message, /2 of 2 spans rejected: .*spanId is missing.*traceId is missing/);
  assert.equal(status.details[0]?.reason, 'OTLP_REQUEST_INVALID');
  assert.equal(produced.length, 0);
});

test('400: truncated protobuf, answered with a protobuf google.rpc.Status', async () => {
  const full = toProtobuf(exportRequest([llmSpan(TRACE_A, '00f067aa0ba902b7')]));
  const r = await post(full.subarray(0, full.length - 9), protoHeaders());
  assert.equal(r.status, 400);
  assert.equal(r.headers.get('content-type'), 'application/x-protobuf');
  const status = decodeStatusProto(r.body);
  assert.equal(status.code, 3);
  assert.match(status.message, /protobuf body could not be decoded: truncated/);
  assert.equal(status.reason, 'OTLP_REQUEST_INVALID');
  assert.equal(produced.length, 0);
});

test('400: invalid JSON, a wrong top-level shape, a corrupt gzip stream', async () => {
  let r = await post('{"resourceSpans": [', jsonHeaders());
  assert.equal(r.status, 400);
  assert.match(jsonStatus(r).message, /not valid JSON/);
  r = await post('{"resourceSpans": "nope"}', jsonHeaders());
  assert.equal(r.status, 400);
  assert.match(jsonStatus(r).message, /resourceSpans must be an array/);
  r = await post(Buffer.from('1f8b0800000000000003ffffffff', 'hex'), { ...jsonHeaders(), 'content-encoding': 'gzip' });
  assert.equal(r.status, 400);
  assert.match(jsonStatus(r).message, /gzip body is corrupt/);
  assert.equal(produced.length, 0);
});

test('415: wrong content type or content encoding', async () => {
  let r = await post('hello', { ...auth(), 'content-type': 'text/plain' });
  assert.equal(r.status, 415);
  assert.match(jsonStatus(r).message, /application\/x-protobuf or application\/json/);
  r = await post('{}', { ...jsonHeaders(), 'content-encoding': 'br' });
  assert.equal(r.status, 415);
  assert.match(jsonStatus(r).message, /Content-Encoding/);
  assert.equal(produced.length, 0);
});

test('413: body over the raw limit (declared or streamed), gzip bomb over the inflated limit, too many spans', async () => {
  const big = JSON.stringify(exportRequest([{ ...llmSpan(TRACE_A, '00f067aa0ba902b7'), name: 'x'.repeat(MAX_BODY) }]));
  let r = await post(big, jsonHeaders());
  assert.equal(r.status, 413);
  assert.match(jsonStatus(r).message, /request body exceeds 262144 bytes/);

  // Chunked (no Content-Length): the limit holds while streaming.
  r = await new Promise<Reply>((resolve, reject) => {
    const req = httpRequest(`${base}/v1/traces`, { method: 'POST', headers: jsonHeaders() }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: new Headers(), body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    for (let i = 0; i < 5; i++) req.write(Buffer.alloc(64 * 1024, 0x20));
    req.end();
  });
  assert.equal(r.status, 413);

  const bomb = gzipSync(Buffer.alloc(16 * 1024 * 1024, 0x20));
  assert.ok(bomb.length < MAX_BODY);
  r = await post(bomb, { ...jsonHeaders(), 'content-encoding': 'gzip' });
  assert.equal(r.status, 413);
  assert.match(jsonStatus(r).message, /decompressed body exceeds 1048576 bytes/);

  const many = exportRequest(Array.from({ length: 51 }, (_, i) => llmSpan(TRACE_A, (i + 1).toString(16).padStart(16, '0'))));
  r = await post(JSON.stringify(many), jsonHeaders());
  assert.equal(r.status, 413);
  assert.match(jsonStatus(r).message, /more than 50 spans/);
  assert.equal(produced.length, 0);
});

test('401: no token, a malformed header, a token signed by another key, an expired token', async () => {
  const body = JSON.stringify(exportRequest([llmSpan(TRACE_A, '00f067aa0ba902b7')]));
  let r = await post(body, { 'content-type': 'application/json' });
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="tracefence-otlp"');
  assert.match(jsonStatus(r).message, /access token is required/);
  assert.equal(jsonStatus(r).code, 16);

  r = await post(body, { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('a:b').toString('base64')}` });
  assert.equal(r.status, 401);

  r = await post(body, { 'content-type': 'application/json', authorization: `Bearer ${await sign({}, otherKeys.privateKey)}` });
  assert.equal(r.status, 401);
  assert.match(r.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  assert.equal(jsonStatus(r).details[0]?.reason, 'AUTH_SIGNATURE_INVALID');

  const past = Math.floor(Date.now() / 1000) - 3600;
  r = await post(body, { 'content-type': 'application/json', authorization: `Bearer ${await sign({ iat: past - 300, exp: past })}` });
  assert.equal(r.status, 401);
  assert.equal(jsonStatus(r).details[0]?.reason, 'AUTH_TOKEN_EXPIRED');
  assert.equal(produced.length, 0);
});

test('429 when the producer buffer is full, 503 when Kafka is down, both with Retry-After', async () => {
  const body = JSON.stringify(exportRequest([llmSpan(TRACE_A, '00f067aa0ba902b7')]));
  publisherMode = 'full';
  let r = await post(body, jsonHeaders());
  assert.equal(r.status, 429);
  assert.equal(r.headers.get('retry-after'), '7');
  assert.equal(jsonStatus(r).code, 8);
  publisherMode = 'down';
  r = await post(toProtobuf(exportRequest([llmSpan(TRACE_A, '00f067aa0ba902b7')])), protoHeaders());
  assert.equal(r.status, 503);
  assert.equal(r.headers.get('retry-after'), '7');
  assert.equal(decodeStatusProto(r.body).code, 14);
  assert.equal(produced.length, 0);
});

test('404 for another path, 405 for another method', async () => {
  let r = await post('{}', jsonHeaders(), '/v1/metrics');
  assert.equal(r.status, 404);
  const res = await fetch(`${base}/v1/traces`, { headers: auth() });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'POST');
  await res.arrayBuffer();
  r = await post('{}', jsonHeaders());
  assert.equal(r.status, 200, 'an empty export is valid');
});

test('metrics count requests by status and spans by outcome', async () => {
  await post(JSON.stringify(exportRequest([llmSpan(TRACE_A, '00f067aa0ba902b7'), httpSpan(TRACE_A, '00f067aa0ba902b9')])), jsonHeaders());
  const text = await registry.metrics();
  assert.match(text, /tracefence_otlp_requests_total\{status="200",format="json",code="ok"\} \d+/);
  assert.match(text, /tracefence_otlp_spans_ignored_total \d+/);
  assert.match(text, /tracefence_otlp_requests_total\{status="401",format="json",code="AUTH_TOKEN_MISSING"\} \d+/);
});

// --- The decoder on its own.

test('decoder: OTLP/JSON int64 as strings or numbers, enum names, bytes as base64, kvlist with a __proto__ key', () => {
  const out = decodeOtlpJson(
    JSON.stringify({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  traceId: TRACE_A.toUpperCase(),
                  spanId: '00f067aa0ba902b7',
                  name: 'chat',
                  kind: 'SPAN_KIND_CLIENT',
                  startTimeUnixNano: 1700000000000000000,
                  endTimeUnixNano: '1700000000000000001',
                  unknownField: { ignored: true },
                  status: { code: 'STATUS_CODE_ERROR', message: 'boom' },
                  attributes: [
                    { key: 'big', value: { intValue: '9007199254740993' } },
                    { key: 'small', value: { intValue: 42 } },
                    { key: 'd', value: { doubleValue: 'NaN' } },
                    { key: 'b', value: { bytesValue: 'AQID' } },
                    { key: 'kv', value: { kvlistValue: { values: [{ key: '__proto__', value: { stringValue: 'x' } }] } } },
                    { key: 'arr', value: { arrayValue: { values: [{ boolValue: true }, {}] } } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    }),
  );
  assert.equal(out.rejected.length, 0);
  const span = out.spans[0]!;
  assert.equal(span.traceId, TRACE_A);
  assert.equal(span.kind, 3);
  assert.deepEqual(span.status, { code: 2, message: 'boom' });
  assert.equal(span.endTimeUnixNano, 1700000000000000001n);
  assert.equal(span.attributes['big'], 9007199254740993n);
  assert.equal(span.attributes['small'], 42);
  assert.ok(Number.isNaN(span.attributes['d']));
  assert.deepEqual(span.attributes['b'], new Uint8Array([1, 2, 3]));
  const kv = span.attributes['kv'] as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(kv), null);
  assert.equal(kv['__proto__'], 'x');
  assert.deepEqual(span.attributes['arr'], [true, null]);
});

test('decoder: a value nested too deep or a timestamp past int64 rejects the span, not the request', () => {
  let deep: Record<string, unknown> = { stringValue: 'leaf' };
  for (let i = 0; i < 40; i++) deep = { arrayValue: { values: [deep] } };
  const span = (extra: Record<string, unknown>) => ({ traceId: TRACE_A, spanId: '00f067aa0ba902b7', name: 'n', attributes: [], ...extra });
  const out = decodeOtlpJson(
    JSON.stringify({
      resourceSpans: [{ scopeSpans: [{ spans: [span({ attributes: [{ key: 'deep', value: deep }] }), span({ startTimeUnixNano: '18446744073709551615' }), span({})] }] }],
    }),
  );
  assert.equal(out.spans.length, 1);
  assert.deepEqual(
    out.rejected.map((r) => r.reason),
    ['an attribute value is nested deeper than 16 levels', 'startTimeUnixNano is later than the year 2262'],
  );
});

test('decoder: protobuf with unknown fields decodes; garbage does not', () => {
  const good = toProtobuf(exportRequest([llmSpan(TRACE_A, '00f067aa0ba902b7')]));
  // Field 99 (varint) appended at the top level: unknown, skipped.
  const withUnknown = Buffer.concat([good, Buffer.from([0x98, 0x06, 0x01])]);
  assert.equal(decodeOtlpProtobuf(withUnknown).spans.length, 1);
  assert.throws(() => decodeOtlpProtobuf(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f])), (err: unknown) => err instanceof TracefenceError && err.code === 'OTLP_REQUEST_INVALID');
});
