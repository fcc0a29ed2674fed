// The ARM writes of one queued rotation, counted from the sandbox's request log: what the deployed fan-out
// (bench/deployed.ts, README figure 3b) spends of a subscription's write quota per app, on top of the nightly scan's
// one settings read (test/bench/floor.test.ts). A `POST …/appsettings/list` is a write in ARM's quota. The switch
// plans its change on the queue's re-scan and reads the settings once more, right before it writes them: a rotation
// that lists the settings again, or writes without that last read, fails here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import type { RequestLogEntry } from '../../sandbox/observe.js';
import type { CrashBoundary } from '../../src/core/boundaries.js';
import { appIdOf } from '../../src/core/identity.js';
import { createRotator, type Config } from '../../src/core/index.js';
import type { AppRef } from '../../src/core/ports.js';
import { useAzurite } from '../helpers/azurite.js';
import { appRef, deps as makeDeps, independentApps, sandboxConfig, SUB, VAULT, watch } from '../integration/world.js';

const pinned = (name: string) => `{{thumbprint:${VAULT}/${name}-client/0}}`;

function scenario() {
  const world = independentApps([
    { name: 'single', settings: { WEBSITE_LOAD_CERTIFICATES: pinned('single'), OTHER: 'kept' } },
    { name: 'multi', settings: { WEBSITE_LOAD_CERTIFICATES: pinned('multi'), CLIENT_CERT_THUMBPRINT: pinned('multi'), PARTNER_CERT: pinned('multi'), OTHER: 'kept' } },
    { name: 'wild', settings: { WEBSITE_LOAD_CERTIFICATES: '*' } },
    { name: 'slotted' },
    { name: 'edited' },
    { name: 'late' },
    { name: 'twice' },
  ]);
  const groups = world.subscriptions[0]!.resourceGroups;
  const site = (name: string) => groups.find((g) => g.name === `rg-${name}`)!.sites![0]!;
  site('multi').tags!['mtls-rotation-settings'] = 'CLIENT_CERT_THUMBPRINT,PARTNER_CERT';
  delete site('wild').tags!['mtls-rotation-settings'];
  // The site itself is not opted in; its staging slot is, and is due.
  const slotted = site('slotted');
  slotted.slots = [{ name: 'staging', downstream: 'partner', restartMs: 20, tags: { ...slotted.tags }, settings: { ...slotted.settings } }];
  slotted.tags = { ...slotted.tags, 'mtls-rotation': 'disabled', 'mtls-rotation-slots': 'true' };
  return world;
}

const azurite = useAzurite();
let sb: Sandbox;
let config: Config;

beforeAll(async () => {
  sb = await startSandbox(scenario());
  config = sandboxConfig(sb, azurite().connectionString, SUB, { ARM_PACING: 'false' });
}, 60_000);

afterAll(async () => {
  await sb?.stop();
});

/** ARM writes (in ARM's quota) by operation, slot operations named like the site's. */
function writesByOperation(entries: RequestLogEntry[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of entries) {
    if (e.surface !== 'arm' || e.class !== 'write' || e.operation === undefined) continue;
    const operation = e.operation.replace(/Slot$/, '');
    counts[operation] = (counts[operation] ?? 0) + 1;
  }
  return counts;
}

interface Row {
  ref: AppRef;
  /** What an operator does after the queue's re-scan: at the n-th crossing (default 1st) of a boundary. */
  meanwhile?: Array<{ at: CrashBoundary; nth?: number; edit: (settings: Record<string, string>) => Record<string, string> }>;
  outcome?: 'committed' | 'aborted';
  writes: Record<string, number>;
  settingsAfter?: Record<string, string | ((thumbprints: { old: string; new: string }) => string)>;
}

const LIST = 'WebApps_ListApplicationSettings';
const UPLOAD = 'Certificates_CreateOrUpdate';
const PUT = 'WebApps_UpdateApplicationSettings';
const RESTART = 'WebApps_Restart';

/** Re-types the owned CLIENT_CERT_THUMBPRINT (lower case, padded: the same thumbprint, another value) and edits OTHER. */
const retype = (s: Record<string, string>) => ({ ...s, CLIENT_CERT_THUMBPRINT: `  ${s.CLIENT_CERT_THUMBPRINT!.toLowerCase()}  `, OTHER: 'edited by the operator' });

const rows: Array<[string, Row]> = [
  [
    'an app that loads one certificate: the re-scan read, the read before the write, upload, settings write, restart (5)',
    { ref: appRef('single'), writes: { [LIST]: 2, [UPLOAD]: 1, [PUT]: 1, [RESTART]: 1 }, settingsAfter: { WEBSITE_LOAD_CERTIFICATES: (t) => t.new, OTHER: 'kept' } },
  ],
  [
    'an app whose thumbprint is in three settings: still one settings write, the same 5',
    {
      ref: appRef('multi'),
      writes: { [LIST]: 2, [UPLOAD]: 1, [PUT]: 1, [RESTART]: 1 },
      settingsAfter: { WEBSITE_LOAD_CERTIFICATES: (t) => t.new, CLIENT_CERT_THUMBPRINT: (t) => t.new, PARTNER_CERT: (t) => t.new, OTHER: 'kept' },
    },
  ],
  [
    "a '*' app: the re-scan read, upload, restart and no settings write (3)",
    { ref: appRef('wild'), writes: { [LIST]: 1, [UPLOAD]: 1, [RESTART]: 1 }, settingsAfter: { WEBSITE_LOAD_CERTIFICATES: '*' } },
  ],
  [
    'a deployment slot: the slot operations, the same 5',
    { ref: { ...appRef('slotted'), slot: 'staging' }, writes: { [LIST]: 2, [UPLOAD]: 1, [PUT]: 1, [RESTART]: 1 }, settingsAfter: { WEBSITE_LOAD_CERTIFICATES: (t) => t.new, OTHER: 'kept' } },
  ],
  [
    'an operator edits an owned setting and another one after the re-scan: the switch reads once more and plans again, both edits are built upon (6)',
    {
      ref: appRef('edited'),
      meanwhile: [{ at: 'afterPreflight', edit: retype }],
      writes: { [LIST]: 3, [UPLOAD]: 1, [PUT]: 1, [RESTART]: 1 },
      settingsAfter: { WEBSITE_LOAD_CERTIFICATES: (t) => t.new, CLIENT_CERT_THUMBPRINT: (t) => `  ${t.new}  `, OTHER: 'edited by the operator' },
    },
  ],
  [
    "the same edits after the change planned on the scan's read was recorded: planned again the same way (6)",
    {
      ref: appRef('late'),
      meanwhile: [{ at: 'afterPreviousRecorded', edit: retype }],
      writes: { [LIST]: 3, [UPLOAD]: 1, [PUT]: 1, [RESTART]: 1 },
      settingsAfter: { WEBSITE_LOAD_CERTIFICATES: (t) => t.new, CLIENT_CERT_THUMBPRINT: (t) => `  ${t.new}  `, OTHER: 'edited by the operator' },
    },
  ],
  [
    'an operator who edits the owned setting again after the replanned change was recorded: the switch aborts, no settings write, their values stay (4)',
    {
      ref: appRef('twice'),
      meanwhile: [
        { at: 'afterPreflight', edit: retype },
        { at: 'afterPreviousRecorded', nth: 2, edit: (s) => ({ ...s, CLIENT_CERT_THUMBPRINT: 'set by hand' }) },
      ],
      outcome: 'aborted',
      writes: { [LIST]: 3, [UPLOAD]: 1 },
      settingsAfter: { WEBSITE_LOAD_CERTIFICATES: (t) => t.old, CLIENT_CERT_THUMBPRINT: 'set by hand', OTHER: 'edited by the operator' },
    },
  ],
];

describe('ARM writes of one queued rotation (as the queue handler runs it: rotateApp by resource id)', () => {
  it.each(rows)('%s', async (_name, row) => {
    const crossed = new Map<CrashBoundary, number>();
    const faultHook = row.meanwhile
      ? (boundary: CrashBoundary) => {
          crossed.set(boundary, (crossed.get(boundary) ?? 0) + 1);
          for (const step of row.meanwhile!) {
            if (step.at === boundary && (step.nth ?? 1) === crossed.get(boundary)) sb.control.setAppSettings(row.ref, step.edit(sb.control.appSettings(row.ref)));
          }
        }
      : undefined;
    const deps = makeDeps(sb, config, faultHook ? { faultHook } : {});
    const rotator = createRotator(deps, config);
    const before = sb.control.appSettings(row.ref);
    const w = watch(sb);

    const result = await rotator.rotateApp(appIdOf(row.ref), { trigger: 'queue' });

    expect(result.outcome, `${result.reason} ${JSON.stringify(result.record?.steps)}`).toBe(row.outcome ?? 'committed');
    expect(writesByOperation(w.all())).toEqual(row.writes);
    // Every write is this app's (no other app's request slipped into the count).
    expect(w.all().filter((e) => e.surface === 'arm' && e.class === 'write' && !e.path.toLowerCase().includes(`/resourcegroups/${row.ref.resourceGroup}/`))).toEqual([]);
    const thumbprints = { old: result.record!.bindings[0]!.oldThumbprint!, new: result.record!.bindings[0]!.newThumbprint };
    const after = sb.control.appSettings(row.ref);
    const expected = Object.fromEntries(Object.entries(row.settingsAfter ?? {}).map(([k, v]) => [k, typeof v === 'function' ? v(thumbprints) : v]));
    expect(after).toMatchObject(expected);
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    if (row.meanwhile) {
      // The record's previous values are what the write replaced: the operator's, not the scan's.
      expect(result.record!.previousSettings).toMatchObject({ CLIENT_CERT_THUMBPRINT: `  ${thumbprints.old.toLowerCase()}  ` });
    }
  }, 60_000);
});
