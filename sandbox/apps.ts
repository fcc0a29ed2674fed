// A stand-in for an App Service app: an HTTPS site whose health path makes a REAL outbound mTLS call with
// the client certificate it loaded at its last (re)start, the way an app reads /var/ssl/private/<thumbprint>.
// Like the platform, it only sees new certificates and new settings after a restart: the process keeps
// what it loaded (and its environment) until then.
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IssuedCertificate } from '../src/crypto/index.js';
import { listenOnLoopback } from './http.js';

export interface LoadedCertificate {
  thumbprint: string;
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

export interface SimulatedAppOptions {
  /** ARM resource id (for logs and the default answer). */
  id: string;
  /** TLS server certificate from the sandbox CA. */
  serverCert: IssuedCertificate;
  /** To trust the downstream's server certificate. */
  sandboxCaPem: string;
  /** Called on start and on every restart: what App Service would put in /var/ssl/private. */
  loadCertificates(): LoadedCertificate[];
  /** Current app settings (CLIENT_CERT_THUMBPRINT chooses the cert); read on start and every restart. */
  settings(): Record<string, string>;
  /** Where its outbound mTLS call goes. */
  downstreamUrl?: () => string | undefined;
  /** Restart duration; the app answers 503 meanwhile. */
  restartMs?: () => number;
  /** A restart that never finishes (stays 503). */
  hangRestart?: () => boolean;
  /** Default '/healthz/outbound-mtls'. */
  healthPath?: string;
  /** Bound of the outbound call (default 5000 ms); tests shorten it. */
  outboundTimeoutMs?: number;
  /** Diagnostic lines (never contain keys). */
  log?: (line: string) => void;
}

export interface SimulatedApp {
  port: number;
  /** 127.0.0.1:<port> */
  hostName: string;
  /** Thumbprints loaded by the running process; empty while it restarts. */
  loadedThumbprints(): string[];
  /** Resolves when the restart is done (or at once if it hangs). */
  restart(): Promise<void>;
  restarts: number;
  stop(): Promise<void>;
}

const DEFAULT_HEALTH_PATH = '/healthz/outbound-mtls';
const DEFAULT_RESTART_MS = 20;
const DEFAULT_OUTBOUND_TIMEOUT_MS = 5000;
// A downstream answer larger than this is cut: the health answer only needs its verdict.
const MAX_DOWNSTREAM_BODY = 64 * 1024;

interface ProcessState {
  certificates: LoadedCertificate[];
  settings: Record<string, string>;
}

type HealthAnswer =
  | { status: 200; body: { ok: true; presentedThumbprint: string; downstream: unknown } }
  | { status: 502; body: { ok: false; reason: string; presentedThumbprint?: string; downstreamStatus?: number; downstream?: unknown } };

export async function startSimulatedApp(opts: SimulatedAppOptions): Promise<SimulatedApp> {
  const healthPath = opts.healthPath ?? DEFAULT_HEALTH_PATH;
  const outboundTimeoutMs = opts.outboundTimeoutMs ?? DEFAULT_OUTBOUND_TIMEOUT_MS;
  const log = opts.log ?? (() => {});
  // undefined while restarting: the process is down and the front end answers 503.
  let running: ProcessState | undefined = boot();
  let generation = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let stopped = false;

  function boot(): ProcessState {
    let certificates: LoadedCertificate[] = [];
    try {
      certificates = opts.loadCertificates();
    } catch (err) {
      // The platform starts the app anyway, without the certificate; the health path then reports it.
      log(`${opts.id}: loading certificates failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    return { certificates, settings: { ...opts.settings() } };
  }

  const server = https.createServer({ key: opts.serverCert.keyPem, cert: opts.serverCert.certPem });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const state = running;
    if (state === undefined) {
      return sendJson(res, 503, { ok: false, reason: 'the app is restarting' }, { 'Retry-After': '1' });
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path !== healthPath) return sendJson(res, 200, { ok: true, site: opts.id });
    checkOutboundMtls(state).then(
      (answer) => sendJson(res, answer.status, answer.body),
      (err: unknown) => sendJson(res, 502, { ok: false, reason: `health check failed: ${err instanceof Error ? err.message : String(err)}` }),
    );
  });

  async function checkOutboundMtls(state: ProcessState): Promise<HealthAnswer> {
    const chosen = chooseCertificate(state);
    if ('reason' in chosen) return { status: 502, body: { ok: false, reason: chosen.reason } };
    const certificate = chosen.certificate;
    const presentedThumbprint = certificate.thumbprint.toUpperCase();
    const target = opts.downstreamUrl?.();
    if (target === undefined || target === '') {
      return { status: 502, body: { ok: false, reason: 'no downstream is configured for this app', presentedThumbprint } };
    }
    const outcome = await callDownstream(target, certificate, opts.sandboxCaPem, outboundTimeoutMs);
    if (outcome.kind === 'failed') return { status: 502, body: { ok: false, reason: outcome.reason, presentedThumbprint } };
    if (outcome.status < 200 || outcome.status > 299) {
      const downstreamReason = isRecord(outcome.body) && typeof outcome.body.reason === 'string' ? `: ${outcome.body.reason}` : '';
      return {
        status: 502,
        body: {
          ok: false,
          reason: `downstream answered ${outcome.status}${downstreamReason}`,
          presentedThumbprint,
          downstreamStatus: outcome.status,
          downstream: outcome.body,
        },
      };
    }
    return { status: 200, body: { ok: true, presentedThumbprint, downstream: outcome.body } };
  }

  const port = await listenOnLoopback(server);

  const app: SimulatedApp = {
    port,
    hostName: `127.0.0.1:${port}`,
    restarts: 0,
    loadedThumbprints: () => (running?.certificates ?? []).map((c) => c.thumbprint.toUpperCase()),
    restart() {
      app.restarts += 1;
      generation += 1;
      const mine = generation;
      running = undefined;
      if (restartTimer !== undefined) clearTimeout(restartTimer);
      // A restart kills the process and every connection it holds.
      server.closeAllConnections();
      if (opts.hangRestart?.() === true) {
        log(`${opts.id}: restart #${app.restarts} hangs`);
        return Promise.resolve();
      }
      const delay = Math.max(0, opts.restartMs?.() ?? DEFAULT_RESTART_MS);
      return new Promise<void>((resolve) => {
        restartTimer = setTimeout(() => {
          restartTimer = undefined;
          // A later restart superseded this one; it will bring the process up.
          if (mine === generation && !stopped) running = boot();
          resolve();
        }, delay);
      });
    },
    async stop() {
      stopped = true;
      if (restartTimer !== undefined) clearTimeout(restartTimer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return app;
}

function chooseCertificate(state: ProcessState): { certificate: LoadedCertificate } | { reason: string } {
  const loaded = state.certificates;
  const wanted = state.settings.CLIENT_CERT_THUMBPRINT?.trim().toUpperCase();
  if (wanted !== undefined && wanted !== '') {
    const found = loaded.find((c) => c.thumbprint.trim().toUpperCase() === wanted);
    if (found !== undefined) return { certificate: found };
    const list = loaded.map((c) => c.thumbprint.toUpperCase()).join(', ') || 'none';
    return { reason: `certificate ${wanted} named by CLIENT_CERT_THUMBPRINT is not loaded (loaded: ${list})` };
  }
  if (loaded.length === 0) return { reason: 'no client certificate is loaded (WEBSITE_LOAD_CERTIFICATES loads none)' };
  // With several loaded ('*' mode) an app picks in code; the usual choice is the one that expires last.
  const newest = [...loaded].sort((a, b) => b.notAfter.getTime() - a.notAfter.getTime())[0]!;
  return { certificate: newest };
}

type DownstreamOutcome = { kind: 'answered'; status: number; body: unknown } | { kind: 'failed'; reason: string };

function callDownstream(target: string, certificate: LoadedCertificate, caPem: string, timeoutMs: number): Promise<DownstreamOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: DownstreamOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      settle({ kind: 'failed', reason: 'the downstream URL is not a valid URL' });
      return;
    }
    const req = https.request(url, {
      method: 'GET',
      cert: certificate.certPem,
      key: certificate.keyPem,
      ca: caPem,
      // A fresh connection per call: no pooled socket or resumed session from an earlier certificate.
      agent: false,
    });
    const timer = setTimeout(() => {
      settle({ kind: 'failed', reason: `downstream did not answer within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => settle({ kind: 'failed', reason: describeConnectionError(err) }));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_DOWNSTREAM_BODY) chunks.push(chunk);
      });
      res.on('error', (err: NodeJS.ErrnoException) => settle({ kind: 'failed', reason: describeConnectionError(err) }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: keep the text as the downstream said it
        }
        settle({ kind: 'answered', status: res.statusCode ?? 0, body });
      });
    });
    req.end();
  });
}

function describeConnectionError(err: NodeJS.ErrnoException): string {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return 'downstream unreachable (connection refused)';
  if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /certificate|handshake|alert|SSL/i.test(err.message) || code === 'ECONNRESET') {
    return `TLS handshake with the downstream failed: ${code || err.message}`;
  }
  return `downstream call failed: ${code || err.message}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
