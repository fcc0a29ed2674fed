// The rotation queue against Azurite's Queue service, through the real @azure/storage-queue client.
import { describe, expect, it } from 'vitest';
import { PreconditionError } from '../../src/core/errors.js';
import {
  decodeRotationMessage,
  encodeRotationMessage,
  RotationQueue,
  type RotationQueueMessage,
} from '../../src/azure/rotationQueue.js';
import { uniqueName, useAzurite } from '../helpers/azurite.js';

const azurite = useAzurite();

const MESSAGE: RotationQueueMessage = {
  appId: '/subscriptions/00000000-0000-4000-8000-000000000001/resourcegroups/rg/providers/microsoft.web/sites/app',
  reason: 'NearingExpiry',
  requestedBy: 'timer',
  requestId: 'req-1',
};

describe('rotation queue messages', () => {
  it('are base64 of JSON, as the Functions queue trigger decodes by default', () => {
    const wire = encodeRotationMessage(MESSAGE);
    expect(JSON.parse(Buffer.from(wire, 'base64').toString('utf8'))).toEqual(MESSAGE);
    expect(decodeRotationMessage(wire)).toEqual(MESSAGE);
    expect(decodeRotationMessage(JSON.stringify(MESSAGE))).toEqual(MESSAGE);
  });

  it.each([
    ['a message without appId', { requestedBy: 'x', requestId: 'y' }, /appId must be a non-empty string/],
    ['an appId that is not a resource id', { ...MESSAGE, appId: 'app' }, /appId must be an ARM resource id/],
    ['an unknown field', { ...MESSAGE, pfx: 'MIIK' }, /unknown field\(s\): pfx/],
    ['not an object', [1, 2], /must be a JSON object/],
    ['a caller authenticated some unknown way', { ...MESSAGE, caller: { via: 'password' } }, /caller.via must be 'clientCertificate' or 'functionKey'/],
    ['a caller whose thumbprint is not one', { ...MESSAGE, caller: { via: 'clientCertificate', thumbprint: 'abc' } }, /caller.thumbprint must be 40 uppercase hexadecimal/],
    ['a caller with an oversized subject', { ...MESSAGE, caller: { via: 'clientCertificate', subject: 'CN='.padEnd(3000, 'x') } }, /caller.subject must be a string of at most 2048/],
    ['a caller with extra fields', { ...MESSAGE, caller: { via: 'functionKey', key: 'k' } }, /unknown caller field\(s\): key/],
    ['a rollout id that is not one', { ...MESSAGE, rollout: { id: '../x', wave: 0 } }, /rollout must be \{ id: 20 lowercase hex characters/],
    ['a rollout wave that is not a whole number', { ...MESSAGE, rollout: { id: 'a'.repeat(20), wave: 1.5 } }, /wave: an integer from 0 to 1000/],
    ['a rollout with extra fields', { ...MESSAGE, rollout: { id: 'a'.repeat(20), wave: 0, force: true } }, /rollout must be/],
  ])('reject %s with a message naming the problem', (_label, value, pattern) => {
    expect(() => decodeRotationMessage(JSON.stringify(value))).toThrow(pattern);
    expect(() => decodeRotationMessage(JSON.stringify(value))).toThrow(PreconditionError);
  });
});

describe('the caller in a rotation queue message', () => {
  it('travels with the message, so the record written by the queue trigger names who asked', () => {
    const withCaller: RotationQueueMessage = {
      ...MESSAGE,
      requestedBy: 'http',
      caller: { via: 'clientCertificate', subject: 'CN=ops-cli,O=Contoso', issuer: 'CN=Contoso Issuing CA,O=Contoso', thumbprint: 'AB'.repeat(20) },
    };
    expect(decodeRotationMessage(encodeRotationMessage(withCaller))).toEqual(withCaller);
    expect(decodeRotationMessage(encodeRotationMessage({ ...MESSAGE, caller: { via: 'functionKey' } })).caller).toEqual({ via: 'functionKey' });
  });
});

describe('the rollout in a rotation queue message', () => {
  it('travels with the message, so the queue trigger reports the result to its wave', () => {
    const inWave: RotationQueueMessage = { ...MESSAGE, rollout: { id: '0123456789abcdef0123', wave: 2 } };
    expect(decodeRotationMessage(encodeRotationMessage(inWave))).toEqual(inWave);
  });
});

describe('RotationQueue on Azurite', () => {
  it('sends, receives and deletes a request', async () => {
    const queue = new RotationQueue({ connectionString: azurite().connectionString, queueName: uniqueName('rq') });
    await queue.send(MESSAGE);
    const [received, ...rest] = await queue.receive(10, 30);
    expect(rest).toEqual([]);
    expect(received.message).toEqual(MESSAGE);
    expect(received.dequeueCount).toBe(1);
    await queue.delete(received);
    expect(await queue.depth()).toEqual({ queued: 0, poison: 0 });
  });

  it('moves a message that does not decode to the poison queue instead of returning it', async () => {
    const queue = new RotationQueue({ connectionString: azurite().connectionString, queueName: uniqueName('rq') });
    await queue.ensureQueues();
    const clients = await queue.clients();
    await clients.queue.sendMessage(Buffer.from('{"appId": 42}').toString('base64'));
    expect(await queue.receive(10, 30)).toEqual([]);
    expect(await queue.depth()).toEqual({ queued: 0, poison: 1 });
    const poisoned = await clients.poison.receiveMessages();
    expect(Buffer.from(poisoned.receivedMessageItems[0].messageText, 'base64').toString()).toBe('{"appId": 42}');
  });
});
