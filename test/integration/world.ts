// Shared by the integration tests: a config for a sandbox + Azurite, a clock that can jump ahead, and the request
// log read as "what did the engine change".
import type { Sandbox, Scenario } from '../../sandbox/index.js';
import type { CertificateVersionSpec, HealthShape } from '../../sandbox/scenario.js';
import type { RequestLogEntry } from '../../sandbox/observe.js';
import { createDependencies, type Dependencies } from '../../src/composition.js';
import { loadConfig, type Config } from '../../src/core/index.js';
import type { CrashBoundary } from '../../src/core/boundaries.js';
import type { AppRef, Clock } from '../../src/core/ports.js';

export function sandboxEnv(sb: Sandbox, storage: string, subscriptionIds: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    AZURE_SUBSCRIPTION_IDS: subscriptionIds,
    ARM_ENDPOINT: sb.armEndpoint,
    AZURE_CREDENTIAL: 'static',
    AZURE_STATIC_TOKEN: sb.token,
    KEYVAULT_CHALLENGE_VERIFICATION: 'false',
    KEYVAULT_ALLOWED_HOSTS: '127.0.0.1',
    AzureWebJobsStorage: storage,
    PROBE_WARMUP_SECONDS: '0',
    // A simulated app answers 503 for ~100 ms after a restart: the retries must outlast that (1 s, then 2 s).
    PROBE_BACKOFF_SECONDS: '1',
    PROBE_ATTEMPTS: '3',
    PROBE_TIMEOUT_SECONDS: '5',
    // The sandbox's downstreams listen on loopback, which the probe target policy refuses unless allow-listed.
    PROBE_ALLOWED_TARGETS: '127.0.0.1',
    ...extra,
  };
}

export function sandboxConfig(sb: Sandbox, storage: string, subscriptionIds: string, extra: Record<string, string> = {}): Config {
  return loadConfig(sandboxEnv(sb, storage, subscriptionIds, extra));
}

/** Real time plus an offset the test moves forward (lease expiry, retirement grace). */
export class JumpingClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
  jump(ms: number): void {
    this.offsetMs += ms;
  }
}

let owners = 0;
export function deps(
  sb: Sandbox,
  config: Config,
  options: { clock?: Clock; faultHook?: (boundary: CrashBoundary) => Promise<void> | void; owner?: string } = {},
): Dependencies {
  return createDependencies(config, {
    tlsCa: sb.caPem,
    owner: options.owner ?? `integration-${process.pid}-${++owners}`,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.faultHook ? { faultHook: options.faultHook } : {}),
  });
}

const MUTATIONS = /^(WebApps_UpdateApplicationSettings|WebApps_Restart|Certificates_CreateOrUpdate|Certificates_Delete)/;

/** Marks the request log; `changes()` then lists the ARM requests since that change something. */
export interface Watch {
  all(): RequestLogEntry[];
  /** Settings writes, restarts, certificate uploads and deletes since the mark (of one app when named). */
  changes(app?: { site: string; slot?: string }): RequestLogEntry[];
}

export function watch(sb: Sandbox): Watch {
  const from = sb.control.requests().at(-1)?.seq ?? 0;
  const all = () => sb.control.requests().filter((r) => r.seq > from);
  return {
    all,
    changes: (app) =>
      all().filter((r) => r.surface === 'arm' && MUTATIONS.test(r.operation ?? '') && (app === undefined || isOf(r.path, app))),
  };
}

function isOf(path: string, app: { site: string; slot?: string }): boolean {
  const p = path.toLowerCase();
  const site = `/sites/${app.site.toLowerCase()}/`;
  if (!p.includes(site)) return false;
  const slots = p.includes(`${site}slots/`);
  return app.slot ? p.includes(`${site}slots/${app.slot.toLowerCase()}/`) : !slots;
}

export const SUB = '22222222-2222-4222-8222-222222222222';
export const VAULT = 'kv-int';

export interface IndependentApp {
  name: string;
  /** Versions of its vault certificate after the loaded one (index 0); default: one renewal by the new CA. */
  renewals?: CertificateVersionSpec[];
  contentType?: 'application/x-pkcs12' | 'application/x-pem-file';
  forbidden?: boolean;
  /** What the app itself calls: 'partner' (trusts both CAs, default) or 'strict' (old CA only: verification fails). */
  calls?: 'partner' | 'strict';
  /** Untagged apps in the same webspace that load the same old certificate. */
  neighbours?: string[];
  settings?: Record<string, string>;
  /** What its health path answers (sandbox/README.md, "Health shapes"); default the kit. */
  health?: HealthShape;
  /** slow-start: its warm-up after every start. */
  warmupMs?: number;
  /** Tags beside the standard ones (e.g. mtls-rotation-health-expect). */
  tags?: Record<string, string>;
}

/**
 * Apps that cannot disturb each other: each in its own resource group (webspace) with its own vault certificate
 * (version 0 by the old CA, loaded and expiring in 10 days; then `renewals`), its probe tag on 'partner'.
 */
export function independentApps(apps: IndependentApp[]): Scenario {
  return {
    name: 'integration',
    cas: [{ name: 'ca-old' }, { name: 'ca-new' }],
    vaults: [
      {
        name: VAULT,
        subscriptionId: SUB,
        resourceGroup: 'rg-security',
        certificates: apps.map((app) => ({
          name: `${app.name}-client`,
          ...(app.contentType ? { contentType: app.contentType } : {}),
          ...(app.forbidden ? { forbidden: true } : {}),
          versions: [
            { issuer: 'ca-old', notBeforeDays: -355, notAfterDays: 10 },
            ...(app.renewals ?? [{ issuer: 'ca-new', notBeforeDays: -1, notAfterDays: 365 }]),
          ],
        })),
      },
    ],
    downstreams: [
      { name: 'partner', trusts: ['ca-old', 'ca-new'] },
      { name: 'strict', trusts: ['ca-old'] },
    ],
    subscriptions: [
      {
        id: SUB,
        resourceGroups: [
          { name: 'rg-security', location: 'West Europe' },
          ...apps.map((app) => {
            const pinned = `{{thumbprint:${VAULT}/${app.name}-client/0}}`;
            return {
              name: `rg-${app.name}`,
              location: 'West Europe',
              certificates: [{ name: `${app.name}-client-v0`, fromVault: { vault: VAULT, certificate: `${app.name}-client`, version: 0 } }],
              sites: [
                {
                  name: app.name,
                  downstream: app.calls ?? 'partner',
                  restartMs: 20,
                  ...(app.health !== undefined ? { health: app.health } : {}),
                  ...(app.warmupMs !== undefined ? { warmupMs: app.warmupMs } : {}),
                  tags: {
                    'mtls-rotation': 'enabled',
                    'mtls-rotation-source': `{{source:${VAULT}/${app.name}-client}}`,
                    'mtls-rotation-health': '/healthz/outbound-mtls',
                    'mtls-rotation-probe': '{{downstream:partner}}',
                    'mtls-rotation-settings': 'CLIENT_CERT_THUMBPRINT',
                    ...app.tags,
                  },
                  settings: app.settings ?? { WEBSITE_LOAD_CERTIFICATES: pinned, CLIENT_CERT_THUMBPRINT: pinned, OTHER: 'kept' },
                },
                ...(app.neighbours ?? []).map((name) => ({
                  name,
                  downstream: 'partner',
                  restartMs: 20,
                  tags: { team: 'not-opted-in' },
                  settings: { WEBSITE_LOAD_CERTIFICATES: pinned },
                })),
              ],
            };
          }),
        ],
      },
    ],
  };
}

export const appRef = (name: string): AppRef => ({ subscriptionId: SUB, resourceGroup: `rg-${name}`, site: name });
