// App settings for running the function app against the local sandbox and Azurite (the demo, tests). A development
// tool like the sandbox itself: it lives outside src/, so neither dist/ nor the bundle carries sandbox settings.
export interface LocalSettingsInput {
  armEndpoint: string;
  token: string;
  subscriptionId: string;
  storageConnectionString: string;
  functionsKey: string;
  rotationQueue?: string;
  rotationTable?: string;
}

export function sandboxAppSettings(input: LocalSettingsInput): Record<string, string> {
  return {
    FUNCTIONS_WORKER_RUNTIME: 'node',
    FUNCTIONS_KEY: input.functionsKey,
    AzureWebJobsStorage: input.storageConnectionString,
    AZURE_SUBSCRIPTION_IDS: input.subscriptionId,
    ARM_ENDPOINT: input.armEndpoint,
    AZURE_CREDENTIAL: 'static',
    AZURE_STATIC_TOKEN: input.token,
    // The sandbox vaults live on 127.0.0.1, not *.vault.azure.net.
    KEYVAULT_CHALLENGE_VERIFICATION: 'false',
    KEYVAULT_ALLOWED_HOSTS: '127.0.0.1',
    ROTATION_SCHEDULE: '0 0 2 * * *',
    ROTATION_JITTER_SECONDS: '0',
    VERIFY_SCHEDULE: '0 */5 * * * *',
    // Sandbox apps restart in a fraction of a second; the production warm-up and back-off would only make it wait.
    PROBE_WARMUP_SECONDS: '0',
    PROBE_TIMEOUT_SECONDS: '5',
    PROBE_ATTEMPTS: '2',
    PROBE_BACKOFF_SECONDS: '1',
    // The sandbox's downstreams listen on loopback, which the probe target policy refuses unless allow-listed.
    PROBE_ALLOWED_TARGETS: '127.0.0.1',
    // The sandbox's apps are verified in a second; a rollout's next wave need not wait the production half hour.
    ROLLOUT_SOAK_SECONDS: '0',
    ROTATION_QUEUE: input.rotationQueue ?? 'rotation-requests',
    ROTATION_TABLE: input.rotationTable ?? 'rotations',
    // Key Vault events reach the apps at once; the sandbox's Event Grid delivers them.
    EVENT_ROTATION: 'true',
    CLIENT_CERT_AUTH: 'off',
    APPLICATIONINSIGHTS_CONNECTION_STRING: '',
  };
}
