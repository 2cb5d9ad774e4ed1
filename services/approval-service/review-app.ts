/**
 * The reviewer HTTP app, built from its dependencies and tested in-process (main.ts listens):
 *   GET  /api/holds[?region=&tenant=&status=&limit=]   held traces the reviewer may see
 *   GET  /api/holds/<recordId>                          one hold with its masked preview
 *   POST /api/holds/<recordId>/approve {justification, region?}
 *   POST /api/holds/<recordId>/reject  {justification}
 *   GET  /healthz, /livez, /metrics; and the web page (web-app.ts) when configured.
 * API calls authenticate with `Authorization: Bearer <access token>`; errors are JSON
 * `{ "error": { "code", "message", "path"? } }` with the status of the code.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { describeError, TracefenceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { publicError, readJsonObject, sendJson } from './http-util.js';
import type { ApprovalMetrics } from './approval-metrics.js';
import { STATUSES, type ReviewService } from './review-service.js';
import { bearerToken, type AuthenticatedReviewer, type ReviewerAuthenticator } from './reviewer-auth.js';
import type { WebRoutes } from './web-app.js';
import type { HoldStatus } from './hold-record.js';

export interface ReviewAppDeps {
  service: ReviewService;
  auth: ReviewerAuthenticator;
  logger: Logger;
  metrics?: ApprovalMetrics;
  registry?: Registry;
  /** Ready to serve (queue reachable, intake running). */
  ready?: () => boolean;
  web?: WebRoutes;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

const HOLD = /^\/api\/holds\/([^/]{1,64})(?:\/(approve|reject))?$/;
const REALM = 'tracefence-review';
const REGION = /^[a-z][a-z0-9-]{0,31}$/;
const TENANT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function routeOf(path: string): string {
  if (path === '/api/holds') return 'list';
  const m = HOLD.exec(path);
  if (m !== null) return m[2] ?? 'show';
  if (path === '/healthz' || path === '/livez' || path === '/metrics') return path.slice(1);
  return 'web';
}

function listFilter(url: URL): { region?: string; tenant?: string; status?: HoldStatus; limit: number } {
  const region = url.searchParams.get('region') ?? undefined;
  const tenant = url.searchParams.get('tenant') ?? undefined;
  const status = url.searchParams.get('status') ?? undefined;
  const limitText = url.searchParams.get('limit');
  if (region !== undefined && !REGION.test(region)) throw new TracefenceError('REVIEW_REQUEST_INVALID', 'region is not a region name', { path: 'region' });
  if (tenant !== undefined && !TENANT.test(tenant)) throw new TracefenceError('REVIEW_REQUEST_INVALID', 'tenant is not a tenant name', { path: 'tenant' });
  if (status !== undefined && !STATUSES.includes(status as HoldStatus)) throw new TracefenceError('REVIEW_REQUEST_INVALID', `status must be one of ${STATUSES.join(', ')}`, { path: 'status' });
  const limit = limitText === null ? 50 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new TracefenceError('REVIEW_REQUEST_INVALID', 'limit must be an integer from 1 to 500', { path: 'limit' });
  return { ...(region === undefined ? {} : { region }), ...(tenant === undefined ? {} : { tenant }), ...(status === undefined ? {} : { status: status as HoldStatus }), limit };
}

export function buildApp(deps: ReviewAppDeps): RequestHandler {
  const { logger } = deps;

  async function authenticate(req: IncomingMessage): Promise<AuthenticatedReviewer> {
    const header = req.headers.authorization;
    const token = bearerToken(header);
    if (token === undefined) {
      throw new TracefenceError('REVIEW_UNAUTHENTICATED', header === undefined ? 'an access token is required (Authorization: Bearer)' : 'the Authorization header is not a Bearer token');
    }
    return deps.auth.authenticate(token);
  }

  async function api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    if (path === '/api/holds') {
      if (req.method !== 'GET') throw new TracefenceError('REVIEW_REQUEST_INVALID', 'use GET on /api/holds');
      const reviewer = await authenticate(req);
      const holds = await deps.service.list(reviewer, listFilter(url));
      sendJson(res, 200, { holds });
      return;
    }
    const m = HOLD.exec(path);
    if (m === null || m[1] === undefined) throw new TracefenceError('REVIEW_NOT_FOUND', 'no such resource');
    const recordId = m[1].toLowerCase();
    const action = m[2];
    if (action === undefined) {
      if (req.method !== 'GET') throw new TracefenceError('REVIEW_REQUEST_INVALID', 'use GET to show a hold');
      const reviewer = await authenticate(req);
      sendJson(res, 200, await deps.service.show(reviewer, recordId));
      return;
    }
    if (req.method !== 'POST') throw new TracefenceError('REVIEW_REQUEST_INVALID', `use POST to ${action}`);
    const reviewer = await authenticate(req);
    const body = await readJsonObject(req);
    const hold = action === 'approve' ? await deps.service.approve(reviewer, recordId, { justification: body['justification'], region: body['region'] }) : await deps.service.reject(reviewer, recordId, { justification: body['justification'] });
    logger.info({ recordId, action, reviewer: reviewer.subject, status: hold.status }, 'review decision recorded');
    sendJson(res, 200, { hold });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://review.invalid');
    } catch {
      sendJson(res, 400, { error: { code: 'REVIEW_REQUEST_INVALID', message: 'bad request target' } });
      return;
    }
    const path = url.pathname;
    const route = routeOf(path);
    res.on('finish', () => deps.metrics?.requests.inc({ route, status: String(res.statusCode) }));
    if ((path === '/healthz' || path === '/readyz') && req.method === 'GET') {
      const ready = deps.ready?.() ?? true;
      sendJson(res, ready ? 200 : 503, { status: ready ? 'ok' : 'not-ready' });
      return;
    }
    if (path === '/livez' && req.method === 'GET') {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    if (path === '/metrics' && req.method === 'GET' && deps.registry !== undefined) {
      const text = await deps.registry.metrics();
      res.writeHead(200, { 'content-type': deps.registry.contentType }).end(text);
      return;
    }
    if (path.startsWith('/api/')) {
      try {
        await api(req, res, url);
      } catch (err) {
        const pub = publicError(err);
        if (pub.status >= 500) logger.error({ err: err instanceof TracefenceError ? err.code : describeError(err), route }, 'review API request failed');
        const headers: Record<string, string> = {};
        if (pub.status === 401) {
          headers['www-authenticate'] = req.headers.authorization === undefined ? `Bearer realm="${REALM}"` : `Bearer realm="${REALM}", error="invalid_token"`;
        }
        if (pub.status === 503) headers['retry-after'] = '2';
        if (!res.headersSent) sendJson(res, pub.status, { error: { code: pub.code, message: pub.message, ...(pub.path === undefined ? {} : { path: pub.path }) } }, headers);
        else res.destroy();
      }
      return;
    }
    if (deps.web !== undefined && (await deps.web.handle(req, res, url))) return;
    sendJson(res, 404, { error: { code: 'REVIEW_NOT_FOUND', message: 'no such resource' } });
  }

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err: describeError(err) }, 'request handler failed');
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
      else res.destroy();
    });
  };
}
