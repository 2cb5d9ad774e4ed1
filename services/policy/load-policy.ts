/**
 * Reads and validates the policy file. One pass reports every problem with the dotted
 * path of the field at fault (ValidationError 'POLICY_INVALID'); the result is deeply
 * frozen. The policy version is the sha256 of the exact file bytes, so any edit,
 * even a comment, yields a new version that is recorded on every decision.
 */
import { patternProblem } from '../classifier/regex-safety.js';
import { sha256Hex } from '../shared/sha256.js';
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { ValidationError, type ValidationIssue } from '../shared/errors.js';
import type {
  AllowedLocations,
  ApprovalPolicy,
  BucketPolicy,
  CustomDetector,
  MaskAction,
  MaskingProfile,
  Policy,
  RegionEncryption,
  RegionPolicy,
  TenantPolicy,
} from './policy-types.js';

export const REGION_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
export const TENANT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const FINDING_TYPE_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;
const PROFILE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const JURISDICTION_PATTERN = /^[A-Za-z][A-Za-z0-9-]{0,15}$/;
// Kafka's legal topic characters and length.
const TOPIC_PATTERN = /^[A-Za-z0-9._-]{1,249}$/;
const S3_BUCKET_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const GCS_BUCKET_PATTERN = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;
const S3_LOCATION_PATTERN = /^[a-z]{2}(?:-[a-z0-9]+)+$/;
const GCS_LOCATION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;
const GCS_KMS_KEY_PATTERN = /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/;
const DETECTOR_FLAGS_PATTERN = /^[ims]*$/;
// Topics the pipeline itself uses; a region topic must never alias one of them.
const RESERVED_TOPICS = new Set(['traces.ingest', 'traces.deadletter', 'traces.audit']);
const MAX_POLICY_BYTES = 4 * 1024 * 1024;

type Obj = Record<string, unknown>;

/** Collects issues; every helper reports and returns undefined on a bad value. */
class Checker {
  readonly issues: ValidationIssue[] = [];

  add(path: string, message: string): void {
    this.issues.push({ path: path === '' ? '(root)' : path, message });
  }

  object(value: unknown, path: string, keys: readonly string[], required: readonly string[] = []): Obj | undefined {
    if (!isPlainObject(value)) {
      this.add(path, `must be a mapping, got ${kindOf(value)}`);
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) this.add(join(path, key), `unknown key (allowed: ${keys.join(', ')})`);
    }
    for (const key of required) {
      if (!Object.hasOwn(value, key) || value[key] === null || value[key] === undefined) this.add(join(path, key), 'is required');
    }
    return value;
  }

  /** A mapping whose keys are names (regions, tenants, ...), each checked against `pattern`. */
  map(value: unknown, path: string, pattern: RegExp, what: string): [string, unknown][] {
    if (!isPlainObject(value)) {
      this.add(path, `must be a mapping of ${what} names, got ${kindOf(value)}`);
      return [];
    }
    const out: [string, unknown][] = [];
    for (const [key, v] of Object.entries(value)) {
      if (!pattern.test(key)) {
        this.add(join(path, key), `${what} name must match ${pattern.source}`);
        continue;
      }
      out.push([key, v]);
    }
    return out;
  }

  string(value: unknown, path: string, pattern?: RegExp): string | undefined {
    if (typeof value !== 'string' || value.length === 0) {
      this.add(path, `must be a non-empty string, got ${kindOf(value)}`);
      return undefined;
    }
    if (pattern !== undefined && !pattern.test(value)) {
      this.add(path, `must match ${pattern.source}`);
      return undefined;
    }
    return value;
  }

  optionalString(value: unknown, path: string, pattern?: RegExp): string | undefined {
    return value === undefined ? undefined : this.string(value, path, pattern);
  }

  boolean(value: unknown, path: string, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') {
      this.add(path, `must be true or false, got ${kindOf(value)}`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T | undefined {
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.add(path, `must be one of ${allowed.join(', ')}, got ${describe(value)}`);
      return undefined;
    }
    return value as T;
  }

  integer(value: unknown, path: string, min: number, max: number): number | undefined {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.add(path, `must be an integer from ${min} to ${max}, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  number(value: unknown, path: string, minExclusive: number, max: number): number | undefined {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= minExclusive || value > max) {
      this.add(path, `must be a number greater than ${minExclusive} and at most ${max}, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  /** A list of unique strings; `minLength` 1 makes an empty list an error. */
  stringList(value: unknown, path: string, pattern: RegExp, minLength: number, caseInsensitive = false): string[] {
    if (!Array.isArray(value)) {
      this.add(path, `must be a list, got ${kindOf(value)}`);
      return [];
    }
    if (value.length < minLength) this.add(path, 'must not be empty');
    const out: string[] = [];
    const seen = new Set<string>();
    value.forEach((item: unknown, i) => {
      const s = this.string(item, `${path}[${i}]`, pattern);
      if (s === undefined) return;
      const key = caseInsensitive ? s.toUpperCase() : s;
      if (seen.has(key)) {
        this.add(`${path}[${i}]`, `duplicate entry ${JSON.stringify(s)}`);
        return;
      }
      seen.add(key);
      out.push(s);
    });
    return out;
  }
}

/** Parses and validates policy text. `source` names the file in error messages and in `policy.source`. */
export function parsePolicy(text: string, source: string): Policy {
  return parsePolicyBytes(Buffer.from(text, 'utf8'), source);
}

/** The policy file's exact bytes (the version hash covers them); POLICY_INVALID when unreadable. */
export async function readPolicyBytes(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new ValidationError('POLICY_INVALID', path, [{ path: '(file)', message: `cannot read: ${(err as Error).message}` }]);
  }
}

/** Reads the policy file; the version hash covers the exact bytes on disk. */
export async function loadPolicy(path: string): Promise<Policy> {
  return parsePolicyBytes(await readPolicyBytes(path), path);
}

/** sha256 hex of the policy bytes: the policy version. */
export function policyVersionOf(bytes: Uint8Array): string {
  return sha256Hex(bytes);
}

/** Parses and validates the policy file's bytes; `source` names the file in error messages. */
export function parsePolicyBytes(bytes: Buffer, source: string): Policy {
  if (bytes.length > MAX_POLICY_BYTES) {
    throw new ValidationError('POLICY_INVALID', source, [{ path: '(file)', message: `larger than ${MAX_POLICY_BYTES} bytes` }]);
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, strict: true, version: '1.2' });
  const yamlIssues: ValidationIssue[] = [...doc.errors, ...doc.warnings].map((e) => ({
    path: e.linePos?.[0] ? `(yaml line ${e.linePos[0].line}, column ${e.linePos[0].col})` : '(yaml)',
    message: (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, ''),
  }));
  if (yamlIssues.length > 0) throw new ValidationError('POLICY_INVALID', source, yamlIssues);

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ValidationError('POLICY_INVALID', source, [{ path: '(yaml)', message: (err as Error).message }]);
  }

  const c = new Checker();
  const built = buildPolicy(c, raw, policyVersionOf(bytes), source);
  if (c.issues.length > 0 || built === undefined) {
    throw new ValidationError('POLICY_INVALID', source, c.issues.length > 0 ? c.issues : [{ path: '(root)', message: 'invalid' }]);
  }
  return deepFreeze(built);
}

function buildPolicy(c: Checker, raw: unknown, version: string, source: string): Policy | undefined {
  const root = c.object(raw, '', ['version', 'regions', 'tenants', 'masking', 'classification', 'approval'], [
    'version',
    'regions',
    'tenants',
    'masking',
  ]);
  if (root === undefined) return undefined;
  if (root['version'] !== undefined && root['version'] !== null && root['version'] !== 1) c.add('version', `unsupported format version ${describe(root['version'])}; expected 1`);

  const regions = buildRegions(c, root['regions']);
  const profiles = buildMasking(c, root['masking']);
  const tenants = buildTenants(c, root['tenants'], regions, profiles);
  const customDetectors = buildClassification(c, root['classification']);
  const approval = buildApproval(c, root['approval']);

  return {
    version,
    formatVersion: 1,
    source,
    regions,
    tenants,
    masking: { profiles },
    classification: { customDetectors },
    approval,
  };
}

function buildRegions(c: Checker, value: unknown): Record<string, RegionPolicy> {
  const out = dict<RegionPolicy>();
  if (value === undefined || value === null) return out;
  const entries = c.map(value, 'regions', REGION_NAME_PATTERN, 'region');
  if (isPlainObject(value) && Object.keys(value).length === 0) c.add('regions', 'must define at least one region');
  const topics = new Map<string, string>();
  const buckets = new Map<string, string>();

  for (const [name, rv] of entries) {
    const p = `regions.${name}`;
    const r = c.object(rv, p, ['jurisdiction', 'topic', 'allowedLocations', 'encryption', 'buckets'], ['jurisdiction', 'allowedLocations', 'buckets']);
    if (r === undefined) continue;
    const jurisdiction = c.string(r['jurisdiction'], `${p}.jurisdiction`, JURISDICTION_PATTERN)?.toUpperCase() ?? '';
    const topic = r['topic'] === undefined ? `traces.region.${name}` : (c.string(r['topic'], `${p}.topic`, TOPIC_PATTERN) ?? '');
    if (topic !== '') {
      if (RESERVED_TOPICS.has(topic)) c.add(`${p}.topic`, `${topic} is a pipeline topic, not a region topic`);
      const other = topics.get(topic);
      if (other !== undefined) c.add(`${p}.topic`, `topic ${topic} is already used by region ${other}`);
      else topics.set(topic, name);
    }
    const allowedLocations = buildLocations(c, r['allowedLocations'], `${p}.allowedLocations`);
    const encryption = buildEncryption(c, r['encryption'], `${p}.encryption`);

    const regionBuckets: BucketPolicy[] = [];
    if (r['buckets'] !== undefined && r['buckets'] !== null) {
      if (!Array.isArray(r['buckets'])) c.add(`${p}.buckets`, `must be a list, got ${kindOf(r['buckets'])}`);
      else {
        if (r['buckets'].length === 0) c.add(`${p}.buckets`, 'must list at least one bucket');
        r['buckets'].forEach((bv: unknown, i) => {
          const bp = `${p}.buckets[${i}]`;
          const b = c.object(bv, bp, ['name', 'backend'], ['name', 'backend']);
          if (b === undefined) return;
          const backend = b['backend'] === undefined ? undefined : c.oneOf(b['backend'], `${bp}.backend`, ['s3', 'gcs'] as const);
          const bucketName =
            b['name'] === undefined ? undefined : c.string(b['name'], `${bp}.name`, backend === 'gcs' ? GCS_BUCKET_PATTERN : S3_BUCKET_PATTERN);
          if (bucketName === undefined || backend === undefined) return;
          // Bucket names are global per backend; the same name twice would let two regions share storage.
          const key = `${backend}:${bucketName}`;
          const other = buckets.get(key);
          if (other !== undefined) c.add(`${bp}.name`, `bucket ${bucketName} is already listed at ${other}`);
          else buckets.set(key, bp);
          if (allowedLocations !== undefined && allowedLocations[backend].length === 0) {
            c.add(`${bp}.backend`, `region has no allowedLocations.${backend}, so a ${backend} bucket could never be verified`);
          }
          regionBuckets.push({ name: bucketName, backend });
        });
      }
    }
    if (allowedLocations === undefined) continue;
    out[name] = { name, jurisdiction, topic, allowedLocations, encryption, buckets: regionBuckets };
  }
  return out;
}

function buildLocations(c: Checker, value: unknown, path: string): AllowedLocations | undefined {
  if (value === undefined || value === null) return undefined;
  const o = c.object(value, path, ['s3', 'gcs']);
  if (o === undefined) return undefined;
  const s3 = o['s3'] === undefined ? [] : c.stringList(o['s3'], `${path}.s3`, S3_LOCATION_PATTERN, 1);
  const gcs = o['gcs'] === undefined ? [] : c.stringList(o['gcs'], `${path}.gcs`, GCS_LOCATION_PATTERN, 1, true).map((l) => l.toUpperCase());
  if (o['s3'] === undefined && o['gcs'] === undefined) c.add(path, 'must list s3 and/or gcs locations');
  return { s3, gcs };
}

function buildEncryption(c: Checker, value: unknown, path: string): RegionEncryption {
  const out: RegionEncryption = { s3: { mode: 'sse-s3', kmsKeyId: undefined, requireBucketDefault: false }, gcs: { kmsKeyName: undefined } };
  if (value === undefined || value === null) return out;
  const o = c.object(value, path, ['s3', 'gcs']);
  if (o === undefined) return out;
  let s3 = out.s3;
  if (o['s3'] !== undefined) {
    const s = c.object(o['s3'], `${path}.s3`, ['mode', 'kmsKeyId', 'requireBucketDefault'], ['mode']);
    if (s !== undefined) {
      const mode = s['mode'] === undefined ? 'sse-s3' : (c.oneOf(s['mode'], `${path}.s3.mode`, ['sse-kms', 'sse-s3', 'none'] as const) ?? 'sse-s3');
      const kmsKeyId = c.optionalString(s['kmsKeyId'], `${path}.s3.kmsKeyId`);
      if (kmsKeyId !== undefined && mode !== 'sse-kms') c.add(`${path}.s3.kmsKeyId`, 'only allowed with mode sse-kms');
      s3 = { mode, kmsKeyId, requireBucketDefault: c.boolean(s['requireBucketDefault'], `${path}.s3.requireBucketDefault`, false) };
    }
  }
  let gcs = out.gcs;
  if (o['gcs'] !== undefined) {
    const g = c.object(o['gcs'], `${path}.gcs`, ['kmsKeyName']);
    if (g !== undefined) gcs = { kmsKeyName: c.optionalString(g['kmsKeyName'], `${path}.gcs.kmsKeyName`, GCS_KMS_KEY_PATTERN) };
  }
  return { s3, gcs };
}

function buildTenants(
  c: Checker,
  value: unknown,
  regions: Record<string, RegionPolicy>,
  profiles: Record<string, MaskingProfile>,
): Record<string, TenantPolicy> {
  const out = dict<TenantPolicy>();
  if (value === undefined || value === null) return out;
  const entries = c.map(value, 'tenants', TENANT_NAME_PATTERN, 'tenant');
  const knownRegion = (r: string, path: string): boolean => {
    if (Object.hasOwn(regions, r)) return true;
    c.add(path, `names unknown region ${JSON.stringify(r)}`);
    return false;
  };

  for (const [name, tv] of entries) {
    const p = join('tenants', name);
    const t = c.object(tv, p, ['homeRegion', 'allowedRegions', 'crossBorder', 'maskingProfile', 'holdOnFindings', 'groupRegions'], ['allowedRegions']);
    if (t === undefined) continue;

    const allowedRegions =
      t['allowedRegions'] === undefined ? [] : c.stringList(t['allowedRegions'], `${p}.allowedRegions`, REGION_NAME_PATTERN, 1);
    allowedRegions.forEach((r, i) => knownRegion(r, `${p}.allowedRegions[${i}]`));

    const homeRegion = c.optionalString(t['homeRegion'], `${p}.homeRegion`, REGION_NAME_PATTERN);
    if (homeRegion !== undefined && knownRegion(homeRegion, `${p}.homeRegion`) && !allowedRegions.includes(homeRegion)) {
      c.add(`${p}.homeRegion`, `${homeRegion} is not in allowedRegions`);
    }

    const crossBorder = t['crossBorder'] === undefined ? 'hold' : (c.oneOf(t['crossBorder'], `${p}.crossBorder`, ['hold', 'refuse'] as const) ?? 'hold');

    const maskingProfile = t['maskingProfile'] === undefined ? 'default' : (c.string(t['maskingProfile'], `${p}.maskingProfile`) ?? '');
    if (maskingProfile !== '' && !Object.hasOwn(profiles, maskingProfile)) {
      c.add(`${p}.maskingProfile`, `names unknown masking profile ${JSON.stringify(maskingProfile)}${t['maskingProfile'] === undefined ? ' (the default)' : ''}`);
    }

    const holdOnFindings = dict<number>();
    if (t['holdOnFindings'] !== undefined) {
      for (const [type, threshold] of c.map(t['holdOnFindings'], `${p}.holdOnFindings`, FINDING_TYPE_PATTERN, 'finding type')) {
        const n = c.integer(threshold, `${p}.holdOnFindings.${type}`, 1, 1_000_000);
        if (n !== undefined) holdOnFindings[type] = n;
      }
    }

    const groupRegions = dict<readonly string[]>();
    if (t['groupRegions'] !== undefined) {
      for (const [group, gv] of c.map(t['groupRegions'], `${p}.groupRegions`, /^[^\s].{0,255}$/, 'group')) {
        const gp = join(`${p}.groupRegions`, group);
        const list = c.stringList(gv, gp, REGION_NAME_PATTERN, 1);
        list.forEach((r, i) => {
          if (knownRegion(r, `${gp}[${i}]`) && !allowedRegions.includes(r)) {
            c.add(`${gp}[${i}]`, `${r} is not in allowedRegions (groups can only narrow them)`);
          }
        });
        groupRegions[group] = list;
      }
    }

    out[name] = { name, homeRegion, allowedRegions, crossBorder, maskingProfile, holdOnFindings, groupRegions };
  }
  return out;
}

function buildMasking(c: Checker, value: unknown): Record<string, MaskingProfile> {
  const out = dict<MaskingProfile>();
  if (value === undefined || value === null) return out;
  const m = c.object(value, 'masking', ['profiles'], ['profiles']);
  if (m === undefined || m['profiles'] === undefined || m['profiles'] === null) return out;
  const entries = c.map(m['profiles'], 'masking.profiles', PROFILE_NAME_PATTERN, 'profile');
  if (isPlainObject(m['profiles']) && entries.length === 0) c.add('masking.profiles', 'must define at least one profile');
  for (const [name, pv] of entries) {
    const p = join('masking.profiles', name);
    const o = c.object(pv, p, ['default', 'byType']);
    if (o === undefined) continue;
    // Fail closed: a type the profile does not mention is redacted unless `default` says otherwise.
    const dflt = o['default'] === undefined ? { op: 'redact' as const } : buildMaskAction(c, o['default'], `${p}.default`);
    const byType = dict<MaskAction>();
    if (o['byType'] !== undefined) {
      for (const [type, av] of c.map(o['byType'], `${p}.byType`, FINDING_TYPE_PATTERN, 'finding type')) {
        const action = buildMaskAction(c, av, `${p}.byType.${type}`);
        if (action !== undefined) byType[type] = action;
      }
    }
    if (dflt === undefined) continue;
    out[name] = { name, default: dflt, byType };
  }
  return out;
}

const MASK_OPS = ['redact', 'pseudonymize', 'partial', 'keep'] as const;

function buildMaskAction(c: Checker, value: unknown, path: string): MaskAction | undefined {
  if (typeof value === 'string') {
    const op = c.oneOf(value, path, MASK_OPS);
    if (op === 'partial') {
      c.add(path, 'partial needs the mapping form { op: partial, keepFirst?, keepLast? }');
      return undefined;
    }
    return op === undefined ? undefined : { op };
  }
  const o = c.object(value, path, ['op', 'keepFirst', 'keepLast'], ['op']);
  if (o === undefined || o['op'] === undefined) return undefined;
  const op = c.oneOf(o['op'], `${path}.op`, MASK_OPS);
  if (op === undefined) return undefined;
  if (op !== 'partial') {
    for (const k of ['keepFirst', 'keepLast']) if (o[k] !== undefined) c.add(`${path}.${k}`, 'only allowed with op partial');
    return { op };
  }
  const keepFirst = o['keepFirst'] === undefined ? 0 : c.integer(o['keepFirst'], `${path}.keepFirst`, 0, 16);
  const keepLast = o['keepLast'] === undefined ? 0 : c.integer(o['keepLast'], `${path}.keepLast`, 0, 16);
  if (keepFirst === undefined || keepLast === undefined) return undefined;
  if (keepFirst + keepLast === 0) {
    c.add(path, 'partial must keep at least one character (keepFirst or keepLast); use redact otherwise');
    return undefined;
  }
  return { op, keepFirst, keepLast };
}

function buildClassification(c: Checker, value: unknown): CustomDetector[] {
  if (value === undefined || value === null) return [];
  const o = c.object(value, 'classification', ['customDetectors']);
  if (o === undefined || o['customDetectors'] === undefined || o['customDetectors'] === null) return [];
  if (!Array.isArray(o['customDetectors'])) {
    c.add('classification.customDetectors', `must be a list, got ${kindOf(o['customDetectors'])}`);
    return [];
  }
  const out: CustomDetector[] = [];
  o['customDetectors'].forEach((dv: unknown, i) => {
    const p = `classification.customDetectors[${i}]`;
    const d = c.object(dv, p, ['type', 'pattern', 'flags', 'description'], ['type', 'pattern']);
    if (d === undefined) return;
    const type = d['type'] === undefined ? undefined : c.string(d['type'], `${p}.type`, FINDING_TYPE_PATTERN);
    const pattern = d['pattern'] === undefined ? undefined : c.string(d['pattern'], `${p}.pattern`);
    const flags = d['flags'] === undefined ? '' : (c.string(d['flags'], `${p}.flags`, DETECTOR_FLAGS_PATTERN) ?? '');
    const description = c.optionalString(d['description'], `${p}.description`);
    if (type === undefined || pattern === undefined) return;
    // The classifier's own check: a pattern it would refuse fails here, at start-up.
    const problem = patternProblem(pattern, flags);
    if (problem !== undefined) {
      c.add(`${p}.pattern`, problem);
      return;
    }
    out.push({ type, pattern, flags, description });
  });
  return out;
}

function buildApproval(c: Checker, value: unknown): ApprovalPolicy {
  const dflt: ApprovalPolicy = { minApprovals: 1, ttlHours: 72 };
  if (value === undefined || value === null) return dflt;
  const o = c.object(value, 'approval', ['minApprovals', 'ttlHours']);
  if (o === undefined) return dflt;
  return {
    minApprovals: o['minApprovals'] === undefined ? 1 : (c.integer(o['minApprovals'], 'approval.minApprovals', 1, 10) ?? 1),
    ttlHours: o['ttlHours'] === undefined ? 72 : (c.number(o['ttlHours'], 'approval.ttlHours', 0, 24 * 365) ?? 72),
  };
}

/** The tenant's policy, or undefined; never an inherited property. */
export function getTenant(policy: Policy, tenant: string): TenantPolicy | undefined {
  return Object.hasOwn(policy.tenants, tenant) ? policy.tenants[tenant] : undefined;
}

/** The region's policy, or undefined; never an inherited property. */
export function getRegion(policy: Policy, region: string): RegionPolicy | undefined {
  return Object.hasOwn(policy.regions, region) ? policy.regions[region] : undefined;
}

/** The masking profile, or undefined; never an inherited property. */
export function getMaskingProfile(policy: Policy, profile: string): MaskingProfile | undefined {
  return Object.hasOwn(policy.masking.profiles, profile) ? policy.masking.profiles[profile] : undefined;
}

function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

function isPlainObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map) && !(v instanceof Set);
}

function kindOf(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Map || v instanceof Set) return 'a non-string-keyed mapping';
  return typeof v === 'object' ? 'a mapping' : `a ${typeof v}`;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return kindOf(v);
}

/** Dotted path; keys that are not plain identifiers are quoted so the path stays unambiguous. */
function join(base: string, key: string): string {
  const part = /^[A-Za-z0-9_-]+$/.test(key) ? key : `[${JSON.stringify(key)}]`;
  if (base === '' || part.startsWith('[')) return `${base}${part}`;
  return `${base}.${part}`;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
