// Storage queue triggers, polling the queue the way the host's queue listener does:
// - a received message is invisible to other consumers while it runs (a lease, renewed while the function runs);
// - success deletes it; failure makes it visible again after host.json `visibilityTimeout`, and the next
//   receive counts one more dequeue;
// - a message that has failed `maxDequeueCount` times (host.json, default 5) is copied to `<queue>-poison`
//   and deleted, where a poison-queue function or an alert rule picks it up;
// - an empty queue is polled less and less often (doubling up to the maximum interval), a busy one at once;
// - a batch of up to `batchSize` messages runs in parallel, and the next batch is fetched as soon as only
//   `newBatchThreshold` of them are still running: at most batchSize + newBatchThreshold invocations per queue
//   function and instance (host.json reference, `extensions.queues`).
// Messages are base64 on the wire (the extension's default `messageEncoding`); JSON objects reach the handler
// parsed, other text as a string.
import { QueueServiceClient, type DequeuedMessageItem, type QueueClient } from '@azure/storage-queue';
import type { Registration } from './capture.js';
import { createInvocationContext, describeThrown, type HostLog, type InvocationTracker } from './invocation.js';
import { LocalHostConfigError, resolveSettingReferences } from './settings.js';

export interface QueueOptions {
  maxDequeueCount: number;
  /** Delay, in seconds, before a failed message is visible again. */
  visibilityTimeoutSeconds: number;
  batchSize: number;
  /** Fetch the next batch once at most this many invocations of the queue function are still running. */
  newBatchThreshold: number;
  minPollingIntervalMs: number;
  maxPollingIntervalMs: number;
  /** Invisibility while a function runs; renewed at half-time, so a slow function keeps its message. */
  leaseSeconds: number;
}

interface Listener {
  registration: Registration;
  queueName: string;
  queue: QueueClient;
  poison: QueueClient;
  loop?: Promise<void>;
  /** Invocations of this function still running, and the loop's wake-up when one settles. */
  running: number;
  settled: Set<() => void>;
}

const DEFAULT_CONNECTION = 'AzureWebJobsStorage';
/** The properties by which the Functions host recognises an identity-based storage connection `<name>__<property>`. */
const IDENTITY_CONNECTION_PROPERTIES = ['accountName', 'queueServiceUri', 'serviceUri', 'credential', 'clientId'] as const;

export class QueueListeners {
  readonly #listeners: Listener[] = [];
  #stopped = false;
  readonly #wakers = new Set<() => void>();

  constructor(
    registrations: readonly Registration[],
    settings: Readonly<Record<string, string | undefined>>,
    private readonly options: QueueOptions,
    private readonly log: HostLog,
    private readonly tracker: InvocationTracker,
  ) {
    for (const registration of registrations) {
      const where = `queue function '${registration.name}'`;
      const rawName = registration.trigger.queueName;
      if (typeof rawName !== 'string' || rawName === '') throw new LocalHostConfigError(`${where} has no queueName`);
      const queueName = resolveSettingReferences(rawName, settings, `${where} queueName`).toLowerCase();
      const connection = connectionString(registration, settings, where);
      const service = QueueServiceClient.fromConnectionString(connection);
      this.#listeners.push({
        registration,
        queueName,
        queue: service.getQueueClient(queueName),
        poison: service.getQueueClient(`${queueName}-poison`),
        running: 0,
        settled: new Set(),
      });
    }
  }

  async start(): Promise<void> {
    for (const listener of this.#listeners) {
      // The host waits for a queue to appear; creating it spares a local user an empty poll loop with no hint.
      try {
        await listener.queue.createIfNotExists();
      } catch (err) {
        throw new LocalHostConfigError(`queue function '${listener.registration.name}': cannot reach queue '${listener.queueName}' at ${listener.queue.url}: ${(err as Error).message}`);
      }
      this.log(`queue function '${listener.registration.name}' listening on '${listener.queueName}'`);
      listener.loop = this.#poll(listener);
    }
  }

  /**
   * Stops polling and waits (at most `timeoutMs`) for the loops to settle their current batch; running
   * invocations are also the tracker's to wait for.
   */
  async stop(timeoutMs = 30_000): Promise<void> {
    this.#stopped = true;
    for (const wake of this.#wakers) wake();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.#listeners.map((l) => l.loop)),
      new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  queueNames(): Record<string, string> {
    return Object.fromEntries(this.#listeners.map((l) => [l.registration.name, l.queueName]));
  }

  async #poll(listener: Listener): Promise<void> {
    let delay = this.options.minPollingIntervalMs;
    while (!this.#stopped) {
      // The host's listener: a new batch only once the running ones are down to newBatchThreshold.
      while (listener.running > this.options.newBatchThreshold && !this.#stopped) await this.#sleep(this.options.maxPollingIntervalMs, listener.settled);
      if (this.#stopped) return;
      let messages: DequeuedMessageItem[] = [];
      try {
        const response = await listener.queue.receiveMessages({
          numberOfMessages: Math.min(Math.max(this.options.batchSize, 1), 32),
          visibilityTimeout: this.options.leaseSeconds,
        });
        messages = response.receivedMessageItems;
      } catch (err) {
        if (this.#stopped) return;
        this.log(`queue '${listener.queueName}': receive failed, backing off: ${(err as Error).message}`);
      }
      if (messages.length === 0) {
        await this.#sleep(delay);
        delay = Math.min(delay * 2, this.options.maxPollingIntervalMs);
        continue;
      }
      delay = this.options.minPollingIntervalMs;
      for (const message of messages) {
        listener.running += 1;
        const settle = (): void => {
          listener.running -= 1;
          // A settled invocation may be what the loop waits for before its next batch.
          for (const wake of [...listener.settled]) wake();
        };
        this.tracker.track(this.#process(listener, message)).then(settle, (err: unknown) => {
          this.log(`queue '${listener.queueName}': message ${message.messageId} failed outside its function: ${describeThrown(err)}`);
          settle();
        });
      }
    }
  }

  async #process(listener: Listener, message: DequeuedMessageItem): Promise<void> {
    const { registration } = listener;
    const text = decodeMessageText(message.messageText);
    const context = createInvocationContext(registration, this.log, {
      triggerMetadata: {
        id: message.messageId,
        dequeueCount: message.dequeueCount,
        insertionTime: message.insertedOn.toISOString(),
        expirationTime: message.expiresOn.toISOString(),
        nextVisibleTime: message.nextVisibleOn.toISOString(),
        popReceipt: message.popReceipt,
        queueTrigger: text,
      },
    });
    let popReceipt = message.popReceipt;
    const renew = setInterval(() => {
      listener.queue
        .updateMessage(message.messageId, popReceipt, undefined, this.options.leaseSeconds)
        .then((r) => {
          if (r.popReceipt !== undefined) popReceipt = r.popReceipt;
        })
        .catch((err: Error) => this.log(`queue '${listener.queueName}': could not renew message ${message.messageId}: ${err.message}`));
    }, (this.options.leaseSeconds * 1000) / 2);
    renew.unref();

    let failure: unknown;
    let failed = false;
    // The queue extension decodes base64 (its default messageEncoding) before any function runs: a message that is not
    // base64 never reaches the function on Azure, fails every attempt and ends in the poison queue. So here too.
    const undecodable = !isBase64MessageText(message.messageText);
    if (undecodable) {
      clearInterval(renew);
      failed = true;
      failure = new Error('the message is not base64 (the queue extension\'s messageEncoding); the function was not run');
    } else {
      this.log(`executing '${registration.name}' (queue '${listener.queueName}', message ${message.messageId}, dequeue count ${message.dequeueCount}, id ${context.invocationId})`);
      try {
        await registration.handler(parseMessage(text), context);
      } catch (err) {
        failed = true;
        failure = err;
      } finally {
        clearInterval(renew);
      }
    }
    try {
      if (!failed) {
        await listener.queue.deleteMessage(message.messageId, popReceipt);
        this.log(`executed '${registration.name}' (succeeded, id ${context.invocationId})`);
        return;
      }
      this.log(
        `${undecodable ? `not executed '${registration.name}' (message ${message.messageId}` : `executed '${registration.name}' (failed`}, ` +
          `attempt ${message.dequeueCount} of ${this.options.maxDequeueCount}, id ${context.invocationId}): ${describeThrown(failure)}`,
      );
      if (message.dequeueCount >= this.options.maxDequeueCount) {
        await listener.poison.createIfNotExists();
        // The original text, still encoded, as the host copies it: a poison handler decodes it the same way.
        await listener.poison.sendMessage(message.messageText);
        await listener.queue.deleteMessage(message.messageId, popReceipt);
        this.log(`message ${message.messageId} moved to '${listener.queueName}-poison' after ${message.dequeueCount} failed attempts`);
      } else {
        await listener.queue.updateMessage(message.messageId, popReceipt, undefined, this.options.visibilityTimeoutSeconds);
      }
    } catch (err) {
      // Losing the pop receipt (lease expired) only means the message comes back; nothing to do but say so.
      this.log(`queue '${listener.queueName}': could not settle message ${message.messageId}: ${(err as Error).message}`);
    }
  }

  /** Sleeps `ms`, or less if stop() is called or something wakes `alsoWokenBy`. */
  #sleep(ms: number, alsoWokenBy?: Set<() => void>): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        alsoWokenBy?.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
      alsoWokenBy?.add(wake);
    });
  }
}

function connectionString(registration: Registration, settings: Readonly<Record<string, string | undefined>>, where: string): string {
  const raw = registration.trigger.connection;
  const name = typeof raw === 'string' && raw !== '' ? resolveSettingReferences(raw, settings, `${where} connection`) : DEFAULT_CONNECTION;
  // The host also looks for the name with an `AzureWebJobs` prefix.
  const value = settings[name] ?? settings[`AzureWebJobs${name}`];
  if (value === undefined || value === '') {
    // The template writes the identity-based form as `__accountName` (+ `__credential`, `__clientId`): say that it is
    // this form the local host lacks, not that storage is missing.
    const identityBased = IDENTITY_CONNECTION_PROPERTIES.filter((p) => settings[`${name}__${p}`] !== undefined && settings[`${name}__${p}`] !== '');
    if (identityBased.length > 0) {
      throw new LocalHostConfigError(
        `${where}: identity-based connection '${name}' (${identityBased.map((p) => `${name}__${p}`).join(', ')}) is not supported by the local host; ` +
          `set '${name}' to a connection string (Azurite: UseDevelopmentStorage=true)`,
      );
    }
    throw new LocalHostConfigError(`${where}: connection setting '${name}' is not set (a storage connection string; Azurite: UseDevelopmentStorage=true)`);
  }
  return value;
}

/** Whether `raw` is base64, the only form the queue extension hands to a function with its default messageEncoding. */
export function isBase64MessageText(raw: string): boolean {
  const compact = raw.trim();
  return compact.length > 0 && compact.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(compact);
}

/** Base64 text is decoded (the extension's default); anything else, e.g. written by a tool without encoding, is read as is. */
export function decodeMessageText(raw: string): string {
  const compact = raw.trim();
  if (compact.length > 0 && compact.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(compact, 'base64'));
    } catch {
      return raw;
    }
  }
  return raw;
}

/** JSON objects and arrays become values, as the worker receives them typed as JSON; other text stays a string. */
export function parseMessage(text: string): unknown {
  const t = text.trim();
  if (t.startsWith('{') || t.startsWith('[')) {
    try {
      return JSON.parse(t) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

/** What to send so that a queue function receives `value` (base64 of its JSON, or of the text). */
export function encodeQueueMessage(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return Buffer.from(text, 'utf8').toString('base64');
}
