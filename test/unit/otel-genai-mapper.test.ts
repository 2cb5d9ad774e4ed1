import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCodec } from '../../services/shared/avro/index.js';
import { TracefenceError } from '../../services/shared/errors.js';
import { mapOtelSpan, mapOtelSpans } from '../../services/agent-sdk/otel-genai-mapper.js';
import type { OtelSpan } from '../../services/agent-sdk/otel-types.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const T0 = 1_732_500_000_123_456_789n; // above 2^53

function span(over: Partial<OtelSpan> & Pick<OtelSpan, 'attributes'>): OtelSpan {
  return {
    traceId: TRACE,
    spanId: '00f067aa0ba902b7',
    name: 'chat gpt-4o',
    startTimeUnixNano: T0,
    endTimeUnixNano: T0 + 1_000_001n,
    ...over,
  };
}

const ctx = { tenant: 'acme', agent: 'support-bot', producedAtUnixNano: T0 + 10n, newRecordId: () => 'rec-1' };

describe('OTel GenAI mapper: current conventions', () => {
  const inference = span({
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.response.id': 'chatcmpl-1',
      'gen_ai.response.finish_reasons': ['tool_calls'],
      'gen_ai.usage.input_tokens': 100,
      'gen_ai.usage.output_tokens': 20n,
      'gen_ai.usage.cache_read.input_tokens': 60,
      'gen_ai.usage.cache_creation.input_tokens': 5,
      'gen_ai.usage.reasoning.output_tokens': 12,
      'gen_ai.conversation.id': 'conv-1',
      'gen_ai.system_instructions': JSON.stringify([{ type: 'text', content: 'Be brief.' }]),
      'gen_ai.input.messages': JSON.stringify([
        { role: 'user', parts: [{ type: 'text', content: 'Weather in Paris?' }] },
        { role: 'tool', parts: [{ type: 'tool_call_response', id: 'c0', result: { ok: true } }] },
      ]),
      'gen_ai.output.messages': [
        {
          role: 'assistant',
          finish_reason: 'tool_calls',
          parts: [
            { type: 'reasoning', content: 'Need weather.' },
            { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: { city: 'Paris' } },
            { type: 'uri', modality: 'image', uri: 'https://example.com/a.png' },
          ],
        },
      ],
      'gen_ai.request.temperature': 0.2,
      'custom.flag': true,
    },
    status: { code: 1 },
    resource: { 'service.name': 'bot' },
  });
  const tool = span({
    spanId: 'b7ad6b7169203331',
    parentSpanId: '00f067aa0ba902b7',
    name: 'execute_tool get_weather',
    startTimeUnixNano: T0 + 2_000_000n,
    endTimeUnixNano: T0 + 3_000_000n,
    attributes: {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'get_weather',
      'gen_ai.tool.call.id': 'call_1',
      'gen_ai.tool.type': 'function',
      'gen_ai.tool.call.arguments': '{"city":"Paris"}',
      'gen_ai.tool.call.result': { tempC: 21 },
    },
    status: { code: 2, message: 'slow' },
  });
  const agent = span({
    spanId: 'aaaaaaaaaaaaaaaa',
    name: 'invoke_agent planner',
    startTimeUnixNano: T0 - 1n,
    attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.id': 'ag-1', 'gen_ai.agent.name': 'planner', 'gen_ai.agent.version': '3' },
  });

  it('maps inference, tool and agent spans of one trace into one record', () => {
    const [trace, ...more] = mapOtelSpans([inference, tool, agent], ctx);
    assert.equal(more.length, 0);
    assert.equal(trace!.traceId, TRACE);
    assert.equal(trace!.tenant, 'acme');
    assert.equal(trace!.recordId, 'rec-1');
    assert.deepEqual(trace!.attributes, { 'service.name': '"bot"' });
    assert.deepEqual(trace!.steps.map((s) => s.kind), ['AGENT', 'LLM', 'TOOL'], 'ordered by start time');

    const [a, llm, t] = trace!.steps;
    assert.equal(a!.agentId, 'ag-1');
    assert.equal(a!.agentName, 'planner');
    assert.equal(a!.attributes['gen_ai.agent.version'], '"3"');

    assert.equal(llm!.provider, 'openai');
    assert.equal(llm!.requestModel, 'gpt-4o');
    assert.equal(llm!.responseModel, 'gpt-4o-2024-08-06');
    assert.equal(llm!.responseId, 'chatcmpl-1');
    assert.deepEqual(llm!.finishReasons, ['tool_calls']);
    assert.equal(llm!.conversationId, 'conv-1');
    assert.deepEqual(llm!.usage, { inputTokens: 100, outputTokens: 20, cacheReadInputTokens: 60, cacheCreationInputTokens: 5, reasoningOutputTokens: 12, totalTokens: null });
    assert.equal(llm!.systemInstructions[0]!.content, 'Be brief.');
    assert.equal(llm!.input[0]!.parts[0]!.content, 'Weather in Paris?');
    assert.equal(llm!.input[1]!.parts[0]!.response, '{"ok":true}');
    const out = llm!.output[0]!;
    assert.equal(out.finishReason, 'tool_calls');
    assert.deepEqual(out.parts.map((p) => p.type), ['reasoning', 'tool_call', 'uri']);
    assert.equal(out.parts[1]!.toolName, 'get_weather');
    assert.equal(out.parts[1]!.arguments, '{"city":"Paris"}');
    assert.deepEqual(JSON.parse(out.parts[2]!.data!), { modality: 'image', uri: 'https://example.com/a.png' });
    assert.equal(llm!.status.code, 'OK');
    assert.deepEqual(llm!.attributes, { 'gen_ai.request.temperature': '0.2', 'custom.flag': 'true' });

    assert.deepEqual(t!.parentStepIds, ['00f067aa0ba902b7']);
    assert.deepEqual(t!.tool, { name: 'get_weather', callId: 'call_1', type: 'function', description: null, arguments: '{"city":"Paris"}', result: '{"tempC":21}' });
    assert.deepEqual(t!.status, { code: 'ERROR', message: 'slow' });
    assert.deepEqual(t!.attributes, {});
  });

  it('keeps nanosecond timestamps above 2^53 through Avro encode/decode', () => {
    const late = span({ attributes: { 'gen_ai.operation.name': 'chat' }, startTimeUnixNano: 2n ** 62n + 7n, endTimeUnixNano: 2n ** 62n + 9n });
    const [trace] = mapOtelSpans([inference, late], ctx);
    const codec = createCodec('reasoning-trace');
    const { payload, fingerprint } = codec.encode(trace!);
    const back = codec.decode(payload, fingerprint);
    assert.deepEqual(back, trace);
    assert.equal(back.steps[0]!.startTimeUnixNano, T0);
    assert.equal(back.steps[1]!.endTimeUnixNano, 2n ** 62n + 9n);
  });

  it('reads messages from the inference details event when the span has none', () => {
    const s = span({
      attributes: { 'gen_ai.operation.name': 'chat' },
      events: [
        {
          name: 'gen_ai.client.inference.operation.details',
          timeUnixNano: T0,
          attributes: { 'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: 'hi' }] }]) },
        },
      ],
    });
    const step = mapOtelSpan(s);
    assert.equal(step.input[0]!.parts[0]!.content, 'hi');
    assert.equal(step.attributes['otel.events'], undefined);
  });

  it('keeps unusable message attributes rather than dropping them', () => {
    const step = mapOtelSpan(span({ attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.input.messages': 'not json' } }));
    assert.deepEqual(step.input, []);
    assert.equal(step.attributes['gen_ai.input.messages'], '"not json"');
  });

  it('groups by trace id, takes tenant and agent only from the caller', () => {
    const other = span({ traceId: 'f'.repeat(32), attributes: { 'tenant': 'evil', 'gen_ai.agent.id': 'spoofed' } });
    const traces = mapOtelSpans([inference, other], ctx);
    assert.equal(traces.length, 2);
    for (const t of traces) {
      assert.equal(t.tenant, 'acme');
      assert.equal(t.agent, 'support-bot');
    }
    assert.equal(traces[1]!.steps[0]!.attributes.tenant, '"evil"');
    assert.throws(() => mapOtelSpans([span({ traceId: 'xyz', attributes: {} })], ctx), (e: unknown) => e instanceof TracefenceError && e.code === 'RECORD_MALFORMED');
    assert.throws(() => mapOtelSpans([inference], { ...ctx, tenant: '' }), TracefenceError);
  });
});

describe('OTel GenAI mapper: deprecated conventions', () => {
  it('maps gen_ai.system, prompt/completion tokens and message events with tool_calls', () => {
    const step = mapOtelSpan(
      span({
        attributes: {
          'gen_ai.system': 'openai',
          'gen_ai.request.model': 'gpt-4',
          'gen_ai.usage.prompt_tokens': 30,
          'gen_ai.usage.completion_tokens': '8',
        },
        events: [
          { name: 'gen_ai.system.message', timeUnixNano: T0, attributes: { content: 'You are a bot.' } },
          { name: 'gen_ai.user.message', timeUnixNano: T0, attributes: { content: 'Weather?' } },
          {
            name: 'gen_ai.assistant.message',
            timeUnixNano: T0,
            attributes: { tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
          },
          { name: 'gen_ai.tool.message', timeUnixNano: T0, attributes: { id: 'call_9', content: '{"tempC":3}' } },
          { name: 'gen_ai.choice', timeUnixNano: T0, attributes: { index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Cold.' } } },
          { name: 'exception', timeUnixNano: T0 + 5n, attributes: { 'exception.message': 'retry' } },
        ],
      }),
    );
    assert.equal(step.kind, 'LLM');
    assert.equal(step.provider, 'openai');
    assert.equal(step.usage!.inputTokens, 30);
    assert.equal(step.usage!.outputTokens, 8);
    assert.deepEqual(step.input.map((m) => m.role), ['system', 'user', 'assistant', 'tool']);
    const call = step.input[2]!.parts[0]!;
    assert.equal(call.type, 'tool_call');
    assert.equal(call.toolCallId, 'call_9');
    assert.equal(call.toolName, 'get_weather');
    assert.equal(call.arguments, '{"city":"Oslo"}');
    assert.equal(step.input[3]!.parts[0]!.response, '{"tempC":3}');
    assert.equal(step.output[0]!.parts[0]!.content, 'Cold.');
    assert.deepEqual(step.finishReasons, ['stop']);
    const kept = JSON.parse(step.attributes['otel.events']!) as { name: string; timeUnixNano: string }[];
    assert.deepEqual(kept.map((e) => e.name), ['exception']);
    assert.equal(kept[0]!.timeUnixNano, String(T0 + 5n));
    assert.deepEqual(Object.keys(step.attributes), ['otel.events']);
  });

  it('prefers the current name and keeps a disagreeing deprecated one', () => {
    const step = mapOtelSpan(span({ attributes: { 'gen_ai.provider.name': 'aws.bedrock', 'gen_ai.system': 'aws.bedrock', 'gen_ai.usage.input_tokens': 5, 'gen_ai.usage.prompt_tokens': 6 } }));
    assert.equal(step.provider, 'aws.bedrock');
    assert.equal(step.attributes['gen_ai.system'], undefined);
    assert.equal(step.usage!.inputTokens, 5);
    assert.equal(step.attributes['gen_ai.usage.prompt_tokens'], '6');
  });
});

describe('OTel GenAI mapper: OpenInference', () => {
  it('maps flattened messages, contents, tool calls, model, provider and token counts', () => {
    const step = mapOtelSpan(
      span({
        attributes: {
          'openinference.span.kind': 'LLM',
          'llm.model_name': 'claude-sonnet',
          'llm.provider': 'anthropic',
          'llm.invocation_parameters': '{"temperature":0}',
          'llm.input_messages.0.message.role': 'system',
          'llm.input_messages.0.message.content': 'Be brief.',
          'llm.input_messages.1.message.role': 'user',
          'llm.input_messages.1.message.contents.0.message_content.type': 'text',
          'llm.input_messages.1.message.contents.0.message_content.text': 'Look at this',
          'llm.input_messages.1.message.contents.1.message_content.type': 'image',
          'llm.input_messages.1.message.contents.1.message_content.image.image.url': 'https://example.com/x.png',
          'llm.input_messages.2.message.role': 'tool',
          'llm.input_messages.2.message.tool_call_id': 'tc0',
          'llm.input_messages.2.message.content': '{"done":true}',
          'llm.output_messages.0.message.role': 'assistant',
          'llm.output_messages.0.message.contents.0.message_content.type': 'reasoning',
          'llm.output_messages.0.message.contents.0.message_content.text': 'Thinking',
          'llm.output_messages.0.message.tool_calls.0.tool_call.id': 'tc1',
          'llm.output_messages.0.message.tool_calls.0.tool_call.function.name': 'search',
          'llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments': '{"q":"x"}',
          'llm.token_count.prompt': 50,
          'llm.token_count.completion': 10,
          'llm.token_count.total': 60,
          'llm.token_count.prompt_details.cache_read': 40,
          'llm.token_count.prompt_details.cache_write': 2,
          'llm.token_count.completion_details.reasoning': 4,
          'session.id': 'sess-1',
          'input.value': '{"raw":"request"}',
        },
      }),
    );
    assert.equal(step.kind, 'LLM');
    assert.equal(step.operation, 'LLM');
    assert.equal(step.requestModel, 'claude-sonnet');
    assert.equal(step.provider, 'anthropic');
    assert.equal(step.conversationId, 'sess-1');
    assert.deepEqual(step.usage, { inputTokens: 50, outputTokens: 10, cacheReadInputTokens: 40, cacheCreationInputTokens: 2, reasoningOutputTokens: 4, totalTokens: 60 });
    assert.deepEqual(step.input.map((m) => m.role), ['system', 'user', 'tool']);
    assert.equal(step.input[0]!.parts[0]!.content, 'Be brief.');
    assert.deepEqual(step.input[1]!.parts.map((p) => p.type), ['text', 'image']);
    assert.deepEqual(JSON.parse(step.input[1]!.parts[1]!.data!), { 'image.image.url': 'https://example.com/x.png' });
    assert.equal(step.input[2]!.parts[0]!.type, 'tool_call_response');
    assert.equal(step.input[2]!.parts[0]!.toolCallId, 'tc0');
    const out = step.output[0]!;
    assert.deepEqual(out.parts.map((p) => [p.type, p.content, p.toolName]), [['reasoning', 'Thinking', null], ['tool_call', null, 'search']]);
    assert.equal(out.parts[1]!.arguments, '{"q":"x"}');
    assert.deepEqual(step.attributes, { 'llm.invocation_parameters': '"{\\"temperature\\":0}"', 'input.value': '"{\\"raw\\":\\"request\\"}"' });
  });

  it('maps TOOL spans with input.value / output.value as arguments and result', () => {
    const step = mapOtelSpan(span({ name: 'search', attributes: { 'openinference.span.kind': 'TOOL', 'tool.name': 'search', 'tool.description': 'Web search', 'input.value': '{"q":"x"}', 'output.value': 'plain text result' } }));
    assert.equal(step.kind, 'TOOL');
    assert.deepEqual(step.tool, { name: 'search', callId: null, type: null, description: 'Web search', arguments: '{"q":"x"}', result: '"plain text result"' });
    assert.deepEqual(step.attributes, {});
  });

  it('maps AGENT and CHAIN kinds', () => {
    assert.equal(mapOtelSpan(span({ attributes: { 'openinference.span.kind': 'AGENT' } })).kind, 'AGENT');
    const chain = mapOtelSpan(span({ attributes: { 'openinference.span.kind': 'CHAIN' } }));
    assert.equal(chain.kind, 'GENERIC');
    assert.equal(chain.operation, 'CHAIN');
  });
});
