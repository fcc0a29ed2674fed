// A canary rollout: the apps that load one certificate source and are due for the same Key Vault version
// rotate in waves, each after the previous one verified and soaked. The rollout's state is one entity in Table storage
// (RolloutStore), so waves survive restarts of the rotator; the rotation records stay the audit log of each app.
import { createHash } from 'node:crypto';

/**
 * running = a wave is queued or soaking; halted = a wave failed, the later waves wait for an operator (promote or
 * abort); completed = every wave ran; aborted = an operator stopped it (the apps not reached keep their certificate
 * until Key Vault has a newer version); superseded = a newer version of the source started its own rollout.
 */
export const ROLLOUT_STATUSES = ['running', 'halted', 'completed', 'aborted', 'superseded'] as const;
export type RolloutStatus = (typeof ROLLOUT_STATUSES)[number];

/**
 * pending = its wave has not been queued; queued = sent to the rotation queue, no outcome seen yet; committed,
 * rolledBack, failed, aborted = the rotation record's outcome; unchanged = nothing was due any more (already on the
 * candidate, or held back by its own records) or the app was skipped.
 */
export type RolloutAppState = 'pending' | 'queued' | 'committed' | 'rolledBack' | 'failed' | 'aborted' | 'unchanged';

export interface RolloutApp {
  appId: string;
  /** "site" or "site/slot". */
  name: string;
  /** canary = the first wave's app; staging = a slot rotated before its production site (it runs the real app code). */
  role?: 'canary' | 'staging';
  state: RolloutAppState;
  rotationId?: string;
  /** The rotation's reason (a skip reason, or the code and evidence of a rollback). */
  reason?: string;
  /** The earliest notAfter of the certificates the app loads for this source (ISO), for the urgency of a halt. */
  expiresAt?: string;
}

export interface RolloutWave {
  apps: RolloutApp[];
  queuedAt?: string;
  /** Every app of the wave has a final state. */
  finishedAt?: string;
}

export interface RolloutHalt {
  /** 0-based index of the wave that failed. */
  wave: number;
  at: string;
  /** One line per app that failed: name, outcome, reason, rotation id. */
  evidence: string[];
  /** Last time the halt was reported as urgent (the loaded certificates near expiry); at most once a day. */
  urgentReportedAt?: string;
}

export interface RolloutAction {
  action: 'promote' | 'abort';
  at: string;
  /** Who asked ("http:functionKey", "http:CN=…", "cli"). */
  by: string;
}

export interface Rollout {
  /** 20 hex characters derived from the source and the candidate version (also the RowKey). */
  id: string;
  /** `https://<vault>/certificates/<name>` (lowercase key), or several joined by a space for multi-binding apps. */
  source: string;
  /** The Key Vault certificate id(s) of the candidate version(s). */
  candidate: string;
  candidateThumbprint?: string;
  status: RolloutStatus;
  /** 0-based index of the wave being run (or that halted). */
  current: number;
  waves: RolloutWave[];
  halt?: RolloutHalt;
  actions: RolloutAction[];
  createdAt: string;
  updatedAt: string;
  completedAt?: string;
}

/** Storage of rollouts: one entity each, replaced under an ETag so concurrent queue workers never lose an update. */
export interface RolloutStore {
  get(id: string): Promise<{ rollout: Rollout; etag: string } | undefined>;
  /** Creates it; false when it exists already. */
  create(rollout: Rollout): Promise<boolean>;
  /** Replaces it if unchanged since `etag` was read; false when someone else wrote it first. */
  replace(rollout: Rollout, etag: string): Promise<boolean>;
  /** Every rollout, or only the running and halted ones (what the verify timer and the fan-out look at). */
  list(options?: { active?: boolean }): Promise<Rollout[]>;
}

const ROLLOUT_ID = /^[0-9a-f]{20}$/;

export function isRolloutId(value: string): boolean {
  return ROLLOUT_ID.test(value);
}

/** The same source and candidate version always give the same rollout: a second nightly run finds the first. */
export function rolloutIdOf(source: string, candidate: string): string {
  return createHash('sha256').update(`${source.toLowerCase()}\n${candidate.toLowerCase()}`).digest('hex').slice(0, 20);
}

export const FINAL_APP_STATES: readonly RolloutAppState[] = ['committed', 'rolledBack', 'failed', 'aborted', 'unchanged'];

export function isFinal(state: RolloutAppState): boolean {
  return FINAL_APP_STATES.includes(state);
}
