// Telemetry event names: one list, shared by the code, the alert rules in infra/ and their tests.

export const TELEMETRY_EVENTS = [
  'ScanCompleted',
  'CertificateExpiring',
  'DanglingThumbprint',
  'RenewalMissing',
  /** Key Vault's latest version failed on the app and is held back (no restart loop); alerts every scan. */
  'CandidateRejected',
  'RotationStarted',
  'RotationCommitted',
  'RotationAborted',
  'RotationRolledBack',
  'RotationFailed',
  'RotationConflict',
  'ProbeFailed',
  'CertificateRetired',
  'PoisonMessage',
  // A scan that could not read one or more subscriptions (ARM down, the identity lost its roles, a wrong id).
  'ScanIncomplete',
  // A source or candidate refused at a trust boundary (reason: SourceNotAuthorized, WeakKey, ...).
  'TrustRefused',
  // Canary rollouts (src/core/rollout/): a source's apps rotate in waves.
  'RolloutStarted',
  'RolloutWaveQueued',
  // A wave failed (rollback, or too many aborted): the later waves wait for an operator; urgent near expiry.
  'RolloutHalted',
  'RolloutCompleted',
  // Event-driven rotation: a Key Vault event dropped as a whole (reason: UnknownVault, NoBoundApps, ...),
  // an app queued by one, and the nightly safety net's apps that an event should have rotated but did not.
  'CertificateEventIgnored',
  'CertificateEventQueued',
  'EventRotationMissed',
] as const;
export type TelemetryEventName = (typeof TELEMETRY_EVENTS)[number];

export const TELEMETRY_METRICS = ['CertificateDaysRemaining'] as const;
export type TelemetryMetricName = (typeof TELEMETRY_METRICS)[number];

/**
 * Dimensions are public data only: resource ids, thumbprints (public), Key Vault ids and versions,
 * reasons, steps. Never PFX bytes, passwords or keys.
 */
export type Dimensions = Record<string, string | number | boolean | undefined>;

export interface Telemetry {
  event(name: TelemetryEventName, dimensions?: Dimensions, measurements?: Record<string, number>): void;
  metric(name: TelemetryMetricName, value: number, dimensions?: Dimensions): void;
  exception(error: unknown, dimensions?: Dimensions): void;
  /** Sends what is buffered; called at the end of every invocation. */
  flush(): Promise<void>;
}

/** Telemetry that records nothing (no connection string configured). */
export const noTelemetry: Telemetry = {
  event: () => undefined,
  metric: () => undefined,
  exception: () => undefined,
  flush: async () => undefined,
};
