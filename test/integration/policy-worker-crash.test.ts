/**
 * Invariant 4 under a crash: the worker is killed with SIGKILL while it works through a stream
 * of records, restarted with the same instance id (its transactional id fences the dead one's
 * open transaction), and a read_committed reader then finds every record exactly once across
 * the region, held and dead-letter topics, and exactly one audit event per record.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrace } from '../../services/agent-sdk/trace-builder.js';
import { createCodec } from '../../services/shared/avro/index.js';
import { HEADERS } from '../../services/shared/record-headers.js';
import {
  agentToken,
  closeHarness,
  committedCount,
  createTopology,
  decode,
  demoAgent,
  harnessKafka,
  produceRaw,
  readTopics,
  startWorker,
  waitFor,
  waitForCaughtUp,
  type RawRecord,
  type TestTopology,
  type WorkerProcess,
} from '../helpers/policy-worker-harness.js';

const TOTAL = 2000;
const BATCH = 100;
const codec = createCodec('reasoning-trace');

let topology: TestTopology | undefined;
const workers: WorkerProcess[] = [];

after(async () => {
  for (const w of workers) await w.kill('SIGKILL');
  await topology?.destroy();
  await closeHarness();
});

async function makeRecords(): Promise<RawRecord[]> {
  const tokens = { acme: await agentToken('acme'), globex: await agentToken('globex'), initech: await agentToken('initech') };
  const tenants = ['acme', 'globex', 'initech'] as const;
  const filler = 'The agent compares three suppliers, weighs delivery times and writes a short summary. '.repeat(16);
  const records: RawRecord[] = [];
  for (let i = 0; i < TOTAL; i++) {
    const tenant = tenants[i % 3] ?? 'acme';
    const agent = demoAgent(tenant);
    // Every 10th record names another tenant in its payload: dead-lettered (IDENTITY_MISMATCH).
    const t = startTrace({ tenant: i % 10 === 7 ? 'someone-else' : agent.tenant, agent: agent.agent });
    t.llmStep({ provider: 'openai', model: 'gpt-4o' }).input('user', `Request ${i}: ${filler}`).output('assistant', `Answer ${i}, reach me at user${i}@example.com`).end();
    const trace = t.end();
    const { payload, fingerprint } = codec.encode(trace);
    // Every 25th record carries no token: dead-lettered before decoding (no record id downstream).
    const token = i % 25 === 3 ? undefined : tokens[tenant];
    records.push({ key: trace.recordId, value: payload, headers: { [HEADERS.schema]: fingerprint, ...(token === undefined ? {} : { [HEADERS.accessToken]: token }) } });
  }
  return records;
}

test('kill -9 mid-stream and restart: every record exactly once downstream, one audit event each', { timeout: 120_000 }, async (t) => {
  topology = await createTopology({ partitions: 3 });
  const topo = topology;
  const env = { TRACEFENCE_MAX_RECORDS_PER_TRANSACTION: '50' };
  const records = await makeRecords();

  const first = await startWorker({ topology: topo, env });
  workers.push(first);
  // Produce in the background so the worker is busy when it is killed.
  let produced = 0;
  const producing = (async () => {
    for (let i = 0; i < records.length; i += BATCH) {
      await produceRaw(topo.topics.ingest, records.slice(i, i + BATCH));
      produced += BATCH;
      await new Promise((r) => setTimeout(r, 40));
    }
  })();

  await waitFor(async () => (await committedCount(topo)) >= 300n, { timeoutMs: 60_000, what: 'some records committed downstream', intervalMs: 20 });
  await first.kill('SIGKILL');
  const doneAtKill = await committedCount(topo);
  assert.ok(doneAtKill < BigInt(TOTAL), `the worker was killed mid-stream (${doneAtKill} of ${TOTAL} committed, ${produced} produced)`);

  await producing;
  const second = await startWorker({ topology: topo, env });
  workers.push(second);
  await waitForCaughtUp(topo, 90_000);

  const read = await readTopics([topo.topics.ingest, ...topo.decisionTopics(), topo.topics.audit], { timeoutMs: 60_000 });
  const ingest = read.get(topo.topics.ingest) ?? [];
  assert.equal(ingest.length, TOTAL);
  const idByOffset = new Map<string, string>(ingest.map((r) => [`${r.partition}/${r.offset}`, r.key ?? '']));
  const idOf = (sourceTopic: string, partition: number, offset: string | number): string | undefined =>
    sourceTopic === topo.topics.ingest ? idByOffset.get(`${partition}/${offset}`) : undefined;

  const seen = new Map<string, number>();
  for (const topic of topo.decisionTopics()) {
    for (const r of read.get(topic) ?? []) {
      let id = r.headers[HEADERS.recordId];
      if (topic === topo.topics.deadLetter) {
        const dl = decode('dead-letter', r);
        id = dl.recordId ?? idOf(dl.sourceTopic, dl.sourcePartition, dl.sourceOffset);
      }
      assert.ok(id !== undefined, `${topic}/${r.partition}/${r.offset} names no record`);
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
  }
  const expected = records.map((r) => r.key ?? '');
  const missing = expected.filter((id) => !seen.has(id));
  const duplicated = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  const foreign = [...seen.keys()].filter((id) => !expected.includes(id));
  assert.deepEqual({ missing: missing.length, duplicated: duplicated.length, foreign: foreign.length }, { missing: 0, duplicated: 0, foreign: 0 });

  const audited = new Map<string, number>();
  for (const r of read.get(topo.topics.audit) ?? []) {
    const event = decode('audit-event', r);
    const ref = /^(.+)\/(\d+)\/(\d+)$/.exec(event.recordId);
    const id = ref === null ? event.recordId : idOf(ref[1] ?? '', Number(ref[2]), ref[3] ?? '');
    assert.ok(id !== undefined, `audit event for an unknown record ${event.recordId}`);
    audited.set(id, (audited.get(id) ?? 0) + 1);
  }
  assert.equal(audited.size, TOTAL, 'every record is audited');
  assert.deepEqual([...audited.values()].filter((n) => n !== 1), [], 'exactly one audit event per record');

  // Diagnostic: log offsets (records, aborted records and transaction markers) against visible records.
  const logOffsets = await countOffsets(topo);
  const visible = [...topo.decisionTopics(), topo.topics.audit].reduce((n, topic) => n + (read.get(topic)?.length ?? 0), 0);
  t.diagnostic(`killed at ${doneAtKill}/${TOTAL} committed; output logs hold ${logOffsets} offsets for ${visible} visible records`);
});

/** Offsets used in the output topics (records, aborted records, markers), for the diagnostic only. */
async function countOffsets(topo: TestTopology): Promise<number> {
  const admin = harnessKafka().admin();
  await admin.connect();
  try {
    let n = 0;
    for (const topic of [...topo.decisionTopics(), topo.topics.audit]) {
      for (const p of await admin.fetchTopicOffsets(topic)) n += Number(p.high) - Number(p.low);
    }
    return n;
  } finally {
    await admin.disconnect();
  }
}
