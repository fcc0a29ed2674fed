// Small HTTP helpers shared by the ARM, Key Vault and control surfaces of the sandbox.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Server } from 'node:net';

// Certificate PUTs carry a base64 PFX (a few KB); anything near this bound is a mistake, not a certificate.
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export class BodyTooLargeError extends HttpError {
  constructor() {
    super(413, 'RequestEntityTooLarge', `The request body exceeds ${MAX_BODY_BYTES} bytes.`);
  }
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLargeError());
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Parses a JSON request body; a body that is not JSON is the client's fault (400), named by `code`. */
export async function readJson(req: IncomingMessage, code = 'InvalidRequestContent'): Promise<unknown> {
  const buf = await readBody(req);
  if (buf.length === 0) return undefined;
  try {
    return JSON.parse(buf.toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, code, 'The request content was invalid and could not be deserialized: the body is not valid JSON.');
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(text === '' ? {} : { 'content-type': 'application/json; charset=utf-8' }),
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-cache',
    'x-ms-request-id': randomUUID(),
    ...headers,
  });
  res.end(text);
}

/** `Authorization: Bearer <token>` → the token; undefined when absent or malformed. */
export function bearerToken(req: IncomingMessage): { present: boolean; token?: string } {
  const h = req.headers.authorization;
  if (h === undefined || h === '') return { present: false };
  const m = /^Bearer\s+(\S.*)$/i.exec(h);
  return { present: true, token: m?.[1]?.trim() || undefined };
}

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
  caPem: string;
}

export interface StartedServer {
  server: https.Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 and a free port (the sandbox never binds anything else); resolves with the port. */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** An HTTPS server on 127.0.0.1 and a free port. */
export async function startHttpsServer(
  tls: TlsMaterial,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<StartedServer> {
  const server = https.createServer({ key: tls.keyPem, cert: `${tls.certPem.trim()}\n${tls.caPem.trim()}\n`, keepAliveTimeout: 30_000 }, handler);
  const port = await listenOnLoopback(server);
  return {
    server,
    port,
    url: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        // Hung requests (fault injection) and keep-alive sockets would keep close() waiting forever.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** "2039-12-31T23:59:59+00:00": the offset form App Service writes dates in. */
export function armDate(d: Date): string {
  return `${d.toISOString().slice(0, 19)}+00:00`;
}

export function epochSeconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}
