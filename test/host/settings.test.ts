import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalHost } from '../../src/host/index.js';
import {
  applyToEnv,
  findLocalSettings,
  LocalHostConfigError,
  parseTimeSpan,
  readHostJson,
  readLocalSettings,
  resolveSettingReferences,
} from '../../src/host/settings.js';

const dir = mkdtempSync(path.join(tmpdir(), 'local-host-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: unknown): string {
  const p = path.join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

describe('local.settings.json', () => {
  it('reads Values, turning numbers and booleans into strings like the host', () => {
    const p = file('a.json', { IsEncrypted: false, Values: { A: 'x', N: 5, B: true } });
    expect(readLocalSettings(p).values).toEqual({ A: 'x', N: '5', B: 'true' });
  });

  it.each([
    ['an encrypted file', { IsEncrypted: true, Values: {} }, /is encrypted \(IsEncrypted: true\)/],
    ['a nested value', { Values: { A: { b: 1 } } }, /Values.A must be a string/],
    ['broken JSON', '{ "Values": ', /cannot read .*b\.json/],
  ])('refuses %s, naming the file', (_sentence, content, message) => {
    const p = file('b.json', content);
    expect(() => readLocalSettings(p)).toThrow(LocalHostConfigError);
    expect(() => readLocalSettings(p)).toThrow(message);
  });

  it('prefers local.settings.json and falls back to the sample', () => {
    const sub = mkdtempSync(path.join(dir, 'find-'));
    expect(findLocalSettings(sub)).toBeUndefined();
    writeFileSync(path.join(sub, 'local.settings.sample.json'), '{}');
    expect(findLocalSettings(sub)).toBe(path.join(sub, 'local.settings.sample.json'));
    writeFileSync(path.join(sub, 'local.settings.json'), '{}');
    expect(findLocalSettings(sub)).toBe(path.join(sub, 'local.settings.json'));
  });
});

describe('applyToEnv', () => {
  it('does not override an already-set variable unless told to, and restores what it changed', () => {
    const env: NodeJS.ProcessEnv = { KEEP: 'from-shell' };
    const restoreLocal = applyToEnv({ KEEP: 'from-file', NEW: 'n' }, { override: false, env });
    expect(env).toEqual({ KEEP: 'from-shell', NEW: 'n' });
    const restoreExplicit = applyToEnv({ KEEP: 'explicit' }, { override: true, env });
    expect(env.KEEP).toBe('explicit');
    restoreExplicit();
    restoreLocal();
    expect(env).toEqual({ KEEP: 'from-shell' });
  });
});

describe('resolveSettingReferences', () => {
  it.each([
    ['a plain value', 'rotation-requests', {}, 'rotation-requests'],
    ['a whole %SETTING%', '%ROTATION_QUEUE%', { ROTATION_QUEUE: 'rq' }, 'rq'],
    ['a reference inside text', '%PREFIX%-poison', { PREFIX: 'rq' }, 'rq-poison'],
    ['a hierarchical name from its __ spelling, as the host reads environment variables', '%Schedules:Nightly%', { Schedules__Nightly: '0 0 2 * * *' }, '0 0 2 * * *'],
  ])('resolves %s', (_sentence, value, settings, expected) => {
    expect(resolveSettingReferences(value, settings, 'queue function x')).toBe(expected);
  });

  it.each([
    ['unset', {}],
    ['empty', { VERIFY_SCHEDULE: '' }],
  ])('refuses a setting that is %s: no default from anywhere else, as on Azure', (_sentence, settings) => {
    expect(() => resolveSettingReferences('%VERIFY_SCHEDULE%', settings, "timer function 'verifyRotations' schedule")).toThrow(
      "timer function 'verifyRotations' schedule refers to app setting '%VERIFY_SCHEDULE%', which is not set",
    );
  });

  it('names the binding and the setting when it is unset', () => {
    expect(() => resolveSettingReferences('%NOPE%', {}, "queue function 'x' queueName")).toThrow(
      "queue function 'x' queueName refers to app setting '%NOPE%', which is not set",
    );
  });
});

describe('host.json', () => {
  it("reads the repository's host.json queue settings", () => {
    const hostJson = readHostJson(path.resolve('host.json'));
    expect(hostJson).toEqual({ routePrefix: 'api', queues: { maxDequeueCount: 5, visibilityTimeoutSeconds: 30, batchSize: 8, newBatchThreshold: 4, maxPollingIntervalMs: 2000 } });
  });

  it('takes a custom route prefix and polling interval, and defaults without a file', () => {
    const p = file('host.json', { extensions: { http: { routePrefix: '/v1/' }, queues: { maxPollingInterval: '00:00:02.5' } } });
    expect(readHostJson(p)).toMatchObject({ routePrefix: 'v1', queues: { maxPollingIntervalMs: 2500, maxDequeueCount: 5 } });
    expect(readHostJson(undefined).queues.visibilityTimeoutSeconds).toBe(0);
  });

  it("without maxPollingInterval an idle queue is polled at the extension's default, a minute, not a local shortcut", () => {
    expect(readHostJson(undefined).queues.maxPollingIntervalMs).toBe(60_000);
    expect(readHostJson(file('host.json', { extensions: { queues: { batchSize: 8 } } })).queues.maxPollingIntervalMs).toBe(60_000);
  });

  it.each([
    ['00:00:30', 30],
    ['01:02:03', 3723],
    ['1.00:00:00', 86400],
  ])('reads the TimeSpan %s', (text, seconds) => {
    expect(parseTimeSpan(text, 'x')).toBe(seconds);
  });

  it('rejects a TimeSpan that is not one', () => {
    expect(() => parseTimeSpan('30s', 'host.json extensions.queues.visibilityTimeout')).toThrow(
      "host.json extensions.queues.visibilityTimeout must be a TimeSpan like 00:00:30, got '30s'",
    );
  });
});

describe('startLocalHost settings', () => {
  it('explains an empty registry instead of serving nothing', async () => {
    await expect(startLocalHost({ localSettings: false, port: 0, log: () => undefined })).rejects.toThrow(/no functions are registered/);
  });

  it('loads local.settings.json into the environment without overriding it, and restores it on stop', async () => {
    const settingsFile = file('local.settings.json', { Values: { LH_FROM_FILE: 'file', LH_SHELL: 'file', FUNCTIONS_KEY: 'k-file' } });
    process.env.LH_SHELL = 'shell';
    let seenAtImport: Record<string, string | undefined> = {};
    const host = await startLocalHost({
      localSettings: settingsFile,
      settings: { LH_EXPLICIT: 'explicit' },
      port: 0,
      log: () => undefined,
      register: async () => {
        seenAtImport = { file: process.env.LH_FROM_FILE, shell: process.env.LH_SHELL, explicit: process.env.LH_EXPLICIT };
        const { app } = await import('@azure/functions');
        app.get('settingsProbe', { route: 'probe', handler: async () => ({ jsonBody: { v: process.env.LH_FROM_FILE } }) });
      },
      functions: ['settingsProbe'],
    });
    try {
      // Settings are in place before the function modules are imported (they may read them at import time).
      expect(seenAtImport).toEqual({ file: 'file', shell: 'shell', explicit: 'explicit' });
      expect(host.keys.function).toBe('k-file');
      const res = await fetch(`${host.apiUrl}/probe`);
      expect(await res.json()).toEqual({ v: 'file' });
    } finally {
      await host.stop();
    }
    expect([process.env.LH_FROM_FILE, process.env.LH_SHELL, process.env.LH_EXPLICIT, process.env.FUNCTIONS_KEY]).toEqual([undefined, 'shell', undefined, undefined]);
    delete process.env.LH_SHELL;
    await expect(fetch(`${host.apiUrl}/probe`)).rejects.toThrow();
  });

  it('refuses to start a queue function whose connection setting is missing, and restores the environment', async () => {
    await expect(
      startLocalHost({
        localSettings: false,
        settings: { LH_TEMP: 'x' },
        port: 0,
        log: () => undefined,
        register: async () => {
          const { app } = await import('@azure/functions');
          app.storageQueue('needsStorage', { queueName: 'q', connection: 'MissingStorage', handler: async () => undefined });
        },
        functions: ['needsStorage'],
      }),
    ).rejects.toThrow("queue function 'needsStorage': connection setting 'MissingStorage' is not set");
    expect(process.env.LH_TEMP).toBeUndefined();
  });

  it('names functions asked for that are not registered', async () => {
    await expect(startLocalHost({ localSettings: false, port: 0, log: () => undefined, functions: ['ghost'] })).rejects.toThrow(
      /functions not registered: ghost \(registered: settingsProbe, needsStorage\)/,
    );
  });
});
