/**
 * Reads infra/stack.env, the single source of the local stack's ports and names
 * (or the file named by TRACEFENCE_STACK_ENV, for a second stack on other ports).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type StackEnv = Readonly<Record<string, string>>;

export const DEFAULT_STACK_ENV_FILE = join(import.meta.dirname, 'stack.env');

export function readStackEnv(file = process.env['TRACEFENCE_STACK_ENV'] ?? DEFAULT_STACK_ENV_FILE): StackEnv {
  const out: Record<string, string> = {};
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 1) continue;
    let value = line.slice(eq + 1);
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    out[line.slice(0, eq)] = value;
  }
  return Object.freeze(out);
}

export function stackValue(env: StackEnv, key: string): string {
  const v = env[key];
  if (v === undefined) throw new Error(`infra/stack.env has no ${key}`);
  return v;
}

/** "name:location name:location" -> [[name, location], ...] */
export function parsePairs(list: string): Array<[string, string]> {
  return list
    .split(/\s+/)
    .filter((s) => s.length > 0)
    .map((s) => {
      const [name, location] = s.split(':');
      return [name ?? '', location ?? ''];
    });
}

/** The environment the services read, pointed at the local stack. */
export function devServiceEnv(env: StackEnv, repoRoot: string): Record<string, string> {
  const gcsEu = `http://127.0.0.1:${stackValue(env, 'GCS_EU_PORT')}`;
  const gcsUs = `http://127.0.0.1:${stackValue(env, 'GCS_US_PORT')}`;
  const gcsEndpoints = [
    ...stackValue(env, 'GCS_EU_BUCKETS').split(/\s+/).filter(Boolean).map((b) => `${b}=${gcsEu}`),
    ...stackValue(env, 'GCS_US_BUCKETS').split(/\s+/).filter(Boolean).map((b) => `${b}=${gcsUs}`),
  ].join(',');
  return {
    TRACEFENCE_KAFKA_BROKERS: `127.0.0.1:${stackValue(env, 'KAFKA_PORT')}`,
    TRACEFENCE_OIDC_ISSUER: `http://127.0.0.1:${stackValue(env, 'OIDC_PORT')}`,
    TRACEFENCE_OIDC_AUDIENCE: 'urn:tracefence:broker',
    TRACEFENCE_POLICY_FILE: join(repoRoot, 'infra', 'policy.dev.yaml'),
    TRACEFENCE_REDIS_URL: `redis://127.0.0.1:${stackValue(env, 'REDIS_PORT')}`,
    TRACEFENCE_S3_ENDPOINT: `http://127.0.0.1:${stackValue(env, 'S3_PORT')}`,
    TRACEFENCE_S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: 'tracefence-dev',
    AWS_SECRET_ACCESS_KEY: 'tracefence-dev',
    TRACEFENCE_GCS_ENDPOINTS: gcsEndpoints,
    TRACEFENCE_GCS_PROJECT: 'tracefence-dev',
    TRACEFENCE_TOPIC_INGEST: stackValue(env, 'TOPIC_INGEST'),
    TRACEFENCE_TOPIC_DEADLETTER: stackValue(env, 'TOPIC_DEADLETTER'),
    TRACEFENCE_TOPIC_AUDIT: stackValue(env, 'TOPIC_AUDIT'),
    TRACEFENCE_TOPIC_HELD: stackValue(env, 'TOPIC_HELD'),
    // Audit events that name no region (e.g. a record refused before its tenant was known).
    TRACEFENCE_AUDIT_HOME_REGION: 'eu',
    TRACEFENCE_REVIEW_PORT: stackValue(env, 'REVIEW_PORT'),
    TRACEFENCE_REVIEW_URL: `http://127.0.0.1:${stackValue(env, 'REVIEW_PORT')}`,
  };
}
