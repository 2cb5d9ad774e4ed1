/**
 * Runs node's test runner over test/<suite>/**\/*.test.ts (Node 20 has no glob in --test).
 * Usage: tsx test/run-tests.ts [suite ...]   (default: unit contract integration)
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const suites = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const extra = process.argv.slice(2).filter((a) => a.startsWith('-'));
const chosen = suites.length > 0 ? suites : ['unit', 'contract', 'integration'];

function collect(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return collect(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const files = chosen.flatMap((s) => collect(join(root, 'test', s))).sort();
if (files.length === 0) {
  console.error(`no test files under ${chosen.map((s) => `test/${s}`).join(', ')}`);
  process.exit(1);
}

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...extra, ...files.map((f) => relative(root, f))],
  { cwd: root, stdio: 'inherit' },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
