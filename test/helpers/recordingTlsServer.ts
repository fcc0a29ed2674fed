// A TLS server that records every connection made to it, from the outside: the TCP connection itself (before any
// handshake) and, when a handshake completes, the client certificate presented. Used to prove where a probe went
// and whether a candidate certificate reached it, without trusting what the engine reports.
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { createCertificateAuthority, issueCertificate, type IssuedCertificate } from '../../src/crypto/index.js';

export interface SeenConnection {
  /** The local address the connection arrived on (which of 127.0.0.1 / 127.0.0.2 / ::1 it reached). */
  local: string;
}

export interface SeenHandshake extends SeenConnection {
  /** Uppercase SHA-1 of the client certificate presented, if any. */
  clientThumbprint?: string;
  /** SNI the client sent. */
  servername?: string;
}

export interface RecordingTlsServer {
  host: string;
  port: number;
  /** Every TCP connection, in order, handshake or not. */
  seen: SeenConnection[];
  /** Every completed handshake. */
  handshakes: SeenHandshake[];
  /** Handshakes that presented a client certificate. */
  presented(): SeenHandshake[];
  close(): Promise<void>;
}

let shared: { ca: IssuedCertificate; server: IssuedCertificate } | undefined;

/** One CA and one server certificate for `localhost` and the loopback addresses, made once per test file. */
export function recordingPki(): { ca: IssuedCertificate; server: IssuedCertificate } {
  shared ??= (() => {
    const ca = createCertificateAuthority({ commonName: 'recording server CA' });
    const server = issueCertificate(ca, { commonName: 'localhost', usage: 'server', altNames: ['localhost', '127.0.0.1', '127.0.0.2', '::1'] });
    return { ca, server };
  })();
  return shared;
}

/** Listens on `host` (default 127.0.0.1) and `port` (default: any free one); answers 200 to any request. */
export async function startRecordingTlsServer(host = '127.0.0.1', port = 0, certificate?: IssuedCertificate): Promise<RecordingTlsServer> {
  const cert = certificate ?? recordingPki().server;
  const seen: SeenConnection[] = [];
  const handshakes: SeenHandshake[] = [];
  const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem, requestCert: true, rejectUnauthorized: false });
  server.on('connection', (socket: net.Socket) => {
    seen.push({ local: socket.localAddress ?? '?' });
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    const entry: SeenHandshake = { local: socket.localAddress ?? '?' };
    handshakes.push(entry);
    const peer = socket.getPeerCertificate();
    if (peer && peer.raw) entry.clientThumbprint = new X509Certificate(peer.raw).fingerprint.replace(/:/g, '').toUpperCase();
    if (typeof socket.servername === 'string') entry.servername = socket.servername;
    socket.on('data', () => {
      socket.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{"ok":true}');
    });
    socket.on('error', () => undefined);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  return {
    host,
    port: address.port,
    seen,
    handshakes,
    presented: () => handshakes.filter((h) => h.clientThumbprint !== undefined),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Connections a client left open would keep close() waiting.
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        setTimeout(resolve, 200).unref();
      }),
  };
}
