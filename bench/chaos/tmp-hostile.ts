import { describeHostileRun, runHostile } from './hostile-run.js';
const r = await runHostile({ goodRecords: 200, cycles: 1, seed: 7, measureBaseline: true, baseDir: '/tmp/chaos-scratch', log: (m) => console.log(m), keep: false });
for (const l of describeHostileRun(r)) console.log(l);
process.exit(0);
