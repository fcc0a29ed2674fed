// The operator dashboard: an HTML page and its assets, served by the function app itself under the API's auth
// (docs/operations.md, "Dashboard"). The handler (and with it the engine) loads on the first request.
import { app, type HttpHandler } from '@azure/functions';

let loading: Promise<HttpHandler> | undefined;
const dashboardHandler: HttpHandler = async (request, context) => {
  loading ??= import('./dashboard/handler.js').then(
    (m) => m.dashboardHandler,
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return (await loading)(request, context);
};

app.http('dashboard', { route: 'dashboard/{asset?}', methods: ['GET'], authLevel: 'function', handler: dashboardHandler });
