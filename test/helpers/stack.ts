/** Test access to the running local stack: addresses from infra/stack.env, unique names per test. */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { devServiceEnv, readStackEnv, stackValue } from '../../infra/stack-env.js';

export const repoRoot = join(import.meta.dirname, '..', '..');
export const stack = readStackEnv();
export const serviceEnv = devServiceEnv(stack, repoRoot);

export const kafkaBrokers = [`127.0.0.1:${stackValue(stack, 'KAFKA_PORT')}`];
export const s3Endpoint = `http://127.0.0.1:${stackValue(stack, 'S3_PORT')}`;
export const gcsEndpointEu = `http://127.0.0.1:${stackValue(stack, 'GCS_EU_PORT')}`;
export const gcsEndpointUs = `http://127.0.0.1:${stackValue(stack, 'GCS_US_PORT')}`;
export const redisUrl = `redis://127.0.0.1:${stackValue(stack, 'REDIS_PORT')}`;
export const issuerUrl = `http://127.0.0.1:${stackValue(stack, 'OIDC_PORT')}`;
export const devCredentials = { accessKeyId: 'tracefence-dev', secretAccessKey: 'tracefence-dev' };

/** Unique, valid name for a topic, group, queue or bucket (lower case, <= 63 chars). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 13)}`.toLowerCase();
}
