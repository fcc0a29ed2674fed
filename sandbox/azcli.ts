// Pointing the real Azure CLI (`az`) at a sandbox: the environment and the `az cloud register` / `az login` lines.
// `az` reaches the internet at start-up (telemetry, version and extension checks, MSAL's instance discovery for a
// non-AD FS authority), so it is run in a network namespace that has only loopback, together with the sandbox
// (`unshare -rn` + `ip link set lo up`, docs/local-runner.md "Rehearsing the runbook with az").
import type { Sandbox } from './index.js';

/** The name the sandbox cloud is registered under in az's configuration. */
export const AZ_CLOUD_NAME = 'MtlsRotatorSandbox';

/**
 * What `az` needs in its environment: its own configuration directory (never the operator's real one), the
 * sandbox CA (requests and MSAL read REQUESTS_CA_BUNDLE), and no telemetry or survey prompts.
 */
export function azEnvironment(sb: Pick<Sandbox, 'caFile'>, configDir: string): Record<string, string> {
  return {
    AZURE_CONFIG_DIR: configDir,
    REQUESTS_CA_BUNDLE: sb.caFile,
    AZURE_CORE_COLLECT_TELEMETRY: 'false',
    AZURE_CORE_SURVEY_MESSAGE: 'false',
    AZURE_CORE_NO_COLOR: 'true',
    AZURE_CORE_ONLY_SHOW_ERRORS: 'true',
    AZURE_EXTENSION_USE_DYNAMIC_INSTALL: 'no',
  };
}

/**
 * The sign-in, as argument vectors: register the sandbox as a cloud whose AD endpoint is its AD FS-style
 * authority (MSAL does no instance discovery for AD FS), select it, sign in as the sandbox's service principal.
 * Every endpoint is given, so `az cloud register` does not fetch ARM's metadata either.
 */
export function azSignInCommands(sb: Pick<Sandbox, 'armEndpoint' | 'authority' | 'servicePrincipal' | 'tenantId'>): string[][] {
  return [
    [
      'cloud', 'register', '--name', AZ_CLOUD_NAME,
      '--endpoint-resource-manager', `${sb.armEndpoint}/`,
      '--endpoint-active-directory', sb.authority,
      '--endpoint-active-directory-resource-id', 'https://management.core.windows.net/',
      '--endpoint-active-directory-graph-resource-id', 'https://graph.windows.net/',
      '--suffix-keyvault-dns', '.vault.azure.net',
    ],
    ['cloud', 'set', '--name', AZ_CLOUD_NAME],
    ['login', '--service-principal', '--username', sb.servicePrincipal.clientId, '--password', sb.servicePrincipal.secret, '--tenant', sb.tenantId, '--output', 'json'],
  ];
}

/** One argument for a POSIX shell line (single quotes; a single quote becomes '\''). */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function shellLine(argv: string[]): string {
  return argv.map(shellQuote).join(' ');
}
