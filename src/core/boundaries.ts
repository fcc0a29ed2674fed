// The points where a rotation may be cut short (process killed, host recycled, timeout). Each is
// right after a side effect and before the record says so, or right after the record says so and
// before the next side effect: exactly the states resume has to handle.
export const CRASH_BOUNDARIES = [
  /** Lease taken and the record created (step `leased`); nothing else done. */
  'afterLease',
  /** The name of the certificate to upload is recorded (intent); not yet uploaded. */
  'beforeUpload',
  /** A certificate resource was uploaded; the record does not say `staged` yet. */
  'afterUpload',
  /** Record says `staged`. */
  'afterStage',
  /** Record says `preflighted`; the app is untouched. */
  'afterPreflight',
  /** Previous and to-be-written setting values are in the record; settings not yet written. */
  'afterPreviousRecorded',
  /** Settings written; the record still says `previousRecorded`. */
  'afterSwitch',
  /** Record says `switched`; restart not yet requested. */
  'afterSwitchRecorded',
  /** Restart requested; the record still says `switched`. */
  'afterRestart',
  /** Between two verification attempts. */
  'midVerify',
  /** Verified and recorded; the outcome is not yet written. */
  'beforeCommit',
  /** Record committed; the lease not yet released. */
  'afterCommit',
  /** Record says `rollingBack`; nothing restored yet. */
  'afterRollbackStarted',
  /** Previous values written back (or, for `*`, the new certificate deleted); not yet restarted. */
  'afterRollbackWrite',
  /** Restarted after the rollback; the old state not yet verified. */
  'afterRollbackRestart',
  /** An old certificate deleted by retirement; the record's `retiredAt` not yet set. */
  'afterRetireDelete',
] as const;
export type CrashBoundary = (typeof CRASH_BOUNDARIES)[number];

/** Wraps whatever the fault hook throws so no step mistakes it for an ordinary fault and handles it. */
export class CrashSignal extends Error {
  constructor(
    readonly boundary: CrashBoundary,
    readonly original: unknown,
  ) {
    super(`simulated crash at ${boundary}`);
    this.name = 'CrashSignal';
  }
}

export async function crashPoint(
  hook: ((boundary: CrashBoundary) => Promise<void> | void) | undefined,
  boundary: CrashBoundary,
): Promise<void> {
  if (!hook) return;
  try {
    await hook(boundary);
  } catch (error) {
    throw new CrashSignal(boundary, error);
  }
}

/** At the public entry points: a crash signal leaves as what the hook threw. */
export function unwrapCrash(error: unknown): unknown {
  return error instanceof CrashSignal ? error.original : error;
}
