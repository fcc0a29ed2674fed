// HTTP triggers behind a plain node:http server, shaped like the host's front door: `/<routePrefix>/<route>`,
// the function-key check for authLevel `function`/`admin` (`x-functions-key` header or `?code=`), a real
// `HttpRequest` in and the handler's `HttpResponseInit` / `HttpResponse` out. A function that throws answers a
// 500 whose JSON names only the invocation id; the error goes to the log.
//
// Like the host, a request body reaches the function only with Content-Length > 0 (a chunked body is dropped).
//
// Also `POST /admin/functions/<name>` with the master key runs a non-HTTP function now (202), as on Azure:
// the way to kick a timer by hand.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Cookie, HttpResponseInit } from '@azure/functions';
import type { Registration } from './capture.js';
import { HttpRequest, HttpResponse } from './functionsRuntime.js';
import { createInvocationContext, describeThrown, type HostLog, type InvocationTracker } from './invocation.js';
import { isEventGridWebhook } from './eventGrid.js';
import { compareRoutes, compileRoute, matchRoute, RouteTemplateError, type CompiledRoute } from './routes.js';
import { LocalHostConfigError } from './settings.js';

export interface HostKeys {
  /** Accepted for authLevel `function`. */
  function: string;
  /** Accepted for `function` and `admin`, and for the admin endpoint. */
  master: string;
  /** The `eventgrid_extension` system key of the Event Grid webhook. */
  eventGrid?: string;
}

export interface HttpFrontOptions {
  hostname: string;
  port: number;
  routePrefix: string;
  keys: HostKeys;
  maxRequestBodyBytes: number;
  /** Runs a non-HTTP function by name for the admin endpoint; undefined when there is no such function. */
  invokeNonHttp: (name: string, input: unknown) => Promise<void> | undefined;
  /** The Event Grid trigger's webhook, `/runtime/webhooks/eventgrid` (src/host/eventGrid.ts). */
  eventGrid?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;
}

interface HttpRoute {
  registration: Registration;
  route: CompiledRoute;
  methods: readonly string[];
  authLevel: 'anonymous' | 'function' | 'admin';
}

export class HttpFront {
  readonly #routes: HttpRoute[];
  #server?: Server;
  #port = 0;

  constructor(
    registrations: readonly Registration[],
    private readonly options: HttpFrontOptions,
    private readonly log: HostLog,
    private readonly tracker: InvocationTracker,
  ) {
    this.#routes = registrations.map((registration) => {
      const t = registration.trigger;
      const template = typeof t.route === 'string' && t.route !== '' ? t.route : registration.name;
      let route: CompiledRoute;
      try {
        route = compileRoute(template);
      } catch (err) {
        if (err instanceof RouteTemplateError) throw new LocalHostConfigError(`http function '${registration.name}': ${err.message}`);
        throw err;
      }
      const methods = Array.isArray(t.methods) && t.methods.length > 0 ? t.methods.map((m) => String(m).toUpperCase()) : ['GET', 'POST'];
      const authLevel = t.authLevel === 'function' || t.authLevel === 'admin' ? t.authLevel : 'anonymous';
      return { registration, route, methods, authLevel };
    });
    this.#routes.sort((a, b) => compareRoutes(a.route, b.route));
  }

  async listen(): Promise<{ port: number; url: string }> {
    const server = createServer((req, res) => {
      void this.#handle(req, res).catch((err: unknown) => {
        this.log(`http: unhandled failure: ${describeThrown(err)}`);
        if (!res.headersSent) writeJson(res, 500, { error: { code: 'InternalServerError', message: 'the local host failed to handle the request' } });
        else res.destroy();
      });
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.hostname, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#port = (server.address() as AddressInfo).port;
    const url = `http://${this.options.hostname}:${this.#port}`;
    for (const r of this.#routes) {
      const prefix = this.options.routePrefix === '' ? '' : `/${this.options.routePrefix}`;
      this.log(`http function '${r.registration.name}': [${r.methods.join(',')}] ${url}${prefix}/${r.route.template} (${r.authLevel})`);
    }
    return { port: this.#port, url };
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const host = req.headers.host ?? `${this.options.hostname}:${this.#port}`;
    const url = new URL(req.url ?? '/', `http://${host}`);
    const segments = url.pathname.split('/').filter((s) => s !== '');

    if (this.options.eventGrid !== undefined && isEventGridWebhook(url)) {
      await this.options.eventGrid(req, res, url);
      return;
    }
    if (segments[0]?.toLowerCase() === 'admin' && segments[1]?.toLowerCase() === 'functions' && segments.length === 3 && method === 'POST') {
      await this.#admin(req, res, url, decodeURIComponent(segments[2]!));
      return;
    }

    const prefix = this.options.routePrefix.split('/').filter((s) => s !== '');
    const underPrefix = prefix.every((p, i) => segments[i]?.toLowerCase() === p.toLowerCase());
    if (!underPrefix) {
      notFound(res, method, url);
      return;
    }
    const rest = segments.slice(prefix.length);
    const matches = this.#routes
      .map((r) => ({ r, params: matchRoute(r.route, rest) }))
      .filter((m): m is { r: HttpRoute; params: Record<string, string> } => m.params !== undefined);
    const match = matches.find((m) => m.r.methods.includes(method));
    if (match === undefined) {
      // The host answers a known route with the wrong method as an unknown route; the message says which.
      const allowed = [...new Set(matches.flatMap((m) => m.r.methods))];
      notFound(res, method, url, allowed);
      return;
    }
    const { r, params } = match;
    if (r.authLevel !== 'anonymous' && !this.#authorized(req, url, r.authLevel)) {
      writeJson(res, 401, {
        error: { code: 'Unauthorized', message: `function '${r.registration.name}' requires a ${r.authLevel === 'admin' ? 'master' : 'function'} key: send header x-functions-key or query parameter code` },
      });
      return;
    }
    const body = await readBody(req, this.options.maxRequestBodyBytes);
    if (body === 'tooLarge') {
      writeJson(res, 413, { error: { code: 'PayloadTooLarge', message: `request body exceeds ${this.options.maxRequestBodyBytes} bytes` } });
      return;
    }
    // The Functions host copies a body into the invocation only when Content-Length > 0: a body sent with
    // Transfer-Encoding: chunked reaches the function empty. Dropping it here too lets tests see what Azure does.
    const declaredLength = Number(req.headers['content-length'] ?? 0);
    const passBody = body.length > 0 && declaredLength > 0 && method !== 'GET' && method !== 'HEAD';
    const request = new HttpRequest({
      method,
      url: url.toString(),
      headers: headersOf(req),
      params,
      ...(passBody ? { body: { bytes: body } } : {}),
    });
    const context = createInvocationContext(r.registration, this.log);
    if (body.length > 0 && !passBody && method !== 'GET' && method !== 'HEAD') {
      this.log(`http: dropped the ${body.length}-byte body of ${method} ${url.pathname} (id ${context.invocationId}): no Content-Length, as the Functions host does`);
    }
    this.log(`executing '${r.registration.name}' (${method} ${url.pathname}, id ${context.invocationId})`);
    let result: unknown;
    try {
      result = await this.tracker.track(Promise.resolve(r.registration.handler(request, context)));
    } catch (err) {
      this.log(`executed '${r.registration.name}' (failed, id ${context.invocationId}): ${describeThrown(err)}`);
      writeJson(res, 500, {
        error: { code: 'InternalServerError', message: `function '${r.registration.name}' failed (correlation id ${context.invocationId})`, correlationId: context.invocationId },
      });
      return;
    }
    const status = await writeResult(res, result, method);
    this.log(`executed '${r.registration.name}' (${status}, id ${context.invocationId})`);
  }

  async #admin(req: IncomingMessage, res: ServerResponse, url: URL, name: string): Promise<void> {
    if (!this.#authorized(req, url, 'admin')) {
      writeJson(res, 401, { error: { code: 'Unauthorized', message: 'the admin API requires the master key (x-functions-key)' } });
      return;
    }
    const body = await readBody(req, this.options.maxRequestBodyBytes);
    let input: unknown;
    if (body !== 'tooLarge' && body.length > 0) {
      try {
        input = (JSON.parse(body.toString('utf8')) as { input?: unknown }).input;
      } catch {
        writeJson(res, 400, { error: { code: 'InvalidJson', message: 'admin invoke body must be JSON like {"input": "..."}' } });
        return;
      }
    }
    const started = this.options.invokeNonHttp(name, input);
    if (started === undefined) {
      writeJson(res, 404, { error: { code: 'NotFound', message: `no non-HTTP function named '${name}'` } });
      return;
    }
    // Like the host: accepted at once, the run's outcome is in the log.
    started.catch(() => undefined);
    res.writeHead(202).end();
  }

  #authorized(req: IncomingMessage, url: URL, level: 'function' | 'admin'): boolean {
    const header = req.headers['x-functions-key'];
    const presented = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('code') ?? undefined;
    if (presented === undefined || presented === '') return false;
    if (safeEqual(presented, this.options.keys.master)) return true;
    return level === 'function' && safeEqual(presented, this.options.keys.function);
  }
}

function safeEqual(a: string, b: string): boolean {
  // Digests first: timingSafeEqual needs equal lengths, and the key length must not leak either.
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    const value = req.rawHeaders[i + 1]!;
    out[name] = out[name] === undefined ? value : `${out[name]}, ${value}`;
  }
  return out;
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'tooLarge'> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return 'tooLarge';
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > limit) {
      req.resume();
      return 'tooLarge';
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

async function writeResult(res: ServerResponse, result: unknown, method: string): Promise<number> {
  if (result === undefined || result === null) {
    // No return value: the host answers without content.
    res.writeHead(204).end();
    return 204;
  }
  if (typeof result !== 'object') {
    writeJson(res, 500, { error: { code: 'InternalServerError', message: 'the function returned something that is not an HTTP response' } });
    return 500;
  }
  const response = result instanceof HttpResponse ? result : new HttpResponse(result as HttpResponseInit);
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of response.headers) {
    if (k === 'set-cookie') continue;
    headers[k] = v;
  }
  const cookies = [...response.headers.getSetCookie(), ...response.cookies.map(serializeCookie)];
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  const body = Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, headers);
  res.end(method === 'HEAD' ? undefined : body);
  return response.status;
}

function serializeCookie(c: Cookie): string {
  const parts = [`${c.name}=${c.value}`];
  if (c.domain) parts.push(`Domain=${c.domain}`);
  if (c.path) parts.push(`Path=${c.path}`);
  if (c.expires !== undefined) parts.push(`Expires=${(c.expires instanceof Date ? c.expires : new Date(c.expires)).toUTCString()}`);
  if (c.maxAge !== undefined) parts.push(`Max-Age=${c.maxAge}`);
  if (c.secure) parts.push('Secure');
  if (c.httpOnly) parts.push('HttpOnly');
  if (c.sameSite) parts.push(`SameSite=${c.sameSite}`);
  return parts.join('; ');
}

function writeJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function notFound(res: ServerResponse, method: string, url: URL, allowedMethods: string[] = []): void {
  const hint = allowedMethods.length > 0 ? ` (the route exists for ${allowedMethods.join(', ')})` : '';
  writeJson(res, 404, { error: { code: 'NotFound', message: `no function answers ${method} ${url.pathname}${hint}` } });
}
