import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, SETTINGS, type SettingSpec } from '../../src/core/config.js';
import { ConfigError } from '../../src/core/errors.js';
import { TELEMETRY_EVENTS, TELEMETRY_METRICS } from '../../src/core/events.js';
import { captureRegistrations } from '../../src/host/index.js';
import { ARM_FUNCTIONS, evaluate, expressionOf, referencedNames, walkNodes, walkStrings, type EvalContext } from './arm.js';

const root = path.resolve(import.meta.dirname, '../..');
const readJson = (file: string): any => JSON.parse(fs.readFileSync(path.join(root, file), 'utf8'));
const template = readJson('infra/azuredeploy.json');
const example = readJson('infra/azuredeploy.parameters.example.json');
const operations = fs.readFileSync(path.join(root, 'docs/operations.md'), 'utf8');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');

/**
 * Built-in role definition ids, each checked by hand against Microsoft's built-in roles reference
 * (learn.microsoft.com/azure/role-based-access-control/built-in-roles/<category>) and its published
 * JSON; a change here needs the same check.
 */
const VERIFIED_ROLES = {
  websiteContributor: 'de139f84-1756-47ae-9be6-808fbbe84772', // Website Contributor (web-and-mobile)
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7', // Reader (general)
  keyVaultCertificateUser: 'db79e9a7-68ee-4b58-9aeb-b90e7c24fcba', // Key Vault Certificate User (security)
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6', // Key Vault Secrets User (security)
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b', // Storage Blob Data Owner (storage)
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88', // Storage Queue Data Contributor (storage)
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3', // Storage Table Data Contributor (storage)
};

interface Scope {
  name: string;
  template: any;
}

/** The top-level template and every nested template with inner expression scope, each on its own. */
function scopes(): Scope[] {
  const result: Scope[] = [];
  const visit = (name: string, t: any): void => {
    const outer = structuredClone(t);
    for (const [k, r] of (outer.resources as any[]).entries()) {
      if (r.type === 'Microsoft.Resources/deployments' && r.properties?.expressionEvaluationOptions?.scope === 'inner') {
        visit(`${name} > ${r.name}`, t.resources[k].properties.template);
        r.properties.template = '(inner scope)';
      }
    }
    result.push({ name, template: outer });
  };
  visit('azuredeploy.json', template);
  return result;
}

function allResources(t: any = template): any[] {
  return (t.resources as any[]).flatMap((r) =>
    r.type === 'Microsoft.Resources/deployments' && typeof r.properties?.template === 'object'
      ? [r, ...allResources(r.properties.template)]
      : [r],
  );
}

const alertRules: Array<{ key: string; severity: number; events: string[]; metrics?: string[]; query: string[]; description: string }> =
  template.variables.alertRules;
const alertQuery = (rule: { query: string[] }): string => rule.query.join(' ');

describe('infra/azuredeploy.json: structure', () => {
  it('parses as an ARM deployment template', () => {
    expect(template.$schema).toMatch(/deploymentTemplate\.json#$/);
    expect(Array.isArray(template.resources)).toBe(true);
  });

  it.each(scopes().map((s) => [s.name, s]))('every expression of %s parses and calls only ARM functions', (_name, scope) => {
    const unknown: string[] = [];
    let expressions = 0;
    for (const { path: at, value } of walkStrings((scope as Scope).template)) {
      const node = expressionOf(value);
      if (!node) continue;
      expressions += 1;
      for (const n of walkNodes(node)) if (n.kind === 'call' && !ARM_FUNCTIONS.has(n.name)) unknown.push(`${at}: ${n.name}()`);
    }
    expect(expressions).toBeGreaterThan(0);
    expect(unknown).toEqual([]);
  });

  it.each(scopes().map((s) => [s.name, s]))('in %s every parameter is used and every reference is declared', (_name, scope) => {
    const t = (scope as Scope).template;
    const used = new Set(referencedNames(t, 'parameters'));
    const declared = Object.keys(t.parameters ?? {});
    expect(declared.filter((p) => !used.has(p))).toEqual([]);
    expect([...used].filter((p) => !declared.includes(p))).toEqual([]);
  });

  it.each(scopes().map((s) => [s.name, s]))('in %s every variable is used and every reference is declared', (_name, scope) => {
    const t = (scope as Scope).template;
    const used = new Set(referencedNames(t, 'variables'));
    const declared = Object.keys(t.variables ?? {});
    expect(declared.filter((v) => !used.has(v))).toEqual([]);
    expect([...used].filter((v) => !declared.includes(v))).toEqual([]);
  });

  it('every dependsOn names a resource or copy loop declared in the same template', () => {
    const problems: string[] = [];
    for (const scope of scopes()) {
      const resources = scope.template.resources as any[];
      const copyNames = new Set(resources.filter((r) => r.copy).map((r) => r.copy.name));
      const declared = new Set(resources.map((r) => `${r.type}|${canonicalName(r.name)}`));
      for (const r of resources) {
        for (const dep of r.dependsOn ?? []) {
          if (copyNames.has(dep)) continue;
          const node = expressionOf(dep);
          if (node?.kind !== 'call' || node.name !== 'resourceId' || node.args[0]?.kind !== 'string') {
            problems.push(`${r.type} ${r.name}: dependsOn '${dep}' is neither a copy loop nor resourceId(...)`);
            continue;
          }
          const key = `${node.args[0].value}|${node.args.slice(1).map(symbol).join('/')}`;
          if (!declared.has(key)) problems.push(`${r.type} ${r.name}: dependsOn ${dep} matches no resource (${key})`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('every output is a value the template knows', () => {
    const outputs = Object.values(template.outputs) as Array<{ value: string }>;
    expect(outputs.length).toBeGreaterThan(0);
    for (const o of outputs) expect(expressionOf(o.value)).toBeDefined();
  });
});

describe('infra/azuredeploy.json: what it deploys', () => {
  const byType = (type: string): any[] => allResources().filter((r) => r.type === type);

  it('a Linux Flex Consumption Function App on Node 22 with a user-assigned identity, https only', () => {
    const [plan] = byType('Microsoft.Web/serverfarms');
    expect(plan.sku).toEqual({ tier: 'FlexConsumption', name: 'FC1' });
    expect(plan.properties.reserved).toBe(true);
    const [site] = byType('Microsoft.Web/sites');
    expect(site.kind).toBe('functionapp,linux');
    expect(site.identity.type).toBe('UserAssigned');
    expect(site.properties.httpsOnly).toBe(true);
    expect(site.properties.functionAppConfig.runtime).toEqual({ name: 'node', version: '22' });
    expect(site.properties.functionAppConfig.deployment.storage.authentication.type).toBe('UserAssignedIdentity');
  });

  // The front end's client-certificate mode follows CLIENT_CERT_AUTH, and the routes it excludes are exactly the
  // anonymous ones (README and docs/operations.md: /api/health answers without a key or a certificate).
  const modeFor = (clientCertAuth: string): unknown => {
    const [site] = byType('Microsoft.Web/sites');
    const parameters = Object.fromEntries(Object.entries(template.parameters).map(([k, p]: [string, any]) => [k, p.defaultValue]));
    return evaluate(site.properties.clientCertMode, {
      parameters: { ...parameters, clientCertAuth },
      variables: template.variables,
      referenceProperties: {},
      subscriptionId: '00000000-0000-0000-0000-000000000001',
      resourceGroupId: '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg',
      resourceManager: 'https://management.azure.com/',
    });
  };
  it.each([
    ['off: the front end asks for a certificate but lets a caller without one through (the function key decides)', 'off', 'Optional'],
    ['required: the front end refuses a caller without a certificate too, before the app checks it', 'required', 'Required'],
  ])('client certificates with clientCertAuth %s', (_sentence, clientCertAuth, mode) => {
    const [site] = byType('Microsoft.Web/sites');
    expect(site.properties.clientCertEnabled).toBe(true);
    expect(modeFor(clientCertAuth)).toBe(mode);
  });

  it('the client-certificate exclusion paths are exactly the anonymous HTTP routes, and the docs name them', async () => {
    const [site] = byType('Microsoft.Web/sites');
    const registrations = await captureRegistrations(() => import('../../src/functions/index.js'));
    const anonymous = registrations
      .filter((r) => r.kind === 'http' && r.trigger.authLevel === 'anonymous')
      .map((r) => `/api/${String(r.trigger.route)}`);
    expect(anonymous).toEqual(['/api/health']);
    expect(String(site.properties.clientCertExclusionPaths).split(',')).toEqual(anonymous);
    for (const path of anonymous) expect(operations).toMatch(new RegExp(`clientCertExclusionPaths[^\\n]*\`${path}\``));
    expect(readme).toContain('`GET /api/health` (anonymous');
  });

  it('a storage account that accepts identities only (no shared key) for identity-based AzureWebJobsStorage', () => {
    const [account] = byType('Microsoft.Storage/storageAccounts');
    expect(account.properties.allowSharedKeyAccess).toBe(false);
    expect(account.properties.allowBlobPublicAccess).toBe(false);
    const settings = template.variables.appSettings;
    expect(settings.AzureWebJobsStorage__accountName).toBe("[variables('storageAccountName')]");
    expect(settings.AzureWebJobsStorage__credential).toBe('managedidentity');
    expect(settings.AzureWebJobsStorage__clientId).toMatch(/reference\(resourceId\('Microsoft\.ManagedIdentity\/userAssignedIdentities'.*\.clientId\]$/);
    expect(settings.AzureWebJobsStorage).toBeUndefined();
  });

  it('workspace-based Application Insights', () => {
    const [ai] = byType('Microsoft.Insights/components');
    expect(ai.properties.WorkspaceResourceId).toBe("[resourceId('Microsoft.OperationalInsights/workspaces', variables('workspaceName'))]");
    expect(ai.properties.IngestionMode).toBe('LogAnalytics');
  });

  it('the role definition ids are the verified built-in ids', () => {
    expect(template.variables.roles).toEqual(VERIFIED_ROLES);
    const guids = new Set<string>();
    for (const { value } of walkStrings(template)) {
      for (const m of value.matchAll(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi)) guids.add(m[0].toLowerCase());
    }
    expect([...guids].filter((g) => !Object.values(VERIFIED_ROLES).includes(g))).toEqual([]);
  });

  it.each([
    ['the target resource groups', 'targetResourceGroups', "[createArray(variables('roles').websiteContributor)]"],
    ['the target subscriptions', 'targetSubscriptions', "[createArray(variables('roles').websiteContributor)]"],
    ['the Key Vaults', 'keyVaults', "[variables('vaultRoles')]"],
  ])('%s get their roles through a nested deployment per entry', (_what, parameter, roles) => {
    const nested = byType('Microsoft.Resources/deployments').filter((d) => d.copy?.count === `[length(parameters('${parameter}'))]`);
    expect(nested).toHaveLength(1);
    expect(nested[0].properties.parameters.roleDefinitionIds.value).toBe(roles);
    const [assignment] = nested[0].properties.template.resources;
    expect(assignment.type).toBe('Microsoft.Authorization/roleAssignments');
    expect(assignment.properties.principalType).toBe('ServicePrincipal');
  });

  it('each vault gets one Key Vault data role (Certificate User by default) and Reader for the vaultUri look-up, no more', () => {
    expect(template.variables.vaultRoles).toBe(
      "[createArray(if(equals(parameters('keyVaultRole'), 'SecretsUser'), variables('roles').keyVaultSecretsUser, variables('roles').keyVaultCertificateUser), variables('roles').reader)]",
    );
    expect(template.parameters.keyVaultRole.defaultValue).toBe('CertificateUser');
    const [vaults] = byType('Microsoft.Resources/deployments').filter((d) => d.copy?.count === "[length(parameters('keyVaults'))]");
    expect(vaults.properties.template.resources[0].scope).toBe("[format('Microsoft.KeyVault/vaults/{0}', parameters('vaultName'))]");
  });

  it('its own storage account gets Blob Data Owner, Queue Data Contributor and Table Data Contributor, scoped to the account', () => {
    expect(template.variables.storageRoles).toEqual([
      "[variables('roles').storageBlobDataOwner]",
      "[variables('roles').storageQueueDataContributor]",
      "[variables('roles').storageTableDataContributor]",
    ]);
    const [assignments] = template.resources.filter((r: any) => r.type === 'Microsoft.Authorization/roleAssignments');
    expect(assignments.scope).toBe("[format('Microsoft.Storage/storageAccounts/{0}', variables('storageAccountName'))]");
  });

  it('no role is assigned other than through the verified constants', () => {
    for (const r of allResources().filter((x) => x.type === 'Microsoft.Authorization/roleAssignments')) {
      expect(r.properties.roleDefinitionId).toMatch(
        /^\[subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions', (variables\('storageRoles'\)|parameters\('roleDefinitionIds'\))\[copyIndex\(\)\]\)\]$/,
      );
    }
  });
});

describe('infra/azuredeploy.json: app settings against SETTINGS (src/core/config.ts)', () => {
  const settings = template.variables.appSettings as Record<string, string>;
  const specs = SETTINGS as readonly SettingSpec[];
  const names = new Set(specs.map((s) => s.name));
  // Read by the Functions host or the Application Insights SDK, not by loadConfig.
  const platformSettings = ['AzureWebJobsStorage__accountName', 'AzureWebJobsStorage__credential', 'AzureWebJobsStorage__clientId', 'APPLICATION_INSIGHTS_NO_STATSBEAT'];

  it('sets only settings the code or the platform reads (no typos)', () => {
    expect(Object.keys(settings).filter((k) => !names.has(k) && !platformSettings.includes(k))).toEqual([]);
  });

  it.each(specs.map((s) => [s.name, s]))('%s is set by the template, or has a default or is optional and is documented', (name, spec) => {
    const s = spec as SettingSpec;
    if (name === 'AzureWebJobsStorage') {
      expect(settings.AzureWebJobsStorage__accountName).toBeDefined();
      return;
    }
    if (name in settings) return;
    expect(s.default !== undefined || s.optional, `${name} is required but the template does not set it`).toBe(true);
    expect(operations, `${name} must be listed in docs/operations.md`).toContain(`\`${name}\``);
  });

  it('never sets the sandbox-only static token', () => {
    expect(settings.AZURE_STATIC_TOKEN).toBeUndefined();
    expect(settings.AZURE_CREDENTIAL).toBe('managed-identity');
  });

  it.each([
    ['renewBeforeDays', 'RENEW_BEFORE_DAYS'],
    ['retireAfterDays', 'RETIRE_AFTER_DAYS'],
  ])('parameter %s has the range and default of %s', (parameter, setting) => {
    const p = template.parameters[parameter];
    const s = specs.find((x) => x.name === setting)!;
    expect([p.minValue, p.maxValue, String(p.defaultValue)]).toEqual([s.min, s.max, s.default]);
  });

  it.each([
    ['rotationTag', 'ROTATION_TAG'],
    ['rotationSchedule', 'ROTATION_SCHEDULE'],
    ['verifySchedule', 'VERIFY_SCHEDULE'],
    ['clientCertAuth', 'CLIENT_CERT_AUTH'],
  ])('parameter %s defaults to the code default of %s', (parameter, setting) => {
    const s = specs.find((x) => x.name === setting)!;
    expect(template.parameters[parameter].defaultValue).toBe(s.default);
    if (s.choices) expect(template.parameters[parameter].allowedValues).toEqual(s.choices);
  });

  const context = (parameters: Record<string, unknown>): EvalContext => ({
    parameters,
    variables: template.variables,
    referenceProperties: {
      clientId: '11111111-2222-3333-4444-555555555555',
      ConnectionString: 'InstrumentationKey=66666666-7777-8888-9999-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/',
    },
    subscriptionId: '00000000-0000-0000-0000-000000000001',
    resourceGroupId: '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-rotator',
    resourceManager: 'https://management.azure.com/',
  });
  const defaults = Object.fromEntries(Object.entries(template.parameters).map(([k, p]: [string, any]) => [k, p.defaultValue]));
  const exampleValues = Object.fromEntries(Object.entries(example.parameters).map(([k, p]: [string, any]) => [k, p.value]));
  const problemsOf = (env: Record<string, string>): string[] => {
    try {
      loadConfig(env);
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return [...error.problems];
      throw error;
    }
  };
  const appSettingsFor = (parameters: Record<string, unknown>): Record<string, string> =>
    evaluate(`[union(variables('appSettings'), parameters('additionalAppSettings'))]`, context(parameters)) as Record<string, string>;

  it.each([
    ['the example parameters', { ...defaults, ...exampleValues }],
    ['the defaults', { ...defaults, alertEmail: 'ops@example.com' }],
  ])('with %s, the app settings pass loadConfig (apart from the identity-based AzureWebJobsStorage)', (_what, parameters) => {
    const env = appSettingsFor(parameters);
    const problems = problemsOf(env).filter((p) => !p.startsWith('AzureWebJobsStorage'));
    expect(problems).toEqual([]);
  });

  it('the scanned subscriptions are those of the target resource groups and subscriptions, this one by default', () => {
    const ctxParams = {
      ...defaults,
      targetResourceGroups: [{ resourceGroup: 'a' }, { subscriptionId: '00000000-0000-0000-0000-000000000002', resourceGroup: 'b' }],
      targetSubscriptions: ['00000000-0000-0000-0000-000000000003', '00000000-0000-0000-0000-000000000001'],
    };
    expect(appSettingsFor(ctxParams).AZURE_SUBSCRIPTION_IDS).toBe(
      '00000000-0000-0000-0000-000000000001,00000000-0000-0000-0000-000000000002,00000000-0000-0000-0000-000000000003',
    );
    expect(appSettingsFor(defaults).AZURE_SUBSCRIPTION_IDS).toBe('00000000-0000-0000-0000-000000000001');
  });

  // The template provides AzureWebJobsStorage the way the Functions host reads it with a managed identity
  // (AzureWebJobsStorage__accountName/__credential/__clientId, shared keys disabled); loadConfig accepts it
  // (Config.storage.kind === 'identity').
  it('loadConfig accepts the identity-based AzureWebJobsStorage the template provides', () => {
    expect(problemsOf(appSettingsFor({ ...defaults, alertEmail: 'ops@example.com' }))).toEqual([]);
  });

  it('the example parameters file names only template parameters and gives every required one', () => {
    const declared = Object.keys(template.parameters);
    expect(Object.keys(example.parameters).filter((k) => !declared.includes(k))).toEqual([]);
    const required = declared.filter((k) => template.parameters[k].defaultValue === undefined);
    expect(required.filter((k) => !(k in example.parameters))).toEqual([]);
  });
});

describe('infra/azuredeploy.json: alert rules', () => {
  const known = new Set<string>([...TELEMETRY_EVENTS, ...TELEMETRY_METRICS]);
  const namesIn = (query: string): string[] => {
    const names: string[] = [];
    for (const m of query.matchAll(/\bName\s*==\s*'([^']+)'/g)) names.push(m[1]!);
    for (const m of query.matchAll(/\bName\s+in\s*\(([^)]*)\)/g)) for (const q of m[1]!.matchAll(/'([^']+)'/g)) names.push(q[1]!);
    return names;
  };

  it.each(alertRules.map((r) => [r.key, r]))('rule %s names only events and metrics the code emits, and declares them', (_key, rule) => {
    const r = rule as (typeof alertRules)[number];
    const names = namesIn(alertQuery(r));
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((n) => !known.has(n))).toEqual([]);
    expect(new Set(names)).toEqual(new Set([...r.events, ...(r.metrics ?? [])]));
  });

  it.each([
    ['RotationRolledBack', 1],
    ['RotationFailed', 1],
    ['PoisonMessage', 1],
    ['ScanIncomplete', 1],
    ['CertificateExpiring', 2],
    ['DanglingThumbprint', 2],
    ['RenewalMissing', 2],
    ['CandidateRejected', 2],
  ])('%s is covered by a rule of severity %i', (event, severity) => {
    const rules = alertRules.filter((r) => namesIn(alertQuery(r)).includes(event));
    expect(rules.map((r) => r.severity)).toContain(severity);
  });

  it('a certificate with fewer than expiryAlertDays left and no committed rotation raises severity 2, from the metric and the event', () => {
    const rule = alertRules.find((r) => r.key === 'certificate-expiring-unrotated')!;
    const q = alertQuery(rule);
    expect(rule.severity).toBe(2);
    expect(q).toContain("Name == 'CertificateDaysRemaining'");
    expect(q).toContain("Name == 'CertificateExpiring'");
    expect(q).toContain('DaysRemaining < __EXPIRY_DAYS__');
    expect(q).toMatch(/Name == 'RotationCommitted'[\s\S]*isnull\(CommittedAt\) or CommittedAt < TimeGenerated/);
    expect(template.parameters.expiryAlertDays.defaultValue).toBe(7);
  });

  it('a missing ScanCompleted for 26 hours raises severity 2, over a query range longer than 26 hours', () => {
    const rule = alertRules.find((r) => r.key === 'scan-missing')! as any;
    expect(rule.severity).toBe(2);
    expect(alertQuery(rule)).toMatch(/Name == 'ScanCompleted'[\s\S]*LastScan < ago\(26h\)/);
    expect(rule.overrideQueryTimeRange).toBe('P2D');
  });

  it('every query reads only this installation’s Application Insights data', () => {
    for (const rule of alertRules) {
      const tables = alertQuery(rule).match(/\b(AppEvents|AppMetrics|AppExceptions)\b/g) ?? [];
      const filters = alertQuery(rule).match(/_ResourceId =~ '__APPINSIGHTS_ID__'/g) ?? [];
      expect(filters.length, rule.key).toBe(tables.length);
    }
  });

  it('every Properties.<dimension> a query reads is a dimension name the engine writes (src/core)', () => {
    const core = readTree(path.join(root, 'src/core'));
    for (const rule of alertRules) {
      for (const m of alertQuery(rule).matchAll(/Properties\.([A-Za-z]+)/g)) {
        expect(core, `${rule.key} reads Properties.${m[1]}`).toMatch(new RegExp(`\\b${m[1]}\\s*[:,}]`));
      }
    }
  });

  it('docs/operations.md states how many rules the template deploys', () => {
    const words = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];
    const stated = /Action group \(email\) \+ (\w+) scheduled query rules/.exec(operations)?.[1];
    expect(stated).toBe(words[alertRules.length]);
  });

  it('every rule has a runbook section in docs/operations.md', () => {
    for (const rule of alertRules) {
      const anchor = /docs\/operations\.md#([a-z0-9-]+)/.exec(rule.description)?.[1];
      expect(anchor, rule.key).toBeDefined();
      const headings = [...operations.matchAll(/^#{2,4} (.+)$/gm)].map((h) => slug(h[1]!));
      expect(headings, rule.key).toContain(anchor);
    }
  });
});

describe('docs/operations.md KQL', () => {
  it('names only events and metrics the code emits', () => {
    const blocks = [...operations.matchAll(/```kusto\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    const known = new Set<string>([...TELEMETRY_EVENTS, ...TELEMETRY_METRICS]);
    for (const block of blocks) {
      for (const m of block.matchAll(/'([A-Z][A-Za-z]+)'/g)) {
        if (/^(Rotation|Certificate|Scan|Dangling|Renewal|Probe|Poison)/.test(m[1]!)) expect(known, block).toContain(m[1]);
      }
    }
  });
});

// Resource names in dependsOn are compared symbolically: "[variables('x')]" and "[format('{0}/default/{1}', ...)]".
function symbol(node: ReturnType<typeof expressionOf>): string {
  if (!node) return '';
  if (node.kind === 'string') return node.value;
  if (node.kind === 'call' && (node.name === 'variables' || node.name === 'parameters') && node.args[0]?.kind === 'string') {
    return `{${node.name}:${node.args[0].value}}`;
  }
  if (node.kind === 'call' && node.name === 'format' && node.args[0]?.kind === 'string') {
    const rest = node.args.slice(1).map(symbol);
    return node.args[0].value.replace(/\{(\d+)\}/g, (_m, k: string) => rest[Number(k)] ?? '?');
  }
  return JSON.stringify(node);
}

function canonicalName(name: string): string {
  const node = expressionOf(name);
  return node ? symbol(node) : name;
}

function readTree(dir: string): string {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => fs.readFileSync(path.join(e.parentPath ?? (e as any).path, e.name), 'utf8'))
    .join('\n');
}

function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .trim()
    .replace(/ /g, '-');
}
