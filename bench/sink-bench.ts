/**
 * Region sink throughput on the local stack: pre-fills a fresh region topic with 2 KB records,
 * then times one sink draining it into a fresh bucket.
 *   npm run bench:sink -- [--records 50000] [--bytes 2048] [--partitions 6] [--backend s3|gcs] [--format jsonl-gz|avro]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createLogger } from '../services/shared/logger.js';
import { buildSinkApp } from '../services/sink-worker/sink-app.js';
import {
  createGcsBucket,
  createS3Bucket,
  createTopics,
  deleteGcsBucket,
  deleteS3Bucket,
  deleteTopics,
  gcsEuEndpoint,
  metricValue,
  sinkConfig,
  testKafka,
  uniqueName,
  writeTestPolicy,
} from '../test/helpers/sink-stack.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '50000' },
    bytes: { type: 'string', default: '2048' },
    partitions: { type: 'string', default: '6' },
    backend: { type: 'string', default: 's3' },
    format: { type: 'string', default: 'jsonl-gz' },
  },
});
const total = Number(values.records);
const recordBytes = Number(values.bytes);
const partitions = Number(values.partitions);
const backend = values.backend === 'gcs' ? 'gcs' : 's3';

const kafka = testKafka();
const topic = uniqueName('bench-region-eu');
const auditTopic = uniqueName('bench-audit');
const bucket = uniqueName('tf-bench-eu');
const policy = writeTestPolicy([{ name: 'eu', topic, s3: ['eu-central-1'], gcs: ['EUROPE-WEST3'], buckets: [{ name: bucket, backend }] }]);

async function fill(): Promise<void> {
  const producer = kafka.producer({ idempotent: true, transactionalId: uniqueName('bench-tx'), maxInFlightRequests: 1 });
  await producer.connect();
  // Random text compresses like real traces more than a constant would (gzip sees no repeats in its window).
  const pool = Array.from({ length: 64 }, () => Buffer.from(randomBytes(Math.ceil((recordBytes * 3) / 4)).toString('base64').slice(0, recordBytes)));
  const chunk = 500;
  try {
    for (let i = 0; i < total; i += chunk) {
      const tx = await producer.transaction();
      const n = Math.min(chunk, total - i);
      await tx.send({
        topic,
        messages: Array.from({ length: n }, (_, j) => ({ partition: (i + j) % partitions, value: pool[(i + j) % pool.length]!, headers: { 'tf-tenant': 'acme' } })),
      });
      await tx.commit();
    }
  } finally {
    await producer.disconnect();
  }
}

async function main(): Promise<void> {
  await createTopics(kafka, [
    { topic, partitions },
    { topic: auditTopic, partitions: 1 },
  ]);
  if (backend === 's3') await createS3Bucket(bucket, 'eu-central-1');
  else await createGcsBucket(bucket, gcsEuEndpoint);
  const fillStart = Date.now();
  await fill();
  console.log(`filled ${total} records of ${recordBytes} B into ${partitions} partitions in ${((Date.now() - fillStart) / 1000).toFixed(1)} s`);

  const config = sinkConfig({
    TRACEFENCE_POLICY_FILE: policy.file,
    TRACEFENCE_TOPIC_AUDIT: auditTopic,
    TRACEFENCE_SINK_REGION: 'eu',
    TRACEFENCE_SINK_GROUP_ID: uniqueName('tracefence-sink-bench'),
    TRACEFENCE_SINK_FORMAT: values.format ?? 'jsonl-gz',
    TRACEFENCE_SINK_CONCURRENCY: String(partitions),
    TRACEFENCE_SINK_MAX_BATCH_AGE_MS: '2000',
    TRACEFENCE_SINK_SESSION_TIMEOUT_MS: '30000',
    TRACEFENCE_SINK_RETRY_BUDGET_MS: '20000',
  });
  const app = await buildSinkApp(config, createLogger('sink-bench', 'warn'));
  (globalThis as { gc?: () => void }).gc?.();
  const baselineRss = process.memoryUsage().rss;
  let peakRss = baselineRss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const started = process.hrtime.bigint();
  await app.start();
  let records = 0;
  let objects = 0;
  let bytes = 0;
  let firstObjectAt: bigint | undefined;
  for (;;) {
    const text = await app.registry.metrics();
    records = metricValue(text, 'tracefence_sink_records_total', { bucket }) ?? 0;
    objects = metricValue(text, 'tracefence_sink_objects_total', { bucket }) ?? 0;
    bytes = metricValue(text, 'tracefence_sink_bytes_total', { bucket }) ?? 0;
    if (records > 0) firstObjectAt ??= process.hrtime.bigint();
    if (records >= total) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const ended = process.hrtime.bigint();
  const seconds = Number(ended - started) / 1e9;
  const drainSeconds = Number(ended - (firstObjectAt ?? started)) / 1e9;
  clearInterval(sampler);
  await app.close();
  const mb = (total * recordBytes) / (1024 * 1024);
  console.log(
    JSON.stringify(
      {
        backend,
        format: values.format,
        records: total,
        recordBytes,
        partitions,
        seconds: Number(seconds.toFixed(2)),
        recordsPerSecond: Math.round(total / seconds),
        payloadMBPerSecond: Number((mb / seconds).toFixed(1)),
        objects,
        objectsPerSecond: Number((objects / seconds).toFixed(1)),
        storedMB: Number((bytes / (1024 * 1024)).toFixed(2)),
        drainSecondsFromFirstObject: Number(drainSeconds.toFixed(2)),
        baselineRssMB: Math.round(baselineRss / (1024 * 1024)),
        peakRssMB: Math.round(peakRss / (1024 * 1024)),
        note: 'seconds: from sink start (guard check and group join included) until every record is in an object; RSS of the whole bench process',
      },
      null,
      2,
    ),
  );
}

try {
  await main();
} finally {
  await Promise.allSettled([
    backend === 's3' ? deleteS3Bucket(bucket) : deleteGcsBucket(bucket, gcsEuEndpoint),
    deleteTopics(kafka, [topic, auditTopic]),
  ]);
  policy.cleanup();
}
