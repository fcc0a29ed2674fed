// Azurite as a child process (sandbox/azurite.ts): free ports, in memory, and the real Table and Queue clients work on it.
import { TableClient } from '@azure/data-tables';
import { QueueServiceClient } from '@azure/storage-queue';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startAzurite } from '../../sandbox/azurite.js';

describe('startAzurite', () => {
  it('serves tables and queues on loopback and frees its ports when stopped', async () => {
    const azurite = await startAzurite();
    try {
      expect(azurite.tableEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);
      const table = TableClient.fromConnectionString(azurite.connectionString, 'probe', { allowInsecureConnection: true });
      await table.createTable();
      await table.createEntity({ partitionKey: 'p', rowKey: 'r', value: 'hello' });
      expect((await table.getEntity<{ value: string }>('p', 'r')).value).toBe('hello');

      const queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient('probe');
      await queue.create();
      await queue.sendMessage('aGVsbG8=');
      expect((await queue.receiveMessages()).receivedMessageItems[0].messageText).toBe('aGVsbG8=');
    } finally {
      await azurite.stop();
    }
    const port = Number(new URL(azurite.tableEndpoint).port);
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  });
});
