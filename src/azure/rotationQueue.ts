// The fan-out queue: one message per app that needs a rotation. Messages are base64 of UTF-8 JSON, which is what
// the Functions host's queue trigger decodes by default (`messageEncoding: base64`); failed messages end up in
// `<queue>-poison` after the host's maxDequeueCount.
import type { TokenCredential } from '@azure/core-auth';
import { QueueClient, QueueServiceClient } from '@azure/storage-queue';
import { PreconditionError } from '../core/errors.js';
import { callAzure } from './errors.js';

export interface RotationQueueMessage {
  /** Lowercased ARM id of the site or slot. */
  appId: string;
  reason?: string;
  /** Who asked: 'timer', 'http:<caller>', 'eventgrid', 'cli'. */
  requestedBy: string;
  /** Correlates the request across logs, telemetry and the rotation record. */
  requestId: string;
}

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
  const unknown = Object.keys(v).filter((k) => !['appId', 'reason', 'requestedBy', 'requestId'].includes(k));
  if (unknown.length > 0) problems.push(`unknown field(s): ${unknown.join(', ')}`);
  if (problems.length > 0) throw new PreconditionError(`rotation queue message: ${problems.join('; ')}`);
  return { appId: appId!, ...(reason !== undefined ? { reason } : {}), requestedBy: requestedBy!, requestId: requestId! };
}

export interface RotationQueueOptions {
  /** AzureWebJobsStorage as a connection string… */
  connectionString?: string;
  /** …or identity-based: the queue service URI and a credential. */
  queueServiceUri?: string;
  credential?: TokenCredential;
  /** ROTATION_QUEUE. */
  queueName: string;
}

export class RotationQueue {
  readonly queue: QueueClient;
  readonly poison: QueueClient;
  private ready: Promise<void> | undefined;

  constructor(private readonly options: RotationQueueOptions) {
    let service: QueueServiceClient;
    if (options.connectionString) service = QueueServiceClient.fromConnectionString(options.connectionString);
    else if (options.queueServiceUri && options.credential) service = new QueueServiceClient(options.queueServiceUri, options.credential);
    else throw new PreconditionError('the rotation queue needs a storage connection string, or a queue service URI and a credential');
    this.queue = service.getQueueClient(options.queueName);
    this.poison = service.getQueueClient(`${options.queueName}-poison`);
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
        await this.queue.createIfNotExists();
        await this.poison.createIfNotExists();
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
    const response = await callAzure({ operation: 'send rotation request', resource: `${this.options.queueName}:${message.appId}` }, () =>
      this.queue.sendMessage(body, options.delaySeconds ? { visibilityTimeout: Math.floor(options.delaySeconds) } : undefined),
    );
    return response.messageId;
  }

  /**
   * Receives up to `max` messages, invisible for `visibilitySeconds`. A message that does not decode is moved to the
   * poison queue at once (retrying it cannot help) and not returned.
   */
  async receive(max = 16, visibilitySeconds = 300): Promise<ReceivedRotationMessage[]> {
    await this.ensureQueues();
    const response = await callAzure({ operation: 'receive rotation requests', resource: this.options.queueName }, () =>
      this.queue.receiveMessages({ numberOfMessages: Math.min(32, Math.max(1, max)), visibilityTimeout: visibilitySeconds }),
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
    await callAzure({ operation: 'delete rotation request', resource: `${this.options.queueName}:${received.messageId}` }, () =>
      this.queue.deleteMessage(received.messageId, received.popReceipt),
    );
  }

  /** Copies a message text (as received, still encoded) to `<queue>-poison`. */
  async moveToPoison(messageText: string): Promise<void> {
    await this.ensureQueues();
    await callAzure({ operation: 'poison rotation request', resource: this.poisonQueueName }, () => this.poison.sendMessage(messageText));
  }

  /** Approximate counts, for status output. */
  async depth(): Promise<{ queued: number; poison: number }> {
    await this.ensureQueues();
    const [queued, poison] = await Promise.all(
      [this.queue, this.poison].map((q) =>
        callAzure({ operation: 'read queue depth', resource: q.name }, async () => (await q.getProperties()).approximateMessagesCount ?? 0),
      ),
    );
    return { queued, poison };
  }
}
