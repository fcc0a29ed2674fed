// One invocation of a captured function: a real InvocationContext whose log goes to the host's log, and a
// tracker so that stop() can wait for invocations that are still running.
import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import type { FunctionInput, FunctionOutput, FunctionTrigger, InvocationContext as InvocationContextType } from '@azure/functions';
import { InvocationContext } from './functionsRuntime.js';
import type { Registration, RpcBindingInfo } from './capture.js';

export type HostLog = (line: string) => void;

export function createInvocationContext(
  registration: Registration,
  log: HostLog,
  extra: { invocationId?: string; triggerMetadata?: Record<string, unknown> } = {},
): InvocationContextType {
  const invocationId = extra.invocationId ?? randomUUID();
  const bindings = Object.values(registration.metadata.bindings);
  const returnBinding = registration.metadata.bindings.$return;
  const others = bindings.filter((b) => b !== registration.trigger && b !== returnBinding);
  return new InvocationContext({
    functionName: registration.name,
    invocationId,
    ...(extra.triggerMetadata !== undefined ? { triggerMetadata: extra.triggerMetadata } : {}),
    options: {
      trigger: toUserBinding(registration.trigger) as FunctionTrigger,
      ...(returnBinding !== undefined ? { return: toUserBinding(returnBinding) as FunctionOutput } : {}),
      extraInputs: others.filter((b) => b.direction === 'in').map((b) => toUserBinding(b) as FunctionInput),
      extraOutputs: others.filter((b) => b.direction === 'out').map((b) => toUserBinding(b) as FunctionOutput),
    },
    logHandler: (level, ...args) => {
      const tag = level === 'information' ? '' : ` ${level}`;
      log(`[${registration.name}${tag}] ${format(...args)}`);
    },
  });
}

function toUserBinding(binding: RpcBindingInfo): Record<string, unknown> {
  const { direction: _direction, properties: _properties, ...rest } = binding;
  return rest;
}

/** Keeps the promises of running invocations so shutdown can wait for them (bounded). */
export class InvocationTracker {
  readonly #running = new Set<Promise<unknown>>();

  track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.#running.add(settled);
    void settled.then(() => this.#running.delete(settled));
    return work;
  }

  get count(): number {
    return this.#running.size;
  }

  /** Resolves when every tracked invocation has settled, or after `timeoutMs`; true when all settled. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.#running.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const all = Promise.all([...this.#running]).then(() => true as const);
    const result = await Promise.race([all, timeout]);
    clearTimeout(timer);
    return result;
  }
}

/** A short single-line summary of something thrown, for log lines (the stack goes on the following lines). */
export function describeThrown(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return `non-Error thrown: ${format(error)}`;
}
