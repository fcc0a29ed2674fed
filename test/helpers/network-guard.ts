import dns from 'node:dns';
import net from 'node:net';

export interface BlockedAttempt {
  kind: 'connect' | 'lookup';
  target: string;
  stack?: string;
}

export const blockedAttempts: BlockedAttempt[] = [];

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]', '0:0:0:0:0:0:0:1']);

export function isLoopbackHost(host: string | undefined | null): boolean {
  if (host === undefined || host === null || host === '') return true; // Node defaults to localhost
  const h = host.toLowerCase();
  if (LOOPBACK_NAMES.has(h)) return true;
  if (/^127(\.\d{1,3}){3}$/.test(h)) return true;
  if (h.startsWith('::ffff:127.')) return true;
  return false;
}

function blockedError(target: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`network guard: connection to ${target} blocked (tests may reach loopback only)`);
  err.code = 'ECONNREFUSED';
  return err;
}

let installed = false;

export function installNetworkGuard(): void {
  if (installed) return;
  installed = true;

  const originalConnect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
    let host: string | undefined;
    let port: unknown;
    let path: string | null | undefined;
    const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    if (first !== null && typeof first === 'object') {
      const o = first as { host?: string; port?: unknown; path?: string | null };
      host = o.host;
      port = o.port;
      path = o.path;
    } else if (typeof first === 'string' && !/^\d+$/.test(first)) {
      path = first;
    } else {
      port = first;
      host = typeof args[1] === 'string' ? (args[1] as string) : undefined;
    }
    // http/https pass `path: null` with a TCP host (their options object has the request path elsewhere): only a
    // real socket path (an IPC pipe) is exempt.
    if ((path === undefined || path === null) && !isLoopbackHost(host)) {
      const target = `${host}:${String(port)}`;
      blockedAttempts.push({ kind: 'connect', target, stack: new Error().stack });
      const socket = this;
      process.nextTick(() => socket.destroy(blockedError(target)));
      return socket;
    }
    return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;

  const originalLookup = dns.lookup;
  const guardedLookup = function (hostname: string, ...rest: unknown[]) {
    const callback = rest[rest.length - 1] as (err: NodeJS.ErrnoException | null, ...r: unknown[]) => void;
    if (!isLoopbackHost(hostname)) {
      blockedAttempts.push({ kind: 'lookup', target: hostname, stack: new Error().stack });
      const err: NodeJS.ErrnoException = new Error(`network guard: DNS look-up of ${hostname} blocked`);
      err.code = 'ENOTFOUND';
      process.nextTick(() => callback(err));
      return {} as never;
    }
    return (originalLookup as (...a: unknown[]) => unknown)(hostname, ...rest);
  };
  (dns as { lookup: unknown }).lookup = guardedLookup;

  const originalPromiseLookup = dns.promises.lookup;
  (dns.promises as { lookup: unknown }).lookup = async (hostname: string, ...rest: unknown[]) => {
    if (!isLoopbackHost(hostname)) {
      blockedAttempts.push({ kind: 'lookup', target: hostname, stack: new Error().stack });
      const err: NodeJS.ErrnoException = new Error(`network guard: DNS look-up of ${hostname} blocked`);
      err.code = 'ENOTFOUND';
      throw err;
    }
    return (originalPromiseLookup as (...a: unknown[]) => Promise<unknown>)(hostname, ...rest);
  };

  for (const name of ['resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveCname', 'resolveSrv', 'resolveTxt'] as const) {
    const original = (dns as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
    (dns as unknown as Record<string, unknown>)[name] = (hostname: string, ...rest: unknown[]) => {
      if (!isLoopbackHost(hostname)) {
        blockedAttempts.push({ kind: 'lookup', target: hostname, stack: new Error().stack });
        const callback = rest[rest.length - 1] as (err: NodeJS.ErrnoException) => void;
        const err: NodeJS.ErrnoException = new Error(`network guard: DNS resolve of ${hostname} blocked`);
        err.code = 'ENOTFOUND';
        process.nextTick(() => callback(err));
        return undefined;
      }
      return original(hostname, ...rest);
    };
  }
}
