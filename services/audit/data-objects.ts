/**
 * Reads the region data buckets the sinks write (JSON Lines objects, see docs/sink-worker.md):
 * which record ids each object holds, and whether the object still matches the record count and
 * sha256 recorded at write time.
 */
import { gunzipSync } from 'node:zlib';
import type { BucketAccess } from './bucket-access.js';
import { sha256Hex } from './audit-layout.js';

export interface DataObjectRef {
  region: string;
  /** backend://bucket */
  bucket: string;
  key: string;
}

export interface DataObjectProblem extends DataObjectRef {
  problem: string;
}

export interface DataScan {
  /** record id -> every object that holds it. */
  locations: Map<string, DataObjectRef[]>;
  objects: number;
  records: number;
  problems: DataObjectProblem[];
  /** backend://bucket of every bucket that was listed. */
  buckets: Set<string>;
  /** backend://bucket/key of every object found and fetched. */
  present: Set<string>;
  /** Of those, the ones whose record ids were read (gzip JSON Lines that decoded). */
  idsRead: Set<string>;
}

const DATA_KEY = /(?:^|\/)tenant=([A-Za-z0-9._-]+)\/date=(\d{4}-\d{2}-\d{2})\/[^/]+\/\d+\/\d{20}\.(jsonl\.gz|avro)$/;

export interface DataBucket {
  region: string;
  access: BucketAccess;
}

export interface ScanOptions {
  /** Only objects of this tenant. */
  tenant?: string;
  /** Inclusive yyyy-mm-dd range of the key's date. */
  fromDate?: string;
  toDate?: string;
  /** Key prefix the sinks use (TRACEFENCE_SINK_KEY_PREFIX). */
  keyPrefix?: string;
  /** Called with the number of objects to read, then after each. */
  progress?: (done: number, total: number) => void;
  /**
   * backend://bucket -> keys to read as well, whatever their tenant or date (the objects STORED
   * events name). A key that does not exist is simply not in `present`.
   */
  alsoKeys?: ReadonlyMap<string, Iterable<string>>;
}

function recordIds(body: Buffer): string[] {
  return gunzipSync(body)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const line = JSON.parse(l) as { headers?: Record<string, unknown> };
      const id = line.headers?.['tf-record-id'];
      return typeof id === 'string' ? id : '';
    });
}

export async function scanDataObjects(buckets: readonly DataBucket[], o: ScanOptions = {}): Promise<DataScan> {
  const prefix = o.keyPrefix === undefined || o.keyPrefix === '' ? '' : o.keyPrefix.endsWith('/') ? o.keyPrefix : `${o.keyPrefix}/`;
  const work: Array<{ b: DataBucket; key: string }> = [];
  const scan: DataScan = { locations: new Map(), objects: 0, records: 0, problems: [], buckets: new Set(), present: new Set(), idsRead: new Set() };
  for (const b of buckets) {
    const name = `${b.access.backend}://${b.access.bucket}`;
    scan.buckets.add(name);
    const listed = new Set<string>();
    for await (const obj of b.access.list(o.tenant === undefined ? prefix : `${prefix}tenant=${o.tenant}/`)) {
      const m = DATA_KEY.exec(obj.key);
      if (m === null || obj.key.startsWith('audit/')) continue;
      const date = m[2] ?? '';
      if ((o.fromDate !== undefined && date < o.fromDate) || (o.toDate !== undefined && date > o.toDate)) continue;
      work.push({ b, key: obj.key });
      listed.add(obj.key);
    }
    for (const key of o.alsoKeys?.get(name) ?? []) {
      if (listed.has(key) || !DATA_KEY.test(key)) continue;
      work.push({ b, key });
      listed.add(key);
    }
  }
  o.progress?.(0, work.length);
  for (const [i, { b, key }] of work.entries()) {
    const ref: DataObjectRef = { region: b.region, bucket: `${b.access.backend}://${b.access.bucket}`, key };
    const got = await b.access.get(key);
    o.progress?.(i + 1, work.length);
    if (got === undefined) continue;
    scan.objects += 1;
    scan.present.add(`${ref.bucket}/${key}`);
    if (key.endsWith('.avro')) {
      scan.problems.push({ ...ref, problem: 'Avro data objects are not read by this command (record ids unknown)' });
      continue;
    }
    let ids: string[];
    try {
      ids = recordIds(got.body);
    } catch {
      scan.problems.push({ ...ref, problem: 'object cannot be read as gzip JSON Lines' });
      continue;
    }
    scan.idsRead.add(`${ref.bucket}/${key}`);
    const recorded = got.metadata['tf-record-count'];
    if (recorded !== undefined && Number(recorded) !== ids.length) {
      scan.problems.push({ ...ref, problem: `holds ${ids.length} records; ${recorded} were written` });
    }
    const sha = got.metadata['tf-sha256'];
    if (sha !== undefined && sha !== sha256Hex(got.body)) scan.problems.push({ ...ref, problem: 'body sha256 differs from the one recorded at write time' });
    for (const id of ids) {
      if (id === '') continue;
      scan.records += 1;
      const list = scan.locations.get(id) ?? [];
      list.push(ref);
      scan.locations.set(id, list);
    }
  }
  return scan;
}

/** yyyy-mm-dd of a time, shifted by whole days. */
export function utcDay(ms: number, shiftDays = 0): string {
  return new Date(ms + shiftDays * 86_400_000).toISOString().slice(0, 10);
}
