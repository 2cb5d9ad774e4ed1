/** Small HTTP helpers of the reviewer app: bounded bodies, JSON errors with codes, status mapping. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TracefenceError, type ErrorCode } from '../shared/errors.js';

export const MAX_BODY_BYTES = 16 * 1024;

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on form posts.
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

export function statusOf(code: ErrorCode): number {
  switch (code) {
    case 'REVIEW_UNAUTHENTICATED':
      return 401;
    case 'REVIEW_FORBIDDEN':
    case 'REVIEW_SELF_APPROVAL':
    case 'REVIEW_CSRF_INVALID':
      return 403;
    case 'REVIEW_NOT_FOUND':
      return 404;
    case 'REVIEW_ALREADY_DECIDED':
    case 'REVIEW_DUPLICATE_APPROVAL':
      return 409;
    case 'REVIEW_REQUEST_INVALID':
      return 400;
    case 'QUEUE_UNAVAILABLE':
    case 'KAFKA_UNAVAILABLE':
    case 'AUTH_ISSUER_UNREACHABLE':
      return 503;
    default:
      return 500;
  }
}

/** The error as the client sees it: internal faults never show their message. */
export function publicError(err: unknown): { status: number; code: ErrorCode; message: string; path?: string } {
  if (err instanceof TracefenceError) {
    const status = statusOf(err.code);
    if (status === 500) return { status, code: 'INTERNAL', message: 'internal error' };
    return { status, code: err.code, message: err.message, ...(err.path === undefined ? {} : { path: err.path }) };
  }
  return { status: 500, code: 'INTERNAL', message: 'internal error' };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export function sendHtml(res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    'content-length': String(Buffer.byteLength(html)),
    ...headers,
  });
  res.end(html);
}

export function redirect(res: ServerResponse, location: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(303, { ...SECURITY_HEADERS, location, ...headers });
  res.end();
}

/** Reads the body up to `limit` bytes; larger bodies are refused with REVIEW_REQUEST_INVALID. */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new TracefenceError('REVIEW_REQUEST_INVALID', `the request body is larger than ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) throw new TracefenceError('REVIEW_REQUEST_INVALID', `the request body is larger than ${limit} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') throw new TracefenceError('REVIEW_REQUEST_INVALID', 'the request body must be application/json');
  const body = await readBody(req);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new TracefenceError('REVIEW_REQUEST_INVALID', 'the request body is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new TracefenceError('REVIEW_REQUEST_INVALID', 'the request body must be a JSON object');
  return parsed as Record<string, unknown>;
}

export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new TracefenceError('REVIEW_REQUEST_INVALID', 'the form must be application/x-www-form-urlencoded');
  return new URLSearchParams((await readBody(req)).toString('utf8'));
}
