/**
 * The chaos run's view of the local stack: addresses (from infra/stack.env), the pid files of
 * the stack's servers, pausing the object store (SIGSTOP/SIGCONT of moto, its in-memory data
 * kept) and restarting a component through infra/stack.sh.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { devServiceEnv, readStackEnv, stackValue } from '../../infra/stack-env.js';

export const repoRoot = join(import.meta.dirname, '..', '..');
export const stackEnv = readStackEnv();
export const serviceEnv = devServiceEnv(stackEnv, repoRoot);
export const kafkaBrokers = [`127.0.0.1:${stackValue(stackEnv, 'KAFKA_PORT')}`];
export const s3Endpoint = `http://127.0.0.1:${stackValue(stackEnv, 'S3_PORT')}`;
export const redisUrl = `redis://127.0.0.1:${stackValue(stackEnv, 'REDIS_PORT')}`;
export const issuerUrl = `http://127.0.0.1:${stackValue(stackEnv, 'OIDC_PORT')}`;
export const devCredentials = { accessKeyId: 'tracefence-dev', secretAccessKey: 'tracefence-dev' };
export const stateDir = process.env['TRACEFENCE_STATE'] ?? join(repoRoot, '.stack');

/** Unique, valid name for a topic, group, queue or bucket (lower case, <= 63 chars). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 13)}`.toLowerCase();
}

/** Pid of a stack server from .stack/run/<name>.pid, if it runs. */
export function stackPid(name: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(stateDir, 'run', `${name}.pid`), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

const paused = new Set<number>();
let exitHookInstalled = false;

/** Resumes every process this module stopped; safe to call at any time, more than once. */
export function resumeAllPaused(): void {
  for (const pid of paused) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // already gone
    }
  }
  paused.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', resumeAllPaused);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      resumeAllPaused();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    resumeAllPaused();
    console.error(err);
    process.exit(1);
  });
}

/**
 * Makes the object store unreachable for `ms` without losing its in-memory data: SIGSTOP the
 * moto process, wait, SIGCONT (always, also when this process is interrupted or throws).
 */
export async function pauseObjectStore(ms: number): Promise<void> {
  const pid = stackPid('s3');
  if (pid === undefined) throw new Error('the S3 server (moto) is not running: no .stack/run/s3.pid');
  installExitHook();
  paused.add(pid);
  process.kill(pid, 'SIGSTOP');
  try {
    await new Promise((r) => setTimeout(r, ms));
  } finally {
    try {
      process.kill(pid, 'SIGCONT');
    } finally {
      paused.delete(pid);
    }
  }
}

/** `bash infra/stack.sh <command> <component>`; resolves when it exits 0, with its output. */
export function stackCommand(command: 'start' | 'restart' | 'status', component?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(repoRoot, 'infra', 'stack.sh'), command, ...(component === undefined ? [] : [component])], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`infra/stack.sh ${command} ${component ?? ''} exited ${code}:\n${out.slice(-2000)}`))));
  });
}
