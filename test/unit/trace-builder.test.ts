import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCodec } from '../../services/shared/avro/index.js';
import { TracefenceError } from '../../services/shared/errors.js';
import {
  createSystemClock,
  startTrace,
  toMessagePart,
  TRACE_SCHEMA_VERSION,
  type Clock,
} from '../../services/agent-sdk/trace-builder.js';

function fakeClock(start: bigint, step = 1_000n): Clock {
  let now = start;
  return { nowUnixNano: () => (now += step) };
}

describe('trace builder', () => {
  it('builds the documented example into a record the codec accepts', () => {
    const t = startTrace({ tenant: 'acme', agent: 'bot', dataSubjectRegion: 'eu', labels: { env: 'test' } });
    const s = t.llmStep({ provider: 'openai', model: 'gpt-4o' });
    s.system('Be brief.');
    s.input('user', 'Weather in Paris?');
    s.output('assistant', [{ type: 'reasoning', content: 'Use the tool.' }, { type: 'text', content: 'Checking.' }], { finishReason: 'stop' });
    s.usage({ input: 10, output: 5, reasoning: 2 });
    s.end();
    t.toolStep({ name: 'get_weather', callId: 'call_1', arguments: { city: 'Paris' }, parent: s }).result({ tempC: 21 }).end();
    const record = t.end();

    assert.match(record.recordId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(record.traceId, /^[0-9a-f]{32}$/);
    assert.equal(record.tenant, 'acme');
    assert.equal(record.dataSubjectRegion, 'eu');
    assert.equal(record.residencyHint, null);
    assert.deepEqual(record.labels, { env: 'test' });
    assert.equal(record.steps.length, 2);

    const [llm, tool] = record.steps;
    assert.equal(llm!.kind, 'LLM');
    assert.equal(llm!.name, 'chat gpt-4o');
    assert.equal(llm!.provider, 'openai');
    assert.equal(llm!.requestModel, 'gpt-4o');
    assert.equal(llm!.status.code, 'OK');
    assert.deepEqual(llm!.finishReasons, ['stop']);
    assert.equal(llm!.input[0]!.parts[0]!.content, 'Weather in Paris?');
    assert.deepEqual(llm!.output[0]!.parts.map((p) => p.type), ['reasoning', 'text']);
    assert.equal(llm!.usage!.inputTokens, 10);
    assert.equal(llm!.usage!.reasoningOutputTokens, 2);
    assert.equal(llm!.usage!.cacheReadInputTokens, null);
    assert.equal(llm!.systemInstructions[0]!.content, 'Be brief.');

    assert.equal(tool!.kind, 'TOOL');
    assert.deepEqual(tool!.parentStepIds, [llm!.stepId]);
    assert.equal(tool!.tool!.name, 'get_weather');
    assert.deepEqual(JSON.parse(tool!.tool!.arguments!), { city: 'Paris' });
    assert.deepEqual(JSON.parse(tool!.tool!.result!), { tempC: 21 });

    const codec = createCodec('reasoning-trace');
    const { payload, fingerprint } = codec.encode(record);
    assert.deepEqual(codec.decode(payload, fingerprint), record);
  });

  it('stamps nanosecond times anchored to the wall clock, above 2^53, monotonic', () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const t = startTrace({ tenant: 'a', agent: 'b' });
    const s = t.llmStep().end();
    const record = t.end();
    const after = BigInt(Date.now() + 1) * 1_000_000n;
    const step = record.steps[0]!;
    assert.equal(s.stepId, step.stepId);
    assert.ok(step.startTimeUnixNano > 2n ** 53n);
    assert.ok(step.startTimeUnixNano >= before - 1_000_000n && record.producedAtUnixNano <= after);
    assert.ok(step.endTimeUnixNano >= step.startTimeUnixNano);
    assert.ok(record.producedAtUnixNano >= step.endTimeUnixNano);
    const clock = createSystemClock();
    assert.ok(clock.nowUnixNano() <= clock.nowUnixNano());
  });

  it('ends open steps with UNSET status and keeps failures', () => {
    const t = startTrace({ tenant: 'a', agent: 'b', clock: fakeClock(2n ** 60n) });
    t.agentStep({ agentName: 'planner' });
    t.step({ name: 'retrieve', operation: 'retrieval' }).fail('index offline').end();
    const record = t.end();
    assert.equal(record.steps[0]!.status.code, 'UNSET');
    assert.equal(record.steps[0]!.name, 'invoke_agent planner');
    assert.equal(record.steps[0]!.agentName, 'planner');
    assert.deepEqual(record.steps[1]!.status, { code: 'ERROR', message: 'index offline' });
    assert.equal(record.steps[1]!.kind, 'GENERIC');
    assert.equal(record.steps[0]!.startTimeUnixNano, 2n ** 60n + 1_000n);
  });

  it('keeps unknown part types and extra properties as JSON in data', () => {
    const uri = toMessagePart({ type: 'uri', modality: 'image', uri: 'https://example.com/a.png' });
    assert.deepEqual(JSON.parse(uri.data!), { modality: 'image', uri: 'https://example.com/a.png' });
    const call = toMessagePart({ type: 'tool_call', id: 'c1', name: 'f', arguments: { x: 1n } });
    assert.equal(call.arguments, '{"x":"1"}');
    assert.equal(call.data, null);
    const res = toMessagePart({ type: 'tool_call_response', id: 'c1', result: 'ok' });
    assert.equal(res.response, '"ok"');
  });

  it('stores attributes as JSON text and fills the current schema version', () => {
    const t = startTrace({ tenant: 'a', agent: 'b', attributes: { 'service.name': 'bot' } });
    t.llmStep({ attributes: { temperature: 0.2 } }).attribute('flag', true).end();
    const record = t.end();
    assert.deepEqual(record.attributes, { 'service.name': '"bot"' });
    assert.deepEqual(record.steps[0]!.attributes, { temperature: '0.2', flag: 'true' });
    assert.equal(record.schemaVersion, TRACE_SCHEMA_VERSION);
    assert.equal(TRACE_SCHEMA_VERSION, createCodec('reasoning-trace').version);
  });

  it('refuses misuse', () => {
    assert.throws(() => startTrace({ tenant: '', agent: 'b' }), TracefenceError);
    assert.throws(() => startTrace({ tenant: 'a', agent: 'b', traceId: 'xyz' }), TracefenceError);
    assert.throws(() => startTrace({ tenant: 'a', agent: 'b', traceId: '0'.repeat(32) }), TracefenceError);
    const t = startTrace({ tenant: 'a', agent: 'b' });
    const s = t.llmStep().end();
    assert.throws(() => s.input('user', 'late'), TracefenceError);
    assert.throws(() => t.llmStep().result(1), TracefenceError);
    assert.throws(() => t.llmStep().usage({ input: -1 }), TracefenceError);
    t.end();
    assert.throws(() => t.end(), TracefenceError);
    assert.throws(() => t.llmStep(), TracefenceError);
  });
});
