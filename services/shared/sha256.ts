/**
 * SHA-256 for the hot paths (content hashes, token cache keys, checksums). The one-shot
 * `crypto.hash` (Node >= 20.12) skips the Hash object and is several times cheaper for inputs of
 * a few KB and less; older Node versions fall back to createHash.
 */
import { createHash, hash } from 'node:crypto';

const oneShot = typeof hash === 'function';

export function sha256Hex(data: string | Uint8Array): string {
  return oneShot ? hash('sha256', data, 'hex') : createHash('sha256').update(data).digest('hex');
}

export function sha256Bytes(data: Uint8Array): Buffer {
  return oneShot ? hash('sha256', data, 'buffer') : createHash('sha256').update(data).digest();
}
