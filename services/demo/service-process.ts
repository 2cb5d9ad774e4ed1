/**
 * Runs a Tracefence service as a child process and waits until its /healthz answers 200.
 * Used by the demo (`npm start`) and the end-to-end tests, so both exercise the real entry points.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  /** Port of the metrics/health endpoint. */
  httpPort: number;
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** SIGTERM (or SIGKILL), then wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A free loopback port, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startService(
  name: string,
  entry: string,
  args: readonly string[],
  env: Record<string, string | undefined>,
  repoRoot: string,
  logFile?: string,
): Promise<ServiceProcess> {
  const httpPort = Number(env['TRACEFENCE_HTTP_PORT'] ?? '0') || (await freePort());
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, entry), ...args], {
    cwd: repoRoot,
    env: { ...env, TRACEFENCE_HTTP_PORT: String(httpPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = logFile === undefined ? undefined : createWriteStream(logFile, { flags: 'a' });
  for (const stream of [child.stdout, child.stderr]) {
    if (log !== undefined) stream?.pipe(log, { end: false });
    else stream?.resume();
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));


  return {
    name,
    child,
    httpPort,
    async waitHealthy(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const ok = await fetch(`http://127.0.0.1:${httpPort}/healthz`)
          .then((r) => r.status === 200)
          .catch(() => false);
        if (ok) return;
        if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`${name} not healthy after ${timeoutMs} ms`);
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      log?.end();
      return code;
    },
  };
}
