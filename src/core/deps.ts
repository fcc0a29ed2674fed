// What the engine needs from the outside world, built once by the composition root.
import type { CrashBoundary } from './boundaries.js';
import type { Telemetry } from './events.js';
import type { Logger } from './logger.js';
import type { AppServiceGateway, CertificateSource, Clock, Prober, RotationSlots } from './ports.js';
import type { RotationStore } from './records.js';
import type { SourceIndex } from './events/sourceIndex.js';
import type { ProbeKind } from './rotation/probes/probeKind.js';
import type { SubscriptionDirectory } from './subscriptions.js';

export interface RotatorDeps {
  gateway: AppServiceGateway;
  /** The certificate sources (a SourceRegistry, or one adapter). */
  sources: CertificateSource;
  store: RotationStore;
  prober: Prober;
  telemetry: Telemetry;
  clock: Clock;
  logger: Logger;
  /**
   * Called at every side-effect boundary (see CRASH_BOUNDARIES). Whatever it throws propagates out
   * untouched, with the record and the lease left exactly as a crash would leave them: the
   * reliability suite simulates a crash this way and then calls resumeOpen().
   */
  faultHook?: (boundary: CrashBoundary) => Promise<void> | void;
  /** Lease owner; defaults to host name + process id + a random suffix. */
  owner?: string;
  /** The fleet-wide bound on rotations in flight (MAX_PARALLEL_ROTATIONS); without it only the per-run bound applies. */
  slots?: RotationSlots;
  /** The source → apps index a full scan writes for Key Vault events; without it, none is kept. */
  sourceIndex?: SourceIndex;
  /** The probe kinds every phase runs; defaults to the list in src/core/rotation/probes/index.ts. */
  probeKinds?: readonly ProbeKind[];
  /** Subscription discovery (AZURE_SUBSCRIPTION_IDS unset or '*'; src/core/subscriptions.ts). */
  subscriptions?: SubscriptionDirectory;
}
