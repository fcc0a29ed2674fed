// infra/azuredeploy.json, event-driven rotation: a system topic per listed vault and a subscription that
// delivers exactly the certificate events the function accepts to the function that is registered, dead-lettered to
// a container the template creates, with EVENT_ROTATION following the switch.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { CERTIFICATE_EVENT_TYPES } from '../../src/core/events/certificateEvent.js';
import { captureRegistrations } from '../../src/host/index.js';
import { evaluate, type EvalContext } from './arm.js';

const root = path.resolve(import.meta.dirname, '../..');
const template = JSON.parse(fs.readFileSync(path.join(root, 'infra/azuredeploy.json'), 'utf8'));
const operations = fs.readFileSync(path.join(root, 'docs/operations.md'), 'utf8');
const defaults = Object.fromEntries(Object.entries(template.parameters).map(([k, p]: [string, any]) => [k, p.defaultValue]));
const ctx = (parameters: Record<string, unknown>): EvalContext => ({
  parameters: { ...defaults, alertEmail: 'ops@example.com', ...parameters },
  variables: template.variables,
  referenceProperties: { clientId: '11111111-2222-3333-4444-555555555555', ConnectionString: 'InstrumentationKey=66666666-7777-8888-9999-000000000000' },
  subscriptionId: '00000000-0000-0000-0000-000000000001',
  resourceGroupId: '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-rotator',
  resourceManager: 'https://management.azure.com/',
});
const events = template.resources.find((r: any) => r.type === 'Microsoft.Resources/deployments' && String(r.name).includes('-kvev-'));
const inner = events.properties.template;
const topic = inner.resources.find((r: any) => r.type === 'Microsoft.EventGrid/systemTopics');
const subscription = inner.resources.find((r: any) => r.type === 'Microsoft.EventGrid/systemTopics/eventSubscriptions');
const VAULTS = [{ resourceGroup: 'rg-kv', name: 'kv-a' }, { resourceGroup: 'rg-kv', name: 'kv-b' }];

describe('infra/azuredeploy.json: Event Grid for Key Vault certificate events', () => {
  it.each([
    ['off by default: no topic, EVENT_ROTATION false', {}, 0, 'false'],
    ['on with two vaults: one topic and subscription each, EVENT_ROTATION true', { eventRotation: true, keyVaults: VAULTS }, 2, 'true'],
    ['on without vaults: nothing to subscribe to, EVENT_ROTATION false', { eventRotation: true, keyVaults: [] }, 0, 'false'],
  ])('%s', (_sentence, parameters, topics, setting) => {
    expect(evaluate(events.copy.count, ctx(parameters))).toBe(topics);
    const settings = evaluate(`[union(variables('appSettings'), parameters('additionalAppSettings'))]`, ctx(parameters)) as Record<string, string>;
    expect(settings.EVENT_ROTATION).toBe(setting);
    expect(loadConfig({ ...settings, AzureWebJobsStorage: 'UseDevelopmentStorage=true' }).eventRotation).toBe(setting === 'true');
  });

  it('the topic is the vault’s own system topic, in the vault’s resource group and region, with the rotator’s identity', () => {
    expect(events.resourceGroup).toBe("[parameters('keyVaults')[copyIndex()].resourceGroup]");
    expect(topic.properties).toEqual({ source: "[resourceId('Microsoft.KeyVault/vaults', parameters('vaultName'))]", topicType: 'Microsoft.KeyVault.vaults' });
    expect(topic.location).toMatch(/^\[reference\(resourceId\('Microsoft\.KeyVault\/vaults', parameters\('vaultName'\)\), '[\d-]+', 'Full'\)\.location\]$/);
    expect(topic.identity.type).toBe('UserAssigned');
    expect(events.properties.parameters.identityId.value).toBe("[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', variables('identityName'))]");
  });

  it('the subscription delivers to a registered Event Grid function, one event at a time', async () => {
    const registrations = await captureRegistrations(() => import('../../src/functions/index.js'));
    const name = /\/functions\/([A-Za-z]+)'/.exec(subscription.properties.destination.properties.resourceId)?.[1];
    expect(registrations.find((r) => r.name === name)?.trigger.type).toBe('eventGridTrigger');
    expect(subscription.properties.destination.endpointType).toBe('AzureFunction');
    expect(subscription.properties.destination.properties.maxEventsPerBatch).toBe(1);
    expect(events.properties.parameters.functionId.value).toBe("[resourceId('Microsoft.Web/sites', variables('functionAppName'))]");
  });

  it('filters on exactly the event types the function accepts, by type and by advanced filter', () => {
    const types = evaluate("[variables('certificateEventTypes')]", ctx({}));
    expect([...(types as string[])].sort()).toEqual(Object.keys(CERTIFICATE_EVENT_TYPES).sort());
    expect(events.properties.parameters.eventTypes.value).toBe("[variables('certificateEventTypes')]");
    expect(subscription.properties.filter.includedEventTypes).toBe("[parameters('eventTypes')]");
    expect(subscription.properties.filter.advancedFilters).toEqual([{ operatorType: 'StringIn', key: 'eventType', values: "[parameters('eventTypes')]" }]);
  });

  it('retries as Event Grid at most allows and dead-letters with the identity to a container of the rotator’s storage account', () => {
    expect(subscription.properties.retryPolicy).toEqual({ maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 });
    const dead = subscription.properties.deadLetterWithResourceIdentity;
    expect(dead.identity).toEqual({ type: 'UserAssigned', userAssignedIdentity: "[parameters('identityId')]" });
    expect(dead.deadLetterDestination.endpointType).toBe('StorageBlob');
    expect(events.properties.parameters.storageAccountId.value).toBe("[resourceId('Microsoft.Storage/storageAccounts', variables('storageAccountName'))]");
    const container = template.resources.find(
      (r: any) => r.type === 'Microsoft.Storage/storageAccounts/blobServices/containers' && String(r.name).includes("variables('deadLetterContainerName')"),
    );
    expect(container.properties.publicAccess).toBe('None');
    expect(events.dependsOn).toContain("[resourceId('Microsoft.Storage/storageAccounts/blobServices/containers', variables('storageAccountName'), 'default', variables('deadLetterContainerName'))]");
    // Writing the dead letters needs blob data rights on the account: the identity's existing Blob Data Owner.
    expect(template.variables.storageRoles).toContain("[variables('roles').storageBlobDataOwner]");
    expect(events.dependsOn).toContain('storageRoleAssignments');
  });

  it('docs/operations.md explains it and how to turn it off', () => {
    expect(operations).toMatch(/^## Event-driven rotation$/m);
    expect(operations).toMatch(/\*\*Turning it off\.\*\* Deploy with `eventRotation=false`/);
    expect(operations).toContain('`EVENT_ROTATION`');
  });
});
