import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate } from '../../src/crypto/index.js';
import { defaultSettings, loadConfig, SETTINGS, type SettingSpec } from '../../src/core/config.js';
import { checkNcrontab } from '../../src/core/schedule/ncrontab.js';
import { ConfigError } from '../../src/core/errors.js';

const SUB = '11111111-2222-3333-4444-555555555555';
const minimal = { AZURE_SUBSCRIPTION_IDS: SUB, AzureWebJobsStorage: 'UseDevelopmentStorage=true' };

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  return [];
}

describe('loadConfig', () => {
  it('gives every documented default when only the required settings are set', () => {
    const config = loadConfig(minimal);
    expect(config).toMatchObject({
      subscriptionIds: [SUB],
      armEndpoint: 'https://management.azure.com',
      credential: 'default',
      keyVaultChallengeVerification: true,
      renewBeforeDays: 30,
      retireAfterDays: 7,
      rotationTag: 'mtls-rotation',
      rotationSchedule: '0 0 2 * * *',
      rotationJitterSeconds: 300,
      verifySchedule: '0 */5 * * * *',
      probeWarmupSeconds: 30,
      probeTimeoutSeconds: 10,
      probeAttempts: 5,
      probeBackoffSeconds: 5,
      verifyWindowMinutes: 60,
      leaseSeconds: 900,
      maxParallelRotations: 4,
      armPacing: true,
      rotationTable: 'rotations',
      rotationQueue: 'rotation-requests',
      clientCert: { mode: 'off' },
    });
    expect(config.renewBeforePercent).toBeUndefined();
    expect(config.appInsightsConnectionString).toBeUndefined();
  });

  it('treats blank values (as Azure app settings often hold) as unset', () => {
    expect(loadConfig({ ...minimal, RENEW_BEFORE_DAYS: '  ', RENEW_BEFORE_PERCENT: '' }).renewBeforeDays).toBe(30);
  });

  it('reports every problem at once, each naming its setting', () => {
    const problems = problemsOf({ RENEW_BEFORE_DAYS: 'abc', PROBE_ATTEMPTS: '0' });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('AZURE_SUBSCRIPTION_IDS is required'),
        expect.stringContaining('AzureWebJobsStorage is required'),
        "RENEW_BEFORE_DAYS must be an integer from 1 to 365, got 'abc'",
        "PROBE_ATTEMPTS must be an integer from 1 to 20, got '0'",
      ]),
    );
    expect(problems).toHaveLength(4);
  });

  const integerSettings = (SETTINGS as readonly SettingSpec[]).filter((s) => s.kind === 'integer');
  it.each(integerSettings.map((s) => [s.name, s] as const))(
    '%s accepts its bounds and rejects values outside them and non-integers',
    (name, s) => {
      for (const good of [s.min, s.max]) {
        expect(problemsOf({ ...minimal, [name]: String(good) }), `${name}=${good}`).toEqual([]);
      }
      for (const bad of [String((s.min as number) - 1), String((s.max as number) + 1), '1.5', 'ten', '0x10']) {
        expect(problemsOf({ ...minimal, [name]: bad }), `${name}=${bad}`).toEqual([
          `${name} must be an integer from ${s.min} to ${s.max}, got '${bad}'`,
        ]);
      }
    },
  );

  it.each([
    ['KEYVAULT_CHALLENGE_VERIFICATION', 'keyVaultChallengeVerification'],
    ['ARM_PACING', 'armPacing'],
  ] as const)('%s reads true/false in any case and rejects anything else', (name, key) => {
    // Challenge verification may be off only for allow-listed (sandbox) hosts.
    const hosts = { KEYVAULT_ALLOWED_HOSTS: '127.0.0.1' };
    expect(loadConfig({ ...minimal, ...hosts, [name]: 'FALSE' })[key]).toBe(false);
    expect(loadConfig({ ...minimal, ...hosts, [name]: 'True' })[key]).toBe(true);
    expect(problemsOf({ ...minimal, [name]: 'maybe' })).toEqual([`${name} must be true or false, got 'maybe'`]);
  });

  it.each([
    ['a subscription list with spaces, upper case and a duplicate is normalised',
      { AZURE_SUBSCRIPTION_IDS: ` ${SUB.toUpperCase()} , ${SUB},,` }, undefined],
    ['a subscription id that is not a GUID is refused',
      { AZURE_SUBSCRIPTION_IDS: 'sub-1' }, "AZURE_SUBSCRIPTION_IDS entries must be subscription ids (GUIDs), got 'sub-1'"],
    ['an empty subscription list is refused', { AZURE_SUBSCRIPTION_IDS: ' , ' }, 'AZURE_SUBSCRIPTION_IDS must list at least one subscription id'],
    ['an http ARM endpoint is refused', { ARM_ENDPOINT: 'http://127.0.0.1:8443' }, "ARM_ENDPOINT must be an https URL, got 'http://127.0.0.1:8443'"],
    ['an ARM endpoint with a path is refused', { ARM_ENDPOINT: 'https://x.example/sub' }, "ARM_ENDPOINT must be an https URL without a path, got 'https://x.example/sub'"],
    ['a loopback ARM endpoint with a port is accepted', { ARM_ENDPOINT: 'https://127.0.0.1:8443/' }, undefined],
    ['challenge verification off without the hosts it is off for is refused', { KEYVAULT_CHALLENGE_VERIFICATION: 'false' },
      'KEYVAULT_CHALLENGE_VERIFICATION may be false only together with KEYVAULT_ALLOWED_HOSTS (the hosts it is off for)'],
    ['challenge verification off for allow-listed sandbox hosts is accepted',
      { KEYVAULT_CHALLENGE_VERIFICATION: 'false', KEYVAULT_ALLOWED_HOSTS: '127.0.0.1:8443,127.0.0.1:8444' }, undefined],
    ['an allowed Key Vault host given as a URL is refused', { KEYVAULT_ALLOWED_HOSTS: 'https://127.0.0.1:8443' },
      "KEYVAULT_ALLOWED_HOSTS entries must be host or host:port (no scheme, path or credentials), got 'https://127.0.0.1:8443'"],
    ['a source policy entry without => is refused', { SOURCE_POLICY: `/subscriptions/${SUB} kv-a.vault.azure.net/x` },
      `SOURCE_POLICY entries must read '<app scope> => <vault host>/<certificate name glob>', got '/subscriptions/${SUB} kv-a.vault.azure.net/x'`],
    ['a source policy scope that is not an ARM scope is refused', { SOURCE_POLICY: 'rg-a => kv-a.vault.azure.net/x' },
      "SOURCE_POLICY 'rg-a' is not an app scope (/subscriptions/<id>[/resourceGroups/<rg>[/providers/Microsoft.Web/sites/<site>]])"],
    ['a source policy of two grants is accepted',
      { SOURCE_POLICY: `/subscriptions/${SUB}/resourceGroups/rg-a => kv-a.vault.azure.net/client-*; /subscriptions/${SUB} => kv-b.vault.azure.net/shared` }, undefined],
    ['an unknown credential kind is refused', { AZURE_CREDENTIAL: 'password' },
      "AZURE_CREDENTIAL must be one of default, managed-identity, static, got 'password'"],
    ['a static credential without a token is refused', { AZURE_CREDENTIAL: 'static' },
      "AZURE_STATIC_TOKEN is required when AZURE_CREDENTIAL is 'static'"],
    ['a static credential with a token is accepted', { AZURE_CREDENTIAL: 'static', AZURE_STATIC_TOKEN: 'token' }, undefined],
    ['a managed identity with a client id is accepted', { AZURE_CREDENTIAL: 'managed-identity', AZURE_CLIENT_ID: SUB }, undefined],
    ['a client id that is not a GUID is refused', { AZURE_CLIENT_ID: 'my-identity' }, "AZURE_CLIENT_ID must be a client id (GUID), got 'my-identity'"],
    ['a tag prefix with a slash is refused', { ROTATION_TAG: 'mtls/rotation' },
      "ROTATION_TAG must be a tag name of letters, digits, \".\", \"_\" or \"-\" (at most 100 characters), got 'mtls/rotation'"],
    ['a custom tag prefix is accepted', { ROTATION_TAG: 'contoso.certs' }, undefined],
    ['a five-field schedule is read as the host reads it (second 0)', { ROTATION_SCHEDULE: '0 2 * * *' }, undefined],
    ['a four-field schedule is refused', { ROTATION_SCHEDULE: '0 2 * *' },
      "ROTATION_SCHEDULE must be an NCRONTAB expression (second minute hour day month day-of-week; 5 fields read with second 0): expected 6 fields (second minute hour day month day-of-week), got 4, got '0 2 * *'"],
    ['an hour out of range is refused', { VERIFY_SCHEDULE: '0 0 25 * * *' },
      "VERIFY_SCHEDULE must be an NCRONTAB expression (second minute hour day month day-of-week; 5 fields read with second 0): hour value 25 is out of range 0-23, got '0 0 25 * * *'"],
    ['a storage setting that is not a connection string is refused', { AzureWebJobsStorage: 'my-account' },
      'AzureWebJobsStorage must be a storage connection string (AccountName=...;AccountKey=... or UseDevelopmentStorage=true), got (value hidden)'],
    ['a full storage connection string is accepted',
      { AzureWebJobsStorage: 'DefaultEndpointsProtocol=https;AccountName=st;AccountKey=a2V5;EndpointSuffix=core.windows.net' }, undefined],
    ['a table name with a hyphen is refused', { ROTATION_TABLE: 'rot-ations' },
      "ROTATION_TABLE must be a table name: 3 to 63 letters or digits, starting with a letter, got 'rot-ations'"],
    ['a queue name in upper case is refused', { ROTATION_QUEUE: 'Rotations' },
      "ROTATION_QUEUE must be a queue name: 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit, got 'Rotations'"],
    ['a queue name with a double hyphen is refused', { ROTATION_QUEUE: 'rot--q' },
      "ROTATION_QUEUE must be a queue name: 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit, got 'rot--q'"],
    ['an App Insights connection string without a key is refused', { APPLICATIONINSIGHTS_CONNECTION_STRING: 'IngestionEndpoint=https://x/' },
      'APPLICATIONINSIGHTS_CONNECTION_STRING must be a connection string containing InstrumentationKey=...'],
    ['an App Insights connection string is accepted',
      { APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1/' }, undefined],
    ['client certificate auth without trusted CAs is refused', { CLIENT_CERT_AUTH: 'required' },
      "CLIENT_CERT_TRUSTED_CA is required when CLIENT_CERT_AUTH is 'required' (PEM of the CA(s) that issue API client certificates, or base64 of that PEM)"],
    ['an unknown client certificate mode is refused', { CLIENT_CERT_AUTH: 'optional' },
      "CLIENT_CERT_AUTH must be one of off, required, got 'optional'"],
    ['trusted CA text that is not PEM is refused', { CLIENT_CERT_AUTH: 'required', CLIENT_CERT_TRUSTED_CA: 'not a certificate!' },
      'CLIENT_CERT_TRUSTED_CA must be PEM certificates ("-----BEGIN CERTIFICATE-----") or base64 of that PEM text'],
    ['trusted CA text that is not PEM is not even read while the check is off', { CLIENT_CERT_TRUSTED_CA: 'not a certificate!' }, undefined],
  ] as const)('%s', (_sentence, env, problem) => {
    expect(problemsOf({ ...minimal, ...env })).toEqual(problem === undefined ? [] : [problem]);
  });

  it('accepts identity-based storage as the Functions host reads it (shared keys disabled)', () => {
    const identity = { AZURE_SUBSCRIPTION_IDS: SUB, AzureWebJobsStorage__accountName: 'strotator01', AzureWebJobsStorage__credential: 'managedidentity', AzureWebJobsStorage__clientId: SUB };
    expect(loadConfig(identity).storage).toEqual({
      kind: 'identity',
      accountName: 'strotator01',
      tableServiceUri: 'https://strotator01.table.core.windows.net',
      queueServiceUri: 'https://strotator01.queue.core.windows.net',
      credential: 'managedidentity',
      clientId: SUB,
    });
    expect(loadConfig(identity).storageConnectionString).toBeUndefined();
    expect(loadConfig({ AZURE_SUBSCRIPTION_IDS: SUB, AzureWebJobsStorage__tableServiceUri: 'https://127.0.0.1:10002/devstoreaccount1/', AzureWebJobsStorage__queueServiceUri: 'https://127.0.0.1:10001/devstoreaccount1' }).storage)
      .toEqual({ kind: 'identity', tableServiceUri: 'https://127.0.0.1:10002/devstoreaccount1', queueServiceUri: 'https://127.0.0.1:10001/devstoreaccount1' });
    expect(loadConfig(minimal).storage).toEqual({ kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' });
    expect(problemsOf({ AZURE_SUBSCRIPTION_IDS: SUB, AzureWebJobsStorage__accountName: 'Not_An_Account' })).toEqual([
      "AzureWebJobsStorage__accountName must be a storage account name (3 to 24 lowercase letters and digits), got 'Not_An_Account'",
    ]);
    expect(problemsOf({ AZURE_SUBSCRIPTION_IDS: SUB, AzureWebJobsStorage__tableServiceUri: 'https://t/' })).toEqual([
      'AzureWebJobsStorage is required: a connection string, or identity-based AzureWebJobsStorage__accountName (or both __tableServiceUri and __queueServiceUri)',
    ]);
  });

  it('never echoes a secret setting in an error', () => {
    const problems = problemsOf({ ...minimal, AzureWebJobsStorage: 'AccountKeyOnly=s3cr3t-value' });
    expect(problems.join('\n')).not.toContain('s3cr3t-value');
  });

  // The client-certificate settings are read by src/core/clientCertPolicy.ts (test/functions/auth/clientCert.test.ts
  // covers it in depth); these check that loadConfig runs it and reports its problems with the others.
  const anchorsOf = (config: ReturnType<typeof loadConfig>): string[] => (config.clientCert.mode === 'required' ? config.clientCert.trustedCaPems : []);

  it('reads trusted CAs as PEM text, escaped newlines or base64, several concatenated', () => {
    const a = createCertificateAuthority({ commonName: 'Api CA A' }).certPem;
    const b = createCertificateAuthority({ commonName: 'Api CA B' }).certPem;
    const both = `${a}\n${b}`;
    for (const value of [both, both.replace(/\n/g, '\\n'), Buffer.from(both).toString('base64')]) {
      expect(anchorsOf(loadConfig({ ...minimal, CLIENT_CERT_AUTH: 'required', CLIENT_CERT_TRUSTED_CA: value }))).toHaveLength(2);
    }
    const corrupt = a.replace(/\n[A-Za-z0-9+/]{20}/, '\nAAAAAAAAAAAAAAAAAAAA');
    expect(problemsOf({ ...minimal, CLIENT_CERT_AUTH: 'required', CLIENT_CERT_TRUSTED_CA: corrupt })).toEqual(['CLIENT_CERT_TRUSTED_CA is not a readable X.509 certificate']);
  });

  it.each([
    ['a leaf certificate as the trust anchor', () => ({ CLIENT_CERT_TRUSTED_CA: issueCertificate(createCertificateAuthority({ commonName: 'Issuer' }), { commonName: 'ops', usage: 'client' }).certPem }),
      /^CLIENT_CERT_TRUSTED_CA \(CN=ops\) is not a CA certificate \(basicConstraints CA:FALSE\)/],
    ['no trust anchor at all', () => ({}), /^CLIENT_CERT_TRUSTED_CA is required when CLIENT_CERT_AUTH is 'required'/],
    ['an allow-list entry that is not a thumbprint', () => ({ CLIENT_CERT_TRUSTED_CA: createCertificateAuthority({ commonName: 'Api CA' }).certPem, CLIENT_CERT_ALLOWED_THUMBPRINTS: 'ABC123' }),
      /^CLIENT_CERT_ALLOWED_THUMBPRINTS entry 'ABC123' is not a SHA-1 thumbprint/],
  ])('with CLIENT_CERT_AUTH=required, refuses %s at start-up, naming the setting', (_sentence, extra, problem) => {
    const problems = problemsOf({ ...minimal, CLIENT_CERT_AUTH: 'required', ...extra() });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(problem);
  });

  it('with CLIENT_CERT_AUTH off, does not read the other CLIENT_CERT_ settings at all', () => {
    const garbage = { CLIENT_CERT_TRUSTED_CA: 'not a certificate', CLIENT_CERT_INTERMEDIATES: '!!', CLIENT_CERT_ALLOWED_THUMBPRINTS: 'nope', CLIENT_CERT_ALLOWED_SUBJECTS: 'nonsense' };
    expect(loadConfig({ ...minimal, ...garbage }).clientCert).toEqual({ mode: 'off' });
    expect(loadConfig({ ...minimal, ...garbage, CLIENT_CERT_AUTH: 'OFF' }).clientCert).toEqual({ mode: 'off' });
  });

  it('normalises the thumbprint allow-list: case, spaces and colons', () => {
    const t = 'ab'.repeat(20);
    const config = loadConfig({
      ...minimal,
      CLIENT_CERT_AUTH: 'required',
      CLIENT_CERT_TRUSTED_CA: createCertificateAuthority({ commonName: 'Api CA' }).certPem,
      CLIENT_CERT_ALLOWED_THUMBPRINTS: ` ${t} ,${t.toUpperCase().match(/../g)!.join(' ')}, ${t.match(/../g)!.join(':')}`,
    });
    expect(config.clientCert).toMatchObject({ mode: 'required', allowedThumbprints: [t.toUpperCase()] });
  });
});

describe('checkNcrontab', () => {
  it.each([
    ['the nightly default', '0 0 2 * * *', undefined],
    ['the probe default', '0 */5 * * * *', undefined],
    ['ranges, steps and names', '0 0-30/10 8-18 1,15 JAN-MAR mon-fri', undefined],
    ['a step of zero', '0 */0 * * * *', "minute step in '*/0' must be a positive integer"],
    ['a backwards range', '0 0 9-5 * * *', "hour range '9-5' runs backwards"],
    ['weekday 7', '0 0 0 * * 7', 'day-of-week value 7 is out of range 0-6 (0 = Sunday)'],
  ])('%s', (_sentence, expression, problem) => {
    expect(checkNcrontab(expression)).toBe(problem);
  });
});

describe('SETTINGS and local.settings.sample.json', () => {
  it('the sample lists every setting, and its values load', () => {
    const sample = JSON.parse(readFileSync(new URL('../../local.settings.sample.json', import.meta.url), 'utf8')) as {
      IsEncrypted: boolean;
      Values: Record<string, string>;
    };
    expect(sample.IsEncrypted).toBe(false);
    expect(sample.Values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    for (const s of SETTINGS) expect(Object.keys(sample.Values), s.name).toContain(s.name);
    expect(() => loadConfig(sample.Values)).not.toThrow();
  });

  it('every default is itself valid, and every integer setting documents its range', () => {
    expect(() => loadConfig({ ...defaultSettings(), ...minimal })).not.toThrow();
    for (const s of SETTINGS as readonly SettingSpec[]) {
      expect(s.description.length, s.name).toBeGreaterThan(10);
      if (s.kind === 'integer') expect([s.min, s.max], s.name).not.toContain(undefined);
      if (!s.optional && s.default === undefined) expect(['AZURE_SUBSCRIPTION_IDS', 'AzureWebJobsStorage']).toContain(s.name);
      if (s.secret) expect(s.default, s.name).toBeUndefined();
    }
  });
});
