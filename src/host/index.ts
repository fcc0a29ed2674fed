// The local host: runs the project's `@azure/functions` v4 definitions without Functions Core Tools.
// HTTP on 127.0.0.1:7071 under /api, timers on their NCRONTAB schedules, storage queue triggers polling
// Azurite with dequeue counts and a poison queue. See docs/local-runner.md.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { captureRegistrations, installRegistrationCapture, registeredFunctions, registeredHooks, setSystemLog, type Registration } from './capture.js';
import { createEventGridWebhook } from './eventGrid.js';
import { HttpFront, type HostKeys } from './http.js';
import { createInvocationContext, describeThrown, InvocationTracker, type HostLog } from './invocation.js';
import { QueueListeners, type QueueOptions } from './queues.js';
import { applyToEnv, findLocalSettings, LocalHostConfigError, readHostJson, readLocalSettings, withHostJsonOverrides, type EnvRestore } from './settings.js';
import { TimerScheduler } from './timers.js';

export { captureRegistrations, installRegistrationCapture, registeredFunctions, type Registration } from './capture.js';
export { encodeQueueMessage } from './queues.js';
export { LocalHostConfigError } from './settings.js';
export { nextOccurrence, parseNcrontab, NcrontabError } from '../core/schedule/ncrontab.js';

installRegistrationCapture();

export interface LocalHostOptions {
  /** Imports the function modules (e.g. `() => import('../functions/index.js')`). Runs after settings are applied. */
  register?: () => unknown;
  /** Function module files (paths relative to `cwd`, or file URLs), imported in order. */
  functionsModules?: string[];
  /** Only these functions (by name); default every function registered in this process. */
  functions?: string[];
  /** App settings. They override the environment while the host runs and are restored by stop(). */
  settings?: Record<string, string>;
  /** local.settings.json to read (`Values` fill unset env vars); default `local.settings.json`, else the sample, in cwd. False: none. */
  localSettings?: string | false;
  /** host.json path; default `host.json` in cwd. False: the host's defaults. */
  hostJson?: string | false;
  cwd?: string;
  /** Default 7071; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  hostname?: string;
  log?: HostLog;
  timers?: {
    /** Arm the NCRONTAB schedules (default true). False: timers run only through invokeTimer(). */
    scheduled?: boolean;
    /** Honour runOnStartup (default true). */
    runOnStartup?: boolean;
  };
  /** Queue listener tuning; defaults from host.json `extensions.queues`. */
  queues?: Partial<QueueOptions> & { enabled?: boolean };
  /** Default 10 MiB; the handlers apply their own, smaller limits. */
  maxRequestBodyBytes?: number;
  /** How long stop() waits for running invocations (default 30 s). */
  shutdownTimeoutMs?: number;
}

export interface LocalHost {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `url` + `/api` (the route prefix). */
  apiUrl: string;
  port: number;
  /** The keys the host accepts: from FUNCTIONS_KEY / FUNCTIONS_MASTER_KEY, else generated for this run. */
  keys: HostKeys;
  registrations: readonly Registration[];
  /** Runs a timer function now (isPastDue false); rejects with what the handler threw. */
  invokeTimer(name: string): Promise<void>;
  /** The storage queue each queue function listens on (settings resolved). */
  queueNames: Record<string, string>;
  stop(): Promise<void>;
}

const DEFAULT_PORT = 7071;

export async function startLocalHost(options: LocalHostOptions = {}): Promise<LocalHost> {
  const cwd = options.cwd ?? process.cwd();
  const log: HostLog = options.log ?? ((line) => console.log(line));
  const restores: EnvRestore[] = [];
  const restoreEnv = (): void => {
    for (const restore of restores.reverse()) restore();
    restores.length = 0;
  };
  let restoreSystemLog: (() => void) | undefined;
  const cleanups: Array<() => Promise<void> | void> = [];

  try {
    if (options.localSettings !== false) {
      const file = findLocalSettings(cwd, options.localSettings);
      if (file !== undefined) {
        const local = readLocalSettings(file);
        restores.push(applyToEnv(local.values, { override: false }));
        log(`settings: ${Object.keys(local.values).length} values from ${path.relative(cwd, file) || file} (already-set environment variables win)`);
      }
    }
    if (options.settings !== undefined) restores.push(applyToEnv(options.settings, { override: true }));
    const settings: Record<string, string | undefined> = { ...process.env };
    const hostJson = withHostJsonOverrides(readHostJson(options.hostJson === false ? undefined : path.resolve(cwd, options.hostJson ?? 'host.json')), settings);

    restoreSystemLog = setSystemLog((level, message) => {
      if (level === 'warning' || level === 'error' || level === 'critical') log(`[functions ${level}] ${message}`);
    });
    await captureRegistrations(async () => {
      await options.register?.();
      for (const module of options.functionsModules ?? []) {
        await import(module.startsWith('file:') ? module : pathToFileURL(path.resolve(cwd, module)).href);
      }
    });
    const registrations = selectRegistrations(options.functions);

    const tracker = new InvocationTracker();
    const timers = new TimerScheduler(registrations.filter((r) => r.kind === 'timer'), settings, log, tracker);
    const queueRegs = registrations.filter((r) => r.kind === 'storageQueue');
    const queuesEnabled = options.queues?.enabled !== false;
    const queueOptions: QueueOptions = {
      maxDequeueCount: options.queues?.maxDequeueCount ?? hostJson.queues.maxDequeueCount,
      visibilityTimeoutSeconds: options.queues?.visibilityTimeoutSeconds ?? hostJson.queues.visibilityTimeoutSeconds,
      batchSize: options.queues?.batchSize ?? hostJson.queues.batchSize,
      // The extension's documented default; N × batchSize / 2 with N vCPUs on dedicated plans, N = 1 on consumption ones.
      newBatchThreshold:
        options.queues?.newBatchThreshold ?? hostJson.queues.newBatchThreshold ?? Math.floor((options.queues?.batchSize ?? hostJson.queues.batchSize) / 2),
      minPollingIntervalMs: options.queues?.minPollingIntervalMs ?? 100,
      // The repository's host.json sets 2 s; a host.json without it gets the extension's minute, as on Azure.
      maxPollingIntervalMs: options.queues?.maxPollingIntervalMs ?? hostJson.queues.maxPollingIntervalMs,
      leaseSeconds: options.queues?.leaseSeconds ?? 60,
    };
    const queues = queuesEnabled && queueRegs.length > 0 ? new QueueListeners(queueRegs, settings, queueOptions, log, tracker) : undefined;
    for (const r of registrations.filter((r) => r.kind === 'other')) {
      if (r.trigger.type.toLowerCase() === 'eventgridtrigger') {
        log(`function '${r.name}' (eventGridTrigger): POST /runtime/webhooks/eventgrid?functionName=${r.name}&code=<eventgrid_extension key>`);
        continue;
      }
      log(`function '${r.name}' (${r.trigger.type}) is registered but the local host has no ${r.trigger.type} source; invoke it via /admin/functions/${r.name}`);
    }

    const keys: HostKeys = {
      function: settings.FUNCTIONS_KEY || randomKey(),
      master: settings.FUNCTIONS_MASTER_KEY || randomKey(),
      eventGrid: settings.FUNCTIONS_EVENTGRID_KEY || randomKey(),
    };
    if (!settings.FUNCTIONS_KEY) log('no FUNCTIONS_KEY set: generated a function key for this run (LocalHost.keys.function)');

    const invokeNonHttp = (name: string, input: unknown): Promise<void> | undefined => {
      if (timers.has(name)) return timers.invoke(name);
      const reg = registrations.find((r) => r.kind !== 'http' && r.name.toLowerCase() === name.toLowerCase());
      if (reg === undefined) return undefined;
      const context = createInvocationContext(reg, log);
      return tracker.track(
        (async () => {
          try {
            await reg.handler(input, context);
            log(`executed '${reg.name}' (succeeded, id ${context.invocationId})`);
          } catch (err) {
            log(`executed '${reg.name}' (failed, id ${context.invocationId}): ${describeThrown(err)}`);
            throw err;
          }
        })(),
      );
    };

    const http = new HttpFront(
      registrations.filter((r) => r.kind === 'http'),
      {
        hostname: options.hostname ?? '127.0.0.1',
        port: options.port ?? DEFAULT_PORT,
        routePrefix: hostJson.routePrefix,
        keys,
        maxRequestBodyBytes: options.maxRequestBodyBytes ?? 10 * 1024 * 1024,
        invokeNonHttp,
        eventGrid: createEventGridWebhook(
          registrations,
          { systemKey: keys.eventGrid!, masterKey: keys.master, maxBodyBytes: options.maxRequestBodyBytes ?? 10 * 1024 * 1024 },
          log,
          tracker,
        ),
      },
      log,
      tracker,
    );

    for (const hook of registeredHooks('appStart')) await hook({ hookData: {}, appHookData: {}, functionAppDirectory: cwd });
    const { port, url } = await http.listen();
    cleanups.push(() => http.close());
    if (queues !== undefined) {
      cleanups.push(() => queues.stop());
      await queues.start();
    }
    timers.start({ scheduled: options.timers?.scheduled !== false, runOnStartup: options.timers?.runOnStartup !== false });
    cleanups.push(() => timers.stop());

    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        timers.stop();
        await queues?.stop(options.shutdownTimeoutMs ?? 30_000);
        const drained = await tracker.drain(options.shutdownTimeoutMs ?? 30_000);
        if (!drained) log(`stop: ${tracker.count} invocation(s) still running after the shutdown timeout; closing anyway`);
        await http.close();
        for (const hook of registeredHooks('appTerminate')) {
          try {
            await hook({ hookData: {}, appHookData: {} });
          } catch (err) {
            log(`appTerminate hook failed: ${describeThrown(err)}`);
          }
        }
        restoreSystemLog?.();
        restoreEnv();
        log('local host stopped');
      })();
      return stopping;
    };

    const apiUrl = hostJson.routePrefix === '' ? url : `${url}/${hostJson.routePrefix}`;
    log(`local host listening on ${url} (${registrations.length} functions)`);
    return {
      url,
      apiUrl,
      port,
      keys,
      registrations,
      invokeTimer: (name) => timers.invoke(name),
      queueNames: queues?.queueNames() ?? {},
      stop,
    };
  } catch (err) {
    for (const cleanup of cleanups.reverse()) await cleanup();
    restoreSystemLog?.();
    restoreEnv();
    throw err;
  }
}

function selectRegistrations(names: string[] | undefined): Registration[] {
  const all = [...registeredFunctions()];
  if (all.length === 0) {
    throw new LocalHostConfigError(
      'no functions are registered. Pass `register` or `functionsModules`; if the modules were imported before the local host, ' +
        '@azure/functions went into test mode on its first app.* call ("Skipping call to register function") — import src/host/index.js (or capture.js) first',
    );
  }
  if (names === undefined) return all;
  const wanted = names.map((n) => n.toLowerCase());
  const missing = names.filter((n) => !all.some((r) => r.name.toLowerCase() === n.toLowerCase()));
  if (missing.length > 0) {
    throw new LocalHostConfigError(`functions not registered: ${missing.join(', ')} (registered: ${all.map((r) => r.name).join(', ')})`);
  }
  return all.filter((r) => wanted.includes(r.name.toLowerCase()));
}

function randomKey(): string {
  return randomBytes(32).toString('base64url');
}
