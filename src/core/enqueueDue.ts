// The fan-out: every app a plan marks `rotate` becomes one request on the rotation queue, which rotates it later and
// retries it (a rotation's restart, warm-up and probes outlive a timer run or an HTTP request). The nightly timer and
// `POST /api/rotations` both fan out this way.
import type { AppPlan, Plan } from './decision/plan.js';
import type { RequestedBy } from './records.js';

/** A request to rotate one app, as it travels through the queue. */
export interface RotationRequest {
  /** Lowercased ARM id of the site or slot. */
  appId: string;
  reason?: string;
  /** Who asked: 'timer', 'http', 'eventgrid', 'cli'. */
  requestedBy: string;
  /** Correlates the request across logs, telemetry and the rotation record. */
  requestId: string;
  /** The API caller behind an HTTP request; travels to the rotation record it causes. */
  caller?: RequestedBy;
}

/** The queue port (src/azure/rotationQueue.ts over Azure Storage queues). */
export interface RotationRequestQueue {
  send(request: RotationRequest): Promise<unknown>;
}

export interface EnqueueResult {
  /** The apps a request was sent for, in plan order. */
  queued: AppPlan[];
  /** The apps of the plan that are not due (action `alert` or `none`). */
  notDue: AppPlan[];
}

/** Sends one request per due app of `plan`; the first failing send stops the fan-out (the caller's run fails). */
export async function enqueueDueApps(
  queue: RotationRequestQueue,
  plan: Plan,
  origin: { requestedBy: string; requestId: string; caller?: RequestedBy },
): Promise<EnqueueResult> {
  const queued: AppPlan[] = [];
  const notDue: AppPlan[] = [];
  for (const app of plan.apps) {
    if (app.action !== 'rotate') {
      notDue.push(app);
      continue;
    }
    await queue.send({ appId: app.appId, reason: app.due.map((d) => d.reason).join(','), ...origin });
    queued.push(app);
  }
  return { queued, notDue };
}
