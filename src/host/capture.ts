// Captures `@azure/functions` v4 registrations (app.http, app.get, app.timer, app.storageQueue, app.generic…)
// outside the Functions host, by playing the host's part.
//
// Inside the host, the Node worker provides a module named `@azure/functions-core`; `@azure/functions` requires
// it lazily on the first registration and calls `registerFunction(metadata, handler)` on it. Outside the host
// the require fails, the library switches to "test mode" and drops every registration with a warning. The
// worker makes that module available by intercepting `require('@azure/functions-core')`, and so does this file.
// That captures, at one point, every registration style, with the exact metadata the host would receive
// (binding types, directions, generated binding names, defaults such as GET/POST and authLevel anonymous),
// and the user's own handler, which the library passes through unchanged.
//
// Ordering constraint: the library caches the result of that first require. The capture must be installed
// before the first `app.*` call in the process, i.e. before the function modules are imported; `startLocalHost`
// does so itself before running `register`, and importing this module installs it too.
import Module from 'node:module';
import type { InvocationContext } from '@azure/functions';

export interface RpcBindingInfo {
  type?: string;
  direction?: 'in' | 'out' | 'inout';
  name?: string;
  [property: string]: unknown;
}

/** What the Functions host receives for one function (the worker's `FunctionMetadata`). */
export interface FunctionMetadata {
  name: string;
  bindings: Record<string, RpcBindingInfo>;
  retryOptions?: unknown;
}

export type TriggerKind = 'http' | 'timer' | 'storageQueue' | 'other';

export interface Registration {
  name: string;
  kind: TriggerKind;
  /** The host-facing metadata, exactly as `@azure/functions` produced it. */
  metadata: FunctionMetadata;
  /** The trigger binding (direction 'in', type ending in 'Trigger'). */
  trigger: RpcBindingInfo & { name: string; type: string };
  handler: (input: unknown, context: InvocationContext) => unknown;
}

type HookCallback = (context: unknown) => unknown;

interface CaptureState {
  installed: boolean;
  registrations: Registration[];
  hooks: Map<string, HookCallback[]>;
  /** Where the library's system log lines go; the running host points it at its own log. */
  systemLog: (level: string, message: string) => void;
}

// On globalThis so that every copy of this module (test runners may load it more than once) shares one
// registry, as there is one `@azure/functions` per process.
const STATE_KEY = Symbol.for('mtls-rotator.local-host.capture');
const state: CaptureState = ((globalThis as Record<symbol, unknown>)[STATE_KEY] as CaptureState | undefined) ??
  ((globalThis as Record<symbol, unknown>)[STATE_KEY] = {
    installed: false,
    registrations: [],
    hooks: new Map(),
    systemLog: (level: string, message: string) => {
      if (level === 'warning' || level === 'error' || level === 'critical') console.warn(`[functions] ${message}`);
    },
  } satisfies CaptureState) as CaptureState;

class Disposable {
  constructor(private readonly onDispose: () => void) {}
  dispose(): void {
    this.onDispose();
  }
}

// The subset of the worker's core API that `@azure/functions` 4.x calls.
const coreApi = {
  version: 'mtls-rotator-local-host',
  hostVersion: '4.0.0-local',
  setProgrammingModel(_model: unknown): void {
    // The library hands over its invocation model; the local host invokes handlers directly instead.
  },
  getProgrammingModel(): unknown {
    return undefined;
  },
  registerFunction(metadata: FunctionMetadata, handler: Registration['handler']): Disposable {
    if (state.registrations.some((r) => r.name.toLowerCase() === metadata.name.toLowerCase())) {
      // The host refuses duplicate function names too (they are case-insensitive there).
      throw new Error(`a function named '${metadata.name}' is already registered`);
    }
    const registration = toRegistration(metadata, handler);
    state.registrations.push(registration);
    return new Disposable(() => {
      const i = state.registrations.indexOf(registration);
      if (i >= 0) state.registrations.splice(i, 1);
    });
  },
  registerHook(hookName: string, callback: HookCallback): Disposable {
    const list = state.hooks.get(hookName) ?? [];
    list.push(callback);
    state.hooks.set(hookName, list);
    return new Disposable(() => {
      const i = list.indexOf(callback);
      if (i >= 0) list.splice(i, 1);
    });
  },
  log(level: string, _category: string, message: string): void {
    state.systemLog(level, message);
  },
  Disposable,
};

export function installRegistrationCapture(): void {
  if (state.installed) return;
  state.installed = true;
  const proto = (Module as unknown as { prototype: { require: (id: string) => unknown } }).prototype;
  const original = proto.require;
  proto.require = function requireWithFunctionsCore(this: unknown, id: string) {
    if (id === '@azure/functions-core') return coreApi;
    return original.call(this, id);
  };
}

/** Every function registered in this process so far, in registration order. */
export function registeredFunctions(): readonly Registration[] {
  return state.registrations;
}

/**
 * Runs `register` (typically dynamic imports of function modules) and returns the registrations it added.
 * Modules already imported earlier in the process do not register again (ESM caches them): use
 * `registeredFunctions()` for everything.
 */
export async function captureRegistrations(register: () => unknown): Promise<Registration[]> {
  installRegistrationCapture();
  const before = state.registrations.length;
  await register();
  return state.registrations.slice(before);
}

/** Hook callbacks (`app.hook.appStart`, `appTerminate`, …) registered so far, by hook name. */
export function registeredHooks(name: string): readonly HookCallback[] {
  return state.hooks.get(name) ?? [];
}

export function setSystemLog(log: (level: string, message: string) => void): () => void {
  const previous = state.systemLog;
  state.systemLog = log;
  return () => {
    state.systemLog = previous;
  };
}

function toRegistration(metadata: FunctionMetadata, handler: Registration['handler']): Registration {
  const trigger = Object.values(metadata.bindings).find(
    (b) => b.direction === 'in' && typeof b.type === 'string' && b.type.toLowerCase().endsWith('trigger'),
  );
  if (trigger === undefined || typeof trigger.name !== 'string' || typeof trigger.type !== 'string') {
    throw new Error(`function '${metadata.name}' has no trigger binding`);
  }
  const type = trigger.type.toLowerCase();
  const kind: TriggerKind =
    type === 'httptrigger' ? 'http' : type === 'timertrigger' ? 'timer' : type === 'queuetrigger' ? 'storageQueue' : 'other';
  return { name: metadata.name, kind, metadata, trigger: trigger as Registration['trigger'], handler };
}

installRegistrationCapture();
