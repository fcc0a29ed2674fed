// Azurite (tables + queues, in memory) as a child process on free loopback ports, for tests, the demo and the
// benchmark. The account is Azurite's well-known development account: its key is published in Microsoft's docs
// and in Azurite itself, so it is not a secret.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';

export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  /** Storage connection string (what AzureWebJobsStorage holds), http endpoints for blob, queue and table. */
  connectionString: string;
  tableEndpoint: string;
  queueEndpoint: string;
  blobEndpoint: string;
  /** Of the Azurite process (the benchmark reads its CPU time). */
  pid: number | undefined;
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  /** Receives Azurite's own console lines (start-up and errors); silent by default. */
  log?: (line: string) => void;
  /** How long to wait for the three services to listen. */
  startTimeoutMs?: number;
  /**
   * Serve HTTPS with this certificate (PEM; e.g. the sandbox's `serverTls`, trusted through its CA) instead of
   * HTTP. Required for `oauth`: Azurite accepts a bearer token only over HTTPS.
   */
  https?: { certPem: string; keyPem: string };
  /**
   * `--oauth basic`: bearer tokens are accepted besides the shared key. Azurite checks a token's issuer
   * (https://sts.windows.net/…), audience (https://storage.azure.com or the account's service URL) and lifetime,
   * not its signature or any role.
   */
  oauth?: boolean;
}

export class AzuriteStartError extends Error {
  override readonly name = 'AzuriteStartError';
}

const LISTENING = /Azurite (Blob|Queue|Table) service is successfully listening at (https?:\/\/127\.0\.0\.1:(\d+))/;

/**
 * Preloaded into the Azurite child. Azurite's telemetry client (Application Insights, enabled unless told otherwise) must never reach the network:
 * `--disableTelemetry` turns it off (checked in azurite 3.35 `common/Telemetry.js`: init() creates no client when
 * false), and this preload refuses any non-loopback connection or DNS look-up in the child as a second line.
 */
const CHILD_NETWORK_GUARD = `
import net from 'node:net'; import dns from 'node:dns';
const loop = (h) => !h || h === 'localhost' || h === '::1' || /^127\\./.test(h) || /^::ffff:127\\./.test(h);
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...a) {
  const o = a[0] && typeof a[0] === 'object' ? (Array.isArray(a[0]) ? a[0][0] : a[0]) : { port: a[0], host: a[1] };
  if (o && !o.path && !loop(o.host)) { process.stderr.write('azurite network guard: blocked ' + o.host + '\\n'); const s = this; process.nextTick(() => s.destroy(new Error('blocked'))); return s; }
  return connect.apply(this, a);
};
const lookup = dns.lookup;
dns.lookup = function (h, ...r) { if (!loop(h)) { const cb = r[r.length - 1]; process.stderr.write('azurite network guard: blocked lookup ' + h + '\\n'); process.nextTick(() => cb(Object.assign(new Error('blocked'), { code: 'ENOTFOUND' }))); return {}; } return lookup.call(this, h, ...r); };
// The parent holds our stdin open; when it dies (even by SIGKILL, where no exit hook runs) the pipe closes.
process.stdin.on('end', () => process.exit(0)); process.stdin.on('error', () => process.exit(0)); process.stdin.resume();
`;

function azuriteEntry(): string {
  const require = createRequire(import.meta.url);
  // The package's `main` is the VS Code extension; the combined CLI lives next to it.
  return require.resolve('azurite/dist/src/azurite.js');
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test runner or CLI that exits without calling stop() must not leave Azurite behind.
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  const log = options.log ?? (() => undefined);
  if (options.oauth && !options.https) throw new AzuriteStartError('Azurite OAuth needs HTTPS: pass https: { certPem, keyPem } with oauth');
  let tlsDir: string | undefined;
  const tlsArgs: string[] = [];
  if (options.https) {
    tlsDir = mkdtempSync(join(os.tmpdir(), 'mtls-azurite-tls-'));
    writeFileSync(join(tlsDir, 'cert.pem'), options.https.certPem);
    writeFileSync(join(tlsDir, 'key.pem'), options.https.keyPem, { mode: 0o600 });
    tlsArgs.push('--cert', join(tlsDir, 'cert.pem'), '--key', join(tlsDir, 'key.pem'));
    if (options.oauth) tlsArgs.push('--oauth', 'basic');
  }
  const child = spawn(
    process.execPath,
    [
      // A data: URL needs no temporary file; builtin modules are shared, so the patch applies to Azurite's CJS code.
      '--import',
      `data:text/javascript,${encodeURIComponent(CHILD_NETWORK_GUARD)}`,
      azuriteEntry(),
      '--blobHost', '127.0.0.1', '--blobPort', '0',
      '--queueHost', '127.0.0.1', '--queuePort', '0',
      '--tableHost', '127.0.0.1', '--tablePort', '0',
      '--inMemoryPersistence',
      '--extentMemoryLimit', '64',
      '--skipApiVersionCheck',
      '--disableTelemetry',
      '--silent',
      '--loose',
      ...tlsArgs,
    ],
    {
      // With in-memory persistence Azurite writes nothing, but it still checks that its location (the cwd) exists.
      cwd: os.tmpdir(),
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '', AZURITE_ACCOUNTS: '' },
    },
  );
  running.add(child);
  installExitHook();

  const endpoints: Partial<Record<'Blob' | 'Queue' | 'Table', string>> = {};
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new AzuriteStartError(`Azurite did not start within ${options.startTimeoutMs ?? 30_000} ms: ${output.slice(-500)}`)),
      options.startTimeoutMs ?? 30_000,
    );
    const onLine = (line: string) => {
      log(line);
      const match = LISTENING.exec(line);
      if (match) endpoints[match[1] as 'Blob' | 'Queue' | 'Table'] = match[2];
      if (endpoints.Blob && endpoints.Queue && endpoints.Table) {
        clearTimeout(timer);
        resolve();
      }
    };
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        output = (output + chunk).slice(-4000);
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) onLine(line.trim());
      });
    }
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      reject(new AzuriteStartError(`Azurite exited during start-up (code ${code}, signal ${signal}): ${output.slice(-500)}`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new AzuriteStartError(`Azurite could not be started: ${error.message}`, { cause: error }));
    });
  });

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) {
      running.delete(child);
      if (tlsDir !== undefined) rmSync(tlsDir, { recursive: true, force: true });
      return;
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    // Azurite closes its servers on SIGTERM but may keep the event loop alive; do not wait for it forever.
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
    running.delete(child);
    if (tlsDir !== undefined) rmSync(tlsDir, { recursive: true, force: true });
  };

  try {
    await ready;
    await Promise.all([endpoints.Blob!, endpoints.Queue!, endpoints.Table!].map((url) => waitForPort(Number(new URL(url).port))));
  } catch (error) {
    await stop();
    throw error;
  }

  const account = AZURITE_ACCOUNT_NAME;
  const blobEndpoint = `${endpoints.Blob}/${account}`;
  const queueEndpoint = `${endpoints.Queue}/${account}`;
  const tableEndpoint = `${endpoints.Table}/${account}`;
  const connectionString =
    `DefaultEndpointsProtocol=${options.https ? 'https' : 'http'};AccountName=${account};AccountKey=${AZURITE_ACCOUNT_KEY};` +
    `BlobEndpoint=${blobEndpoint};QueueEndpoint=${queueEndpoint};TableEndpoint=${tableEndpoint};`;
  return { connectionString, tableEndpoint, queueEndpoint, blobEndpoint, pid: child.pid, stop };
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port (Azurite logs "listening" just before). */
async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new AzuriteStartError(`Azurite port ${port} did not answer within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
