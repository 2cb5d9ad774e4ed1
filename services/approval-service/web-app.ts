/**
 * The reviewer web page: login by authorization code + PKCE (openid-client), a server-side
 * session, the list of held traces, one hold with its masked preview, and approve / reject forms
 * protected by a per-session CSRF token and an Origin check.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as oidc from 'openid-client';
import { describeError, TracefenceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { publicError, readForm, redirect, sendHtml } from './http-util.js';
import type { ReviewService } from './review-service.js';
import type { ReviewerAuthenticator, AuthenticatedReviewer } from './reviewer-auth.js';
import { csrfMatches, type Session, type SessionStore } from './web-session.js';
import { detailPage, listPage, messagePage, type PageContext } from './web-pages.js';

export interface OidcLoginOptions {
  issuer: string;
  clientId: string;
  /** Resource indicator (the broker audience) asked for in the authorization request. */
  resource: string;
  scope: string;
  /** Public base URL of this service, e.g. http://127.0.0.1:14080; the redirect URI is <base>/auth/callback. */
  publicBaseUrl: string;
}

export interface WebDeps {
  service: ReviewService;
  auth: ReviewerAuthenticator;
  sessions: SessionStore;
  login: OidcLoginOptions;
  logger: Logger;
}

export interface WebRoutes {
  /** Handles the request when it is a web route; false when it is not. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const LOGIN_MAX_AGE_MS = 10 * 60 * 1000;
const HOLD_PATH = /^\/holds\/([0-9a-fA-F-]{36})(?:\/(approve|reject))?$/;

export function createWebRoutes(deps: WebDeps): WebRoutes {
  const { sessions, logger } = deps;
  let config: Promise<oidc.Configuration> | undefined;
  const base = new URL(deps.login.publicBaseUrl);
  const redirectUri = new URL('/auth/callback', base).toString();

  const oidcConfig = (): Promise<oidc.Configuration> => {
    if (config === undefined) {
      const issuer = new URL(deps.login.issuer);
      // Plain http only for a loopback issuer (local stack and tests).
      const insecure = issuer.protocol === 'http:' && LOOPBACK.has(issuer.hostname);
      config = oidc.discovery(issuer, deps.login.clientId, undefined, oidc.None(), insecure ? { execute: [oidc.allowInsecureRequests], timeout: 5 } : { timeout: 5 });
      config.catch(() => {
        config = undefined;
      });
    }
    return config;
  };

  /**
   * The logged-in reviewer of this session, with the access token re-verified now. An access token
   * that no longer verifies (expired, typically) is renewed once with the session's refresh token.
   */
  async function reviewerOf(session: Session | undefined): Promise<AuthenticatedReviewer | undefined> {
    if (session?.data.accessToken === undefined) return undefined;
    try {
      return await deps.auth.authenticate(session.data.accessToken);
    } catch (err) {
      if (!(err instanceof TracefenceError && err.code === 'REVIEW_UNAUTHENTICATED')) throw err;
    }
    if (session.data.refreshToken === undefined || !(await refresh(session))) return undefined;
    try {
      return await deps.auth.authenticate(session.data.accessToken);
    } catch (err) {
      if (err instanceof TracefenceError && err.code === 'REVIEW_UNAUTHENTICATED') return undefined;
      throw err;
    }
  }

  /** Best effort: a refresh token outlives the session unless the issuer is told (RFC 7009). */
  async function revoke(refreshToken: string | undefined): Promise<void> {
    if (refreshToken === undefined) return;
    try {
      await oidc.tokenRevocation(await oidcConfig(), refreshToken, { token_type_hint: 'refresh_token' });
    } catch (err) {
      logger.warn({ err: err instanceof Error ? err.name : 'unknown' }, 'refresh token revocation failed; it expires on its own');
    }
  }

  /** Renews the session's tokens with its refresh token; on refusal the session is logged out. */
  async function refresh(session: Session): Promise<boolean> {
    try {
      const cfg = await oidcConfig();
      const tokens = await oidc.refreshTokenGrant(cfg, session.data.refreshToken!, { resource: deps.login.resource });
      session.data.accessToken = tokens.access_token;
      // Rotated refresh tokens replace the old one; an issuer that does not rotate keeps it valid.
      if (tokens.refresh_token !== undefined) session.data.refreshToken = tokens.refresh_token;
      await sessions.save(session);
      logger.info({ reviewer: session.data.reviewer?.subject }, 'reviewer access token renewed');
      return true;
    } catch (err) {
      logger.info({ err: err instanceof Error ? err.name : 'unknown', reviewer: session.data.reviewer?.subject }, 'refresh token refused; the reviewer logs in again');
      delete session.data.accessToken;
      delete session.data.refreshToken;
      await sessions.save(session);
      return false;
    }
  }

  const pageContext = (session: Session, reviewer: AuthenticatedReviewer): PageContext => ({
    reviewer: session.data.reviewer?.name ?? reviewer.subject,
    csrf: session.data.csrf,
    flash: session.data.flash,
  });

  async function takeFlash(session: Session): Promise<void> {
    if (session.data.flash !== undefined) {
      delete session.data.flash;
      await sessions.save(session);
    }
  }

  function sameOrigin(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) {
      // Browsers send Origin on form posts; without it, fall back on the referer's origin if any.
      const referer = req.headers.referer;
      if (referer === undefined) return true;
      try {
        return new URL(referer).origin === base.origin || new URL(referer).host === req.headers.host;
      } catch {
        return false;
      }
    }
    if (origin === 'null') return false;
    try {
      const o = new URL(origin);
      return o.origin === base.origin || o.host === req.headers.host;
    } catch {
      return false;
    }
  }

  async function startLogin(res: ServerResponse, session: Session | undefined, returnTo: string): Promise<void> {
    const cfg = await oidcConfig();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const login = { state, codeVerifier, returnTo, startedAtMs: Date.now() };
    let s = session;
    if (s === undefined) s = await sessions.create({ login });
    else {
      s.data.login = login;
      await sessions.save(s);
    }
    const url = oidc.buildAuthorizationUrl(cfg, {
      redirect_uri: redirectUri,
      scope: deps.login.scope,
      // Issuers grant offline_access (a refresh token) only when consent is asked for.
      ...(deps.login.scope.split(' ').includes('offline_access') ? { prompt: 'consent' } : {}),
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      resource: deps.login.resource,
    });
    redirect(res, url.toString(), { 'set-cookie': sessions.cookie(s) });
  }

  async function callback(req: IncomingMessage, res: ServerResponse, url: URL, session: Session | undefined): Promise<void> {
    const login = session?.data.login;
    if (session === undefined || login === undefined || Date.now() - login.startedAtMs > LOGIN_MAX_AGE_MS) {
      sendHtml(res, 400, messagePage('Login failed', 'The login request is unknown or too old. Please log in again.'));
      return;
    }
    let accessToken: string;
    let refreshToken: string | undefined;
    try {
      const cfg = await oidcConfig();
      const current = new URL(url.pathname + url.search, base);
      const tokens = await oidc.authorizationCodeGrant(cfg, current, { pkceCodeVerifier: login.codeVerifier, expectedState: login.state });
      accessToken = tokens.access_token;
      refreshToken = tokens.refresh_token;
    } catch (err) {
      logger.warn({ err: err instanceof Error ? err.name : 'unknown' }, 'authorization code exchange failed');
      sendHtml(res, 400, messagePage('Login failed', 'The identity provider did not complete the login.'));
      return;
    }
    const reviewer = await deps.auth.authenticate(accessToken);
    // A fresh session id after login (no session fixation), with a fresh CSRF token.
    await sessions.destroy(session);
    const fresh = await sessions.create({ reviewer: { subject: reviewer.subject, name: null }, accessToken, ...(refreshToken === undefined ? {} : { refreshToken }) });
    logger.info({ reviewer: reviewer.subject }, 'reviewer logged in');
    redirect(res, login.returnTo, { 'set-cookie': sessions.cookie(fresh) });
    void req;
  }

  async function decide(req: IncomingMessage, res: ServerResponse, session: Session, reviewer: AuthenticatedReviewer, recordId: string, action: 'approve' | 'reject'): Promise<void> {
    const form = await readForm(req);
    if (!sameOrigin(req) || !csrfMatches(session.data.csrf, form.get('csrf'))) throw new TracefenceError('REVIEW_CSRF_INVALID', 'the form is stale or was not sent by this page; reload and try again');
    const justification = form.get('justification') ?? '';
    try {
      if (action === 'approve') {
        const region = form.get('region');
        const out = await deps.service.approve(reviewer, recordId, { justification, ...(region === null || region === '' ? {} : { region }) });
        session.data.flash = { kind: 'ok', text: out.status === 'approved' ? `Approved into ${out.region ?? ''}.` : 'Your approval is recorded; another reviewer must approve too.' };
      } else {
        await deps.service.reject(reviewer, recordId, { justification });
        session.data.flash = { kind: 'ok', text: 'Rejected.' };
      }
    } catch (err) {
      const pub = publicError(err);
      if (pub.status >= 500) throw err;
      session.data.flash = { kind: 'error', text: `${pub.code}: ${pub.message}` };
    }
    await sessions.save(session);
    redirect(res, `/holds/${encodeURIComponent(recordId)}`);
  }

  return {
    async handle(req, res, url) {
      const path = url.pathname;
      const isWeb = path === '/' || path.startsWith('/auth/') || path.startsWith('/holds/');
      if (!isWeb) return false;
      try {
        const session = await sessions.load(req.headers.cookie);
        if (path === '/auth/login' && req.method === 'GET') {
          const rt = url.searchParams.get('returnTo') ?? '/';
          await startLogin(res, session, rt.startsWith('/') && !rt.startsWith('//') ? rt.slice(0, 200) : '/');
          return true;
        }
        if (path === '/auth/callback' && req.method === 'GET') {
          await callback(req, res, url, session);
          return true;
        }
        if (path === '/auth/logout' && req.method === 'POST') {
          const form = await readForm(req);
          if (session !== undefined) {
            if (!sameOrigin(req) || !csrfMatches(session.data.csrf, form.get('csrf'))) throw new TracefenceError('REVIEW_CSRF_INVALID', 'the form is stale; reload and try again');
            await sessions.destroy(session);
            await revoke(session.data.refreshToken);
          }
          sendHtml(res, 200, messagePage('Logged out', 'You are logged out.'), { 'set-cookie': sessions.clearCookie() });
          return true;
        }

        const reviewer = await reviewerOf(session);
        if (session === undefined || reviewer === undefined) {
          if (req.method === 'GET') {
            redirect(res, `/auth/login?returnTo=${encodeURIComponent(path)}`);
          } else {
            sendHtml(res, 401, messagePage('Not logged in', 'Your session has ended. Please log in again.'));
          }
          return true;
        }

        if (path === '/' && req.method === 'GET') {
          const status = url.searchParams.get('status');
          const holds = await deps.service.list(reviewer, { limit: 200, ...(status === 'pending' || status === 'approved' || status === 'rejected' || status === 'expired' ? { status } : {}) }).catch((err: unknown) => {
            if (err instanceof TracefenceError && err.code === 'REVIEW_FORBIDDEN') return [];
            throw err;
          });
          const ctx = pageContext(session, reviewer);
          await takeFlash(session);
          sendHtml(res, 200, listPage(ctx, holds));
          return true;
        }
        const m = HOLD_PATH.exec(path);
        if (m !== null && m[1] !== undefined) {
          const recordId = m[1].toLowerCase();
          if (m[2] === undefined && req.method === 'GET') {
            const detail = await deps.service.show(reviewer, recordId);
            const ctx = pageContext(session, reviewer);
            await takeFlash(session);
            sendHtml(res, 200, detailPage(ctx, detail));
            return true;
          }
          if ((m[2] === 'approve' || m[2] === 'reject') && req.method === 'POST') {
            await decide(req, res, session, reviewer, recordId, m[2]);
            return true;
          }
        }
        sendHtml(res, 404, messagePage('Not found', 'There is no such page.'));
        return true;
      } catch (err) {
        const pub = publicError(err);
        if (pub.status >= 500) logger.error({ err: err instanceof TracefenceError ? err.code : describeError(err) }, 'web request failed');
        sendHtml(res, pub.status, messagePage(pub.status === 403 ? 'Forbidden' : pub.status === 404 ? 'Not found' : 'Request failed', `${pub.code}: ${pub.message}`));
        return true;
      }
    },
  };
}
