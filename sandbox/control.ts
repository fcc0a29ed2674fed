// Test and demo control of a running sandbox: renew Key Vault certificates, inject faults, change what a
// downstream trusts, slow or hang restarts, and read what happened (request log, counters, settings, loaded
// certificates). The same operations are served over HTTPS under <armEndpoint>/_sandbox/… (bearer required).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppRef } from '../src/core/ports.js';
import type { DownstreamSeen } from './downstream.js';
import type { ActiveFault, FaultSpec } from './faults.js';
import { HttpError, readJson, sendJson } from './http.js';
import type { Counters, RequestLogEntry } from './observe.js';
import { ScenarioError, type CertificateVersionSpec } from './scenario.js';
import type { ThrottlingOptions } from './throttling.js';

/**
 * A new version for `renew`: the CA, validity (days from the sandbox start) and optional defect/enabled.
 * Unlike scenario versions, `notBeforeDays` defaults to 0 and the version is created "now" (real time), so it
 * is the newest; the CN defaults to the current version's.
 */
export type RenewSpec = CertificateVersionSpec;

export interface KeyVaultVersionInfo {
  version: string;
  /** <vaultUrl>/certificates/<name>/<version> */
  id: string;
  thumbprint: string;
  x5t: string;
  enabled: boolean;
  notBefore: string;
  notAfter: string;
  created: string;
  issuer: string;
  subject: string;
  defect?: string;
}

export interface SandboxCertificateInfo {
  id: string;
  name: string;
  resourceGroup: string;
  location: string;
  thumbprint: string;
  subjectName: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  keyVaultId?: string;
  keyVaultSecretName?: string;
  tags: Record<string, string>;
}

export interface RestartBehaviour {
  restartMs?: number;
  hang?: boolean;
  /**
   * A restart that finishes but leaves the running process as it was: an instance that missed the recycle (an app
   * scaled out, one worker not restarted), so the app keeps presenting the certificate it had before the switch.
   */
  stale?: boolean;
}

export interface RequestFilter {
  /** Only entries with seq greater than this. */
  since?: number;
  surface?: RequestLogEntry['surface'];
  operation?: string;
}

export interface SandboxControl {
  // Key Vault
  /** Adds a version that becomes the current one (a Key Vault renewal). */
  renew(vault: string, certificate: string, spec: RenewSpec): KeyVaultVersionInfo;
  /** `version`: the id, or an index (0 = oldest, -1 = latest). */
  setVersionEnabled(vault: string, certificate: string, version: string | number, enabled: boolean): void;
  /** 403 Forbidden on every call to the vault (certificate undefined) or to one certificate. */
  setForbidden(vault: string, certificate: string | undefined, forbidden: boolean): void;
  keyVaultVersions(vault: string, certificate: string): KeyVaultVersionInfo[];

  // Faults and throttling
  addFault(spec: FaultSpec): string;
  removeFault(id: string): boolean;
  /** Removes every fault and re-seeds the RNG (default: the sandbox's seed) so probabilistic faults replay. */
  clearFaults(seed?: number): void;
  faults(): ActiveFault[];
  /** Replaces the throttling options; every bucket starts full. */
  setThrottling(opts: ThrottlingOptions): void;
  throttling(): Required<ThrottlingOptions>;

  // Downstreams
  /** `cas`: scenario CA names, or PEM text. */
  setDownstreamTrust(name: string, cas: string[]): void;
  setDownstreamAllowedThumbprints(name: string, thumbprints?: string[]): void;
  setDownstreamHang(name: string, hang: boolean): void;
  downstreamSeen(name: string): DownstreamSeen[];

  // Apps
  setRestartBehaviour(ref: AppRef, behaviour: RestartBehaviour): void;
  /** An operator's edit in the portal: replaces the settings, no restart. */
  /** A value may be null: ARM's app settings JSON can hold one (served and kept as null). */
  setAppSettings(ref: AppRef, settings: Record<string, string | null>): void;
  appSettings(ref: AppRef): Record<string, string>;
  /** What the running app loaded (simulated apps), else what it would load now. Uppercase. */
  loadedThumbprints(ref: AppRef): string[];
  restarts(ref: AppRef): number;

  // ARM state
  certificates(subscriptionId: string): SandboxCertificateInfo[];
  /** An operator deleting a Microsoft.Web/certificates resource (e.g. to make a thumbprint dangle). */
  deleteCertificate(subscriptionId: string, resourceGroup: string, name: string): boolean;

  // Lookups
  /** Same references as the {{thumbprint:…}} placeholder: "<vault>/<cert>/<n|latest>" or a material name. */
  thumbprint(ref: string): string;
  caPem(name: string): string;

  // Observation
  requests(filter?: RequestFilter): RequestLogEntry[];
  counters(): Counters;
  /** Counters and request log. */
  resetCounters(): void;
  /** Counters, request log, faults (RNG re-seeded), throttle buckets, restart behaviours. Not the world. */
  reset(): void;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function body<T>(v: unknown, what: string): T {
  if (!isRecord(v)) throw new HttpError(400, 'BadRequest', `${what}: a JSON object body is required.`);
  return v as T;
}

/** The HTTPS form of the control API, mounted under /_sandbox on the ARM port. */
export function createControlRoutes(
  control: SandboxControl,
  info: () => Record<string, unknown>,
): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> {
  return async (req, res, url) => {
    const method = (req.method ?? 'GET').toUpperCase();
    const seg = url.pathname
      .split('/')
      .filter((s) => s !== '')
      .slice(1)
      .map((s) => decodeURIComponent(s));
    try {
      const result = await dispatch(control, info, method, seg, url, req);
      sendJson(res, result.status, result.body);
    } catch (err) {
      req.resume();
      if (err instanceof HttpError) return sendJson(res, err.status, { error: { code: err.code, message: err.message } });
      if (err instanceof RangeError || err instanceof ScenarioError || err instanceof TypeError) {
        return sendJson(res, 400, { error: { code: 'BadRequest', message: err.message } });
      }
      throw err;
    }
  };
}

function appRefFrom(seg: string[]): { ref: AppRef; rest: string[] } {
  // apps/<sub>/<rg>/<site>[/slots/<slot>]/<what>
  const [sub, rg, site, maybeSlots, slot] = seg;
  if (sub === undefined || rg === undefined || site === undefined) throw new HttpError(404, 'NotFound', 'Use /_sandbox/apps/<subscription>/<resourceGroup>/<site>[/slots/<slot>]/<settings|loaded|restarts|restart-behaviour>.');
  if (maybeSlots === 'slots' && slot !== undefined) {
    return { ref: { subscriptionId: sub, resourceGroup: rg, site, slot }, rest: seg.slice(5) };
  }
  return { ref: { subscriptionId: sub, resourceGroup: rg, site }, rest: seg.slice(3) };
}

async function dispatch(
  c: SandboxControl,
  info: () => Record<string, unknown>,
  method: string,
  seg: string[],
  url: URL,
  req: IncomingMessage,
): Promise<{ status: number; body?: unknown }> {
  const [head, ...tail] = seg;
  const route = `${method} ${head ?? ''}`;
  switch (route) {
    case 'GET ':
    case 'GET info':
      return { status: 200, body: info() };
    case 'GET requests': {
      const since = url.searchParams.get('since');
      return {
        status: 200,
        body: {
          value: c.requests({
            since: since !== null ? Number(since) : undefined,
            surface: (url.searchParams.get('surface') as RequestLogEntry['surface'] | null) ?? undefined,
            operation: url.searchParams.get('operation') ?? undefined,
          }),
        },
      };
    }
    case 'GET counters':
      return { status: 200, body: c.counters() };
    case 'POST counters':
      if (tail[0] === 'reset') {
        c.resetCounters();
        return { status: 204 };
      }
      break;
    case 'POST reset':
      c.reset();
      return { status: 204 };
    case 'GET faults':
      return { status: 200, body: { value: c.faults() } };
    case 'POST faults':
      return { status: 201, body: { id: c.addFault(body<FaultSpec>(await readJson(req), 'fault')) } };
    case 'DELETE faults':
      if (tail[0] !== undefined) return c.removeFault(tail[0]) ? { status: 204 } : { status: 404, body: { error: { code: 'NotFound', message: `No fault '${tail[0]}'.` } } };
      c.clearFaults(url.searchParams.has('seed') ? Number(url.searchParams.get('seed')) : undefined);
      return { status: 204 };
    case 'GET throttling':
      return { status: 200, body: c.throttling() };
    case 'PUT throttling':
      c.setThrottling(body<ThrottlingOptions>(await readJson(req), 'throttling'));
      return { status: 200, body: c.throttling() };
    case 'GET thumbprints':
      return { status: 200, body: { thumbprint: c.thumbprint(tail.join('/')) } };
    case 'GET subscriptions':
      if (tail[1] === 'certificates' && tail[0] !== undefined) return { status: 200, body: { value: c.certificates(tail[0]) } };
      break;
    case 'DELETE subscriptions':
      // subscriptions/<sub>/resourceGroups/<rg>/certificates/<name>
      if (tail.length === 5 && tail[1]?.toLowerCase() === 'resourcegroups' && tail[3] === 'certificates') {
        return c.deleteCertificate(tail[0]!, tail[2]!, tail[4]!) ? { status: 200 } : { status: 204 };
      }
      break;
    default:
      break;
  }

  if (head === 'vaults' && tail.length >= 1) {
    const vault = tail[0]!;
    if (method === 'PUT' && tail[1] === 'forbidden' && tail.length === 2) {
      const b = body<{ forbidden: boolean; certificate?: string }>(await readJson(req), 'forbidden');
      c.setForbidden(vault, b.certificate, b.forbidden === true);
      return { status: 204 };
    }
    if (tail[1] === 'certificates' && tail[2] !== undefined && tail[3] === 'versions') {
      const cert = tail[2];
      if (method === 'GET' && tail.length === 4) return { status: 200, body: { value: c.keyVaultVersions(vault, cert) } };
      if (method === 'POST' && tail.length === 4) return { status: 201, body: c.renew(vault, cert, body<RenewSpec>(await readJson(req), 'version')) };
      if (method === 'PATCH' && tail.length === 5) {
        const b = body<{ enabled: boolean }>(await readJson(req), 'version');
        const v = /^-?\d+$/.test(tail[4]!) ? Number(tail[4]) : tail[4]!;
        c.setVersionEnabled(vault, cert, v, b.enabled === true);
        return { status: 204 };
      }
    }
  }
  if (head === 'downstreams' && tail.length === 2) {
    const name = tail[0]!;
    switch (`${method} ${tail[1]}`) {
      case 'PUT trust':
        c.setDownstreamTrust(name, body<{ cas: string[] }>(await readJson(req), 'trust').cas);
        return { status: 204 };
      case 'PUT allowed-thumbprints':
        c.setDownstreamAllowedThumbprints(name, body<{ thumbprints?: string[] }>(await readJson(req), 'allowed-thumbprints').thumbprints);
        return { status: 204 };
      case 'PUT hang':
        c.setDownstreamHang(name, body<{ hang: boolean }>(await readJson(req), 'hang').hang === true);
        return { status: 204 };
      case 'GET seen':
        return { status: 200, body: { value: c.downstreamSeen(name) } };
      default:
        break;
    }
  }
  if (head === 'apps') {
    const { ref, rest } = appRefFrom(tail);
    switch (`${method} ${rest.join('/')}`) {
      case 'GET settings':
        return { status: 200, body: { properties: c.appSettings(ref) } };
      case 'PUT settings': {
        const b = body<{ properties: Record<string, string> }>(await readJson(req), 'settings');
        c.setAppSettings(ref, body<Record<string, string>>(b.properties, 'settings.properties'));
        return { status: 204 };
      }
      case 'GET loaded':
        return { status: 200, body: { thumbprints: c.loadedThumbprints(ref) } };
      case 'GET restarts':
        return { status: 200, body: { restarts: c.restarts(ref) } };
      case 'PUT restart-behaviour':
        c.setRestartBehaviour(ref, body<RestartBehaviour>(await readJson(req), 'restart-behaviour'));
        return { status: 204 };
      default:
        break;
    }
  }
  throw new HttpError(404, 'NotFound', `The sandbox control API has no ${method} /_sandbox/${seg.join('/')}. See sandbox/README.md.`);
}
