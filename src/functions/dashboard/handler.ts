// GET /api/dashboard (the page) and /api/dashboard/<asset>, behind the same frame as every API route (`api()`: the
// function key checked by the host, the client certificate when CLIENT_CERT_AUTH=required, a 503 naming the setting
// while the app is misconfigured), so the page is no way around the API's authentication.
import type { HttpResponseInit } from '@azure/functions';
import { api } from '../app/handlers.js';
import { jsonError } from '../http/index.js';
import { dashboardAssets } from './assets.js';
import { DASHBOARD_ASSET_TYPES, dashboardHeaders, dashboardPage } from './page.js';

export const dashboardHandler = api(async (request, _context, { config }): Promise<HttpResponseInit> => {
  const asset = request.params.asset;
  if (asset === undefined || asset === '') {
    const url = new URL(request.url);
    const pagePath = url.pathname.replace(/\/+$/, '');
    const code = url.searchParams.get('code') ?? undefined;
    const body = dashboardPage({
      pagePath,
      apiPath: pagePath.replace(/\/dashboard$/i, ''),
      ...(code !== undefined && code !== '' ? { code } : {}),
      renewBeforeDays: config.renewBeforeDays,
    });
    return { status: 200, body, headers: dashboardHeaders('text/html; charset=utf-8') };
  }
  const type = Object.prototype.hasOwnProperty.call(DASHBOARD_ASSET_TYPES, asset) ? DASHBOARD_ASSET_TYPES[asset] : undefined;
  const text = type === undefined ? undefined : (await dashboardAssets())[asset];
  if (type === undefined || text === undefined) {
    return jsonError(404, 'NotFound', `the dashboard has no asset '${asset.slice(0, 100)}'; it serves ${Object.keys(DASHBOARD_ASSET_TYPES).join(', ')}`);
  }
  return { status: 200, body: text, headers: dashboardHeaders(type) };
});
