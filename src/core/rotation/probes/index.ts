// The probe kinds every phase runs, in this order. Adding a kind: a file beside these exporting a ProbeKind, and
// one line here.
import { directProbe } from './direct.js';
import type { ProbeKind } from './probeKind.js';
import { viaAppProbe } from './viaApp.js';

export const PROBE_KINDS: readonly ProbeKind[] = [
  // The app's own health path: what the app presents, after a restart.
  viaAppProbe,
  // The rotator presenting the candidate to each downstream: before the switch and after it.
  directProbe,
];

export type { ProbeContext, ProbeDeps, ProbeKind, ProbeOutcome, ProbePhase, ProbeTarget } from './probeKind.js';
