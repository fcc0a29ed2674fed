// A local Application Insights ingestion endpoint for tests: HTTPS on 127.0.0.1 (the exporter always
// uses https), a throwaway CA, and every envelope the SDK posts to /v2.1/track (or /v2/track) kept in
// order, decompressed and decoded. Reuse it for per-scenario event tests:
//
//   const ingestion = await startIngestion();
//   const telemetry = ingestion.createTelemetry();          // or pass ingestion.connectionString + caPem
//   ... run the scenario with `telemetry` ...
//   await telemetry.flush();
//   const committed = await ingestion.waitFor('RotationCommitted', (e) => e.properties.app === appId);
//   await telemetry.shutdown(); await ingestion.stop();
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { createCertificateAuthority, issueCertificate } from '../../src/crypto/index.js';
import { createTelemetry, type AppTelemetry, type TelemetryOptions } from '../../src/telemetry/index.js';

export type EnvelopeKind = 'event' | 'metric' | 'exception' | 'trace' | 'other';

export interface CapturedItem {
  kind: EnvelopeKind;
  /** Event name, metric name, or the exception's type name. */
  name: string;
  properties: Record<string, string>;
  measurements: Record<string, number>;
  /** Metric value (sum), count, min, max; metrics only. */
  value?: number;
  count?: number;
  /** Exceptions only: the first exception's message. */
  message?: string;
  time: string;
  tags: Record<string, string>;
  /** The whole envelope as the SDK sent it. */
  envelope: Record<string, unknown>;
}

export interface IngestionEndpoint {
  connectionString: string;
  /** The CA that issued the endpoint's certificate: give it to the exporter (tlsOptions) or NODE_EXTRA_CA_CERTS. */
  caPem: string;
  url: string;
  /** Everything received, in arrival order. */
  envelopes: CapturedItem[];
  /** Every request body, decompressed: for "no secret anywhere" assertions. */
  bodies: string[];
  /** Requests seen (method and path), including ones that are not track calls. */
  requests: Array<{ method: string; path: string; status: number }>;
  events(name?: string): CapturedItem[];
  metrics(name?: string): CapturedItem[];
  exceptions(): CapturedItem[];
  /** Resolves with the first item (event, metric or exception type) of that name matching `match`. */
  waitFor(name: string, match?: (item: CapturedItem) => boolean, timeoutMs?: number): Promise<CapturedItem>;
  waitForException(match?: (item: CapturedItem) => boolean, timeoutMs?: number): Promise<CapturedItem>;
  /** The status the endpoint answers with from now on (200 by default; 500/503/429 to test retries). */
  setStatus(status: number): void;
  /** A Telemetry wired to this endpoint (trusts its CA in the exporter only, not process-wide). */
  createTelemetry(opts?: TelemetryOptions): AppTelemetry;
  stop(): Promise<void>;
}

export async function startIngestion(): Promise<IngestionEndpoint> {
  const ca = createCertificateAuthority({ commonName: 'mtls-rotator test ingestion CA' });
  const serverCert = issueCertificate(ca, { commonName: '127.0.0.1', usage: 'server', altNames: ['127.0.0.1', 'localhost'] });
  const envelopes: CapturedItem[] = [];
  const bodies: string[] = [];
  const requests: IngestionEndpoint['requests'] = [];
  const waiters = new Set<() => void>();
  let status = 200;

  const server = https.createServer({ cert: serverCert.certPem, key: serverCert.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const isTrack = req.method === 'POST' && /^\/v2(\.1)?\/track$/.test(path);
      requests.push({ method: req.method ?? '', path, status: isTrack ? status : 404 });
      if (!isTrack) {
        res.writeHead(404).end();
        return;
      }
      let items: Array<Record<string, unknown>> = [];
      try {
        const raw = Buffer.concat(chunks);
        const text = (req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(raw) : raw).toString('utf8');
        bodies.push(text);
        items = parseBody(text);
      } catch (error) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(error) }));
        return;
      }
      if (status === 200) {
        for (const item of items) envelopes.push(decode(item));
        for (const wake of [...waiters]) wake();
      }
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: items.length, itemsAccepted: status === 200 ? items.length : 0, errors: [] }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}/`;
  const connectionString = `InstrumentationKey=${randomUUID()};IngestionEndpoint=${url};LiveEndpoint=${url}`;

  const waitUntil = (find: () => CapturedItem | undefined, what: string, timeoutMs: number): Promise<CapturedItem> =>
    new Promise((resolve, reject) => {
      const found = find();
      if (found) return resolve(found);
      const check = (): void => {
        const item = find();
        if (!item) return;
        cleanup();
        resolve(item);
      };
      const timer = setTimeout(() => {
        cleanup();
        const seen = envelopes.map((e) => `${e.kind}:${e.name}`).join(', ') || 'nothing';
        reject(new Error(`ingestion: no ${what} within ${timeoutMs} ms (received: ${seen})`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
    });

  return {
    connectionString,
    caPem: ca.certPem,
    url,
    envelopes,
    bodies,
    requests,
    events: (name) => envelopes.filter((e) => e.kind === 'event' && (name === undefined || e.name === name)),
    metrics: (name) => envelopes.filter((e) => e.kind === 'metric' && (name === undefined || e.name === name)),
    exceptions: () => envelopes.filter((e) => e.kind === 'exception'),
    waitFor: (name, match = () => true, timeoutMs = 15_000) =>
      waitUntil(() => envelopes.find((e) => e.name === name && match(e)), `'${name}'`, timeoutMs),
    waitForException: (match = () => true, timeoutMs = 15_000) =>
      waitUntil(() => envelopes.find((e) => e.kind === 'exception' && match(e)), 'exception', timeoutMs),
    setStatus: (next) => {
      status = next;
    },
    createTelemetry: (opts) => createTelemetry(connectionString, { ingestionCaPem: ca.certPem, ...opts }),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const wake of [...waiters]) wake();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// The exporter posts a JSON array; the classic SDK and some tools post newline-delimited JSON.
function parseBody(text: string): Array<Record<string, unknown>> {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) return JSON.parse(trimmed) as Array<Record<string, unknown>>;
  return trimmed
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function decode(envelope: Record<string, unknown>): CapturedItem {
  const data = (envelope.data ?? {}) as { baseType?: string; baseData?: Record<string, unknown> };
  const base = data.baseData ?? {};
  const common = {
    properties: (base.properties ?? {}) as Record<string, string>,
    measurements: (base.measurements ?? {}) as Record<string, number>,
    time: String(envelope.time ?? ''),
    tags: (envelope.tags ?? {}) as Record<string, string>,
    envelope,
  };
  switch (data.baseType) {
    case 'EventData':
      return { kind: 'event', name: String(base.name), ...common };
    case 'MetricData': {
      const metric = ((base.metrics ?? []) as Array<{ name: string; value: number; count?: number }>)[0];
      return { kind: 'metric', name: metric?.name ?? '', value: metric?.value, count: metric?.count, ...common };
    }
    case 'ExceptionData': {
      const first = ((base.exceptions ?? []) as Array<{ typeName?: string; message?: string }>)[0];
      return { kind: 'exception', name: first?.typeName ?? '', message: first?.message, ...common };
    }
    case 'MessageData':
      return { kind: 'trace', name: String(base.message ?? ''), ...common };
    default:
      return { kind: 'other', name: String(envelope.name ?? ''), ...common };
  }
}
