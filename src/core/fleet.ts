// The fleet-wide bound on rotations in flight. MAX_PARALLEL_ROTATIONS used to bound one rotateDue run; Azure runs
// rotations from the queue, up to batchSize + newBatchThreshold per instance on as many instances as the platform
// starts, so the bound is a set of slots every rotating process shares (RotationSlots, in the rotation table).
import type { RotatorDeps } from './deps.js';
import { TransientError } from './errors.js';
import type { ScannedApp } from './scan.js';

/**
 * How long a rotation waits for a slot before giving up. A queue invocation that gives up throws, and its message
 * comes back after the queue's visibility timeout: it is retried, not lost. Five minutes leaves a rotation (warm-up,
 * probes) room inside host.json `functionTimeout` (10 minutes).
 */
export const SLOT_WAIT_MS = 5 * 60_000;

/** Every slot stayed taken for SLOT_WAIT_MS: retry later (the queue does). */
export class FleetBusyError extends TransientError {
  override readonly code: string = 'FleetBusy';
}

/** A rotation that may write takes a slot; a dry run, an app that is not ours or has problems writes nothing. */
export function needsSlot(app: Pick<ScannedApp, 'tags' | 'problems'>, dryRun: boolean | undefined): boolean {
  return !dryRun && app.tags.enabled && app.problems.length === 0;
}

/** Runs `rotate` holding one of the fleet's slots (when the deps have them), and gives the slot back after. */
export async function withRotationSlot<T>(deps: RotatorDeps, owner: string, rotate: () => Promise<T>): Promise<T> {
  if (deps.slots === undefined) return rotate();
  const slot = await deps.slots.acquire(owner, SLOT_WAIT_MS);
  if (slot === undefined) {
    throw new FleetBusyError(`every rotation slot (MAX_PARALLEL_ROTATIONS) stayed taken for ${SLOT_WAIT_MS / 1000} s; the rotation is retried later`);
  }
  try {
    return await rotate();
  } finally {
    // A slot that cannot be given back frees itself when its lease expires; the rotation's result stands.
    await slot.release().catch((error: unknown) => deps.logger.warn(`could not release rotation slot ${slot.index}: ${String(error)}`));
  }
}
