// The fan-out queue: one message per app that needs a rotation. Messages are base64 of UTF-8 JSON, which is what
// the Functions host's queue trigger decodes by default (`messageEncoding: base64`); failed messages end up in
// `<queue>-poison` after the host's maxDequeueCount.
import type { TokenCredential } from '@azure/core-auth';
import type { QueueClient, StoragePipelineOptions } from '@azure/storage-queue';
import { PreconditionError } from '../core/errors.js';
import type { RotationRequest, RotationRequestQueue } from '../core/enqueueDue.js';
import type { RequestedBy } from '../core/records.js';
import { isRolloutId } from '../core/rollout/model.js';
import { callAzure } from './errors.js';

/** The queue's message is the core's rotation request (src/core/enqueueDue.ts), as JSON. */
export type RotationQueueMessage = RotationRequest;

export interface ReceivedRotationMessage {
  message: RotationQueueMessage;
  messageId: string;
  popReceipt: string;
  dequeueCount: number;
}

/** The largest message a storage queue accepts is 64 KiB; a request is tiny, so a much lower bound catches junk. */
const MAX_FIELD_CHARS = 2048;

export function encodeRotationMessage(message: RotationQueueMessage): string {
  return Buffer.from(JSON.stringify(validateRotationMessage(message)), 'utf8').toString('base64');
}

/** Accepts the base64 form (what we send) and plain JSON (what a person may drop into the queue by hand). */
export function decodeRotationMessage(text: string): RotationQueueMessage {
  const trimmed = text.trim();
  let json = trimmed;
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) {
      throw new PreconditionError('rotation queue message is neither JSON nor base64 of JSON');
    }
    json = Buffer.from(trimmed, 'base64').toString('utf8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new PreconditionError('rotation queue message is not valid JSON');
  }
  return validateRotationMessage(parsed);
}

export function validateRotationMessage(value: unknown): RotationQueueMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PreconditionError('rotation queue message must be a JSON object with appId, requestedBy and requestId');
  }
  const v = value as Record<string, unknown>;
  const problems: string[] = [];
  const text = (key: string, required: boolean): string | undefined => {
    const field = v[key];
    if (field === undefined && !required) return undefined;
    if (typeof field !== 'string' || field.trim() === '') problems.push(`${key} must be a non-empty string`);
    else if (field.length > MAX_FIELD_CHARS) problems.push(`${key} is longer than ${MAX_FIELD_CHARS} characters`);
    else return field;
    return undefined;
  };
  const appId = text('appId', true);
  const reason = text('reason', false);
  const requestedBy = text('requestedBy', true);
  const requestId = text('requestId', true);
  if (appId !== undefined && !appId.toLowerCase().startsWith('/subscriptions/')) {
    problems.push('appId must be an ARM resource id (/subscriptions/…/providers/Microsoft.Web/sites/…)');
  }
  const caller = v.caller === undefined ? undefined : validateCaller(v.caller, problems);
  const rollout = v.rollout === undefined ? undefined : validateRolloutRef(v.rollout, problems);
  const unknown = Object.keys(v).filter((k) => !['appId', 'reason', 'requestedBy', 'requestId', 'caller', 'rollout'].includes(k));
  if (unknown.length > 0) problems.push(`unknown field(s): ${unknown.join(', ')}`);
  if (problems.length > 0) throw new PreconditionError(`rotation queue message: ${problems.join('; ')}`);
  return { appId: appId!, ...(reason !== undefined ? { reason } : {}), requestedBy: requestedBy!, requestId: requestId!, ...(caller ? { caller } : {}), ...(rollout ? { rollout } : {}) };
}

function validateRolloutRef(value: unknown, problems: string[]): { id: string; wave: number } | undefined {
  const r = value as Record<string, unknown> | null;
  if (typeof r !== 'object' || r === null || Array.isArray(r) || typeof r.id !== 'string' || !isRolloutId(r.id) ||
      !Number.isInteger(r.wave) || (r.wave as number) < 0 || (r.wave as number) > 1000 || Object.keys(r).some((k) => k !== 'id' && k !== 'wave')) {
    problems.push('rollout must be { id: 20 lowercase hex characters, wave: an integer from 0 to 1000 }');
    return undefined;
  }
  return { id: r.id, wave: r.wave as number };
}

/** The caller as the record will keep it: a known `via`, bounded names, a thumbprint in App Service form. */
function validateCaller(value: unknown, problems: string[]): RequestedBy | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push('caller must be an object with via (and subject, issuer, thumbprint for a certificate)');
    return undefined;
  }
  const c = value as Record<string, unknown>;
  const count = problems.length;
  if (c.via !== 'clientCertificate' && c.via !== 'functionKey') problems.push("caller.via must be 'clientCertificate' or 'functionKey'");
  const caller: RequestedBy = { via: c.via as RequestedBy['via'] };
  for (const key of ['subject', 'issuer'] as const) {
    const field = c[key];
    if (field === undefined) continue;
    if (typeof field !== 'string' || field.length > MAX_FIELD_CHARS) problems.push(`caller.${key} must be a string of at most ${MAX_FIELD_CHARS} characters`);
    else caller[key] = field;
  }
  if (c.thumbprint !== undefined) {
    if (typeof c.thumbprint !== 'string' || !/^[0-9A-F]{40}$/.test(c.thumbprint)) problems.push('caller.thumbprint must be 40 uppercase hexadecimal characters');
    else caller.thumbprint = c.thumbprint;
  }
  const unknown = Object.keys(c).filter((k) => !['via', 'subject', 'issuer', 'thumbprint'].includes(k));
  if (unknown.length > 0) problems.push(`unknown caller field(s): ${unknown.join(', ')}`);
  return problems.length === count ? caller : undefined;
}

export interface RotationQueueOptions {
  /** AzureWebJobsStorage as a connection string… */
  connectionString?: string;
  /** …or identity-based: the queue service URI and a credential. */
  queueServiceUri?: string;
  credential?: TokenCredential;
  /** Extra CA (PEM) to trust besides the system roots, for an identity-based URI (the sandbox's HTTPS Azurite). */
  tlsCa?: string;
  /** ROTATION_QUEUE. */
  queueName: string;
}

export class RotationQueue implements RotationRequestQueue {
  private ready: Promise<void> | undefined;
  private loading: Promise<{ queue: QueueClient; poison: QueueClient }> | undefined;

  constructor(private readonly options: RotationQueueOptions) {
    if (!options.connectionString && !(options.queueServiceUri && options.credential)) {
      throw new PreconditionError('the rotation queue needs a storage connection string, or a queue service URI and a credential');
    }
  }

  /**
   * The queue and its poison queue, built on first use: @azure/storage-queue is several MB of RSS that a scan never
   * needs, so it is imported only when the queue is first used.
   */
  clients(): Promise<{ queue: QueueClient; poison: QueueClient }> {
    this.loading ??= import('@azure/storage-queue').then(
      ({ QueueServiceClient }) => {
        const { connectionString, queueServiceUri, credential, queueName, tlsCa } = this.options;
        // StoragePipelineOptions does not declare tlsOptions, but the queue client hands its options to core-client's
        // createClientPipeline unchanged, which applies them (proven by the HTTPS Azurite test of identity storage).
        const tls = tlsCa ? ({ tlsOptions: { ca: tlsCa } } as StoragePipelineOptions) : undefined;
        const service = connectionString
          ? QueueServiceClient.fromConnectionString(connectionString)
          : new QueueServiceClient(queueServiceUri!, credential!, tls);
        return { queue: service.getQueueClient(queueName), poison: service.getQueueClient(`${queueName}-poison`) };
      },
      (error: unknown) => {
        this.loading = undefined;
        throw error;
      },
    );
    return this.loading;
  }

  get queueName(): string {
    return this.options.queueName;
  }

  get poisonQueueName(): string {
    return `${this.options.queueName}-poison`;
  }

  /** Creates both queues once per process. */
  ensureQueues(): Promise<void> {
    if (this.ready === undefined) {
      this.ready = callAzure({ operation: 'create queues', resource: this.options.queueName }, async () => {
        const { queue, poison } = await this.clients();
        await queue.createIfNotExists();
        await poison.createIfNotExists();
      }).catch((error: unknown) => {
        this.ready = undefined;
        throw error;
      });
    }
    return this.ready;
  }

  /** `delaySeconds` spreads a fan-out (the message stays invisible that long). */
  async send(message: RotationQueueMessage, options: { delaySeconds?: number } = {}): Promise<string> {
    await this.ensureQueues();
    const body = encodeRotationMessage(message);
    const { queue } = await this.clients();
    const response = await callAzure({ operation: 'send rotation request', resource: `${this.options.queueName}:${message.appId}` }, () =>
      queue.sendMessage(body, options.delaySeconds ? { visibilityTimeout: Math.floor(options.delaySeconds) } : undefined),
    );
    return response.messageId;
  }

  /**
   * Receives up to `max` messages, invisible for `visibilitySeconds`. A message that does not decode is moved to the
   * poison queue at once (retrying it cannot help) and not returned.
   */
  async receive(max = 16, visibilitySeconds = 300): Promise<ReceivedRotationMessage[]> {
    await this.ensureQueues();
    const { queue } = await this.clients();
    const response = await callAzure({ operation: 'receive rotation requests', resource: this.options.queueName }, () =>
      queue.receiveMessages({ numberOfMessages: Math.min(32, Math.max(1, max)), visibilityTimeout: visibilitySeconds }),
    );
    const out: ReceivedRotationMessage[] = [];
    for (const item of response.receivedMessageItems) {
      try {
        out.push({ message: decodeRotationMessage(item.messageText), messageId: item.messageId, popReceipt: item.popReceipt, dequeueCount: item.dequeueCount });
      } catch {
        await this.moveToPoison(item.messageText);
        await this.delete({ messageId: item.messageId, popReceipt: item.popReceipt });
      }
    }
    return out;
  }

  async delete(received: Pick<ReceivedRotationMessage, 'messageId' | 'popReceipt'>): Promise<void> {
    await callAzure({ operation: 'delete rotation request', resource: `${this.options.queueName}:${received.messageId}` }, async () =>
      (await this.clients()).queue.deleteMessage(received.messageId, received.popReceipt),
    );
  }

  /** Copies a message text (as received, still encoded) to `<queue>-poison`. */
  async moveToPoison(messageText: string): Promise<void> {
    await this.ensureQueues();
    await callAzure({ operation: 'poison rotation request', resource: this.poisonQueueName }, async () =>
      (await this.clients()).poison.sendMessage(messageText),
    );
  }

  /** Approximate counts, for status output. */
  async depth(): Promise<{ queued: number; poison: number }> {
    await this.ensureQueues();
    const clients = await this.clients();
    const [queued, poison] = await Promise.all(
      [clients.queue, clients.poison].map((q) =>
        callAzure({ operation: 'read queue depth', resource: q.name }, async () => (await q.getProperties()).approximateMessagesCount ?? 0),
      ),
    );
    return { queued, poison };
  }
}
