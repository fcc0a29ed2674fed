// The manual runbook (upload a renewed client certificate, point WEBSITE_LOAD_CERTIFICATES at it, restart,
// verify; roll back by restoring the previous thumbprint and restarting) run with the real Azure CLI against a
// sandbox, plus the az commands around it an operator uses (sign-in, account, webapp list/show, app settings with
// --slot and --slot-settings, ssl show/delete, slot list). Every step is checked from the sandbox's side (its
// settings, certificates, restarts, what the app loaded), never from az's exit code alone.
//
// `tsx sandbox/azRunbook.ts` must run where `az` cannot reach the internet, with the sandbox in the same network
// namespace: `unshare -rn sh -c 'ip link set lo up && exec npx tsx sandbox/azRunbook.ts'` (test/azcli/runbook.test.ts).
// It prints one line per command and `az runbook: N/N commands`, and exits 0 only when every step passed.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomPassword, readKeyVaultSecret, writePfx } from '../src/crypto/index.js';
import { azEnvironment, azSignInCommands, shellLine } from './azcli.js';
import { DEMO_SUBSCRIPTION_ID, demoScenario, startSandbox, type Sandbox } from './index.js';

export interface AzResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunbookStep {
  /** What the step is, in the runbook's words. */
  title: string;
  argv: string[];
  /** The command is meant to fail (an ARM-shaped 404); its check reads az's error. */
  expectFailure?: boolean;
  /** Undefined when the step did what it should; otherwise why not. */
  check(result: AzResult, json: unknown): string | undefined;
}

export interface StepOutcome {
  title: string;
  command: string;
  ok: boolean;
  why?: string;
}

const RG = 'rg-apps';
const APP = 'orders';
const SLOT = 'staging';
const MARK = 'MTLS_REHEARSAL_MARK';

function runAz(az: string, argv: string[], env: NodeJS.ProcessEnv): Promise<AzResult> {
  // Asynchronous on purpose: the sandbox answering az runs on this event loop.
  return new Promise((resolve) => {
    execFile(az, argv, { env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The PFX an operator would export: the vault's current version of the app's certificate, with a password. */
export async function exportPfx(sb: Sandbox, vault: string, certificate: string, password: string): Promise<Buffer> {
  const body = await new Promise<string>((resolve, reject) => {
    const req = request(
      `${sb.vaultUrl(vault)}/secrets/${certificate}?api-version=7.5`,
      { ca: sb.caPem, headers: { authorization: `Bearer ${sb.token}` } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`vault answered ${res.statusCode ?? 0}`))));
      },
    );
    req.on('error', reject);
    req.end();
  });
  const secret = JSON.parse(body) as { contentType: string; value: string };
  const bundle = readKeyVaultSecret(secret.contentType, secret.value);
  return writePfx({ certPem: bundle.certPem, keyPem: bundle.keyPem, chainPems: bundle.chainPems }, password);
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const fails = (cond: boolean, why: string): string | undefined => (cond ? undefined : why);

/** The steps, with their checks against the sandbox. `pfxFile` holds the renewed certificate, `password` opens it. */
export function runbookSteps(sb: Sandbox, pfxFile: string, password: string): RunbookStep[] {
  const site = { subscriptionId: DEMO_SUBSCRIPTION_ID, resourceGroup: RG, site: APP };
  const slot = { ...site, slot: SLOT };
  const previous = sb.control.thumbprint(`kv-demo/${APP}-client/0`);
  const renewed = sb.control.thumbprint(`kv-demo/${APP}-client/latest`);
  const location = 'West Europe';
  const certName = `${renewed}__${location}_${RG}`;
  const before = sb.control.appSettings(site);
  const certs = () => sb.control.certificates(DEMO_SUBSCRIPTION_ID);
  const restartsBefore = { n: 0 };
  // Settings the runbook does not own must come back byte for byte (a Key Vault reference among them).
  const othersKept = (): string | undefined => {
    const now = sb.control.appSettings(site);
    for (const [k, v] of Object.entries(before)) {
      if (k === 'WEBSITE_LOAD_CERTIFICATES' || k === MARK) continue;
      if (now[k] !== v) return `setting ${k} changed: ${JSON.stringify(v)} → ${JSON.stringify(now[k])}`;
    }
    return undefined;
  };
  // az prints keys sorted; compare in one key order.
  const listed = (json: unknown): Array<{ name: string; value: string; slotSetting: boolean }> =>
    Array.isArray(json) ? (json as Array<{ name: string; value: string; slotSetting: boolean }>).map(({ name, value, slotSetting }) => ({ name, value, slotSetting })) : [];

  return [
    {
      title: 'who am I signed in as',
      argv: ['account', 'show', '--output', 'json'],
      check: (_r, j) => {
        const a = j as { id?: string; tenantId?: string; user?: { name?: string; type?: string } };
        return fails(
          a.id === DEMO_SUBSCRIPTION_ID && a.tenantId === sb.tenantId && a.user?.type === 'servicePrincipal' && a.user.name === sb.servicePrincipal.clientId,
          `account show: ${JSON.stringify(a)}`,
        );
      },
    },
    {
      title: 'the subscriptions the identity can see',
      argv: ['account', 'list', '--output', 'json'],
      check: (_r, j) => {
        const ids = (j as Array<{ id: string; state: string }>).map((s) => `${s.id}:${s.state}`);
        const want = sb.scenario.subscriptions.map((s) => `${s.id}:${s.state ?? 'Enabled'}`);
        return fails(same([...ids].sort(), [...want].sort()), `account list: ${ids.join(', ')}; the sandbox has ${want.join(', ')}`);
      },
    },
    {
      title: 'the apps of the resource group',
      argv: ['webapp', 'list', '--resource-group', RG, '--query', '[].{name:name,kind:kind}', '--output', 'json'],
      check: (_r, j) => {
        const want = sb.scenario.subscriptions[0]!.resourceGroups.find((g) => g.name === RG)!.sites!.map((s) => s.name);
        const got = (j as Array<{ name: string; kind: string }>);
        return fails(
          same(got.map((a) => a.name), want) && got.every((a) => a.kind === 'app,linux'),
          `webapp list: ${JSON.stringify(got)}`,
        );
      },
    },
    {
      title: 'the app, its configuration and its publishing URL',
      argv: ['webapp', 'show', '--resource-group', RG, '--name', APP, '--output', 'json'],
      check: (_r, j) => {
        const a = j as { name?: string; enabledHostNames?: string[]; siteConfig?: { linuxFxVersion?: string }; ftpPublishingUrl?: string; reserved?: boolean };
        return fails(
          a.name === APP &&
            a.reserved === true &&
            (a.enabledHostNames ?? []).includes(`${APP}.scm.azurewebsites.net`) &&
            typeof a.siteConfig?.linuxFxVersion === 'string' &&
            a.siteConfig.linuxFxVersion !== '' &&
            typeof a.ftpPublishingUrl === 'string',
          `webapp show: name ${a.name}, hosts ${JSON.stringify(a.enabledHostNames)}, linuxFxVersion ${a.siteConfig?.linuxFxVersion}, ftp ${a.ftpPublishingUrl}`,
        );
      },
    },
    {
      title: 'every app setting, byte for byte (a Key Vault reference among them)',
      argv: ['webapp', 'config', 'appsettings', 'list', '--resource-group', RG, '--name', APP, '--output', 'json'],
      check: (_r, j) => {
        const sticky = new Set(sb.control.slotSettingNames(site));
        const want = Object.entries(sb.control.appSettings(site)).map(([name, value]) => ({ name, value, slotSetting: sticky.has(name) }));
        return fails(same(listed(j), want), `appsettings list: ${JSON.stringify(j)}`);
      },
    },
    {
      title: 'runbook 1: upload the renewed certificate',
      argv: ['webapp', 'config', 'ssl', 'upload', '--resource-group', RG, '--name', APP, '--certificate-file', pfxFile, '--certificate-password', password, '--output', 'json'],
      check: (_r, j) => {
        const c = j as { name?: string; thumbprint?: string; password?: unknown; pfxBlob?: unknown };
        const stored = certs().find((x) => x.thumbprint === renewed && x.resourceGroup === RG);
        return fails(
          c.thumbprint === renewed && c.name === certName && stored?.name === certName && c.password == null && c.pfxBlob == null,
          `ssl upload: answered ${JSON.stringify({ name: c.name, thumbprint: c.thumbprint })}, sandbox has ${stored?.name ?? 'nothing'}`,
        );
      },
    },
    {
      title: 'verification: the uploaded certificates, with the runbook query',
      argv: ['webapp', 'config', 'ssl', 'list', '--resource-group', RG, '--query', '[?hostNames==null].{thumbprint:thumbprint,subjectName:subjectName,expirationDate:expirationDate}', '--output', 'json'],
      check: (_r, j) => fails(Array.isArray(j) && (j as unknown[]).length === 0, `ssl list (runbook query): every upload has host names, expected [], got ${JSON.stringify(j)}`),
    },
    {
      title: 'the uploaded certificates, by thumbprint',
      argv: ['webapp', 'config', 'ssl', 'list', '--resource-group', RG, '--query', '[].thumbprint', '--output', 'json'],
      check: (_r, j) => {
        const want = certs().filter((c) => c.resourceGroup === RG).map((c) => c.thumbprint);
        return fails(same(j, want) && want.includes(renewed), `ssl list: ${JSON.stringify(j)}; sandbox ${JSON.stringify(want)}`);
      },
    },
    {
      title: 'the uploaded certificate, by name',
      argv: ['webapp', 'config', 'ssl', 'show', '--resource-group', RG, '--certificate-name', certName, '--query', '{thumbprint:thumbprint,issuer:issuer}', '--output', 'json'],
      check: (_r, j) => fails((j as { thumbprint?: string }).thumbprint === renewed, `ssl show: ${JSON.stringify(j)}`),
    },
    {
      title: 'runbook 2 (alternative): expose every uploaded certificate',
      argv: ['webapp', 'config', 'appsettings', 'set', '--resource-group', RG, '--name', APP, '--settings', 'WEBSITE_LOAD_CERTIFICATES=*', '--output', 'json'],
      check: () => fails(sb.control.appSettings(site).WEBSITE_LOAD_CERTIFICATES === '*', 'WEBSITE_LOAD_CERTIFICATES is not *') ?? othersKept(),
    },
    {
      title: 'runbook 2: expose the renewed certificate by thumbprint',
      argv: ['webapp', 'config', 'appsettings', 'set', '--resource-group', RG, '--name', APP, '--settings', `WEBSITE_LOAD_CERTIFICATES=${renewed}`, '--output', 'json'],
      check: () => {
        restartsBefore.n = sb.control.restarts(site);
        return fails(sb.control.appSettings(site).WEBSITE_LOAD_CERTIFICATES === renewed, 'WEBSITE_LOAD_CERTIFICATES is not the renewed thumbprint') ?? othersKept();
      },
    },
    {
      title: 'runbook 4: restart so the app loads it',
      argv: ['webapp', 'restart', '--resource-group', RG, '--name', APP],
      check: () =>
        fails(
          sb.control.restarts(site) === restartsBefore.n + 1 && same(sb.control.loadedThumbprints(site), [renewed]),
          `after restart: ${sb.control.restarts(site) - restartsBefore.n} restart(s), loaded ${JSON.stringify(sb.control.loadedThumbprints(site))}`,
        ),
    },
    {
      title: 'verification: the app setting, with the runbook query',
      argv: ['webapp', 'config', 'appsettings', 'list', '--resource-group', RG, '--name', APP, '--query', "[?name=='WEBSITE_LOAD_CERTIFICATES']", '--output', 'json'],
      check: (_r, j) => fails(same(listed(j), [{ name: 'WEBSITE_LOAD_CERTIFICATES', value: renewed, slotSetting: false }]), `appsettings list (query): ${JSON.stringify(j)}`),
    },
    {
      title: 'the staging slot gets the renewed certificate too (--slot)',
      argv: ['webapp', 'config', 'appsettings', 'set', '--resource-group', RG, '--name', APP, '--slot', SLOT, '--settings', `WEBSITE_LOAD_CERTIFICATES=${renewed}`, '--output', 'json'],
      check: () =>
        fails(
          sb.control.appSettings(slot).WEBSITE_LOAD_CERTIFICATES === renewed && sb.control.appSettings(slot).SLOT_NAME === SLOT && sb.control.appSettings(site).WEBSITE_LOAD_CERTIFICATES === renewed,
          `slot settings: ${JSON.stringify(sb.control.appSettings(slot))}`,
        ),
    },
    {
      title: 'a slot setting (--slot-settings) sticks to its slot',
      argv: ['webapp', 'config', 'appsettings', 'set', '--resource-group', RG, '--name', APP, '--slot-settings', `${MARK}=rehearsed`, '--output', 'json'],
      check: (_r, j) =>
        fails(
          sb.control.appSettings(site)[MARK] === 'rehearsed' && sb.control.slotSettingNames(site).includes(MARK) && listed(j).some((s) => s.name === MARK && s.slotSetting),
          `slot settings names: ${JSON.stringify(sb.control.slotSettingNames(site))}, output ${JSON.stringify(j)}`,
        ) ?? othersKept(),
    },
    {
      title: 'deleting it removes it from the settings and the slot setting names',
      argv: ['webapp', 'config', 'appsettings', 'delete', '--resource-group', RG, '--name', APP, '--setting-names', MARK, '--output', 'json'],
      check: () =>
        fails(!(MARK in sb.control.appSettings(site)) && !sb.control.slotSettingNames(site).includes(MARK), `after delete: ${JSON.stringify(sb.control.slotSettingNames(site))}`) ?? othersKept(),
    },
    {
      title: 'the deployment slots of the app',
      argv: ['webapp', 'deployment', 'slot', 'list', '--resource-group', RG, '--name', APP, '--query', '[].name', '--output', 'json'],
      check: (_r, j) => fails(same(j, [SLOT]), `slot list: ${JSON.stringify(j)}`),
    },
    {
      title: 'rollback: restore the previous thumbprint',
      argv: ['webapp', 'config', 'appsettings', 'set', '--resource-group', RG, '--name', APP, '--settings', `WEBSITE_LOAD_CERTIFICATES=${previous}`, '--output', 'json'],
      check: () => {
        restartsBefore.n = sb.control.restarts(site);
        return fails(sb.control.appSettings(site).WEBSITE_LOAD_CERTIFICATES === previous, 'WEBSITE_LOAD_CERTIFICATES is not the previous thumbprint') ?? othersKept();
      },
    },
    {
      title: 'rollback: restart the app',
      argv: ['webapp', 'restart', '--resource-group', RG, '--name', APP],
      check: () =>
        fails(
          sb.control.restarts(site) === restartsBefore.n + 1 && same(sb.control.loadedThumbprints(site), [previous]),
          `after the rollback restart: loaded ${JSON.stringify(sb.control.loadedThumbprints(site))}`,
        ),
    },
    {
      title: 'rollback: put the staging slot back too',
      argv: ['webapp', 'config', 'appsettings', 'set', '--resource-group', RG, '--name', APP, '--slot', SLOT, '--settings', `WEBSITE_LOAD_CERTIFICATES=${previous}`, '--output', 'json'],
      check: () => fails(sb.control.appSettings(slot).WEBSITE_LOAD_CERTIFICATES === previous, 'the slot still loads the renewed thumbprint'),
    },
    {
      title: 'rollback: delete the certificate no app loads any more, by thumbprint',
      argv: ['webapp', 'config', 'ssl', 'delete', '--resource-group', RG, '--certificate-thumbprint', renewed],
      check: () => fails(!certs().some((c) => c.thumbprint === renewed), 'the renewed certificate is still there'),
    },
    {
      title: 'a missing app is an ARM-shaped 404',
      argv: ['webapp', 'show', '--resource-group', RG, '--name', 'no-such-app', '--output', 'json'],
      expectFailure: true,
      check: (r) => fails(r.code !== 0 && /ResourceNotFound|could not be found|was not found/i.test(r.stderr), `exit ${r.code}: ${r.stderr.trim()}`),
    },
    {
      title: 'a missing resource group is an ARM-shaped 404',
      argv: ['webapp', 'config', 'ssl', 'list', '--resource-group', 'rg-no-such-group', '--output', 'json'],
      expectFailure: true,
      check: (r) => fails(r.code !== 0 && /ResourceGroupNotFound/.test(r.stderr), `exit ${r.code}: ${r.stderr.trim()}`),
    },
  ];
}

/** Runs sign-in and the steps in order; a step whose command should succeed and fails is reported, not thrown. */
export async function runRunbook(
  sb: Sandbox,
  opts: { az?: string; print?: (line: string) => void } = {},
): Promise<{ outcomes: StepOutcome[]; passed: number }> {
  const az = opts.az ?? 'az';
  const print = opts.print ?? (() => undefined);
  const work = mkdtempSync(join(tmpdir(), 'mtls-az-runbook-'));
  try {
    const env = { ...process.env, ...azEnvironment(sb, join(work, 'azure')) };
    const password = randomPassword();
    const pfxFile = join(work, 'client-cert.pfx');
    writeFileSync(pfxFile, await exportPfx(sb, 'kv-demo', `${APP}-client`, password), { mode: 0o600 });
    const signIn: RunbookStep[] = azSignInCommands(sb).map((argv, i) => ({
      title: ['register the sandbox as a cloud', 'select it', 'sign in as the service principal'][i]!,
      argv,
      check: (r) => fails(r.code === 0, `exit ${r.code}: ${r.stderr.trim()}`),
    }));
    const outcomes: StepOutcome[] = [];
    for (const step of [...signIn, ...runbookSteps(sb, pfxFile, password)]) {
      const result = await runAz(az, step.argv, env);
      let json: unknown;
      try {
        json = result.stdout.trim() === '' ? undefined : JSON.parse(result.stdout);
      } catch {
        json = undefined;
      }
      // Passwords never reach the output: the line shows the command with secrets masked.
      const shown = shellLine(['az', ...step.argv.map((a) => (a === password || a === sb.servicePrincipal.secret ? '***' : a))]);
      const why = step.expectFailure !== true && result.code !== 0 ? `exit ${result.code}: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}` : step.check(result, json);
      outcomes.push({ title: step.title, command: shown, ok: why === undefined, ...(why !== undefined ? { why } : {}) });
      print(`${why === undefined ? 'ok  ' : 'FAIL'} ${step.title}: ${shown}${why !== undefined ? `\n       ${why}` : ''}`);
    }
    const passed = outcomes.filter((o) => o.ok).length;
    print(`az runbook: ${passed}/${outcomes.length} commands`);
    return { outcomes, passed };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const sb = await startSandbox(demoScenario());
  try {
    const { outcomes, passed } = await runRunbook(sb, { az: process.env.AZ_CLI ?? 'az', print: (line) => console.log(line) });
    console.log(`AZ_RUNBOOK_RESULT ${JSON.stringify({ passed, total: outcomes.length, outcomes })}`);
    return passed === outcomes.length ? 0 : 1;
  } finally {
    await sb.stop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`az runbook failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
