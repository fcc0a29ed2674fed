// The one queue setting the handlers must agree with the Functions host on: after how many attempts the host moves
// a message to `<queue>-poison` (the handler raises PoisonMessage on that last attempt). It is read from the same
// host.json the host reads, compiled in at build time so it holds wherever the code is deployed (tsc's dist/ or
// the esbuild bundle), and from the app setting with which the host lets an operator override a host.json value
// (`AzureFunctionsJobHost__<path>`, path segments joined by `__`).
import hostJson from '../../../host.json' with { type: 'json' };

export const MAX_DEQUEUE_COUNT_SETTING = 'AzureFunctionsJobHost__extensions__queues__maxDequeueCount';
/** The queue extension's own default when host.json says nothing. */
const HOST_DEFAULT_MAX_DEQUEUE_COUNT = 5;

export class HostSettingError extends Error {
  override readonly name = 'HostSettingError';
}

/** host.json `extensions.queues.maxDequeueCount`, or its app-setting override. */
export function maxDequeueCount(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const override = env[MAX_DEQUEUE_COUNT_SETTING];
  if (override !== undefined && override.trim() !== '') {
    if (!/^\d+$/.test(override.trim()) || Number(override) < 1) {
      throw new HostSettingError(`${MAX_DEQUEUE_COUNT_SETTING} must be a positive integer, got '${override}'`);
    }
    return Number(override);
  }
  const fromFile = (hostJson as { extensions?: { queues?: { maxDequeueCount?: unknown } } }).extensions?.queues?.maxDequeueCount;
  return typeof fromFile === 'number' ? fromFile : HOST_DEFAULT_MAX_DEQUEUE_COUNT;
}
