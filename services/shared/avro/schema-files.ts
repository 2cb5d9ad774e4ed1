import avro from 'avsc';
import type { Type } from 'avsc';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TracefenceError } from '../errors.js';
import { bigintLongType } from './bigint-long.js';
import type { RecordKind } from './types.js';

export const RECORD_KINDS: readonly RecordKind[] = ['reasoning-trace', 'audit-event', 'held-trace', 'dead-letter'];

/** Kinds whose every `long` decodes as bigint (they carry nanosecond timestamps). */
const BIGINT_LONG_KINDS: ReadonlySet<RecordKind> = new Set<RecordKind>(['reasoning-trace', 'held-trace']);

export const DEFAULT_SCHEMA_DIR = fileURLToPath(new URL('../../../schemas/', import.meta.url));

export interface SchemaVersion {
  kind: RecordKind;
  /** 1 for the first cut; the current file is the highest. */
  version: number;
  /** Hex SHA-256 of the Avro parsing canonical form: the value of the tf-schema header. */
  fingerprint: string;
  type: Type;
  file: string;
}

export function usesBigintLongs(kind: RecordKind): boolean {
  return BIGINT_LONG_KINDS.has(kind);
}

/** Parses a schema as the codec does for `kind` (BigInt-backed longs where the kind needs them). */
export function parseSchema(schema: unknown, kind: RecordKind): Type {
  // forSchema adds named types to the registry it is given, so each parse gets a fresh one.
  const registry: Record<string, Type> = usesBigintLongs(kind) ? { long: bigintLongType } : {};
  return avro.Type.forSchema(schema as Parameters<typeof avro.Type.forSchema>[0], { registry, wrapUnions: 'auto' });
}

export function fingerprintOf(type: Type): string {
  return type.fingerprint('sha256').toString('hex');
}

function readSchemaFile(file: string, kind: RecordKind, version: number): SchemaVersion {
  let type: Type;
  try {
    type = parseSchema(JSON.parse(readFileSync(file, 'utf8')), kind);
  } catch (err) {
    throw new TracefenceError('INTERNAL', `schema file ${file} does not parse: ${(err as Error).message}`, { cause: err });
  }
  return { kind, version, fingerprint: fingerprintOf(type), type, file };
}

/** Every known version of `kind`, oldest first; the last one is the current schema. */
export function loadSchemaVersions(kind: RecordKind, dir: string = DEFAULT_SCHEMA_DIR): SchemaVersion[] {
  const historyDir = join(dir, 'history');
  let names: string[] = [];
  try {
    names = readdirSync(historyDir);
  } catch {
    names = [];
  }
  const pattern = new RegExp(`^${kind}\\.v(\\d+)\\.avsc$`);
  const old: SchemaVersion[] = [];
  for (const name of names) {
    const m = pattern.exec(name);
    if (m?.[1] !== undefined) old.push(readSchemaFile(join(historyDir, name), kind, Number(m[1])));
  }
  old.sort((a, b) => a.version - b.version);
  const currentVersion = (old.at(-1)?.version ?? 0) + 1;
  return [...old, readSchemaFile(join(dir, `${kind}.avsc`), kind, currentVersion)];
}
