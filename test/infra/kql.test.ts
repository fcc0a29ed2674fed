// Every KQL query the project ships (the alert rules of infra/azuredeploy.json, exactly as the deployment builds
// them, and the queries of docs/operations.md) is parsed and bound by Microsoft's Kusto parser against the
// workspace-based Application Insights tables, so a keyword used as a name or a column that does not exist fails here.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate, type EvalContext } from './arm.js';
import { kqlErrors } from './kusto.js';

const root = path.resolve(import.meta.dirname, '../..');
const template = JSON.parse(fs.readFileSync(path.join(root, 'infra/azuredeploy.json'), 'utf8'));
const operations = fs.readFileSync(path.join(root, 'docs/operations.md'), 'utf8');

const alertResource = (template.resources as any[]).find((r) => r.type === 'Microsoft.Insights/scheduledQueryRules');

/** The query the deployment sends for rule `index`: the template's own expression, evaluated. */
function deployedQuery(index: number): string {
  const defaults = Object.fromEntries(Object.entries(template.parameters).map(([k, p]: [string, any]) => [k, p.defaultValue]));
  const ctx: EvalContext = {
    parameters: { ...defaults, alertEmail: 'ops@example.com' },
    variables: template.variables,
    referenceProperties: {},
    subscriptionId: '00000000-0000-0000-0000-000000000001',
    resourceGroupId: '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-rotator',
    resourceManager: 'https://management.azure.com/',
    copyIndex: index,
  };
  return evaluate(alertResource.properties.criteria.allOf[0].query, ctx) as string;
}

describe('the Kusto parser check itself', () => {
  it.each([
    ['a keyword used as a let name', "let latest = AppEvents | where Name == 'x'; latest", "'let'"],
    ['a column the table does not have', 'AppMetrics | extend x = Measurements.appId', 'Measurements'],
    ['a classic Application Insights table in a workspace query', 'customEvents | extend a = customDimensions.appId', 'customEvents'],
    ['a misspelt function', "AppEvents | extend a = tostrin(Properties.appId)", 'tostrin'],
  ])('reports %s as an error', (_sentence, query, mention) => {
    const problems = kqlErrors(query);
    expect(problems.length).toBeGreaterThan(0);
    expect(JSON.stringify(problems)).toContain(mention);
  });

  it('accepts a query over the documented columns', () => {
    expect(kqlErrors("AppEvents | where Name == 'RotationCommitted' | extend AppId = tostring(Properties.appId) | project TimeGenerated, AppId")).toEqual([]);
  });
});

describe('infra/azuredeploy.json alert rules', () => {
  it('the alert rules are scoped to the Log Analytics workspace, whose tables are the App* ones', () => {
    expect(alertResource.properties.scopes).toEqual(["[resourceId('Microsoft.OperationalInsights/workspaces', variables('workspaceName'))]"]);
  });

  const rules = (template.variables.alertRules as Array<{ key: string }>).map((r, i): [string, number] => [r.key, i]);
  it.each(rules)(
    'rule %s, as deployed, parses and binds without errors',
    (_key, index) => {
      const query = deployedQuery(index);
      expect(query).not.toMatch(/__[A-Z_]+__/);
      expect(kqlErrors(query)).toEqual([]);
    },
  );
});

describe('docs/operations.md queries', () => {
  const blocks = [...operations.matchAll(/```kusto\n([\s\S]*?)```/g)].map((m) => m[1]!);

  it('has queries to check', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
  });

  it.each(blocks.map((b) => [b.split('\n').slice(0, 3).join(' ').slice(0, 80), b]))('%s … parses and binds without errors', (_head, block) => {
    expect(kqlErrors(block as string)).toEqual([]);
  });
});
