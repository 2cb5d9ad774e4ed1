import { pino, destination as pinoDestination, stdTimeFunctions, type Logger } from 'pino';

export type { Logger };

/** Paths that must never reach a log line: tokens, credentials, payloads. */
const REDACT_PATHS = [
  'token',
  'accessToken',
  'authorization',
  'headers.authorization',
  'password',
  'secret',
  'clientSecret',
  'credentials',
  'payload',
  'value',
  '*.token',
  '*.accessToken',
  '*.authorization',
  '*.password',
  '*.secret',
  '*.clientSecret',
  '*.payload',
];

/** The one root logger of a process: structured JSON on stdout (or the given stream). */
export function createLogger(service: string, level = process.env['LOG_LEVEL'] ?? 'info', destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pinoDestination({ dest: 1, sync: false }),
  );
}
