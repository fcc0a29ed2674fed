// A stand-in for an App Service app: an HTTPS site whose health path makes a REAL outbound mTLS call with
// the client certificate it loaded at its last (re)start. Like App Service on Linux, the "platform" writes every
// certificate WEBSITE_LOAD_CERTIFICATES names to the app's private-certificates directory as <THUMBPRINT>.p12 with
// an empty password (a temp directory per app, passed as WEBSITE_PRIVATE_CERTS_PATH), and the app loads it from
// there with the app-side kit (kit/), so every test through a simulated app exercises the kit.
// Like the platform, it only sees new certificates and new settings after a restart: the process keeps
// what it loaded (and its environment) until then.
// What its health path answers is the app's own business: the `health` shape (sandbox/README.md) models the
// frameworks apps are really written with, most of which follow no contract of ours.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkPartner,
  loadClientCertificate,
  runHealthCheck,
  writeHealthAnswer,
  type LoadedClientCertificate,
  type PartnerCheck,
} from '../kit/src/index.js';
import { writePfx, type IssuedCertificate } from '../src/crypto/index.js';
import { listenOnLoopback } from './http.js';
import type { HealthShape } from './scenario.js';

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
  /** A restart that finishes on the previous process state (certificates and settings not reloaded). */
  staleRestart?: () => boolean;
  /** Default '/healthz/outbound-mtls'. */
  healthPath?: string;
  /** What the health path answers (default 'kit': the verification contract, served by the kit). */
  health?: HealthShape;
  /** 'slow-start' only: how long the health path answers 503 after the process is up. Default 2000 ms. */
  warmupMs?: number;
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
const DEFAULT_WARMUP_MS = 2000;
// The setting the simulated apps read their thumbprint from (the demo's `mtls-rotation-settings`).
const THUMBPRINT_SETTING = 'CLIENT_CERT_THUMBPRINT';

interface ProcessState {
  certificates: LoadedCertificate[];
  settings: Record<string, string>;
  /** What the kit loaded at start, or why it could not. */
  certificate: LoadedClientCertificate | { error: string };
  bootedAt: number;
}

export async function startSimulatedApp(opts: SimulatedAppOptions): Promise<SimulatedApp> {
  const healthPath = opts.healthPath ?? DEFAULT_HEALTH_PATH;
  const shape: HealthShape = opts.health ?? 'kit';
  const warmupMs = shape === 'slow-start' ? Math.max(0, opts.warmupMs ?? DEFAULT_WARMUP_MS) : 0;
  const outboundTimeoutMs = opts.outboundTimeoutMs ?? DEFAULT_OUTBOUND_TIMEOUT_MS;
  const log = opts.log ?? (() => {});
  // The app's /var/ssl/private.
  const privateCertsPath = mkdtempSync(join(tmpdir(), 'sandbox-app-certs-'));
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
    const settings = { ...opts.settings() };
    try {
      writePrivateCertificates(privateCertsPath, certificates);
    } catch (err) {
      log(`${opts.id}: writing the private certificates failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    let certificate: ProcessState['certificate'];
    try {
      certificate = loadClientCertificate({ env: { ...settings, WEBSITE_PRIVATE_CERTS_PATH: privateCertsPath }, thumbprintSetting: THUMBPRINT_SETTING });
    } catch (err) {
      certificate = { error: err instanceof Error ? err.message : String(err) };
    }
    return { certificates, settings, certificate, bootedAt: Date.now() };
  }

  const server = https.createServer({ key: opts.serverCert.keyPem, cert: opts.serverCert.certPem });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const state = running;
    if (state === undefined) {
      return sendJson(res, 503, { ok: false, reason: 'the app is restarting' }, { 'Retry-After': '1' });
    }
    // App Service Authentication ("Easy Auth") answers every unauthenticated request before the app sees it.
    if (shape === 'redirect-login') {
      const back = encodeURIComponent(req.url ?? '/');
      res.writeHead(302, { Location: `/.auth/login/aad?post_login_redirect_uri=${back}`, 'Content-Length': 0 });
      return res.end();
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path !== healthPath) return sendJson(res, 200, { ok: true, site: opts.id });
    if (Date.now() - state.bootedAt < warmupMs) return sendText(res, 503, 'Service Unavailable', { 'Retry-After': '1' });
    answerHealth(state, res).catch((err: unknown) => {
      log(`${opts.id}: health answer failed: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) sendText(res, 500, 'Internal Server Error');
    });
  });

  async function answerHealth(state: ProcessState, res: ServerResponse): Promise<void> {
    const certificate = state.certificate;
    const partnerUrl = () => opts.downstreamUrl?.();
    switch (shape) {
      case 'kit':
      case 'slow-start': {
        const answer = await runHealthCheck({
          certificate: () => {
            if ('error' in certificate) throw new Error(certificate.error);
            return certificate;
          },
          partnerUrl,
          ca: opts.sandboxCaPem,
          timeoutMs: outboundTimeoutMs,
        });
        return writeHealthAnswer(res, answer);
      }
      // Liveness only: the process is up, nothing is called.
      case 'plain-ok':
        return sendText(res, 200, 'OK');
      case 'no-content':
        res.writeHead(204);
        return void res.end();
      default:
        break;
    }
    const check = await partnerCheck(certificate, partnerUrl(), opts.sandboxCaPem, outboundTimeoutMs);
    switch (shape) {
      // ASP.NET Core MapHealthChecks with its default writer: the HealthStatus as text/plain; Healthy and Degraded
      // map to 200, Unhealthy to 503 (HealthCheckOptions.ResultStatusCodes).
      case 'aspnet-text':
        return sendText(res, check.ok ? 200 : 503, check.ok ? 'Healthy' : 'Unhealthy');
      // The same, with the JSON writer of AspNetCore.HealthChecks.UI.Client (UIResponseWriter): the check's data
      // dictionary carries what the app's own check put there, here the X509Certificate2.Thumbprint it used.
      case 'aspnet-json': {
        const status = check.ok ? 'Healthy' : 'Unhealthy';
        return sendJson(res, check.ok ? 200 : 503, {
          status,
          totalDuration: '00:00:00.0123456',
          entries: {
            'outbound-mtls': {
              data: { ...('presentedThumbprint' in check && check.presentedThumbprint ? { thumbprint: check.presentedThumbprint } : {}) },
              description: check.ok ? 'partner accepted the client certificate' : check.reason,
              duration: '00:00:00.0100000',
              status,
              tags: ['ready'],
            },
          },
        });
      }
      // Spring Boot actuator /actuator/health, details not shown (the default): UP is 200, DOWN is 503.
      case 'spring':
        return sendJson(res, check.ok ? 200 : 503, { status: check.ok ? 'UP' : 'DOWN' }, {}, 'application/vnd.spring-boot.actuator.v3+json');
      // Written by hand, reporting the certificate under the name the team chose.
      case 'thumbprint-alias': {
        const thumbprint = 'presentedThumbprint' in check ? check.presentedThumbprint : undefined;
        if (check.ok) return sendJson(res, 200, { ok: true, thumbprint });
        return sendJson(res, 500, { ok: false, ...(thumbprint ? { thumbprint } : {}), error: check.reason });
      }
      // Makes the call and reports it in the body, but always answers 200: a status-only check cannot see it fail.
      case 'status-blind':
        return sendJson(res, 200, { alive: true, partner: check.ok ? 'reachable' : `failing: ${check.reason}` });
      default:
        throw new Error(`unknown health shape '${String(shape)}'`);
    }
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
      const before = running;
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
          if (mine === generation && !stopped) running = opts.staleRestart?.() === true && before !== undefined ? before : boot();
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
      rmSync(privateCertsPath, { recursive: true, force: true });
    },
  };
  return app;
}

async function partnerCheck(
  certificate: ProcessState['certificate'],
  partnerUrl: string | undefined,
  caPem: string,
  timeoutMs: number,
): Promise<PartnerCheck> {
  if ('error' in certificate) return { ok: false, reason: certificate.error };
  if (partnerUrl === undefined || partnerUrl === '') return { ok: false, presentedThumbprint: certificate.thumbprint, reason: 'no partner URL is configured' };
  return checkPartner(certificate, partnerUrl, { ca: caPem, timeoutMs });
}

// PKCS#12 bytes per thumbprint: a thumbprint names one certificate and key, and a scale world shares a few
// materials among many apps, each restart writing them again.
const pfxCache = new Map<string, Buffer>();
const MAX_CACHED_PFX = 512;

/** What the platform does at start: the directory holds exactly the certificates loaded now. */
function writePrivateCertificates(directory: string, certificates: LoadedCertificate[]): void {
  for (const name of readdirSync(directory)) rmSync(join(directory, name), { force: true });
  for (const c of certificates) {
    const thumbprint = c.thumbprint.trim().toUpperCase();
    let pfx = pfxCache.get(thumbprint);
    if (pfx === undefined) {
      // App Service writes these files with an empty password.
      pfx = writePfx({ certPem: c.certPem, keyPem: c.keyPem }, '');
      if (pfxCache.size >= MAX_CACHED_PFX) pfxCache.delete(pfxCache.keys().next().value!);
      pfxCache.set(thumbprint, pfx);
    }
    writeFileSync(join(directory, `${thumbprint}.p12`), pfx, { mode: 0o600 });
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, contentType = 'application/json; charset=utf-8'): void {
  if (res.destroyed || res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
