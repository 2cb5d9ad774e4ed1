/** Runs the sink as a child process (`node --import tsx services/sink-worker/main.ts`), as in production. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, sinkEnv } from './sink-stack.js';

export interface SinkProcess {
  child: ChildProcess;
  /** Resolves when a log line with this msg appears (rejects on exit or timeout). */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>;
  logs: Record<string, unknown>[];
}

export function spawnSink(overrides: Record<string, string>, argv: string[]): SinkProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join('services', 'sink-worker', 'main.ts'), ...argv], {
    cwd: repoRoot,
    env: { ...process.env, ...sinkEnv({ LOG_LEVEL: 'info', ...overrides }), NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: Array<{ msg: string; resolve: (l: Record<string, unknown>) => void }> = [];
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      logs.push(parsed);
      for (const w of [...waiters]) {
        if (parsed['msg'] === w.msg) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(parsed);
        }
      }
    }
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr = (stderr + c).slice(-4000);
  });
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    logs,
    exited,
    waitForLog(msg, timeoutMs = 20_000) {
      const seen = logs.find((l) => l['msg'] === msg);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`sink did not log '${msg}' in ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
        waiters.push({ msg, resolve: (l) => { clearTimeout(timer); resolve(l); } });
        void exited.then((code) => { clearTimeout(timer); reject(new Error(`sink exited (${code}) before logging '${msg}'; stderr: ${stderr}`)); });
      });
    },
  };
}
