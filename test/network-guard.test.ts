import https from 'node:https';
import net from 'node:net';
import dns from 'node:dns';
import { describe, expect, it } from 'vitest';
import { blockedAttempts, isLoopbackHost } from './helpers/network-guard.js';

describe('the loopback network guard', () => {
  it.each([
    ['127.0.0.1', true],
    ['localhost', true],
    ['::1', true],
    ['127.8.9.10', true],
    ['169.254.169.254', false],
    ['10.0.0.1', false],
    ['management.azure.com', false],
  ])('treats %s as loopback: %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });

  it('blocks a connection to the metadata address and records it', async () => {
    const error = await new Promise<Error>((resolve) => {
      const socket = net.connect({ host: '169.254.169.254', port: 80 });
      socket.on('error', resolve);
      socket.on('connect', () => resolve(new Error('connected')));
    });
    expect(error.message).toMatch(/network guard/);
    const attempts = blockedAttempts.splice(0);
    expect(attempts.map((a) => a.target)).toEqual(['169.254.169.254:80']);
  });

  it('blocks an https request too (its socket options carry path: null), and records it', async () => {
    // 0.0.0.0 reaches this machine on Linux: were the guard to miss it, nothing would leave the machine.
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const error = await new Promise<Error>((resolve) => {
      const request = https.request(`https://0.0.0.0:${port}/`, { agent: false });
      request.on('error', resolve);
      request.on('response', () => resolve(new Error('answered')));
      request.end();
    });
    server.close();
    expect(error.message).toMatch(/network guard/);
    expect(blockedAttempts.splice(0).map((a) => a.target)).toEqual([`0.0.0.0:${port}`]);
  });

  it('blocks a DNS look-up of a public host name and records it', async () => {
    await expect(dns.promises.lookup('settings.sdk.monitor.azure.com')).rejects.toThrow(/network guard/);
    const viaCallback = await new Promise<Error | null>((resolve) => dns.lookup('example.org', (err) => resolve(err)));
    expect(viaCallback?.message).toMatch(/network guard/);
    expect(blockedAttempts.splice(0).map((a) => a.target)).toEqual(['settings.sdk.monitor.azure.com', 'example.org']);
  });

  it('lets loopback connections through', async () => {
    const server = net.createServer((s) => s.end('hi'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const data = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      let text = '';
      socket.on('data', (d) => (text += d.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    server.close();
    expect(data).toBe('hi');
  });
});
