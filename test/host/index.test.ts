// The local host end to end: the fixture functions registered through @azure/functions, served over real HTTP
// on a free loopback port, timers invoked, and queue messages processed against a real Azurite.
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeQueueMessage, startLocalHost, type LocalHost } from '../../src/host/index.js';
import { uniqueName, useAzurite } from '../helpers/azurite.js';
import { postChunked } from '../helpers/chunked.js';
import type { FixtureEvent } from './fixtures/functions.js';

const azurite = useAzurite();
const FUNCTION_KEY = 'fixture-function-key';
const lines: string[] = [];
let host: LocalHost;
let events: FixtureEvent[];
let queueName: string;
let queue: QueueClient;
let poison: QueueClient;

beforeAll(async () => {
  queueName = uniqueName('work');
  host = await startLocalHost({
    register: async () => {
      ({ events } = await import('./fixtures/functions.js'));
    },
    settings: {
      FIXTURE_TICK_SCHEDULE: '0 0 3 * * *',
      FIXTURE_QUEUE: queueName,
      FixtureStorage: azurite().connectionString,
      FUNCTIONS_KEY: FUNCTION_KEY,
    },
    localSettings: false,
    port: 0,
    log: (line) => lines.push(line),
    // The repo's host.json says maxDequeueCount 5 and a 30 s retry delay; the delay is shortened so the five
    // attempts of the poison test take a second, the count stays the host.json one.
    queues: { visibilityTimeoutSeconds: 0, minPollingIntervalMs: 50, maxPollingIntervalMs: 250 },
  });
  const service = QueueServiceClient.fromConnectionString(azurite().connectionString);
  queue = service.getQueueClient(queueName);
  poison = service.getQueueClient(`${queueName}-poison`);
});

afterAll(async () => {
  await host?.stop();
  if (process.env.DUMP_HOST_LOG) console.log(lines.join("\n"));
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; host log:\n${lines.slice(-30).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('registrations', () => {
  it('captures every function with the metadata the Functions host would receive', () => {
    const summary = host.registrations.map((r) => ({
      name: r.name,
      kind: r.kind,
      type: r.trigger.type,
      route: r.trigger.route,
      methods: r.trigger.methods,
      authLevel: r.trigger.authLevel,
      schedule: r.trigger.schedule,
      queueName: r.trigger.queueName,
      connection: r.trigger.connection,
    }));
    expect(summary).toEqual([
      expect.objectContaining({ name: 'echo', kind: 'http', type: 'httpTrigger', route: 'items/{id}', methods: ['GET', 'POST'], authLevel: 'function' }),
      expect.objectContaining({ name: 'health', kind: 'http', route: 'health', methods: ['GET'], authLevel: 'anonymous' }),
      expect.objectContaining({ name: 'files', kind: 'http', route: 'files/{*rest}', methods: ['GET'], authLevel: 'anonymous' }),
      expect.objectContaining({ name: 'boom', kind: 'http', methods: ['POST'] }),
      expect.objectContaining({ name: 'tick', kind: 'timer', type: 'timerTrigger', schedule: '%FIXTURE_TICK_SCHEDULE%' }),
      expect.objectContaining({ name: 'work', kind: 'storageQueue', type: 'queueTrigger', queueName: '%FIXTURE_QUEUE%', connection: 'FixtureStorage' }),
    ]);
    expect(host.registrations.find((r) => r.name === 'echo')!.metadata.bindings.$return).toMatchObject({ type: 'http', direction: 'out' });
    expect(host.queueNames).toEqual({ work: queueName });
  });
});

describe('HTTP', () => {
  it('routes to a function with its route parameter, query and JSON body, and writes its response back', async () => {
    const res = await fetch(`${host.apiUrl}/items/42?q=find`, {
      method: 'POST',
      headers: { 'x-functions-key': FUNCTION_KEY, 'content-type': 'application/json', 'x-custom': 'yes' },
      body: JSON.stringify({ a: 1, nested: { b: [true, null] } }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-fixture')).toBe('echo');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ id: '42', method: 'POST', q: 'find', body: { a: 1, nested: { b: [true, null] } }, fn: 'echo', header: 'yes' });
  });

  it('drops a body sent with Transfer-Encoding: chunked, as the Functions host does (it copies a body only with Content-Length > 0)', async () => {
    const res = await postChunked(`${host.apiUrl}/items/9`, { 'x-functions-key': FUNCTION_KEY, 'content-type': 'application/json' }, ['{"dry', 'Run":true}']);
    expect(res.status).toBe(201);
    expect(JSON.parse(res.text)).toMatchObject({ id: '9', method: 'POST', body: null });
    expect(lines.some((l) => /dropped the 15-byte body of POST \/api\/items\/9 .*no Content-Length/.test(l))).toBe(true);
  });

  it('accepts the function key as ?code= and matches literal segments case-insensitively', async () => {
    const res = await fetch(`${host.url}/API/Items/7?code=${FUNCTION_KEY}`);
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ id: '7', method: 'GET', body: null });
  });

  it.each([
    ['no key', {}],
    ['a wrong key', { 'x-functions-key': 'nope' }],
  ])('answers 401 to a function-level route with %s, without running it', async (_sentence, headers) => {
    const res = await fetch(`${host.apiUrl}/items/1`, { headers });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { code: 'Unauthorized', message: expect.stringMatching(/requires a function key/) } });
  });

  it('lets anonymous routes through without a key, cookies included', async () => {
    const res = await fetch(`${host.apiUrl}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(res.headers.get('set-cookie')).toBe('seen=1; HttpOnly');
  });

  it('passes the remainder of the path to a catch-all parameter, decoded', async () => {
    const res = await fetch(`${host.apiUrl}/files/a/b%20c/d.txt`);
    expect(await res.text()).toBe('rest=a/b c/d.txt');
  });

  it.each([
    ['an unknown route', 'GET', '/api/nothing-here', /no function answers GET \/api\/nothing-here$/],
    ['a known route with another method', 'DELETE', '/api/health', /no function answers DELETE \/api\/health \(the route exists for GET\)/],
    ['a route outside the /api prefix', 'GET', '/health', /no function answers GET \/health$/],
    ['a route with a missing segment', 'GET', '/api/items', /no function answers GET \/api\/items$/],
  ])('answers 404 JSON to %s', async (_sentence, method, pathname, message) => {
    const res = await fetch(`${host.url}${pathname}`, { method });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'NotFound', message: expect.stringMatching(message) } });
  });

  it('answers 500 JSON with only a correlation id when a function throws', async () => {
    const res = await fetch(`${host.apiUrl}/boom`, { method: 'POST' });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      error: { code: 'InternalServerError', message: expect.stringMatching(/^function 'boom' failed \(correlation id [0-9a-f-]{36}\)$/), correlationId: expect.any(String) },
    });
    expect(text).not.toMatch(/secret|\/srv|at /);
    expect(lines.some((l) => l.includes("executed 'boom' (failed") && l.includes('secret internals'))).toBe(true);
  });
});

describe('timers', () => {
  it('invokes a timer function with a Timer whose next occurrence follows the resolved %SETTING% schedule', async () => {
    const before = events.length;
    await host.invokeTimer('tick');
    const tick = events.slice(before).find((e) => e.fn === 'tick');
    const timer = tick?.input as { isPastDue: boolean; scheduleStatus: { next: string; last: string } };
    expect(timer.isPastDue).toBe(false);
    expect(timer.scheduleStatus.next).toMatch(/T03:00:00\.000Z$/);
    expect(new Date(timer.scheduleStatus.next).getTime()).toBeGreaterThan(Date.now());
  });

  it('runs a timer through the admin endpoint with the master key, and refuses the function key there', async () => {
    const refused = await fetch(`${host.url}/admin/functions/tick`, { method: 'POST', headers: { 'x-functions-key': FUNCTION_KEY }, body: '{}' });
    expect(refused.status).toBe(401);
    const before = events.filter((e) => e.fn === 'tick').length;
    const res = await fetch(`${host.url}/admin/functions/tick`, { method: 'POST', headers: { 'x-functions-key': host.keys.master }, body: '{}' });
    expect(res.status).toBe(202);
    await waitFor('the admin-invoked tick', () => (events.filter((e) => e.fn === 'tick').length > before ? true : undefined));
  });

  it('rejects invoking a timer that does not exist', async () => {
    await expect(host.invokeTimer('nope')).rejects.toThrow("no timer function named 'nope' (have: tick)");
  });
});

describe('storage queue', () => {
  it('decodes a base64 JSON message, passes the dequeue count, and deletes the message after success', async () => {
    await queue.sendMessage(encodeQueueMessage({ hello: 'world', id: 'ok-1' }));
    const event = await waitFor('the queue message to be processed', () =>
      events.find((e) => e.fn === 'work' && (e.input as { id?: string }).id === 'ok-1'),
    );
    expect(event.input).toEqual({ hello: 'world', id: 'ok-1' });
    expect(event.dequeueCount).toBe(1);
    await waitFor('the message to be deleted', async () => {
      const props = await queue.getProperties();
      return props.approximateMessagesCount === 0 ? true : undefined;
    });
  });

  it('moves a message that always fails to <queue>-poison after 5 attempts', async () => {
    const original = encodeQueueMessage({ fail: true, id: 'poison-1' });
    await queue.sendMessage(original);
    const poisoned = await waitFor('the poison queue to receive the message', async () => {
      if (!(await poison.exists())) return undefined;
      const peeked = await poison.peekMessages({ numberOfMessages: 5 });
      return peeked.peekedMessageItems.length > 0 ? peeked.peekedMessageItems : undefined;
    });
    expect(poisoned.map((m) => m.messageText)).toEqual([original]);
    const attempts = events.filter((e) => e.fn === 'work' && (e.input as { id?: string }).id === 'poison-1').map((e) => e.dequeueCount);
    expect(attempts).toEqual([1, 2, 3, 4, 5]);
    // The host copies the message to the poison queue, then deletes the original and logs it: the copy can be seen
    // a moment before the delete and the log line.
    const moved = await waitFor('the host to log the move', () =>
      lines.find((l) => l.includes(`moved to '${queueName}-poison' after 5 failed attempts`)),
    );
    expect(moved).toContain('poison');
    const props = await queue.getProperties();
    expect(props.approximateMessagesCount).toBe(0);
  });

  // The queue extension decodes base64 (its default messageEncoding) before any function runs; plain JSON dropped
  // into the queue by hand never reaches a function on Azure, so it must not here either.
  it('never runs the function for a message that is not base64, and moves it to <queue>-poison after 5 attempts', async () => {
    const plain = JSON.stringify({ hello: 'plain', id: 'not-base64-1' });
    await queue.sendMessage(plain);
    const poisoned = await waitFor('the poison queue to receive the plain message', async () => {
      if (!(await poison.exists())) return undefined;
      const peeked = await poison.peekMessages({ numberOfMessages: 32 });
      return peeked.peekedMessageItems.some((m) => m.messageText === plain) ? true : undefined;
    });
    expect(poisoned).toBe(true);
    expect(events.filter((e) => e.fn === 'work' && (e.input as { id?: string }).id === 'not-base64-1')).toEqual([]);
    const refusals = lines.filter((l) => l.startsWith("not executed 'work'") && l.includes('not base64'));
    expect(refusals.map((l) => /attempt (\d) of 5/.exec(l)?.[1])).toEqual(['1', '2', '3', '4', '5']);
  });
});
