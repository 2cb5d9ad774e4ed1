/** Waiting for the pipeline to finish what was produced: consumer groups caught up with topic ends. */
import type { ReadEnds } from './topic-reader.js';
import { committedOffsets, highWatermarks } from './topic-reader.js';

export async function pollUntil(what: string, timeoutMs: number, condition: () => Promise<boolean>, intervalMs = 500): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await condition().catch(() => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Records of a (non-transactional) topic committed by a group. */
export async function committedTotal(groupId: string, topic: string): Promise<number> {
  const c = await committedOffsets(groupId, topic);
  let n = 0n;
  for (const v of c.values()) if (v > 0n) n += v;
  return Number(n);
}

/** True when the group committed up to the high watermark of every partition (plain topics). */
export async function caughtUpWithHighWatermark(groupId: string, topic: string): Promise<boolean> {
  const [high, committed] = await Promise.all([highWatermarks(topic), committedOffsets(groupId, topic)]);
  return [...high].every(([p, h]) => h === 0n || (committed.get(p) ?? -1n) >= h);
}

/** True when the group committed past the last record a read_committed reader saw (transactional topics). */
export async function caughtUpWithRecords(groupId: string, topic: string, ends: ReadEnds): Promise<boolean> {
  const want = ends.get(topic) ?? new Map<number, bigint>();
  if (want.size === 0) return true;
  const committed = await committedOffsets(groupId, topic);
  return [...want].every(([p, next]) => (committed.get(p) ?? -1n) >= next);
}
