// A built entry (the bundle, the deployed package) answering on its own: its `health` function called directly, the way
// the worker would, with no host in between and its state in Table storage (Azurite). The settings it reads are set in
// process.env, as the Functions host would have them.
import { HttpRequest, InvocationContext } from '@azure/functions';
import type { Registration } from '../../src/host/index.js';

export async function callHealth(registrations: Registration[], storage: { connectionString: string; table: string }): Promise<{ status: number; json: () => unknown }> {
  process.env.AZURE_SUBSCRIPTION_IDS = '00000000-0000-4000-8000-000000000001';
  process.env.AzureWebJobsStorage = storage.connectionString;
  process.env.ROTATION_TABLE = storage.table;
  const health = registrations.find((r) => r.name === 'health')!;
  const request = new HttpRequest({ method: 'GET', url: 'http://127.0.0.1/api/health' });
  const response = (await health.handler(request, new InvocationContext({ functionName: 'health' }))) as { status: number; jsonBody?: unknown; body?: unknown };
  return { status: response.status, json: () => response.jsonBody ?? JSON.parse(String(response.body)) };
}
