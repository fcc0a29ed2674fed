// The one rule for a rotation that cannot go on as planned (a fault, too many attempts, an operator's rollback).
import type { FailureKind, RotationStep } from '../records.js';
import { addStep, crash, finish, save, type RotationContext } from './context.js';

/** Steps after which the app itself has not been changed yet: stopping there needs no rollback. */
export const APP_UNCHANGED: readonly RotationStep[] = ['leased', 'staged', 'preflighted'];

export interface Stop {
  reason: string;
  /**
   * `fault`: the rotation cannot go on (an error, or attempts exhausted); `operator`: someone asked for the rollback.
   * While the app is untouched a fault ends the rotation `failed` and an operator's request `aborted`; a rollback
   * already under way is `failed` by a fault and simply continued for an operator, who asked for exactly that.
   */
  by: 'fault' | 'operator';
  /** Overrides the record's failure kind (the retry rules read it) when the rollback starts. */
  failureKind?: FailureKind;
}

/**
 * Ends the rotation while the app is untouched, starts the rollback once the app may have changed (recorded, with the
 * reason, before anything is restored), and fails a rollback that itself cannot go on.
 */
export async function failOrRollBack(ctx: RotationContext, stop: Stop): Promise<void> {
  const { record } = ctx;
  if (APP_UNCHANGED.includes(record.step)) {
    if (stop.by === 'operator') await finish(ctx, 'aborted', `${stop.reason} (before the app was changed)`);
    else await finish(ctx, 'failed', stop.reason);
    return;
  }
  if (record.step === 'rollingBack') {
    if (stop.by === 'fault') await finish(ctx, 'failed', `RollbackFailed: ${stop.reason}`);
    return;
  }
  record.reason = stop.reason;
  if (stop.failureKind !== undefined) record.failureKind = stop.failureKind;
  addStep(ctx, 'rollingBack', stop.reason);
  await save(ctx);
  await crash(ctx, 'afterRollbackStarted');
}
