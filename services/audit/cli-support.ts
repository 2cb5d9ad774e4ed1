/**
 * What the audit commands share: flags, times, the stores named by the environment, and a
 * progress bar on stderr (only when stderr is a terminal).
 */
import { loadPolicy } from '../policy/load-policy.js';
import type { Policy } from '../policy/policy-types.js';
import { EnvReader, type Env } from '../shared/config.js';
import { TracefenceError, ValidationError, type ValidationIssue } from '../shared/errors.js';
import { createBucketAccess, readStorageSettings, resolveAuditTargets, type AuditTarget, type BucketAccess, type StorageSettings } from './bucket-access.js';

export interface ParsedFlags {
  values: Map<string, string>;
  switches: Set<string>;
}

/** --name value, --name=value, and bare --switch for names listed in `switches`. */
export function parseFlags(args: readonly string[], valued: readonly string[], switches: readonly string[]): ParsedFlags {
  const values = new Map<string, string>();
  const on = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (!a.startsWith('--')) throw new TracefenceError('CONFIG_INVALID', `unexpected argument '${a}'`);
    const eq = a.indexOf('=');
    const name = a.slice(2, eq === -1 ? undefined : eq);
    if (switches.includes(name) && eq === -1) {
      on.add(name);
      continue;
    }
    if (!valued.includes(name)) throw new TracefenceError('CONFIG_INVALID', `unknown option '--${name}'`);
    const value = eq === -1 ? args[++i] : a.slice(eq + 1);
    if (value === undefined || value === '') throw new TracefenceError('CONFIG_INVALID', `option '--${name}' needs a value`);
    values.set(name, value);
  }
  return { values, switches: on };
}

/** ISO 8601 (2025-01-31, 2025-01-31T10:00:00Z), epoch milliseconds, 'now', or now minus 15m/2h/7d. */
export function parseTime(text: string, flag: string, nowMs = Date.now()): number {
  if (text === 'now') return nowMs;
  const rel = /^-?(\d+)([smhd])$/.exec(text);
  if (rel !== null) return nowMs - Number(rel[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 's' | 'm' | 'h' | 'd'];
  if (/^\d{12,}$/.test(text)) return Number(text);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new TracefenceError('CONFIG_INVALID', `--${flag} '${text}' is not a time (ISO 8601, epoch ms, 'now' or e.g. 2h)`, { path: flag });
  return ms;
}

export interface AuditStores {
  policy: Policy;
  settings: StorageSettings;
  /** Chain name -> target and its bucket. */
  chains: Map<string, { target: AuditTarget; access: BucketAccess }>;
  /** Region data buckets (for the objects traces landed in). */
  dataBuckets(region: string): Array<{ region: string; bucket: string; backend: 's3' | 'gcs'; access: BucketAccess }>;
  close(): void;
}

/** Policy, storage settings and audit targets from the environment (the same variables as the sinks). */
export async function openAuditStores(env: Env): Promise<AuditStores> {
  const r = new EnvReader(env);
  const policyFile = r.string('TRACEFENCE_POLICY_FILE');
  const settings = readStorageSettings(r);
  const auditBuckets = r.map('TRACEFENCE_AUDIT_BUCKETS');
  const homeRegion = r.optional('TRACEFENCE_AUDIT_HOME_REGION');
  r.done({});
  const policy = await loadPolicy(policyFile);
  const issues: ValidationIssue[] = [];
  const targets = resolveAuditTargets(policy, auditBuckets, homeRegion, (path, message) => issues.push({ path, message }));
  if (issues.length > 0) throw new ValidationError('CONFIG_INVALID', 'environment', issues);
  const cache = new Map<string, BucketAccess>();
  const accessFor = (regionName: string, bucketName: string): BucketAccess => {
    const id = `${regionName}/${bucketName}`;
    let a = cache.get(id);
    if (a === undefined) {
      const region = policy.regions[regionName];
      const bucket = region?.buckets.find((b) => b.name === bucketName);
      if (region === undefined || bucket === undefined) throw new TracefenceError('INTERNAL', `bucket ${bucketName} is not in region ${regionName}`);
      a = createBucketAccess({ settings, region, bucket });
      cache.set(id, a);
    }
    return a;
  };
  const chains = new Map<string, { target: AuditTarget; access: BucketAccess }>();
  for (const [chain, target] of targets) chains.set(chain, { target, access: accessFor(target.region.name, target.bucket.name) });
  return {
    policy,
    settings,
    chains,
    dataBuckets(regionName) {
      const region = policy.regions[regionName];
      if (region === undefined) return [];
      return region.buckets.map((b) => ({ region: regionName, bucket: b.name, backend: b.backend, access: accessFor(regionName, b.name) }));
    },
    close() {
      for (const a of cache.values()) a.close();
    },
  };
}

export interface ProgressBar {
  update(done: number, total: number): void;
  done(): void;
}

/** A one-line progress bar on stderr; silent when stderr is not a terminal (pipes, CI logs). */
export function createProgressBar(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  if (stream.isTTY !== true) return { update: () => undefined, done: () => undefined };
  let lastDraw = 0;
  let drawn = false;
  return {
    update(done, total) {
      const t = Date.now();
      if (t - lastDraw < 100 && done < total) return;
      lastDraw = t;
      drawn = true;
      const width = 30;
      const frac = total <= 0 ? 0 : Math.min(1, done / total);
      const filled = Math.round(frac * width);
      stream.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`);
    },
    done() {
      if (drawn) stream.write('\r\x1b[2K');
    },
  };
}

/** Columns padded to their widest cell. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}
