// Key Vault certificate events in both Event Grid schemas, shaped after Key Vault's published samples; what is not
// one is refused with a message naming the problem.
import { describe, expect, it } from 'vitest';
import { CertificateEventRefusedError, parseCertificateEvent } from '../../../src/core/events/certificateEvent.js';

const TOPIC = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-kv/providers/Microsoft.KeyVault/vaults/sample-kv';
const data = {
  Id: 'https://sample-kv.vault.azure.net/certificates/newcert/ee059b2bb5bc48398a53b168c6cdcb10',
  VaultName: 'sample-kv',
  ObjectType: 'Certificate',
  ObjectName: 'newcert',
  Version: 'ee059b2bb5bc48398a53b168c6cdcb10',
  NBF: '1559081980',
  EXP: '1559082580',
};
const gridEvent = (over: Record<string, unknown> = {}, dataOver: Record<string, unknown> = {}) => ({
  id: '00eccf70-95a7-4e7c-8299-2eb17ee9ad64',
  topic: TOPIC,
  subject: 'newcert',
  eventType: 'Microsoft.KeyVault.CertificateNewVersionCreated',
  eventTime: '2019-07-25T01:08:33.1036736Z',
  data: { ...data, ...dataOver },
  dataVersion: '1',
  metadataVersion: '1',
  ...over,
});
const cloudEvent = (over: Record<string, unknown> = {}) => ({
  specversion: '1.0',
  id: '00eccf70-95a7-4e7c-8299-2eb17ee9ad64',
  source: TOPIC,
  subject: 'newcert',
  type: 'Microsoft.KeyVault.CertificateNearExpiry',
  time: '2019-07-25T01:08:33.1036736Z',
  data: { ...data, NBF: 1559081980, EXP: 1559082580 },
  ...over,
});

describe('certificate events that are read', () => {
  it.each([
    ['an Event Grid schema event with NBF/EXP as strings (the documented sample)', gridEvent(), 'EventGrid', 'NewVersionCreated'],
    ['a CloudEvents 1.0 event with NBF/EXP as numbers (the SDK model)', cloudEvent(), 'CloudEvents', 'NearExpiry'],
    ['a CloudEvent whose data arrives as a JSON string', cloudEvent({ data: JSON.stringify(data), type: 'Microsoft.KeyVault.CertificateExpired' }), 'CloudEvents', 'Expired'],
    ['the same event as JSON text', JSON.stringify(gridEvent()), 'EventGrid', 'NewVersionCreated'],
  ])('%s', (_sentence, input, schema, kind) => {
    const event = parseCertificateEvent(input);
    expect(event).toMatchObject({
      schema,
      kind,
      vaultName: 'sample-kv',
      vaultUrl: 'https://sample-kv.vault.azure.net',
      certificateName: 'newcert',
      version: 'ee059b2bb5bc48398a53b168c6cdcb10',
    });
    expect(event.expiresOn?.toISOString()).toBe(new Date(1559082580 * 1000).toISOString());
  });
});

describe('events that are refused, naming the problem', () => {
  it.each([
    ['garbage text', '{not json', /is not JSON/],
    ['an array (a batch is split by the host)', [gridEvent()], /must be a JSON object, got an array/],
    ['neither schema', { id: 'x', data }, /neither an Event Grid event .* nor a CloudEvent/],
    ['a CloudEvents version other than 1.0', cloudEvent({ specversion: '0.3' }), /specversion must be '1.0'/],
    ['another event type (a secret)', gridEvent({ eventType: 'Microsoft.KeyVault.SecretNewVersionCreated' }), /type 'Microsoft.KeyVault.SecretNewVersionCreated' is not one of/],
    ['a topic that is not a vault', gridEvent({ topic: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa' }), /is not a Key Vault resource id/],
    ['a key object', gridEvent({}, { ObjectType: 'Key' }), /ObjectType is 'Key', not 'Certificate'/],
    ['a VaultName that is not the topic\'s vault', gridEvent({}, { VaultName: 'other-kv' }), /VaultName 'other-kv' is not the vault of topic \(sample-kv\)/],
    ['an Id on another vault host', gridEvent({}, { Id: 'https://evil-kv.vault.azure.net/certificates/newcert/ee059b2bb5bc48398a53b168c6cdcb10' }), /not on vault 'sample-kv'/],
    ['an Id for another certificate', gridEvent({}, { Id: 'https://sample-kv.vault.azure.net/certificates/other/ee059b2bb5bc48398a53b168c6cdcb10' }), /is not https:\/\/<vault>\/certificates\/newcert\//],
    ['an Id over plain http', gridEvent({}, { Id: 'http://sample-kv.vault.azure.net/certificates/newcert/ee059b2bb5bc48398a53b168c6cdcb10' }), /is not https:/],
    ['a missing Version', gridEvent({}, { Version: undefined }), /data.Version must be a non-empty string, got nothing/],
    ['an EXP that is not epoch seconds', gridEvent({}, { EXP: 'tomorrow' }), /data.EXP must be epoch seconds/],
  ])('%s', (_sentence, input, message) => {
    let thrown: unknown;
    try {
      parseCertificateEvent(input);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CertificateEventRefusedError);
    expect((thrown as Error).message).toMatch(message);
  });
});
