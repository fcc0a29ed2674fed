// App settings for the local host, the way `func start` provides them: `local.settings.json` `Values` become
// environment variables unless the variable is already set, and binding properties may name a setting as
// `%NAME%` (e.g. `schedule: '%ROTATION_SCHEDULE%'`), resolved when the host starts.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export class LocalHostConfigError extends Error {
  override readonly name = 'LocalHostConfigError';
}

export interface LocalSettingsFile {
  path: string;
  values: Record<string, string>;
}

/**
 * The file to read: an explicit path, or `local.settings.json` in `cwd`, else `local.settings.sample.json`
 * (so a fresh clone runs without copying it first). Undefined when none exists.
 */
export function findLocalSettings(cwd: string, explicit?: string): string | undefined {
  if (explicit !== undefined) return path.resolve(cwd, explicit);
  for (const name of ['local.settings.json', 'local.settings.sample.json']) {
    const candidate = path.join(cwd, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export function readLocalSettings(file: string): LocalSettingsFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new LocalHostConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object') throw new LocalHostConfigError(`${file} must be a JSON object`);
  const doc = parsed as { IsEncrypted?: unknown; Values?: unknown };
  if (doc.IsEncrypted === true) {
    // Core Tools encrypts with a machine key (`func settings decrypt`); nothing here can read that.
    throw new LocalHostConfigError(`${file} is encrypted (IsEncrypted: true); run 'func settings decrypt' or use plain values`);
  }
  const values: Record<string, string> = {};
  if (doc.Values !== undefined) {
    if (doc.Values === null || typeof doc.Values !== 'object' || Array.isArray(doc.Values)) {
      throw new LocalHostConfigError(`${file}: Values must be an object of strings`);
    }
    for (const [k, v] of Object.entries(doc.Values as Record<string, unknown>)) {
      if (typeof v === 'string') values[k] = v;
      else if (typeof v === 'number' || typeof v === 'boolean') values[k] = String(v);
      else throw new LocalHostConfigError(`${file}: Values.${k} must be a string`);
    }
  }
  return { path: file, values };
}

/** Restores process.env to what it was before `applyToEnv` changed it. */
export type EnvRestore = () => void;

/**
 * Writes `values` into `env`. With `override` false (local.settings.json) an already-set variable wins, as with
 * `func start`; with true (explicit settings given to the host) the value replaces it.
 */
export function applyToEnv(values: Record<string, string>, options: { override: boolean; env?: NodeJS.ProcessEnv }): EnvRestore {
  const env = options.env ?? process.env;
  const previous = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(values)) {
    if (!options.override && env[k] !== undefined) continue;
    if (!previous.has(k)) previous.set(k, env[k]);
    env[k] = v;
  }
  return () => {
    for (const [k, v] of previous) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
  };
}

/**
 * Resolves `%NAME%` references in a binding property against the app settings, as the host does: from the
 * settings only (no default), with `:` in a name read from an environment variable spelt with `__`
 * (`%Schedules:Nightly%` ← `Schedules__Nightly`), the host's hierarchical separator.
 */
export function resolveSettingReferences(value: string, settings: Readonly<Record<string, string | undefined>>, where: string): string {
  return value.replace(/%([^%]+)%/g, (_m, name: string) => {
    const resolved = settings[name] ?? settings[name.replaceAll(':', '__')];
    if (resolved === undefined || resolved === '') {
      throw new LocalHostConfigError(`${where} refers to app setting '%${name}%', which is not set`);
    }
    return resolved;
  });
}

export interface HostJson {
  routePrefix: string;
  queues: {
    maxDequeueCount: number;
    /** Delay before a failed message is visible again (host.json `visibilityTimeout`). */
    visibilityTimeoutSeconds: number;
    batchSize: number;
    /** Fetch the next batch once this few are still running (host.json `newBatchThreshold`; default batchSize / 2). */
    newBatchThreshold?: number;
    /** How far an idle listener backs off between polls (host.json `maxPollingInterval`). */
    maxPollingIntervalMs: number;
  };
}

/** The queue extension's documented defaults (host.json reference); maxPollingInterval is a minute. */
const HOST_JSON_DEFAULTS: HostJson = {
  routePrefix: 'api',
  queues: { maxDequeueCount: 5, visibilityTimeoutSeconds: 0, batchSize: 16, maxPollingIntervalMs: 60_000 },
};

/** The parts of host.json the local host honours; missing file or keys mean the host's defaults. */
export function readHostJson(file: string | undefined): HostJson {
  if (file === undefined || !existsSync(file)) return structuredClone(HOST_JSON_DEFAULTS);
  let doc: { extensions?: { http?: { routePrefix?: unknown }; queues?: Record<string, unknown> } };
  try {
    doc = JSON.parse(readFileSync(file, 'utf8')) as typeof doc;
  } catch (err) {
    throw new LocalHostConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const out = structuredClone(HOST_JSON_DEFAULTS);
  const prefix = doc.extensions?.http?.routePrefix;
  if (typeof prefix === 'string') out.routePrefix = prefix.replace(/^\/+|\/+$/g, '');
  const q = doc.extensions?.queues ?? {};
  if (typeof q.maxDequeueCount === 'number') out.queues.maxDequeueCount = q.maxDequeueCount;
  if (q.batchSize !== undefined) out.queues.batchSize = integerIn(q.batchSize, 1, 32, `${file} extensions.queues.batchSize`);
  if (q.newBatchThreshold !== undefined) out.queues.newBatchThreshold = integerIn(q.newBatchThreshold, 0, 1000, `${file} extensions.queues.newBatchThreshold`);
  if (typeof q.visibilityTimeout === 'string') out.queues.visibilityTimeoutSeconds = parseTimeSpan(q.visibilityTimeout, `${file} extensions.queues.visibilityTimeout`);
  if (typeof q.maxPollingInterval === 'string') {
    out.queues.maxPollingIntervalMs = parseTimeSpan(q.maxPollingInterval, `${file} extensions.queues.maxPollingInterval`) * 1000;
  }
  return out;
}

/**
 * App settings override host.json values as on Azure (`AzureFunctionsJobHost__<path>`, segments joined by `__`).
 * Only the poison threshold is honoured here: the function app reads the same override, and the two must agree.
 */
export function withHostJsonOverrides(hostJson: HostJson, settings: Readonly<Record<string, string | undefined>>): HostJson {
  const name = 'AzureFunctionsJobHost__extensions__queues__maxDequeueCount';
  const raw = settings[name];
  if (raw === undefined || raw.trim() === '') return hostJson;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1) throw new LocalHostConfigError(`${name} must be a positive integer, got '${raw}'`);
  return { ...hostJson, queues: { ...hostJson.queues, maxDequeueCount: Number(raw) } };
}

/** .NET TimeSpan text as host.json uses it: `hh:mm:ss` or `d.hh:mm:ss`, seconds may have a fraction. */
export function parseTimeSpan(text: string, where: string): number {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2}(?:\.\d+)?)$/.exec(text.trim());
  if (m === null) throw new LocalHostConfigError(`${where} must be a TimeSpan like 00:00:30, got '${text}'`);
  return Number(m[1] ?? 0) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

/** The queue extension's own ranges (batchSize at most 32: one Get Messages call). */
function integerIn(value: unknown, min: number, max: number, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new LocalHostConfigError(`${where} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}
