// The demo's event-driven step, after the nightly runs: the sandbox's Key Vault creates a new version of
// one certificate, its Event Grid delivers CertificateNewVersionCreated to the local host's webhook, and the app
// rotates with no scan. Printed as a timeline from what each side recorded: the sandbox's Key Vault and Event Grid,
// the rotation record's steps, the sandbox's ARM request log.
import type { Sandbox } from '../sandbox/index.js';
import type { LocalHost } from '../src/host/index.js';

interface DemoRecord {
  id: string;
  appId: string;
  startedAt: string;
  outcome?: string;
  steps: Array<{ step: string; at: string; detail?: string }>;
}

export interface DemoEventContext {
  sandbox: Sandbox;
  host: LocalHost;
  api: (method: string, path: string, body?: unknown) => Promise<any>;
  say: (...lines: string[]) => void;
}

const APP = 'inventory';
const VAULT = 'kv-demo';
const CERTIFICATE = 'inventory-client';

/** Runs the step; returns what went unexpectedly (empty when the app rotated through the event alone). */
export async function demoEventRotation({ sandbox, host, api, say }: DemoEventContext): Promise<string[]> {
  say('', `Event-driven rotation: Key Vault renews ${CERTIFICATE}; Event Grid tells the function app; no scan runs:`);
  const subscription = await sandbox.eventGrid.subscribe({
    endpoint: `${host.url}/runtime/webhooks/eventgrid?functionName=certificateEvents&code=${host.keys.eventGrid}`,
    schema: 'EventGrid',
  });
  // By name once (that resolves the name against ARM), then by the resource id the records carry: no listing.
  const history = (await api('GET', `/rotations?app=${APP}`)).rotations as DemoRecord[];
  const appId = history[0]?.appId ?? APP;
  const before = history.map((r) => r.id);
  const mark = sandbox.control.requests().at(-1)?.seq ?? 0;
  const t0 = Date.now();
  const created = sandbox.control.renew(VAULT, CERTIFICATE, { issuer: 'contoso-ca-2025', notAfterDays: 400 });

  let record: DemoRecord | undefined;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    record = ((await api('GET', `/rotations?app=${encodeURIComponent(appId)}`)).rotations as DemoRecord[]).find((r) => !before.includes(r.id));
    if (record?.outcome !== undefined) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await sandbox.eventGrid.idle();
  sandbox.eventGrid.unsubscribe(subscription);

  const at = (iso: string) => `+${((Date.parse(iso) - t0) / 1000).toFixed(2).padStart(6)} s`;
  const lines: Array<[string, string]> = [[new Date(t0).toISOString(), `Key Vault    new version ${created.version.slice(0, 8)} of ${CERTIFICATE} (${created.thumbprint.slice(0, 8)})`]];
  for (const attempt of sandbox.eventGrid.attempts().filter((a) => a.subscription === subscription)) {
    lines.push([attempt.at, `Event Grid   ${attempt.eventType.replace('Microsoft.KeyVault.', '')} delivered to certificateEvents: ${String(attempt.status)} (attempt ${attempt.attempt})`]);
  }
  if (record) {
    lines.push([record.startedAt, `rotator      rotation ${record.id} started from the queue`]);
    for (const step of record.steps.filter((s) => s.step !== 'leased')) lines.push([step.at, `rotator      ${step.step}${step.detail ? `: ${step.detail}` : ''}`]);
  }
  lines.sort((a, b) => a[0].localeCompare(b[0]));
  for (const [iso, text] of lines) say(`  ${at(iso)}  ${text}`);

  const listings = sandbox.control.requests().filter((r) => r.seq > mark && (r.operation === 'WebApps_List' || r.operation === 'Certificates_List')).length;
  say(`  fleet listings (WebApps_List, Certificates_List) meanwhile: ${listings}`);

  const problems: string[] = [];
  if (!record) problems.push(`${APP}: no rotation started within 120 s of the Key Vault event`);
  else if (record.outcome !== 'committed') problems.push(`${APP}: the event's rotation ended ${record.outcome ?? 'unfinished'}`);
  if (listings > 0) problems.push(`the event-driven rotation listed the fleet ${listings} time(s)`);
  return problems;
}
