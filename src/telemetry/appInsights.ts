// The Telemetry port on the real applicationinsights@3.16.0 SDK.
//
// Final SDK configuration, and why (measured with 3.16.0; see docs/operations.md "Telemetry"):
// - `new TelemetryClient(cs, { useGlobalProviders: false })`: the shim's isolated providers
//   (TelemetryClientProvider) build ONLY the three Azure Monitor exporters (traces, logs, metrics) with a
//   plain resource. Unlike `useAzureMonitor()` / `setup().start()` this never runs the distro, so there
//   is no live metrics client (QuickPulse endpoint), no Azure resource detectors (the VM detector calls
//   169.254.169.254 whenever no Azure platform variable is present), no http/azure-sdk/console/db
//   instrumentations (less cold start, no double-reporting of the Functions host's own request
//   telemetry), no performance counters, no standard metrics and no uncaught-exception hooks that would
//   compete with the Functions worker. Nothing is registered globally, so tests can start and stop
//   clients freely.
// - `APPLICATION_INSIGHTS_NO_STATSBEAT=true` (set here when unset; the exporter reads it when it is
//   constructed): statsbeat would otherwise call 169.254.169.254 (VM check) and post to the statsbeat
//   ingestion endpoint, and "customer SDK stats" ride on the same switch. The newer-looking
//   `APPLICATIONINSIGHTS_STATSBEAT_DISABLED` does not stop the network statsbeat in this version.
// - The exporter starts a process-wide OneSettings poll (settings.sdk.monitor.azure.com, first call 5-15 s
//   after the first exporter is built) with no option or variable to disable it. Its singleton,
//   ConfigurationManager, has a public `shutdown()` that cancels the pending timer; we call it right
//   after the exporters are built (before the first timer can fire). The class is not exported by the
//   package's "exports" map, so it is loaded by file path next to the exporter the SDK itself resolves;
//   if a future SDK moves it, `stopRemoteSettingsPoll` reports that through `onWarning` and the
//   network-guarded test that keeps a client alive past 15 s fails. (The proxy-variable trick would
//   also redirect every Azure SDK client in the process, so it is not used.)
// - `disableOfflineStorage: true`: a Functions instance is disposable (Flex Consumption scales to zero
//   and does not keep local disk), so telemetry persisted for a later retry would rarely be sent; the
//   end-of-invocation flush is what keeps a timer's events.
// - Cloud role name = the Function App name (WEBSITE_SITE_NAME), so workspace queries can filter by
//   AppRoleName when several installations share a workspace.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TelemetryClient } from 'applicationinsights';
import {
  TELEMETRY_EVENTS,
  TELEMETRY_METRICS,
  type Dimensions,
  type Telemetry,
  type TelemetryEventName,
  type TelemetryMetricName,
} from '../core/events.js';
import { scrubDimensions, scrubText, SCRUBBED_DIMENSION } from './scrub.js';

export interface TelemetryOptions {
  /** Cloud role name (AppRoleName). Default: WEBSITE_SITE_NAME, else 'mtls-rotator'. */
  roleName?: string;
  /**
   * Extra CA certificates (PEM) the exporter trusts for the ingestion endpoint; for a local HTTPS
   * ingestion endpoint in tests. Passed as the exporter pipeline's tlsOptions, never process-wide.
   */
  ingestionCaPem?: string;
  /** Where the adapter reports its own problems (unknown names, scrubbed dimensions, SDK set-up). */
  onWarning?: (message: string) => void;
}

/** The Telemetry port plus lifecycle. */
export interface AppTelemetry extends Telemetry {
  /** False for the quiet no-op (no connection string). */
  readonly enabled: boolean;
  /** Flushes, then stops the exporters; the object records nothing afterwards. */
  shutdown(): Promise<void>;
}

export class TelemetryConfigError extends Error {
  override readonly name = 'TelemetryConfigError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const SETTING = 'APPLICATIONINSIGHTS_CONNECTION_STRING';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EVENT_NAMES: ReadonlySet<string> = new Set(TELEMETRY_EVENTS);
const METRIC_NAMES: ReadonlySet<string> = new Set(TELEMETRY_METRICS);

/**
 * Checks a connection string the way the exporter will use it, so a typo stops start-up with a clear
 * message instead of telemetry silently going nowhere (the SDK only logs such errors to its diag log).
 * The value itself is never echoed.
 */
export function parseConnectionString(connectionString: string): { instrumentationKey: string; ingestionEndpoint?: string } {
  const fields = new Map<string, string>();
  for (const part of connectionString.split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    fields.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  const instrumentationKey = fields.get('instrumentationkey');
  if (!instrumentationKey || !GUID.test(instrumentationKey)) {
    throw new TelemetryConfigError(`${SETTING} must contain InstrumentationKey=<guid>`);
  }
  const ingestionEndpoint = fields.get('ingestionendpoint');
  if (ingestionEndpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(ingestionEndpoint);
    } catch (cause) {
      throw new TelemetryConfigError(`${SETTING} has an IngestionEndpoint that is not a URL`, { cause });
    }
    if (url.protocol !== 'https:') throw new TelemetryConfigError(`${SETTING} IngestionEndpoint must be https`);
  }
  return { instrumentationKey, ingestionEndpoint };
}

/**
 * A Telemetry that sends to Application Insights, or the quiet no-op when no connection string is
 * given. Build it once per process (see `processTelemetry`): every call builds its own exporters.
 */
export function createTelemetry(connectionString?: string, opts: TelemetryOptions = {}): AppTelemetry {
  const warn = opts.onWarning ?? (() => undefined);
  if (connectionString === undefined || connectionString.trim() === '') return quietTelemetry();
  parseConnectionString(connectionString);

  // Read by the exporter's constructor; without it statsbeat calls the VM metadata address.
  process.env.APPLICATION_INSIGHTS_NO_STATSBEAT ??= 'true';

  const client = new (loadSdk().TelemetryClient)(connectionString, { useGlobalProviders: false });
  client.config.azureMonitorOpenTelemetryOptions = {
    azureMonitorExporterOptions: {
      connectionString,
      disableOfflineStorage: true,
      ...(opts.ingestionCaPem ? { tlsOptions: { ca: opts.ingestionCaPem } } : {}),
    },
    resource: roleResource(opts.roleName ?? process.env.WEBSITE_SITE_NAME ?? 'mtls-rotator'),
    enableLiveMetrics: false,
    enableAutoCollectExceptions: false,
    enableAutoCollectPerformance: false,
    enableAutoCollectDependencies: false,
    enableAutoCollectRequests: false,
    enableStandardMetrics: false,
  };
  // Build the exporters now (the shim would do it on the first track call) so that the remote
  // settings poll they start can be stopped before its first timer fires.
  client.initialize();
  stopRemoteSettingsPoll(warn);

  let stopped = false;
  const guard = (what: string, send: () => void): void => {
    if (stopped) return;
    try {
      send();
    } catch (error) {
      // Telemetry must never break a rotation.
      warn(`telemetry: ${what} failed: ${scrubText(error instanceof Error ? error.message : String(error))}`);
    }
  };
  const properties = (what: string, dimensions: Dimensions | undefined): Record<string, string> => {
    const { properties: clean, removed } = scrubDimensions(dimensions);
    if (removed.length > 0) warn(`telemetry: ${what}: dropped secret-looking dimensions ${clean[SCRUBBED_DIMENSION]}`);
    return clean;
  };

  return {
    enabled: true,
    event(name: TelemetryEventName, dimensions?: Dimensions, measurements?: Record<string, number>) {
      if (!EVENT_NAMES.has(name)) {
        warn(`telemetry: refused event '${String(name).slice(0, 64)}': not in TELEMETRY_EVENTS`);
        return;
      }
      guard(name, () =>
        client.trackEvent({ name, properties: properties(name, dimensions), measurements: finite(measurements) }),
      );
    },
    metric(name: TelemetryMetricName, value: number, dimensions?: Dimensions) {
      if (!METRIC_NAMES.has(name)) {
        warn(`telemetry: refused metric '${String(name).slice(0, 64)}': not in TELEMETRY_METRICS`);
        return;
      }
      if (!Number.isFinite(value)) {
        warn(`telemetry: refused metric ${name}: value is not a finite number`);
        return;
      }
      guard(name, () => client.trackMetric({ name, value, properties: properties(name, dimensions) }));
    },
    exception(error: unknown, dimensions?: Dimensions) {
      guard('exception', () => {
        const { exception, extra } = sanitiseError(error);
        client.trackException({ exception, properties: { ...extra, ...properties('exception', dimensions) } });
      });
    },
    async flush() {
      if (stopped) return;
      await client.flush();
    },
    async shutdown() {
      if (stopped) return;
      await client.flush();
      stopped = true;
      await client.shutdown();
    },
  };
}

/** The no-op used when no connection string is configured. */
export function quietTelemetry(): AppTelemetry {
  return {
    enabled: false,
    event: () => undefined,
    metric: () => undefined,
    exception: () => undefined,
    flush: async () => undefined,
    shutdown: async () => undefined,
  };
}

let processWide: { connectionString: string | undefined; telemetry: AppTelemetry } | undefined;

/**
 * The process's one Telemetry, started on first use from APPLICATIONINSIGHTS_CONNECTION_STRING (the
 * composition root calls this; every invocation of every function shares it). A later call with a
 * different connection string is a programming error.
 */
export function processTelemetry(env: NodeJS.ProcessEnv = process.env, opts?: TelemetryOptions): AppTelemetry {
  const connectionString = env[SETTING]?.trim() || undefined;
  if (processWide) {
    if (processWide.connectionString !== connectionString) {
      throw new TelemetryConfigError(`${SETTING} changed after telemetry was started; it is read once per process`);
    }
    return processWide.telemetry;
  }
  processWide = { connectionString, telemetry: createTelemetry(connectionString, opts) };
  return processWide.telemetry;
}

/** Stops and forgets the process-wide Telemetry (tests, CLI exit). */
export async function shutdownProcessTelemetry(): Promise<void> {
  const current = processWide;
  processWide = undefined;
  await current?.telemetry.shutdown();
}

// The SDK brings all of OpenTelemetry (about 0.7 s to load, most of a cold start): it is required here, on first
// use with a connection string, not imported by the module, so a worker without telemetry or a function that
// never builds it does not pay for it. A runtime require also keeps it out of the esbuild bundle's import graph,
// where it would be loaded at import time.
//
// Two layouts: from sources (tests, tsx) the SDK is required from node_modules; in the deployed bundle
// (scripts/bundle.mjs defines __MTLS_ROTATOR_BUNDLE__) it is the vendored file dist/bundle/vendor/applicationinsights.cjs,
// the SDK with its dependencies in one file (10 MB instead of ~50 MB of node_modules in the package), which also
// exports the two modules below from the very module graph the SDK uses.
declare const __MTLS_ROTATOR_BUNDLE__: boolean | undefined;

interface SdkModules {
  sdk: typeof import('applicationinsights');
  resources: { resourceFromAttributes(attributes: Record<string, string>): SdkResource };
  /** The exporter's ConfigurationManager module, or undefined when its file is not where it was. */
  configurationManager(): { ConfigurationManager?: { getInstance(): RemoteSettingsManager } } | undefined;
}

let sdkModules: SdkModules | undefined;

function sdkFromNodeModules(): SdkModules {
  // Loaded from the SDK's own location so that these are the very modules (and singletons) it uses,
  // whichever copy npm hoisted.
  const sdkRequire = createRequire(createRequire(import.meta.url).resolve('applicationinsights'));
  return {
    sdk: sdkRequire('applicationinsights') as typeof import('applicationinsights'),
    resources: sdkRequire('@opentelemetry/resources') as SdkModules['resources'],
    configurationManager: () => {
      const exporterEntry = sdkRequire.resolve('@azure/monitor-opentelemetry-exporter');
      return sdkRequire(path.join(path.dirname(exporterEntry), '_configuration', 'configurationManager.js')) as ReturnType<SdkModules['configurationManager']>;
    },
  };
}

function sdkFromBundle(): SdkModules {
  // This module sits in the bundle's entry or in one of its chunks/: the vendor folder is beside one of them.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const file = [path.join(here, 'vendor', VENDOR_FILE), path.join(here, '..', 'vendor', VENDOR_FILE)].find((f) => existsSync(f));
  if (file === undefined) throw new Error(`telemetry: the bundled Application Insights SDK (vendor/${VENDOR_FILE}) is missing next to ${here}`);
  const vendor = createRequire(import.meta.url)(file) as { sdk: SdkModules['sdk']; resources: SdkModules['resources']; configurationManager: ReturnType<SdkModules['configurationManager']> };
  return { sdk: vendor.sdk, resources: vendor.resources, configurationManager: () => vendor.configurationManager };
}

const VENDOR_FILE = 'applicationinsights.cjs';

function sdk(): SdkModules {
  sdkModules ??= typeof __MTLS_ROTATOR_BUNDLE__ !== 'undefined' && __MTLS_ROTATOR_BUNDLE__ ? sdkFromBundle() : sdkFromNodeModules();
  return sdkModules;
}

function loadSdk(): typeof import('applicationinsights') {
  return sdk().sdk;
}

type SdkResource = TelemetryClient['config']['azureMonitorOpenTelemetryOptions']['resource'];

function roleResource(roleName: string): SdkResource {
  return sdk().resources.resourceFromAttributes({ 'service.name': roleName });
}

interface RemoteSettingsManager {
  shutdown(): void;
  worker?: unknown;
}

/** Cancels the exporter's OneSettings poll (see the header). Exported for the test that proves it. */
export function remoteSettingsManager(): RemoteSettingsManager | undefined {
  try {
    return sdk().configurationManager()?.ConfigurationManager?.getInstance();
  } catch {
    return undefined;
  }
}

function stopRemoteSettingsPoll(warn: (message: string) => void): void {
  const manager = remoteSettingsManager();
  if (!manager || typeof manager.shutdown !== 'function') {
    warn('telemetry: could not stop the SDK remote-settings poll (settings.sdk.monitor.azure.com); SDK layout changed?');
    return;
  }
  manager.shutdown();
}

function finite(measurements: Record<string, number> | undefined): Record<string, number> | undefined {
  if (!measurements) return undefined;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(measurements)) if (Number.isFinite(v)) out[k] = v;
  return out;
}

/**
 * An Error safe to send: its message and stack with secret-looking parts redacted (error messages are
 * not supposed to carry key material, but a library's might), plus the cause chain as a property.
 */
function sanitiseError(error: unknown): { exception: Error; extra: Record<string, string> } {
  const original = error instanceof Error ? error : new Error(typeof error === 'string' ? error : safeString(error));
  const exception = new Error(scrubText(original.message));
  exception.name = original.name;
  exception.stack = original.stack ? scrubText(original.stack) : undefined;
  const extra: Record<string, string> = { errorType: original.name };
  const code = (original as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') extra.errorCode = String(code);
  const causes: string[] = [];
  let cause: unknown = (original as { cause?: unknown }).cause;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    causes.push(cause instanceof Error ? `${cause.name}: ${scrubText(cause.message)}` : scrubText(safeString(cause)));
    cause = cause instanceof Error ? (cause as { cause?: unknown }).cause : undefined;
  }
  if (causes.length > 0) extra.cause = causes.join(' <- ').slice(0, 2000);
  return { exception, extra };
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'object' ? JSON.stringify(value) ?? String(value) : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
