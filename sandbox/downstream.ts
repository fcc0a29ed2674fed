// A partner API that authenticates callers by client certificate (mutual TLS), as the apps' real downstreams
// do. It accepts every handshake (rejectUnauthorized: false) and decides per request, so a refused caller
// gets a 403 that says WHY (no certificate, untrusted issuer, not on the allow-list) instead of a bare TLS
// alert: the rotator's probes and the tests read that reason.
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { describeCertificate, derToPem, type IssuedCertificate } from '../src/crypto/index.js';
import { listenOnLoopback } from './http.js';

export interface DownstreamOptions {
  name: string;
  trustedCaPems: string[];
  allowedThumbprints?: string[];
  /** Issued by the sandbox CA for 127.0.0.1. */
  serverCert: IssuedCertificate;
}

export interface DownstreamSeen {
  at: string;
  thumbprint?: string;
  subject?: string;
  authorized: boolean;
  reason?: string;
}

export interface Downstream {
  name: string;
  /** https://127.0.0.1:<port>/ */
  url: string;
  setTrustedCas(pems: string[]): void;
  setAllowedThumbprints(t?: string[]): void;
  /** Accept connections and never answer (to exercise probe timeouts). */
  setHang(hang: boolean): void;
  seen: Array<DownstreamSeen>;
  stop(): Promise<void>;
}

// Bounded so a long demo run does not grow without limit; tests look at the last few entries.
const MAX_SEEN = 1000;

export async function startDownstream(opts: DownstreamOptions): Promise<Downstream> {
  let trustedCaPems = [...opts.trustedCaPems];
  let allowed = normalizeAllowList(opts.allowedThumbprints);
  let hang = false;
  const seen: DownstreamSeen[] = [];
  const hanging = new Set<ServerResponse>();

  const contextOptions = (cas: string[]) => ({ key: opts.serverCert.keyPem, cert: opts.serverCert.certPem, ca: cas });

  const server = https.createServer({
    ...contextOptions(trustedCaPems),
    requestCert: true,
    rejectUnauthorized: false,
    // A verdict is made once per TLS handshake; without resumption every connection is re-verified against
    // the CAs in force at that moment, so a trust change applies to the very next call.
    sessionTimeout: 0,
  });

  const record = (entry: Omit<DownstreamSeen, 'at'>) => {
    seen.push({ at: new Date().toISOString(), ...entry });
    if (seen.length > MAX_SEEN) seen.splice(0, seen.length - MAX_SEEN);
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (hang) {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    // Trust and allow-list can change between calls; keeping connections open would keep an old verdict.
    res.setHeader('Connection', 'close');
    const socket = req.socket as TLSSocket;
    const peer = socket.getPeerCertificate(false);
    if (peer === null || peer === undefined || peer.raw === undefined) {
      record({ authorized: false, reason: 'no client certificate presented' });
      return sendJson(res, 403, { ok: false, reason: 'no client certificate presented' });
    }
    const description = describeCertificate(derToPem(peer.raw));
    const base = { thumbprint: description.thumbprint, subject: description.subject };
    let reason: string | undefined;
    if (trustedCaPems.length === 0) {
      reason = 'no trusted CA is configured for client certificates';
    } else if (!socket.authorized) {
      reason = `client certificate is not trusted: ${String(socket.authorizationError ?? 'verification failed')}`;
    } else if (allowed !== undefined && !allowed.has(description.thumbprint)) {
      reason = `client certificate thumbprint ${description.thumbprint} is not on the allow-list`;
    }
    if (reason !== undefined) {
      record({ ...base, authorized: false, reason });
      return sendJson(res, 403, { ok: false, reason, clientThumbprint: description.thumbprint });
    }
    record({ ...base, authorized: true });
    sendJson(res, 200, {
      ok: true,
      downstream: opts.name,
      clientThumbprint: description.thumbprint,
      subject: description.subject,
      issuer: description.issuer,
    });
  });

  const port = await listenOnLoopback(server);

  return {
    name: opts.name,
    url: `https://127.0.0.1:${port}/`,
    seen,
    setTrustedCas(pems: string[]) {
      trustedCaPems = [...pems];
      server.setSecureContext(contextOptions(trustedCaPems));
    },
    setAllowedThumbprints(t?: string[]) {
      allowed = normalizeAllowList(t);
    },
    setHang(value: boolean) {
      hang = value;
    },
    async stop() {
      for (const res of hanging) res.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function normalizeAllowList(list: string[] | undefined): Set<string> | undefined {
  if (list === undefined) return undefined;
  return new Set(list.map((t) => t.trim().toUpperCase()).filter((t) => t.length > 0));
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
