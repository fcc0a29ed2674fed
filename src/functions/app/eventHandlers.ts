// The handler behind src/functions/certificateEvents.ts: read the event, call the use case, log what it did.
// A refused event (garbage, another event type, a vault mismatch) is logged and dropped: delivering it again would
// not change it. The due apps go through the nightly fan-out's rollout dispatch (waves, canary first). A fault while
// dispatching fails the invocation, so Event Grid delivers again (its retry schedule) and the claims keep that retry
// from dispatching an app twice.
import type { InvocationContext } from '@azure/functions';
import { CertificateEventRefusedError, parseCertificateEvent, type CertificateEvent } from '../../core/events/certificateEvent.js';
import { handleCertificateEvent } from '../../core/events/handleCertificateEvent.js';
import { rolloutsOf } from '../../rolloutService.js';
import { withInvocation } from './services.js';

export async function certificateEvents(input: unknown, context: InvocationContext): Promise<void> {
  let event: CertificateEvent;
  try {
    event = parseCertificateEvent(input);
  } catch (error) {
    if (!(error instanceof CertificateEventRefusedError)) throw error;
    context.warn(`Key Vault event refused, nothing done: ${error.message}`);
    return;
  }
  await withInvocation(context, async (invocation) => {
    const { config, rotator, deps, telemetry, logger } = invocation;
    const outcome = await handleCertificateEvent(
      {
        planApp: (appId) => rotator.planOne(appId),
        keyVault: deps.keyVault,
        index: deps.sourceIndex,
        // Messages carry requestedBy 'eventgrid' and the event id, as before rollouts.
        dispatch: (due, reasonOf, options) => rolloutsOf(invocation, event.id, 'eventgrid').dispatch(due, reasonOf, options),
        telemetry,
        logger,
        clock: deps.clock,
      },
      config,
      event,
    );
    if (outcome.outcome === 'handled') {
      const failed = outcome.apps.filter((a) => a.action === 'failed');
      if (failed.length > 0) throw new Error(`Key Vault event ${event.id}: ${failed.length} app(s) could not be handled: ${failed.map((f) => `${f.appId}: ${f.detail}`).join('; ').slice(0, 1000)}`);
    }
  });
}
