// Key Vault certificate events as Event Grid delivers them, in either of its two schemas (docs/operations.md,
// "Event-driven rotation"). Key Vault publishes `Microsoft.KeyVault.Certificate*` with a PascalCase `data` object:
// `Id` (<vault url>/certificates/<name>/<version>), `VaultName`, `ObjectType` ("Certificate"), `ObjectName`,
// `Version`, `NBF` and `EXP` (epoch seconds; the samples show them as strings, the SDK models as numbers).
// - Event Grid schema: `{ id, topic, subject, eventType, eventTime, data, dataVersion, metadataVersion }`, topic =
//   the vault's resource id.
// - CloudEvents 1.0: `{ specversion: "1.0", id, source, type, subject, time, data }`, source = the vault's resource id.
// Anything else is refused here with a message that names what is wrong; nothing downstream ever sees it.
import { PreconditionError } from '../errors.js';

export const CERTIFICATE_EVENT_TYPES = {
  'Microsoft.KeyVault.CertificateNewVersionCreated': 'NewVersionCreated',
  'Microsoft.KeyVault.CertificateNearExpiry': 'NearExpiry',
  'Microsoft.KeyVault.CertificateExpired': 'Expired',
} as const;

export type CertificateEventKind = (typeof CERTIFICATE_EVENT_TYPES)[keyof typeof CERTIFICATE_EVENT_TYPES];

export interface CertificateEvent {
  /** The delivery's event id: Event Grid keeps it across retries, so it identifies a duplicate. */
  id: string;
  schema: 'EventGrid' | 'CloudEvents';
  eventType: keyof typeof CERTIFICATE_EVENT_TYPES;
  kind: CertificateEventKind;
  /** The vault resource id of `topic` / `source`. */
  vaultResourceId: string;
  vaultName: string;
  /** `https://<vault host>` of `data.Id` (no trailing slash). */
  vaultUrl: string;
  certificateName: string;
  version: string;
  /** `data.Id` as sent. */
  certificateId: string;
  notBefore?: Date;
  expiresOn?: Date;
  /** `eventTime` / `time`. */
  time?: Date;
}

/** The event is not a Key Vault certificate event this function can act on; the message says why. */
export class CertificateEventRefusedError extends PreconditionError {
  override readonly code: string = 'CertificateEventRefused';
}

const MAX_TEXT = 1024;
const VAULT_RESOURCE = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.KeyVault\/vaults\/([^/]+)$/i;
const VERSION = /^[0-9a-zA-Z]{1,64}$/;
const CERT_NAME = /^[0-9a-zA-Z-]{1,127}$/;

/** Reads one delivered event (either schema); throws CertificateEventRefusedError naming the first problem. */
export function parseCertificateEvent(input: unknown): CertificateEvent {
  const event = typeof input === 'string' ? parseJson(input) : input;
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw refuse(`an event must be a JSON object, got ${Array.isArray(event) ? 'an array' : typeof event}`);
  }
  const e = event as Record<string, unknown>;
  const cloud = e.specversion !== undefined;
  if (cloud && e.specversion !== '1.0') throw refuse(`CloudEvents specversion must be '1.0', got '${clip(e.specversion)}'`);
  if (!cloud && e.eventType === undefined) {
    throw refuse("neither an Event Grid event (no 'eventType') nor a CloudEvent (no 'specversion')");
  }
  const id = text(e, 'id');
  const eventType = text(e, cloud ? 'type' : 'eventType');
  if (!(eventType in CERTIFICATE_EVENT_TYPES)) {
    throw refuse(`event ${id}: type '${eventType}' is not one of ${Object.keys(CERTIFICATE_EVENT_TYPES).join(', ')}`);
  }
  const vaultResourceId = text(e, cloud ? 'source' : 'topic');
  const vaultMatch = VAULT_RESOURCE.exec(vaultResourceId);
  if (!vaultMatch) throw refuse(`event ${id}: ${cloud ? 'source' : 'topic'} '${vaultResourceId}' is not a Key Vault resource id`);

  let data = e.data;
  // Event Grid may deliver a CloudEvent's data as a JSON string (data_base64 is never used for system events).
  if (typeof data === 'string') data = parseJson(data, `event ${id}: data`);
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw refuse(`event ${id}: data must be a JSON object`);
  const d = data as Record<string, unknown>;
  const objectType = text(d, 'ObjectType', `event ${id}: data.`);
  if (objectType.toLowerCase() !== 'certificate') throw refuse(`event ${id}: data.ObjectType is '${objectType}', not 'Certificate'`);
  const vaultName = text(d, 'VaultName', `event ${id}: data.`);
  const certificateName = text(d, 'ObjectName', `event ${id}: data.`);
  const version = text(d, 'Version', `event ${id}: data.`);
  const certificateId = text(d, 'Id', `event ${id}: data.`);
  if (!CERT_NAME.test(certificateName)) throw refuse(`event ${id}: data.ObjectName '${clip(certificateName)}' is not a Key Vault certificate name`);
  if (!VERSION.test(version)) throw refuse(`event ${id}: data.Version '${clip(version)}' is not a Key Vault version`);
  if (vaultMatch[1]!.toLowerCase() !== vaultName.toLowerCase()) {
    throw refuse(`event ${id}: data.VaultName '${vaultName}' is not the vault of ${cloud ? 'source' : 'topic'} (${vaultMatch[1]})`);
  }

  let url: URL;
  try {
    url = new URL(certificateId);
  } catch {
    throw refuse(`event ${id}: data.Id '${clip(certificateId)}' is not a URL`);
  }
  const path = url.pathname.split('/').filter(Boolean);
  if (
    url.protocol !== 'https:' ||
    url.username !== '' ||
    url.password !== '' ||
    url.search !== '' ||
    path.length !== 3 ||
    path[0]!.toLowerCase() !== 'certificates' ||
    path[1]!.toLowerCase() !== certificateName.toLowerCase() ||
    path[2]!.toLowerCase() !== version.toLowerCase()
  ) {
    throw refuse(`event ${id}: data.Id '${clip(certificateId)}' is not https://<vault>/certificates/${certificateName}/${version}`);
  }
  // On a Key Vault host the first label is the vault's name; it must be the vault the event says it is about.
  const label = url.hostname.split('.')[0]!.toLowerCase();
  if (/\.vault\./i.test(url.hostname) && label !== vaultName.toLowerCase()) {
    throw refuse(`event ${id}: data.Id is on host ${url.hostname}, not on vault '${vaultName}'`);
  }

  const result: CertificateEvent = {
    id,
    schema: cloud ? 'CloudEvents' : 'EventGrid',
    eventType: eventType as CertificateEvent['eventType'],
    kind: CERTIFICATE_EVENT_TYPES[eventType as keyof typeof CERTIFICATE_EVENT_TYPES],
    vaultResourceId,
    vaultName,
    vaultUrl: url.origin,
    certificateName,
    version: version.toLowerCase(),
    certificateId,
  };
  const notBefore = epoch(d.NBF, `event ${id}: data.NBF`);
  const expiresOn = epoch(d.EXP, `event ${id}: data.EXP`);
  if (notBefore) result.notBefore = notBefore;
  if (expiresOn) result.expiresOn = expiresOn;
  const time = e[cloud ? 'time' : 'eventTime'];
  if (typeof time === 'string' && Number.isFinite(Date.parse(time))) result.time = new Date(time);
  return result;
}

function refuse(message: string): CertificateEventRefusedError {
  return new CertificateEventRefusedError(message);
}

function parseJson(value: string, what = 'the event'): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw refuse(`${what} is not JSON`);
  }
}

function text(o: Record<string, unknown>, name: string, prefix = ''): string {
  const value = o[name];
  if (typeof value !== 'string' || value.trim() === '') throw refuse(`${prefix}${name} must be a non-empty string, got ${value === undefined ? 'nothing' : clip(value)}`);
  if (value.length > MAX_TEXT) throw refuse(`${prefix}${name} is longer than ${MAX_TEXT} characters`);
  return value.trim();
}

function epoch(value: unknown, what: string): Date | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const seconds = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,12}$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(seconds) || seconds < 0) throw refuse(`${what} must be epoch seconds, got ${clip(value)}`);
  return new Date(seconds * 1000);
}

function clip(value: unknown): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}
