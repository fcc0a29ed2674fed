// Shared by the integration tests: a config for a sandbox + Azurite, a clock that can jump ahead, and the request
// log read as "what did the engine change".
import type { Sandbox } from '../../sandbox/index.js';
import type { RequestLogEntry } from '../../sandbox/observe.js';
import { createDependencies, type Dependencies } from '../../src/composition.js';
import { loadConfig, type Config } from '../../src/core/index.js';
import type { CrashBoundary } from '../../src/core/boundaries.js';
import type { Clock } from '../../src/core/ports.js';

export function sandboxEnv(sb: Sandbox, storage: string, subscriptionIds: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    AZURE_SUBSCRIPTION_IDS: subscriptionIds,
    ARM_ENDPOINT: sb.armEndpoint,
    AZURE_CREDENTIAL: 'static',
    AZURE_STATIC_TOKEN: sb.token,
    KEYVAULT_CHALLENGE_VERIFICATION: 'false',
    AzureWebJobsStorage: storage,
    PROBE_WARMUP_SECONDS: '0',
    PROBE_BACKOFF_SECONDS: '0',
    PROBE_ATTEMPTS: '2',
    PROBE_TIMEOUT_SECONDS: '5',
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
