/**
 * Service configuration from the environment. Only a service's main.ts calls these; every
 * problem is collected and reported at once with the variable at fault, then the result is frozen.
 */
import { ValidationError, type ValidationIssue } from './errors.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** Collects problems while reading variables, so one start-up reports all of them. */
export class EnvReader {
  private readonly issues: ValidationIssue[] = [];
  constructor(private readonly env: Env) {}

  string(name: string, fallback?: string): string {
    const v = this.env[name];
    if (v === undefined || v.trim() === '') {
      if (fallback !== undefined) return fallback;
      this.issues.push({ path: name, message: 'is required' });
      return '';
    }
    return v.trim();
  }

  optional(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  list(name: string, fallback?: string[]): string[] {
    const raw = this.optional(name);
    if (raw === undefined) {
      if (fallback !== undefined) return fallback;
      this.issues.push({ path: name, message: 'is required (comma-separated list)' });
      return [];
    }
    return raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  }

  int(name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      this.issues.push({ path: name, message: `must be an integer from ${min} to ${max}, got '${raw}'` });
      return fallback;
    }
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    this.issues.push({ path: name, message: `must be true or false, got '${raw}'` });
    return fallback;
  }

  url(name: string, fallback?: string): string {
    const v = this.string(name, fallback);
    if (v !== '') {
      try {
        new URL(v);
      } catch {
        this.issues.push({ path: name, message: `must be a URL, got '${v}'` });
      }
    }
    return v;
  }

  /** "key=value,key=value" pairs. */
  map(name: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const pair of this.list(name, [])) {
      const eq = pair.indexOf('=');
      if (eq < 1) {
        this.issues.push({ path: name, message: `entry '${pair}' must be key=value` });
        continue;
      }
      out[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    return out;
  }

  problem(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  /** Throws one ValidationError listing every problem, or returns the frozen config. */
  done<T extends object>(config: T, source = 'environment'): Readonly<T> {
    if (this.issues.length > 0) throw new ValidationError('CONFIG_INVALID', source, this.issues);
    return deepFreeze(config);
  }
}

export function deepFreeze<T>(value: T): T {
  // Byte buffers cannot be frozen; they stay private to the config object.
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
