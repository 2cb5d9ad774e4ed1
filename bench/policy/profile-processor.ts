/**
 * CPU cost of the real record processor per record, in-process and without Kafka, over the
 * traces of `npm run bench:policy`. Run it under the V8 profiler to see where the time goes:
 *
 *   node --cpu-prof --cpu-prof-dir=.profiles --import tsx bench/policy/profile-processor.ts
 *   npx tsx bench/policy/cpuprofile-summary.ts .profiles/<file>.cpuprofile
 *
 * Environment: PROFILE_RECORDS (default 2000 distinct records), PROFILE_ROUNDS (default 10;
 * the first two are warm-up and not reported).
 */
import { createProcessorFixture } from './processor-fixture.js';

const RECORDS = Number(process.env['PROFILE_RECORDS'] ?? 2000);
const ROUNDS = Number(process.env['PROFILE_ROUNDS'] ?? 10);

const { processor, records } = await createProcessorFixture(RECORDS);
const perRound: number[] = [];
let routed = 0;
for (let round = 0; round < ROUNDS; round++) {
  const cpu = process.cpuUsage();
  for (const r of records) {
    const outcome = await processor.process(r);
    if (outcome.kind === 'routed') routed++;
  }
  const used = process.cpuUsage(cpu);
  if (round >= 2) perRound.push((used.user + used.system) / records.length);
}
if (routed !== RECORDS * ROUNDS) throw new Error(`expected every record routed, got ${routed} of ${RECORDS * ROUNDS}`);
perRound.sort((a, b) => a - b);
const median = perRound[Math.floor(perRound.length / 2)] ?? Number.NaN;
process.stdout.write(`record processor: ${RECORDS} records x ${ROUNDS - 2} rounds; CPU per record median ${median.toFixed(0)} µs (min ${perRound[0]?.toFixed(0)}, max ${perRound.at(-1)?.toFixed(0)})\n`);
