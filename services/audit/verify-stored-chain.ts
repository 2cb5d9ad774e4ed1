/** Reads one chain's objects and checkpoints from its bucket and checks them (ChainVerifier). */
import { ChainVerifier, type VerifyReport } from './audit-chain.js';
import { AUDIT_META, checkpointsPrefix, decodeAuditObject, decodeCheckpoint, eventsPrefix, seqOfEventsKey, sha256Hex } from './audit-layout.js';
import type { BucketAccess } from './bucket-access.js';

export interface VerifyProgress {
  (done: number, total: number): void;
}

export async function verifyStoredChain(access: BucketAccess, chain: string, progress?: VerifyProgress): Promise<VerifyReport> {
  const verifier = new ChainVerifier(chain);
  const keys: string[] = [];
  for await (const o of access.list(eventsPrefix(chain))) keys.push(o.key);
  const cpKeys: string[] = [];
  for await (const o of access.list(checkpointsPrefix(chain))) cpKeys.push(o.key);
  const total = keys.length + cpKeys.length;
  let done = 0;
  for (const key of keys) {
    const got = await access.get(key);
    done += 1;
    progress?.(done, total);
    if (got === undefined) continue; // deleted between list and read: the walk reports the gap
    let entries;
    try {
      entries = decodeAuditObject(got.body);
    } catch (err) {
      entries = err instanceof Error ? err.message : String(err);
    }
    verifier.addObject({ key, keySeq: seqOfEventsKey(key), recordedSha256: got.metadata[AUDIT_META.sha256], actualSha256: sha256Hex(got.body), entries });
  }
  for (const key of cpKeys) {
    const got = await access.get(key);
    done += 1;
    progress?.(done, total);
    if (got === undefined) continue;
    let cp;
    try {
      cp = decodeCheckpoint(got.body);
    } catch (err) {
      cp = err instanceof Error ? err.message : String(err);
    }
    verifier.addCheckpoint(key, cp);
  }
  return verifier.finish();
}
