// Every app setting a binding names (`schedule: '%VERIFY_SCHEDULE%'`, `queueName: '%ROTATION_QUEUE%'`, the queue
// `connection`) must be set wherever the function app runs: the Functions host resolves a `%NAME%` only from app
// settings, never from a default in src/core/config.ts, and a function whose expression does not resolve is not
// loaded ("The 'verifyRotations' function is in error: '%VERIFY_SCHEDULE%' does not resolve to a value").
// The names come from the registrations themselves, captured as @azure/functions hands them to the host.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, SETTINGS } from '../../src/core/config.js';
import { captureRegistrations, startLocalHost, type Registration } from '../../src/host/index.js';
import { useAzurite } from '../helpers/azurite.js';
import { evaluate, type EvalContext } from '../infra/arm.js';

const root = path.resolve(import.meta.dirname, '../..');
const readJson = (file: string): any => JSON.parse(fs.readFileSync(path.join(root, file), 'utf8'));
const template = readJson('infra/azuredeploy.json');
const example = readJson('infra/azuredeploy.parameters.example.json');
const sample = readJson('local.settings.sample.json').Values as Record<string, string>;
const operations = fs.readFileSync(path.join(root, 'docs/operations.md'), 'utf8');

const registrations: Registration[] = await captureRegistrations(() => import('../../src/functions/index.js'));

interface Reference {
  setting: string;
  where: string;
}

/** Every `%NAME%` in any string property of any binding of every registration. */
function settingReferences(regs: readonly Registration[]): Reference[] {
  const found: Reference[] = [];
  const visit = (value: unknown, where: string): void => {
    if (typeof value === 'string') {
      for (const m of value.matchAll(/%([^%]+)%/g)) found.push({ setting: m[1]!, where });
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) visit(v, `${where}.${k}`);
    }
  };
  // Binding names are generated (timerTrigger9b49…); the binding type says which one it is.
  for (const r of regs) for (const b of Object.values(r.metadata.bindings)) visit(b, `${r.name} ${b.type}`);
  return found;
}

/** Storage connections: the host reads `<name>` (a connection string) or the identity-based `<name>__…` settings. */
function connectionNames(regs: readonly Registration[]): Reference[] {
  return regs.flatMap((r) =>
    Object.values(r.metadata.bindings).flatMap((b) =>
      typeof b.connection === 'string' ? [{ setting: b.connection, where: `${r.name} ${b.type}.connection` }] : [],
    ),
  );
}

const references = settingReferences(registrations);
const connections = connectionNames(registrations);

function templateSettings(parameters: Record<string, unknown>): Record<string, string> {
  const ctx: EvalContext = {
    parameters,
    variables: template.variables,
    referenceProperties: { clientId: '11111111-2222-3333-4444-555555555555', ConnectionString: 'InstrumentationKey=66666666-7777-8888-9999-000000000000' },
    subscriptionId: '00000000-0000-0000-0000-000000000001',
    resourceGroupId: '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-rotator',
    resourceManager: 'https://management.azure.com/',
  };
  return evaluate(`[union(variables('appSettings'), parameters('additionalAppSettings'))]`, ctx) as Record<string, string>;
}
const defaults = Object.fromEntries(Object.entries(template.parameters).map(([k, p]: [string, any]) => [k, p.defaultValue]));
const exampleValues = Object.fromEntries(Object.entries(example.parameters).map(([k, p]: [string, any]) => [k, p.value]));

const resolves = (settings: Record<string, string | undefined>, name: string): boolean => (settings[name] ?? '') !== '';
const connectionResolves = (settings: Record<string, string | undefined>, name: string): boolean =>
  resolves(settings, name) || resolves(settings, `${name}__accountName`) || resolves(settings, `${name}__queueServiceUri`);

describe('the settings the bindings name', () => {
  it('are found in the registrations (the timers and the queue trigger name theirs)', () => {
    expect(references.map((r) => `${r.where}: ${r.setting}`).sort()).toEqual([
      'nightlyScan timerTrigger.schedule: ROTATION_SCHEDULE',
      'rotateApp queueTrigger.queueName: ROTATION_QUEUE',
      'verifyRotations timerTrigger.schedule: VERIFY_SCHEDULE',
    ].sort());
    expect(connections.map((c) => c.setting)).toEqual(['AzureWebJobsStorage']);
  });

  const settingsSources: Array<[string, Record<string, string>]> = [
    ['the template with its defaults', templateSettings({ ...defaults, alertEmail: 'ops@example.com' })],
    ['the template with the example parameters', templateSettings({ ...defaults, ...exampleValues })],
    ['local.settings.sample.json', sample],
  ];

  it.each(settingsSources)('%s resolves every %NAME% a binding uses', (_source, settings) => {
    const unresolved = references.filter((r) => !resolves(settings, r.setting)).map((r) => `${r.where} → %${r.setting}%`);
    expect(unresolved).toEqual([]);
  });

  it.each(settingsSources)('%s gives every storage connection a binding uses', (_source, settings) => {
    expect(connections.filter((c) => !connectionResolves(settings, c.setting)).map((c) => c.where)).toEqual([]);
  });

  // The site has a user-assigned identity only, so an identity-based connection without `__credential` and
  // `__clientId` finds no identity on Azure; and the rotator's own table and queue clients (src/composition.ts) must
  // reach the very queue service the host's trigger polls.
  const templateSources = settingsSources.filter(([source]) => source.startsWith('the template'));
  it.each(templateSources)("%s: the queue trigger's connection is the site's user-assigned identity, and the rotator reads the same queue service", (_source, settings) => {
    const site = (template.resources as any[]).find((r) => r.type === 'Microsoft.Web/sites');
    expect(site.identity.type).toBe('UserAssigned');
    const identityResource = (expression: string): string | undefined => /resourceId\('Microsoft\.ManagedIdentity\/userAssignedIdentities', [^)]*\)/.exec(expression)?.[0];
    const siteIdentity = identityResource(Object.keys(site.identity.userAssignedIdentities)[0]!);
    expect(siteIdentity).toBeDefined();
    expect(identityResource(template.variables.appSettings.AzureWebJobsStorage__clientId)).toBe(siteIdentity);

    for (const { setting } of connections) {
      expect(settings[setting], `${setting}: the storage account refuses shared keys, so no connection string`).toBeUndefined();
      expect(settings[`${setting}__credential`]).toBe('managedidentity');
      expect(settings[`${setting}__clientId`]).toBe(settings.AZURE_CLIENT_ID);
      const account = settings[`${setting}__accountName`];
      expect(account).toMatch(/^[a-z0-9]{3,24}$/);
      // What the Functions host derives from `__accountName` for a queue trigger (and Table storage for the rotator).
      expect(loadConfig(settings).storage).toEqual({
        kind: 'identity',
        accountName: account,
        queueServiceUri: `https://${account}.queue.core.windows.net`,
        tableServiceUri: `https://${account}.table.core.windows.net`,
        credential: 'managedidentity',
        clientId: settings.AZURE_CLIENT_ID,
      });
    }
  });

  it.each(references.map((r) => [r.setting, r]))('the template sets %s, to the code default', (name) => {
    const spec = SETTINGS.find((s) => s.name === name);
    expect(spec, `${name} must be a setting of src/core/config.ts`).toBeDefined();
    const deployed = templateSettings({ ...defaults, alertEmail: 'ops@example.com' })[name as string];
    // The default in code serves the CLI; the deployed function app must not depend on it, yet agree with it, so the
    // CLI and the function app talk about the same queue and schedule.
    expect(deployed).toBe((spec as { default?: string }).default);
  });

  it.each(references.map((r) => [r.setting]))('docs/operations.md says the template sets %s', (name) => {
    const row = operations.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
    expect(row, `${name} must have a row in the settings table`).toBeDefined();
    expect(row!.split('|')[2]!.trim()).not.toBe('no');
  });
});

describe('the local host resolves %NAME% like the Functions host, with no fallback to a code default', () => {
  const azurite = useAzurite();

  const localHostWith = (settings: Record<string, string>) =>
    startLocalHost({
      register: () => import('../../src/functions/index.js'),
      settings,
      localSettings: false,
      port: 0,
      log: () => undefined,
      timers: { scheduled: false, runOnStartup: false },
    });

  /** The template's settings, with storage pointed at Azurite (the template's identity-based form needs Azure AD). */
  const deployedSettingsOnAzurite = (): Record<string, string> => {
    const settings = templateSettings({ ...defaults, alertEmail: 'ops@example.com' });
    for (const key of Object.keys(settings)) if (key.startsWith('AzureWebJobsStorage__')) delete settings[key];
    return { ...settings, AzureWebJobsStorage: azurite().connectionString, APPLICATIONINSIGHTS_CONNECTION_STRING: '' };
  };

  it("starts every function from the template's settings and listens on the queue they name", async () => {
    const host = await localHostWith(deployedSettingsOnAzurite());
    try {
      expect(host.registrations.map((r) => r.name).sort()).toEqual(registrations.map((r) => r.name).sort());
      expect(host.queueNames).toEqual({ rotateApp: 'rotation-requests' });
    } finally {
      await host.stop();
    }
  });

  // The local host polls queues with connection strings only (docs/local-runner.md, "Not supported"); given the
  // template's identity-based storage as it is, it must say so rather than report storage as missing.
  it("refuses the template's identity-based storage connection by name, saying to use a connection string", async () => {
    const settings = templateSettings({ ...defaults, alertEmail: 'ops@example.com' });
    const names = Object.keys(settings).filter((k) => k.startsWith('AzureWebJobsStorage__')).sort();
    expect(names).toEqual(['AzureWebJobsStorage__accountName', 'AzureWebJobsStorage__clientId', 'AzureWebJobsStorage__credential']);
    const saved = Object.fromEntries(['AzureWebJobsStorage', ...names].map((k) => [k, process.env[k]]));
    for (const k of Object.keys(saved)) delete process.env[k];
    try {
      await expect(localHostWith({ ...settings, APPLICATIONINSIGHTS_CONNECTION_STRING: '' })).rejects.toThrow(
        /queue function 'rotateApp': identity-based connection 'AzureWebJobsStorage' \(AzureWebJobsStorage__accountName, AzureWebJobsStorage__credential, AzureWebJobsStorage__clientId\) is not supported by the local host; set 'AzureWebJobsStorage' to a connection string/,
      );
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v;
    }
  });

  it.each(references.map((r) => [r.setting, r.where]))('refuses to start without %s, naming the function (%s)', async (name, where) => {
    const settings = deployedSettingsOnAzurite();
    delete settings[name as string];
    const previous = process.env[name as string];
    delete process.env[name as string];
    try {
      await expect(localHostWith(settings)).rejects.toThrow(new RegExp(`'${(where as string).split(' ')[0]}'.*'%${name}%'`));
    } finally {
      if (previous !== undefined) process.env[name as string] = previous;
    }
  });
});
