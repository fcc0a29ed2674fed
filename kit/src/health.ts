// The health route of mtls-rotator's verification contract (docs/app-kit.md): it makes the app's real outbound mTLS
// call and says which certificate it presented. 200 + {"status":"pass","presentedThumbprint":…} when the partner
// accepted it, 503 + {"status":"fail",…} when not. The rotator checks the reported thumbprint against the one it
// just rolled out, so a pass proves the new certificate is the one in use AND that the partner takes it.
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LoadedClientCertificate } from './certificates.js';
import { clientTlsOptions, type ClientTlsOptions } from './agent.js';

export const PRESENTED_THUMBPRINT_HEADER = 'x-presented-thumbprint';

export interface PartnerCheckOptions extends ClientTlsOptions {
  /** Bound of the whole call. Default 5000 ms: the rotator's probe gives up after its own timeout anyway. */
  timeoutMs?: number;
}

export type PartnerCheck =
  | { ok: true; presentedThumbprint: string; partnerStatus: number }
  | { ok: false; presentedThumbprint?: string; partnerStatus?: number; reason: string };

const DEFAULT_TIMEOUT_MS = 5000;
// The verdict needs the status and perhaps a reason; a larger partner answer is cut.
const MAX_PARTNER_BODY = 16 * 1024;
const MAX_REASON_CHARS = 200;

/**
 * One GET to `partnerUrl` presenting `certificate`, on a fresh connection: a pooled or resumed TLS session would
 * repeat an earlier handshake's verdict instead of proving this one.
 */
export function checkPartner(certificate: LoadedClientCertificate, partnerUrl: string, options: PartnerCheckOptions = {}): Promise<PartnerCheck> {
  const presentedThumbprint = certificate.thumbprint;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(partnerUrl);
    } catch {
      resolve({ ok: false, presentedThumbprint, reason: 'the partner URL is not a valid URL' });
      return;
    }
    let settled = false;
    const settle = (check: PartnerCheck) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(check);
    };
    const request = https.request(url, { method: 'GET', agent: false, headers: { accept: 'application/json' }, ...clientTlsOptions(certificate, options) });
    const timer = setTimeout(() => {
      settle({ ok: false, presentedThumbprint, reason: `the partner did not answer within ${timeoutMs} ms` });
      request.destroy();
    }, timeoutMs);
    request.on('error', (error: NodeJS.ErrnoException) => settle({ ok: false, presentedThumbprint, reason: describeConnectionError(error) }));
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        if (size < MAX_PARTNER_BODY) chunks.push(chunk);
        size += chunk.length;
      });
      response.on('error', (error: NodeJS.ErrnoException) => settle({ ok: false, presentedThumbprint, reason: describeConnectionError(error) }));
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) return settle({ ok: true, presentedThumbprint, partnerStatus: status });
        const said = partnerReason(Buffer.concat(chunks).toString('utf8'));
        settle({ ok: false, presentedThumbprint, partnerStatus: status, reason: `the partner answered ${status}${said !== undefined ? `: ${said}` : ''}` });
      });
    });
    request.end();
  });
}

export interface HealthHandlerOptions extends PartnerCheckOptions {
  /** The partner endpoint the app really calls (or a function that says it at request time). */
  partnerUrl: string | (() => string | undefined);
  /**
   * The certificate loaded at start, or a function that returns it (called per request; its
   * ClientCertificateNotFoundError becomes the 503's reason, so a missing certificate shows on the health route).
   */
  certificate: LoadedClientCertificate | (() => LoadedClientCertificate);
}

export interface HealthAnswer {
  status: 200 | 503;
  headers: Record<string, string>;
  body: {
    status: 'pass' | 'fail';
    presentedThumbprint?: string;
    partner?: { status: number };
    reason?: string;
  };
}

/** The contract's answer for one check, for apps that write their own route (Fastify, Koa, Azure Functions). */
export function healthAnswer(check: PartnerCheck | { ok: false; reason: string }): HealthAnswer {
  const presented = 'presentedThumbprint' in check ? check.presentedThumbprint : undefined;
  const headers: Record<string, string> = { 'cache-control': 'no-store', ...(presented !== undefined ? { [PRESENTED_THUMBPRINT_HEADER]: presented } : {}) };
  const partnerStatus = 'partnerStatus' in check ? check.partnerStatus : undefined;
  const partner = partnerStatus !== undefined ? { partner: { status: partnerStatus } } : {};
  if (check.ok) return { status: 200, headers, body: { status: 'pass', presentedThumbprint: presented, ...partner } };
  return {
    status: 503,
    headers,
    body: { status: 'fail', ...(presented !== undefined ? { presentedThumbprint: presented } : {}), ...partner, reason: check.reason },
  };
}

/** Runs the partner check for one request; never throws. */
export async function runHealthCheck(options: HealthHandlerOptions): Promise<HealthAnswer> {
  let certificate: LoadedClientCertificate;
  try {
    certificate = typeof options.certificate === 'function' ? options.certificate() : options.certificate;
  } catch (error) {
    return healthAnswer({ ok: false, reason: error instanceof Error ? error.message : String(error) });
  }
  const partnerUrl = typeof options.partnerUrl === 'function' ? options.partnerUrl() : options.partnerUrl;
  if (partnerUrl === undefined || partnerUrl === '') {
    return healthAnswer({ ok: false, presentedThumbprint: certificate.thumbprint, reason: 'no partner URL is configured' });
  }
  return healthAnswer(await checkPartner(certificate, partnerUrl, options));
}

/**
 * A request handler for node:http and Express (`app.get('/healthz/outbound-mtls', createHealthHandler({...}))`):
 * every request runs the partner check and answers the contract's JSON.
 */
export function createHealthHandler(options: HealthHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    void runHealthCheck(options).then((answer) => writeHealthAnswer(res, answer));
  };
}

export function writeHealthAnswer(res: ServerResponse, answer: HealthAnswer): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(answer.body);
  res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...answer.headers });
  res.end(text);
}

function partnerReason(text: string): string | undefined {
  let said: unknown;
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json === 'object' && json !== null) {
      const record = json as Record<string, unknown>;
      said = record.reason ?? record.message ?? record.error;
    }
  } catch {
    // not JSON: a partner's HTML error page says nothing worth repeating
  }
  if (typeof said !== 'string' || said === '') return undefined;
  const clean = said.replace(/\s+/g, ' ');
  return clean.length > MAX_REASON_CHARS ? `${clean.slice(0, MAX_REASON_CHARS)}…` : clean;
}

function describeConnectionError(error: NodeJS.ErrnoException): string {
  const code = error.code ?? '';
  if (code === 'ECONNREFUSED') return 'the partner is unreachable (connection refused)';
  if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code === 'ECONNRESET' || /certificate|handshake|alert|SSL/i.test(error.message)) {
    return `the TLS handshake with the partner failed: ${code || 'handshake error'}`;
  }
  return `the partner call failed: ${code || error.name}`;
}
