// Event Grid as Key Vault's system topic delivers to a webhook, after Event Grid's own documents ("Webhook event
// delivery", "Delivery and retry", the Key Vault event schema):
// - a subscription is validated before anything is delivered: Event Grid schema with a `SubscriptionValidation`
//   event (`aeg-event-type: SubscriptionValidation`, the endpoint must answer 200 `{"validationResponse": code}`);
//   CloudEvents 1.0 with the abuse-protection `OPTIONS` request (`WebHook-Request-Origin: eventgrid.azure.net`, the
//   endpoint must answer 200 with `WebHook-Allowed-Origin`);
// - each event is POSTed with `aeg-event-type: Notification` (Event Grid schema: an array of one; CloudEvents: one
//   object, `application/cloudevents+json`); 200–204 is delivered; 400, 401, 403 and 413 are never retried (dead
//   letter); anything else, or no answer in 30 s, is retried after 10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h,
//   then hourly, up to 30 attempts (`timeScale` shrinks the schedule for tests; the 30 s timeout stays);
// - delivery is at least once, in no particular order.
// Publishers that do not follow the happy path, for the tests and the demo: `duplicates` delivers every event that
// many extra times (a lost acknowledgement), `reorder` holds events until flush() and delivers the newest first, and
// `batch` sends what flush() releases as one CloudEvents batch (`application/cloudevents-batch+json`).
import { randomUUID } from 'node:crypto';
import type { VaultCertificate, VaultState, VaultVersion } from './state.js';

export const EVENT_GRID_RETRY_SCHEDULE_MS = [10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000];
const HOUR_MS = 3_600_000;
const RESPONSE_TIMEOUT_MS = 30_000;
const NOT_RETRIED = new Set([400, 401, 403, 413]);

export type KeyVaultEventType = 'Microsoft.KeyVault.CertificateNewVersionCreated' | 'Microsoft.KeyVault.CertificateNearExpiry' | 'Microsoft.KeyVault.CertificateExpired';

export interface EventSubscriptionSpec {
  /** The webhook, e.g. `http://127.0.0.1:7071/runtime/webhooks/eventgrid?functionName=certificateEvents&code=<key>`. */
  endpoint: string;
  schema?: 'EventGrid' | 'CloudEvents';
  /** Advanced filter on the event type (default: the three certificate events). */
  eventTypes?: KeyVaultEventType[];
  /** Only these vaults (default: all). */
  vaults?: string[];
  /** Multiplies the retry schedule and the response timeout (1 = Event Grid's; tests use ~0.001). */
  timeScale?: number;
  maxDeliveryAttempts?: number;
  /** Extra deliveries of every event (at-least-once made visible). */
  duplicates?: number;
  /** Hold events until flush(), then deliver them newest first. */
  reorder?: boolean;
  /** Deliver what flush() releases in one request (CloudEvents batch / Event Grid array). */
  batch?: boolean;
}

export interface DeliveryAttempt {
  subscription: string;
  eventIds: string[];
  eventType: string;
  attempt: number;
  status: number | 'timeout' | 'error';
  at: string;
  outcome: 'delivered' | 'retry' | 'deadLettered';
}

export interface PublishedEvent {
  id: string;
  type: KeyVaultEventType;
  vault: string;
  certificate: string;
  version: string;
  publishedAt: Date;
}

interface Subscription extends Required<Pick<EventSubscriptionSpec, 'endpoint' | 'schema' | 'timeScale' | 'maxDeliveryAttempts' | 'duplicates' | 'reorder' | 'batch'>> {
  id: string;
  eventTypes: Set<string>;
  vaults?: Set<string>;
  held: Array<Record<string, unknown>>;
}

export class SandboxEventGrid {
  readonly #subscriptions: Subscription[] = [];
  readonly #attempts: DeliveryAttempt[] = [];
  readonly #published: PublishedEvent[] = [];
  readonly #deadLetters: Array<{ subscription: string; event: Record<string, unknown>; reason: string }> = [];
  readonly #pending = new Set<Promise<void>>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #expiryAnnounced = new Set<string>();
  readonly #sent = new Map<string, Array<{ sub: Subscription; event: Record<string, unknown> }>>();
  #stopped = false;
  #created = 0;

  constructor(
    private readonly vaults: () => Iterable<VaultState>,
    private readonly log?: (line: string) => void,
  ) {}

  /** Creates a subscription after the endpoint passed the schema's validation handshake; rejects when it did not. */
  async subscribe(spec: EventSubscriptionSpec): Promise<string> {
    const sub: Subscription = {
      id: `sub-${++this.#created}`,
      endpoint: spec.endpoint,
      schema: spec.schema ?? 'EventGrid',
      timeScale: spec.timeScale ?? 1,
      maxDeliveryAttempts: spec.maxDeliveryAttempts ?? 30,
      duplicates: spec.duplicates ?? 0,
      reorder: spec.reorder ?? false,
      batch: spec.batch ?? false,
      eventTypes: new Set(spec.eventTypes ?? ['Microsoft.KeyVault.CertificateNewVersionCreated', 'Microsoft.KeyVault.CertificateNearExpiry', 'Microsoft.KeyVault.CertificateExpired']),
      ...(spec.vaults ? { vaults: new Set(spec.vaults.map((v) => v.toLowerCase())) } : {}),
      held: [],
    };
    await this.#validate(sub);
    this.#subscriptions.push(sub);
    return sub.id;
  }

  /** Key Vault created a version: what the sandbox's renew does. */
  versionCreated(vault: VaultState, certificate: VaultCertificate, version: VaultVersion): PublishedEvent {
    return this.#publish('Microsoft.KeyVault.CertificateNewVersionCreated', vault, certificate, version);
  }

  /**
   * Key Vault's expiry events for the current version of every certificate: NearExpiry within `nearDays` (Key Vault's
   * default lifetime action: 30 days), Expired once past; each announced once per version, as Key Vault does.
   */
  sweepExpiry(now: Date, nearDays = 30): PublishedEvent[] {
    const out: PublishedEvent[] = [];
    for (const vault of this.vaults()) {
      for (const certificate of vault.certificates.values()) {
        const current = certificate.versions[certificate.versions.length - 1];
        if (!current) continue;
        const left = current.material.notAfter.getTime() - now.getTime();
        const type: KeyVaultEventType | undefined =
          left <= 0 ? 'Microsoft.KeyVault.CertificateExpired' : left <= nearDays * 86_400_000 ? 'Microsoft.KeyVault.CertificateNearExpiry' : undefined;
        if (!type) continue;
        const key = `${type}|${vault.name}|${certificate.name}|${current.version}`.toLowerCase();
        if (this.#expiryAnnounced.has(key)) continue;
        this.#expiryAnnounced.add(key);
        out.push(this.#publish(type, vault, certificate, current));
      }
    }
    return out;
  }

  /** Removes a subscription; nothing more is delivered to it (retries already scheduled still run). */
  unsubscribe(id: string): void {
    const at = this.#subscriptions.findIndex((s) => s.id === id);
    if (at >= 0) this.#subscriptions.splice(at, 1);
  }

  /** Delivers an already published event again, unchanged (at-least-once: a late duplicate). */
  redeliver(eventId: string): void {
    for (const { sub, event } of this.#sent.get(eventId) ?? []) this.#deliver(sub, [event]);
  }

  /** Releases what `reorder`/`batch` subscriptions hold (newest first when reordering). */
  flush(): void {
    for (const sub of this.#subscriptions) {
      const held = sub.held.splice(0);
      if (sub.reorder) held.reverse();
      if (held.length === 0) continue;
      if (sub.batch) this.#deliver(sub, held);
      else for (const event of held) this.#deliver(sub, [event]);
    }
  }

  /** Resolves when no delivery (including scheduled retries) is outstanding. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  attempts(): DeliveryAttempt[] {
    return this.#attempts.map((a) => ({ ...a, eventIds: [...a.eventIds] }));
  }

  published(): PublishedEvent[] {
    return this.#published.map((p) => ({ ...p }));
  }

  deadLetters(): Array<{ subscription: string; eventId: string; reason: string }> {
    return this.#deadLetters.map((d) => ({ subscription: d.subscription, eventId: String(d.event.id), reason: d.reason }));
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #publish(type: KeyVaultEventType, vault: VaultState, certificate: VaultCertificate, version: VaultVersion): PublishedEvent {
    const published: PublishedEvent = { id: randomUUID(), type, vault: vault.name, certificate: certificate.name, version: version.version, publishedAt: new Date() };
    this.#published.push(published);
    const data = {
      Id: `${vault.url}/certificates/${certificate.name}/${version.version}`,
      VaultName: vault.name,
      ObjectType: 'Certificate',
      ObjectName: certificate.name,
      Version: version.version,
      NBF: Math.floor(version.material.notBefore.getTime() / 1000),
      EXP: Math.floor(version.material.notAfter.getTime() / 1000),
    };
    for (const sub of this.#subscriptions) {
      if (!sub.eventTypes.has(type) || (sub.vaults && !sub.vaults.has(vault.name.toLowerCase()))) continue;
      const event =
        sub.schema === 'CloudEvents'
          ? { specversion: '1.0', id: published.id, source: vault.id, subject: certificate.name, type, time: published.publishedAt.toISOString(), data }
          : { id: published.id, topic: vault.id, subject: certificate.name, eventType: type, eventTime: published.publishedAt.toISOString(), data, dataVersion: '1', metadataVersion: '1' };
      const sent = this.#sent.get(published.id) ?? [];
      sent.push({ sub, event });
      this.#sent.set(published.id, sent);
      if (sub.reorder || sub.batch) {
        sub.held.push(event);
        continue;
      }
      for (let copy = 0; copy <= sub.duplicates; copy += 1) this.#deliver(sub, [event]);
    }
    return published;
  }

  async #validate(sub: Subscription): Promise<void> {
    if (sub.schema === 'CloudEvents') {
      const response = await this.#request(sub, 'OPTIONS', undefined, { 'webhook-request-origin': 'eventgrid.azure.net' });
      const allowed = typeof response === 'object' ? response.headers.get('webhook-allowed-origin') : null;
      if (typeof response !== 'object' || response.status !== 200 || (allowed !== '*' && allowed?.toLowerCase() !== 'eventgrid.azure.net')) {
        throw new Error(`Event Grid: webhook validation handshake failed for ${redact(sub.endpoint)}: OPTIONS answered ${describe(response)}, WebHook-Allowed-Origin ${allowed ?? 'missing'}`);
      }
      return;
    }
    const code = randomUUID();
    const validation = [
      {
        id: randomUUID(),
        topic: '/subscriptions/sandbox/resourceGroups/sandbox/providers/Microsoft.EventGrid/systemTopics/sandbox',
        subject: '',
        data: { validationCode: code, validationUrl: 'https://rp-sandbox.eventgrid.azure.net/validate' },
        eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
        eventTime: new Date().toISOString(),
        metadataVersion: '1',
        dataVersion: '2',
      },
    ];
    const response = await this.#request(sub, 'POST', JSON.stringify(validation), { 'aeg-event-type': 'SubscriptionValidation', 'content-type': 'application/json' });
    let answer: unknown;
    if (typeof response === 'object') answer = await response.json().catch(() => undefined);
    if (typeof response !== 'object' || response.status !== 200 || (answer as { validationResponse?: unknown } | undefined)?.validationResponse !== code) {
      throw new Error(`Event Grid: webhook validation handshake failed for ${redact(sub.endpoint)}: answered ${describe(response)} without the validation code`);
    }
  }

  #deliver(sub: Subscription, events: Array<Record<string, unknown>>, attempt = 1): void {
    if (this.#stopped) return;
    const work = (async () => {
      const body =
        sub.schema === 'CloudEvents' ? JSON.stringify(events.length === 1 && !sub.batch ? events[0] : events) : JSON.stringify(events);
      const contentType = sub.schema === 'CloudEvents' ? (sub.batch ? 'application/cloudevents-batch+json' : 'application/cloudevents+json') : 'application/json';
      const response = await this.#request(sub, 'POST', body, { 'aeg-event-type': 'Notification', 'content-type': contentType, 'aeg-delivery-count': String(attempt - 1) });
      const status = typeof response === 'object' ? response.status : response;
      if (typeof response === 'object') await response.arrayBuffer().catch(() => undefined);
      const delivered = typeof status === 'number' && status >= 200 && status <= 204;
      const final = !delivered && (typeof status === 'number' && NOT_RETRIED.has(status) ? true : attempt >= sub.maxDeliveryAttempts);
      const outcome: DeliveryAttempt['outcome'] = delivered ? 'delivered' : final ? 'deadLettered' : 'retry';
      const eventType = String(events[0]?.eventType ?? events[0]?.type ?? '');
      this.#attempts.push({ subscription: sub.id, eventIds: events.map((e) => String(e.id)), eventType, attempt, status, at: new Date().toISOString(), outcome });
      if (delivered) return;
      if (final) {
        for (const event of events) this.#deadLetters.push({ subscription: sub.id, event, reason: `status ${String(status)} after ${attempt} attempt(s)` });
        this.log?.(`Event Grid: dead-lettered ${events.length} event(s) for ${sub.id} (${String(status)})`);
        return;
      }
      const delay = (EVENT_GRID_RETRY_SCHEDULE_MS[attempt - 1] ?? HOUR_MS) * sub.timeScale;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          resolve();
        }, delay);
        this.#timers.add(timer);
      });
      this.#deliver(sub, events, attempt + 1);
    })();
    this.#pending.add(work);
    void work.finally(() => this.#pending.delete(work));
  }

  async #request(sub: Subscription, method: string, body: string | undefined, headers: Record<string, string>): Promise<Response | 'timeout' | 'error'> {
    try {
      return await fetch(sub.endpoint, { method, headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(RESPONSE_TIMEOUT_MS) });
    } catch (error) {
      return error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'error';
    }
  }
}

function describe(response: Response | 'timeout' | 'error'): string {
  return typeof response === 'object' ? String(response.status) : response;
}

/** The webhook URL carries the system key in `code`; logs and errors never show it. */
function redact(endpoint: string): string {
  return endpoint.replace(/([?&]code=)[^&]*/i, '$1***');
}
