/**
 * Server-side sessions of the reviewer web page: the session lives in Redis (a restart loses
 * nothing); the browser holds only a random id signed with HMAC-SHA256 in an httpOnly,
 * SameSite=Lax cookie. Each session has its own CSRF token for the form posts.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface SessionData {
  csrf: string;
  createdAtMs: number;
  /** Set once logged in. The access token stays server-side and is re-verified on every request. */
  reviewer?: { subject: string; name: string | null };
  accessToken?: string;
  /** Granted with offline_access: renews the access token when it expires, so a reviewer stays logged in. */
  refreshToken?: string;
  /** An authorization request in flight. */
  login?: { state: string; codeVerifier: string; returnTo: string; startedAtMs: number };
  flash?: { kind: 'ok' | 'error'; text: string };
}

export interface Session {
  id: string;
  data: SessionData;
}

export interface SessionStore {
  readonly cookieName: string;
  /** The session named by the request's cookie, if it is validly signed and still stored. */
  load(cookieHeader: string | undefined): Promise<Session | undefined>;
  create(data?: Partial<SessionData>): Promise<Session>;
  save(session: Session): Promise<void>;
  destroy(session: Session): Promise<void>;
  /** Set-Cookie value carrying this session. */
  cookie(session: Session): string;
  clearCookie(): string;
}

export interface SessionStoreOptions {
  redis: Redis;
  prefix: string;
  /** HMAC key for the cookie, at least 32 bytes. */
  secret: Buffer;
  ttlSec: number;
  /** Adds `Secure` to the cookie (when the public URL is https). */
  secure: boolean;
  cookieName?: string;
}

const ID = /^[A-Za-z0-9_-]{43}$/;
const MAX_SESSION_BYTES = 64 * 1024;

export function createSessionStore(o: SessionStoreOptions): SessionStore {
  const cookieName = o.cookieName ?? 'tf_review_session';
  const sign = (id: string): string => createHmac('sha256', o.secret).update(id).digest('base64url');
  const key = (id: string): string => `${o.prefix}:review-session:${id}`;
  const attrs = `Path=/; HttpOnly; SameSite=Lax${o.secure ? '; Secure' : ''}`;

  const parseCookie = (header: string | undefined): string | undefined => {
    if (header === undefined) return undefined;
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      if (part.slice(0, eq).trim() === cookieName) return part.slice(eq + 1).trim();
    }
    return undefined;
  };

  return {
    cookieName,
    async load(header) {
      const value = parseCookie(header);
      if (value === undefined || value.length > 200) return undefined;
      const dot = value.indexOf('.');
      const id = value.slice(0, dot);
      const mac = Buffer.from(value.slice(dot + 1));
      if (dot < 0 || !ID.test(id)) return undefined;
      const expected = Buffer.from(sign(id));
      if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined;
      const raw = await o.redis.get(key(id));
      if (raw === null) return undefined;
      try {
        return { id, data: JSON.parse(raw) as SessionData };
      } catch {
        return undefined;
      }
    },
    async create(data = {}) {
      const session: Session = { id: randomBytes(32).toString('base64url'), data: { csrf: randomBytes(32).toString('base64url'), createdAtMs: Date.now(), ...data } };
      await this.save(session);
      return session;
    },
    async save(session) {
      const text = JSON.stringify(session.data);
      if (Buffer.byteLength(text) > MAX_SESSION_BYTES) throw new Error('session too large');
      await o.redis.set(key(session.id), text, 'EX', o.ttlSec);
    },
    async destroy(session) {
      await o.redis.del(key(session.id));
    },
    cookie(session) {
      return `${cookieName}=${session.id}.${sign(session.id)}; ${attrs}; Max-Age=${o.ttlSec}`;
    },
    clearCookie() {
      return `${cookieName}=; ${attrs}; Max-Age=0`;
    },
  };
}

export function csrfMatches(expected: string, given: unknown): boolean {
  if (typeof given !== 'string' || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}
