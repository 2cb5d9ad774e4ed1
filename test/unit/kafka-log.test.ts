/**
 * kafkajs logs go into the service's structured log: routine, retried broker answers at debug,
 * other errors at error, and never more than kafkajs' own scalar fields.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { logLevel } from 'kafkajs';
import { kafkaLogCreator } from '../../services/shared/kafka/kafka-client.js';
import { createLogger } from '../../services/shared/logger.js';

function capture(): { lines: Array<Record<string, unknown>>; log: ReturnType<ReturnType<typeof kafkaLogCreator>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, log: kafkaLogCreator(createLogger('test', 'debug', sink))() };
}

test('a concurrent-transaction answer, retried by kafkajs, is logged at debug', () => {
  const { lines, log } = capture();
  const concurrent = 'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing';
  log({ namespace: 'Producer', level: logLevel.ERROR, label: 'ERROR', log: { timestamp: '', message: `Failed to send messages: ${concurrent}` } });
  log({ namespace: 'Connection', level: logLevel.ERROR, label: 'ERROR', log: { timestamp: '', message: 'Response AddPartitionsToTxn(key: 24, version: 1)', error: concurrent, broker: '127.0.0.1:19092' } });
  assert.deepEqual(lines.map((l) => l['level']), ['debug', 'debug']);
  assert.equal(lines[1]!['broker'], '127.0.0.1:19092');
});

test('other kafkajs errors stay errors; warnings stay warnings; payload fields are not copied', () => {
  const { lines, log } = capture();
  log({ namespace: 'Consumer', level: logLevel.ERROR, label: 'ERROR', log: { timestamp: '', message: 'Crash: KafkaJSNumberOfRetriesExceeded', error: 'Connection error', value: 'secret payload' } as never });
  log({ namespace: 'Consumer', level: logLevel.WARN, label: 'WARN', log: { timestamp: '', message: 'rebalancing' } });
  assert.deepEqual(lines.map((l) => l['level']), ['error', 'warn']);
  assert.ok(!JSON.stringify(lines).includes('secret payload'));
});
