// Small pipeline policies shared by the ARM and Key Vault clients.
import type { PipelinePolicy } from '@azure/core-rest-pipeline';

/**
 * Bounds one attempt until its response headers arrive. The SDKs set no timeout, and a service that accepts the
 * connection and never answers would otherwise hold a rotation (and its lease) forever. A timed-out attempt ends as
 * an AbortError, which the adapters translate into a TransientError.
 */
export function attemptTimeoutPolicy(timeoutMs: number): PipelinePolicy {
  return {
    name: 'mtlsRotatorAttemptTimeout',
    sendRequest: (request, next) => {
      if (!request.timeout) request.timeout = timeoutMs;
      return next(request);
    },
  };
}
