/** Every Prometheus metric a service registers is documented for operators in docs/operations.md. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

test('every registered metric appears in docs/operations.md', () => {
  const doc = readFileSync(join(root, 'docs', 'operations.md'), 'utf8');
  const names = new Set<string>();
  for (const file of sources(join(root, 'services'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/name: '(tracefence_[a-z_]+)'/g)) if (m[1] !== undefined) names.add(m[1]);
  }
  assert.ok(names.size >= 30, `found only ${names.size} metrics: the pattern no longer matches the code`);
  assert.deepEqual([...names].filter((n) => !doc.includes(`\`${n}\``)).sort(), []);
});
