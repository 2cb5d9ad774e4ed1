import type { Type } from 'avsc';

export interface CompatibilityReport {
  /** True when both directions resolve. */
  compatible: boolean;
  /** Why the reader cannot read data written with the writer schema (new reader, old data); null if it can. */
  backward: string | null;
  /** Why the writer schema, used as reader, cannot read data of the reader schema (old reader, new data); null if it can. */
  forward: string | null;
}

function resolveProblem(reader: Type, writer: Type): string | null {
  try {
    reader.createResolver(writer);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * Full compatibility between an existing schema (`writer`, already on the wire) and a new one (`reader`):
 * new readers must read old records and old readers must read new records, so both resolvers must exist.
 */
export function checkCompatibility(writer: Type, reader: Type): CompatibilityReport {
  const backward = resolveProblem(reader, writer);
  const forward = resolveProblem(writer, reader);
  return { compatible: backward === null && forward === null, backward, forward };
}
