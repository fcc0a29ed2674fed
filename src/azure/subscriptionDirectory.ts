// SubscriptionDirectory over the real `@azure/arm-resources-subscriptions` client: Subscriptions_List, every page
// (the SDK follows nextLink), with ARM_ENDPOINT / ARM_AUDIENCE and, for the sandbox, its CA. Failures become the
// adapter error classes (a 429 or 5xx is transient; a 401/403 is a precondition the operator must fix).
import type { TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { SubscriptionClient } from '@azure/arm-resources-subscriptions';
import type { ListedSubscription, SubscriptionDirectory } from '../core/subscriptions.js';
import { callAzure } from './errors.js';
import { attemptTimeoutPolicy } from './pipeline.js';

export interface SubscriptionDirectoryOptions {
  endpoint: string;
  audience?: string;
  credential: TokenCredential;
  tlsCa?: string;
  attemptTimeoutMs?: number;
  perRetryPolicies?: PipelinePolicy[];
}

export class ArmSubscriptionDirectory implements SubscriptionDirectory {
  private client: SubscriptionClient | undefined;

  constructor(private readonly options: SubscriptionDirectoryOptions) {}

  // Loaded on first use: only an installation with discovery on pays for the SDK (the lazy-SDK rule of the cold start).
  private async sdk(): Promise<SubscriptionClient> {
    if (this.client === undefined) {
      const { SubscriptionClient } = await import('@azure/arm-resources-subscriptions');
      const endpoint = this.options.endpoint.replace(/\/+$/, '');
      this.client = new SubscriptionClient(this.options.credential, {
        endpoint,
        credentials: { scopes: [`${(this.options.audience ?? endpoint).replace(/\/+$/, '')}/.default`] },
        ...(this.options.tlsCa ? { tlsOptions: { ca: this.options.tlsCa } } : {}),
        additionalPolicies: [attemptTimeoutPolicy(this.options.attemptTimeoutMs ?? 100_000), ...(this.options.perRetryPolicies ?? [])].map((policy) => ({
          policy,
          position: 'perRetry' as const,
        })),
      });
    }
    return this.client;
  }

  async *list(): AsyncIterable<ListedSubscription> {
    const context = { operation: 'list subscriptions', resource: '/subscriptions' };
    const pages = await callAzure(context, async () => (await this.sdk()).subscriptions.list().byPage());
    for (;;) {
      const page = await callAzure(context, () => pages.next());
      if (page.done) return;
      for (const s of page.value) {
        if (typeof s.subscriptionId !== 'string' || s.subscriptionId === '') continue;
        yield {
          subscriptionId: s.subscriptionId,
          ...(s.displayName !== undefined ? { displayName: s.displayName } : {}),
          ...(s.state !== undefined ? { state: s.state } : {}),
        };
      }
    }
  }
}
