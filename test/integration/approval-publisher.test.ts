/**
 * The recovery read behind exactly-once delivery, on the real broker: after a committed
 * transaction the record is found from the offsets noted before it; an aborted transaction's
 * record is not (read_committed), so the retry produces it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../services/shared/logger.js';
import { createKafka, ensureTopics } from '../../services/shared/kafka/kafka-client.js';
import { createOutcomePublisher, type OutcomePublisher } from '../../services/approval-service/outcome-publisher.js';
import { kafkaBrokers, uniqueName } from '../helpers/stack.js';

const topic = uniqueName('appr-pub');
const kafka = createKafka({ brokers: kafkaBrokers, clientId: topic });
let publisher: OutcomePublisher;

before(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, numPartitions: 3 }]);
  await admin.disconnect();
  publisher = await createOutcomePublisher({ brokers: kafkaBrokers, transactionalId: uniqueName('appr-pub-tx'), scanIdleMs: 1500 }, createLogger('test', 'silent'));
});

after(async () => {
  await publisher?.close();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
});

const record = (recordId: string) => ({ topic, key: randomUUID().replace(/-/g, ''), value: Buffer.from('masked'), headers: { 'tf-record-id': recordId } });

test('a committed record is found from the offsets noted before its transaction; later intents do not see it', async () => {
  const id = randomUUID();
  const before = await publisher.highWatermarks(topic);
  await publisher.send([record(randomUUID()), record(id)]);
  assert.equal(await publisher.committedSince({ topic, fromOffsets: before, eventIds: [] }, id), true);
  const afterMarks = await publisher.highWatermarks(topic);
  assert.equal(await publisher.committedSince({ topic, fromOffsets: afterMarks, eventIds: [] }, id), false);
  assert.equal(await publisher.committedSince({ topic, fromOffsets: before, eventIds: [] }, randomUUID()), false);
});

test('an aborted transaction leaves nothing to find', async () => {
  const id = randomUUID();
  const before = await publisher.highWatermarks(topic);
  const producer = kafka.producer({ transactionalId: uniqueName('appr-abort'), idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const tx = await producer.transaction();
  await tx.send({ topic, messages: [{ key: 'k', value: Buffer.from('x'), headers: { 'tf-record-id': id } }] });
  await tx.abort();
  await producer.disconnect();
  assert.equal(await publisher.committedSince({ topic, fromOffsets: before, eventIds: [] }, id), false);
});
