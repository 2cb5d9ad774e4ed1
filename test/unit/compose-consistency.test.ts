/** docker-compose.yml must describe the same stack as infra/stack.env (no Docker engine runs here to try it). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_STACK_ENV_FILE, readStackEnv, stackValue } from '../../infra/stack-env.js';

interface ComposeService {
  image?: string;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string>;
}

const root = join(import.meta.dirname, '..', '..');
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService> };
const env = readStackEnv(DEFAULT_STACK_ENV_FILE);

function service(name: string): ComposeService {
  const s = compose.services[name];
  assert.ok(s, `docker-compose.yml has no service '${name}'`);
  return s;
}

function publishes(name: string, port: string): void {
  assert.ok(service(name).ports?.includes(`127.0.0.1:${port}:${port}`), `${name} must publish 127.0.0.1:${port}`);
}

function arg(name: string, flag: string): string | undefined {
  const cmd = service(name).command ?? [];
  const i = cmd.indexOf(flag);
  return i >= 0 ? cmd[i + 1] : undefined;
}

test('kafka: same version, port and single-node transaction settings', () => {
  const kafka = service('kafka');
  assert.equal(kafka.image, `apache/kafka:${stackValue(env, 'KAFKA_VERSION')}`);
  publishes('kafka', stackValue(env, 'KAFKA_PORT'));
  assert.equal(kafka.environment?.['KAFKA_ADVERTISED_LISTENERS'], `PLAINTEXT://127.0.0.1:${stackValue(env, 'KAFKA_PORT')}`);
  assert.equal(kafka.environment?.['KAFKA_TRANSACTION_STATE_LOG_MIN_ISR'], '1');
  assert.equal(kafka.environment?.['KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR'], '1');
  assert.equal(kafka.environment?.['KAFKA_AUTO_CREATE_TOPICS_ENABLE'], 'false');
});

test('redis and s3: same ports and moto version', () => {
  publishes('redis', stackValue(env, 'REDIS_PORT'));
  assert.equal(arg('redis', '--port'), stackValue(env, 'REDIS_PORT'));
  // Held traces must survive a Redis restart in both topologies.
  assert.equal(arg('redis', '--appendonly'), 'yes');
  assert.equal(arg('redis', '--appendfsync'), 'always');
  assert.equal(service('s3').image, `motoserver/moto:${stackValue(env, 'MOTO_VERSION')}`);
  publishes('s3', stackValue(env, 'S3_PORT'));
});

test('gcs: one emulator per location with the same ports and locations', () => {
  const version = stackValue(env, 'FAKE_GCS_VERSION').replace(/^v/, '');
  for (const [name, portKey, locKey] of [
    ['gcs-eu', 'GCS_EU_PORT', 'GCS_EU_LOCATION'],
    ['gcs-us', 'GCS_US_PORT', 'GCS_US_LOCATION'],
  ] as const) {
    assert.equal(service(name).image, `fsouza/fake-gcs-server:${version}`);
    publishes(name, stackValue(env, portKey));
    assert.equal(arg(name, '-port'), stackValue(env, portKey));
    assert.equal(arg(name, '-location'), stackValue(env, locKey));
  }
});

test('oidc issuer and bootstrap run the same scripts as the local stack', () => {
  assert.equal(service('oidc').environment?.['OIDC_PORT'], stackValue(env, 'OIDC_PORT'));
  assert.deepEqual(service('oidc').command?.slice(-1), ['infra/oidc/issuer.ts']);
  assert.deepEqual(service('bootstrap').command?.slice(-1), ['infra/bootstrap.ts']);
});
