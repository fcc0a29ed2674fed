// The registration modules hand the host these stand-ins, which import the handlers (and with them the engine, the
// Azure SDKs and PKCS#12) on the first invocation instead of at worker start: a heavy SDK loads only
// where it is used. The host indexes the functions as soon as the registration modules are evaluated; what an invocation
// needs is loaded once per process, when the first one arrives.
type Handlers = typeof import('./handlers.js');
type HandlerName = 'nightlyScan' | 'rotateAppFromQueue' | 'verifyRotations' | 'rotationsHandler' | 'rotationHandler' | 'rollbackHandler' | 'certificatesHandler' | 'healthHandler'
  | 'rolloutsHandler' | 'rolloutHandler' | 'promoteRolloutHandler' | 'abortRolloutHandler';

let loading: Promise<Handlers> | undefined;

function handlers(): Promise<Handlers> {
  // A failed import (a damaged deployment) is not kept: the next invocation tries again and reports it again.
  loading ??= import('./handlers.js').catch((error: unknown) => {
    loading = undefined;
    throw error;
  });
  return loading;
}

/** The handler `name`, loaded on its first call. */
export function lazyHandler<K extends HandlerName>(name: K): Handlers[K] {
  const call = async (...args: unknown[]): Promise<unknown> => {
    const handler = (await handlers())[name] as (...a: unknown[]) => Promise<unknown>;
    return handler(...args);
  };
  return call as unknown as Handlers[K];
}

// Key Vault events have their handler module of their own, loaded the same way.
type EventHandlers = typeof import('./eventHandlers.js');
let loadingEvents: Promise<EventHandlers> | undefined;

export function lazyEventHandler<K extends keyof EventHandlers>(name: K): EventHandlers[K] {
  const call = async (...args: unknown[]): Promise<unknown> => {
    loadingEvents ??= import('./eventHandlers.js').catch((error: unknown) => {
      loadingEvents = undefined;
      throw error;
    });
    const handler = (await loadingEvents)[name] as (...a: unknown[]) => Promise<unknown>;
    return handler(...args);
  };
  return call as unknown as EventHandlers[K];
}
